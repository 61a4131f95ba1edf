"""Properties of the streaming ONIX parser over generated pages of well-formed and malformed products.

A page mixes good products (record reference, notification type, a valid EAN, a title) with
products that lack any of them, carry a wrong check digit, a too short or lettered EAN, an
identifier of another type, a title of another type, blank or Unicode text, unknown elements
(also of other namespaces), comments, children in any order. For every such page:

* parsing never stops: every ``<Product>`` comes back, as a record or as a malformed product;
* no record is ever without a valid EAN-13 (checked here with our own check-digit sum), a
  record reference, a notification type and (unless it is a delete) a title;
* every good product is a record with its EAN and reference, whatever surrounds it;
* a product without a valid EAN is a malformed product named by its record reference;
* a page cut short is refused as a whole (``OnixPageError``), never half-applied.

Example counts come from the Hypothesis profile in ``tests/unit/conftest.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from library_integrations.clients.bokbasen import onix

NS = onix.NAMESPACE
DIGITS = "0123456789"

# Text an XML document can hold (no control characters, surrogates or non-characters).
xml_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn")), max_size=12),
    st.sampled_from(["", " ", "\t\n", "Sult", "Ø", "\u202eRTL", "\U0001f4da", "a  b", "<&>\"'"]),
)


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def element(tag: str, text: str | None = None, *children) -> etree._Element:
    el = etree.Element(q(tag) if not tag.startswith("{") else tag)
    el.text = text
    el.extend(children)
    return el


def ean_check(body12: str) -> str:
    return str((10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12)) % 10) % 10)


def is_ean13(value: str) -> bool:
    return len(value) == 13 and value.isdigit() and ean_check(value[:12]) == value[12]


@st.composite
def valid_eans(draw) -> str:
    body = draw(st.sampled_from(["978", "979", "977", "400", "700"])) + f"{draw(st.integers(0, 10**9 - 1)):09d}"
    return body + ean_check(body)


@st.composite
def bad_eans(draw) -> str:
    good = draw(valid_eans())
    how = draw(st.sampled_from(["check", "short", "long", "letters", "blank", "text"]))
    if how == "check":
        return good[:12] + draw(st.sampled_from([d for d in DIGITS if d != good[12]]))
    if how == "short":
        return good[: draw(st.integers(1, 11))]
    if how == "long":
        return good + draw(st.sampled_from(["00", "123", "9"]))  # 14-16 digits: no EAN-13
    if how == "letters":
        return good[:6] + "X" + good[7:]
    if how == "blank":
        return draw(st.sampled_from(["", " ", "\n\t"]))
    return draw(xml_text.filter(lambda s: not is_ean13("".join(s.split()).replace("-", ""))))


# Elements the parser must step over: unknown tags, other namespaces, nesting, comments.
# (Strategies build fresh elements per draw: an lxml element has one parent.)
_LEAVES = st.one_of(
    st.builds(lambda t: element("Unknown", t), xml_text),
    st.builds(lambda t: element("{urn:example:other}ProductIdentifier", t), xml_text),
    st.builds(lambda t: etree.Comment(t.replace("--", "- -").rstrip("-") or "c"), xml_text),
    st.builds(lambda t: element("Contributor", None, element("SequenceNumber", t)), xml_text),
)
GARBAGE = st.one_of(_LEAVES, st.lists(_LEAVES, max_size=3).map(lambda c: element("Wrapper", None, *c)))


def garbage() -> st.SearchStrategy[etree._Element]:
    return GARBAGE


@st.composite
def title_details(draw, text: str | None = None) -> etree._Element:
    title_type = "01" if text is not None else draw(st.sampled_from(["01", "10", " 01 ", "", "x"]))
    title = text if text is not None else draw(xml_text)
    elements = [element("TitleElement", None, element("TitleElementLevel", "01"), element("TitleText", title))]
    if text is None and draw(st.booleans()):
        elements = [element("TitleElement", None, element("TitlePrefix", draw(xml_text)),
                            element("TitleWithoutPrefix", draw(xml_text)))]
    return element("TitleDetail", None, element("TitleType", title_type), *elements)


@st.composite
def good_products(draw, number: int) -> tuple[etree._Element, str, str]:
    """A product that must become a record: ``(element, record reference, EAN)``."""
    reference, ean = f"good-{number}", draw(valid_eans())
    shown = draw(st.sampled_from([ean, f" {ean} ", f"{ean[:3]}-{ean[3:]}"]))  # as a sender might format it
    children = [
        element("RecordReference", reference),
        element("NotificationType", draw(st.sampled_from(["03", "02", "05", " 04 "]))),
        element("ProductIdentifier", None, element("ProductIDType", draw(st.sampled_from(["15", "03"]))),
                element("IDValue", shown)),
        element("DescriptiveDetail", None, element("ProductForm", draw(st.sampled_from(["BC", "AJ", "ED", "PC", ""]))),
                draw(title_details(text=draw(st.sampled_from(["Sult", "Kristin Lavransdatter", " Ø "]))))),
        *draw(st.lists(garbage(), max_size=2)),
    ]
    return element("Product", None, *draw(st.permutations(children))), reference, ean


@st.composite
def any_products(draw, number: int) -> tuple[etree._Element, str | None, bool]:
    """An arbitrary product: ``(element, record reference as sent or None, has a valid EAN for sure)``."""
    children = []
    reference = draw(st.one_of(st.none(), st.just(f"any-{number}"), xml_text))
    if reference is not None:
        children.append(element("RecordReference", reference))
    notification = draw(st.one_of(st.none(), st.sampled_from(["03", "05", "", " "]), xml_text))
    if notification is not None:
        children.append(element("NotificationType", notification))
    identifiers = draw(st.lists(st.tuples(st.sampled_from(["15", "03", "02", "01", ""]),
                                          st.one_of(valid_eans(), bad_eans())), max_size=3))
    for id_type, value in identifiers:
        children.append(element("ProductIdentifier", None, element("ProductIDType", id_type), element("IDValue", value)))
    if draw(st.booleans()):
        details = draw(st.lists(title_details(), max_size=2))
        children.append(element("DescriptiveDetail", None, *details, *draw(st.lists(garbage(), max_size=2))))
    if draw(st.booleans()):
        children.append(element("PublishingDetail", None, element("PublishingDate", None,
                                                                   element("PublishingDateRole", "01"),
                                                                   element("Date", draw(xml_text)))))
    children += draw(st.lists(garbage(), max_size=2))
    seen: set[str] = set()
    firsts = [(t, v) for t, v in identifiers if not (t in seen or seen.add(t))]  # the first of each type counts
    sure = any(t in ("15", "03") and is_ean13(v) for t, v in firsts)
    return element("Product", None, *draw(st.permutations(children))), reference, sure


@st.composite
def pages(draw):
    """``(message bytes, products in order as (kind, reference, EAN or validity))``."""
    items = []
    for number in range(draw(st.integers(0, 8))):
        if draw(st.booleans()):
            el, reference, ean = draw(good_products(number))
            items.append((el, ("good", reference, ean)))
        else:
            el, reference, sure = draw(any_products(number))
            items.append((el, ("any", reference, sure)))
    root = element("ONIXMessage", None, element("Header", None, element("SenderName", "Bokbasen AS")),
                   *(el for el, _ in items))
    root.set("release", "3.0")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), [meta for _, meta in items]


@given(page=pages())
def test_malformed_products_never_stop_a_page_and_no_record_lacks_an_ean(page):
    body, expected = page
    parsed = onix.parse_page(body)  # never raises for a well-formed message
    assert parsed.count == len(expected)
    positions = [m.position for m in parsed.malformed]
    assert len(set(positions)) == len(positions) and all(1 <= p <= len(expected) for p in positions)
    for record in parsed.products:
        assert is_ean13(record.ean), record
        assert record.record_reference and record.notification_type
        assert record.deleted or record.title
    records = iter(parsed.products)
    malformed = {m.position: m for m in parsed.malformed}
    for position, (kind, reference, detail) in enumerate(expected, start=1):
        if kind == "good":
            assert position not in malformed, malformed.get(position)
            record = next(records)
            assert (record.record_reference, record.ean) == (reference, detail)
        elif position in malformed:  # named by its record reference when it has one
            if onix._clean(reference):
                assert malformed[position].name == onix._clean(reference)
        else:
            assert detail, f"product #{position} became a record without a valid EAN-13"
            record = next(records)
            assert record.record_reference == onix._clean(reference)
    assert next(records, None) is None


@given(page=pages(), data=st.data())
def test_a_page_cut_short_is_refused_as_a_whole(page, data):
    body, _ = page
    cut = data.draw(st.integers(1, len(body) - 1))
    with pytest.raises(onix.OnixPageError):  # none of its products may be applied
        onix.parse_page(body[:cut])
