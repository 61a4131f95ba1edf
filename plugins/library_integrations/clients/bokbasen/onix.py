"""Streaming ONIX 3.0 (reference tags) into typed product records: what the metadata sync keeps.

The Export Service answers with ONIX 3.0 messages of up to 1000 products per page
(namespace ``http://ns.editeur.org/onix/3.0/reference``). :func:`iter_products` reads one
message with ``lxml.etree.iterparse``, builds each ``<Product>`` as it ends and clears it
(and the products before it) at once, so memory holds one product, never the page as a
tree. Per product it yields an :class:`OnixProduct` or, when the product cannot be stored
faithfully, a :class:`MalformedProduct` naming it (record reference, or its position) and
the reason. A malformed product never stops the page; a message that is not well-formed
XML, or not ONIX 3.0 reference tags, is an :class:`OnixPageError` (nothing of that page may
be applied: its products cannot all be known).

What is read (ONIX code lists in brackets):

=====================  =================================================================
record reference       ``RecordReference`` (required)
notification type      ``NotificationType`` (required) [list 1]: ``05`` is a delete, every
                       other type (Bokbasen sends ``02``/``03``) a new or updated record
EAN                    ``ProductIdentifier`` with ``ProductIDType`` ``15`` (ISBN-13), else
                       ``03`` (GTIN-13) [list 5]; checked with python-stdnum. Required.
title, subtitle        ``TitleDetail`` with ``TitleType`` ``01`` [list 15], its element of
                       ``TitleElementLevel`` ``01`` (else its first): ``TitleText`` or
                       ``TitlePrefix`` + ``TitleWithoutPrefix``; ``Subtitle``. Required
                       except on deletes.
contributors           every named ``Contributor`` in ``SequenceNumber`` order, with its
                       ``ContributorRole`` codes [list 17] (``A01`` author, ``B01`` editor,
                       ``B06`` translator, ``E07`` reader, ...); the name is
                       ``PersonNameInverted`` ("Hamsun, Knut"), else ``KeyNames, NamesBeforeKey``,
                       ``PersonName``, ``CorporateNameInverted``, ``CorporateName``
authors                the ``A01`` contributors in order; editors (``B01``) stand in when
                       there is no author
language               ``Language`` with ``LanguageRole`` ``01`` [list 22]: ``LanguageCode``
                       [list 74, ISO 639-2/B], lower-cased
product form           ``ProductForm`` [list 150]: ``A*`` audio -> ``AUDIO``, ``E*`` digital
                       (delivered electronically) -> ``EBOOK``, ``B*`` book -> ``PAPER``;
                       any other code is kept as the format
publication date       ``PublishingDate`` with ``PublishingDateRole`` ``01`` [list 163]: the
                       ``Date`` as sent, its ``dateformat`` [list 55] (``05`` a year, which
                       Bokbasen often sends; ``00`` a date, the default) and the year
publisher              ``Publisher`` with ``PublishingRole`` ``01`` (else the first): ``PublisherName``
audience               ``Audience`` whose ``AudienceCodeTypeName`` is ``Bokbasen_Audience``
                       (e.g. ``Voksen``): its ``AudienceCodeValue``
=====================  =================================================================

>>> page = b'''<ONIXMessage release="3.0" xmlns="http://ns.editeur.org/onix/3.0/reference">
... <Header/><Product><RecordReference>r1</RecordReference><NotificationType>03</NotificationType>
... <ProductIdentifier><ProductIDType>15</ProductIDType><IDValue>9788203364181</IDValue></ProductIdentifier>
... <DescriptiveDetail><ProductForm>BC</ProductForm><TitleDetail><TitleType>01</TitleType><TitleElement>
... <TitleElementLevel>01</TitleElementLevel><TitleText>Sult</TitleText></TitleElement></TitleDetail>
... <Contributor><SequenceNumber>1</SequenceNumber><ContributorRole>A01</ContributorRole>
... <PersonNameInverted>Hamsun, Knut</PersonNameInverted></Contributor></DescriptiveDetail></Product>
... <Product><RecordReference>r2</RecordReference><NotificationType>03</NotificationType></Product>
... </ONIXMessage>'''
>>> parsed = parse_page(page)
>>> p = parsed.products[0]
>>> p.ean, p.title, p.authors, p.format, p.deleted
('9788203364181', 'Sult', ('Hamsun, Knut',), 'PAPER', False)
>>> print(parsed.malformed[0])
r2: no EAN/ISBN-13 (ProductIDType 15 or 03); no title (TitleDetail with TitleType 01)
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from lxml import etree
from stdnum import ean as stdnum_ean
from stdnum.exceptions import ValidationError

NAMESPACE = "http://ns.editeur.org/onix/3.0/reference"
DELETE = "05"
AUTHOR = "A01"
EDITOR = "B01"
BOKBASEN_AUDIENCE = "Bokbasen_Audience"
#: ProductForm prefix -> the format the loan report knows; other codes are kept as they are.
FORM_PREFIXES = {"A": "AUDIO", "E": "EBOOK", "B": "PAPER"}
#: ``dateformat`` [list 55] -> the number of leading digits that make the year-and-more.
DATE_FORMATS = {"00": "YYYYMMDD", "01": "YYYYMM", "05": "YYYY", "13": "YYYYMMDDThhmm", "14": "YYYYMMDDThhmmss"}


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


_ONIX_MESSAGE = _q("ONIXMessage")
_PRODUCT = _q("Product")
_RECORD_REFERENCE = _q("RecordReference")
_NOTIFICATION_TYPE = _q("NotificationType")
_PRODUCT_IDENTIFIER = _q("ProductIdentifier")
_PRODUCT_ID_TYPE = _q("ProductIDType")
_ID_VALUE = _q("IDValue")
_DESCRIPTIVE_DETAIL = _q("DescriptiveDetail")
_PUBLISHING_DETAIL = _q("PublishingDetail")
_PRODUCT_FORM = _q("ProductForm")
_TITLE_DETAIL = _q("TitleDetail")
_TITLE_TYPE = _q("TitleType")
_TITLE_ELEMENT = _q("TitleElement")
_TITLE_ELEMENT_LEVEL = _q("TitleElementLevel")
_TITLE_TEXT = _q("TitleText")
_TITLE_PREFIX = _q("TitlePrefix")
_TITLE_WITHOUT_PREFIX = _q("TitleWithoutPrefix")
_SUBTITLE = _q("Subtitle")
_CONTRIBUTOR = _q("Contributor")
_SEQUENCE_NUMBER = _q("SequenceNumber")
_CONTRIBUTOR_ROLE = _q("ContributorRole")
_NAME_TAGS = tuple(
    _q(n) for n in ("PersonNameInverted", "PersonName", "CorporateNameInverted", "CorporateName")
)
_PERSON_NAME_INVERTED, _PERSON_NAME, _CORPORATE_NAME_INVERTED, _CORPORATE_NAME = _NAME_TAGS
_KEY_NAMES = _q("KeyNames")
_NAMES_BEFORE_KEY = _q("NamesBeforeKey")
_LANGUAGE = _q("Language")
_LANGUAGE_ROLE = _q("LanguageRole")
_LANGUAGE_CODE = _q("LanguageCode")
_AUDIENCE = _q("Audience")
_AUDIENCE_CODE_TYPE_NAME = _q("AudienceCodeTypeName")
_AUDIENCE_CODE_VALUE = _q("AudienceCodeValue")
_PUBLISHER = _q("Publisher")
_PUBLISHING_ROLE = _q("PublishingRole")
_PUBLISHER_NAME = _q("PublisherName")
_PUBLISHING_DATE = _q("PublishingDate")
_PUBLISHING_DATE_ROLE = _q("PublishingDateRole")
_DATE = _q("Date")
_DATE_FORMAT = _q("DateFormat")  # the ONIX 3.0 <DateFormat> element (deprecated; the attribute wins)


class OnixPageError(ValueError):
    """The message as a whole is unreadable (not XML, or not ONIX 3.0 reference tags)."""


@dataclass(frozen=True, slots=True)
class Contributor:
    """One named contributor: ``sequence`` as sent (None if absent), role codes, the name."""

    sequence: int | None
    roles: tuple[str, ...]
    name: str


@dataclass(frozen=True, slots=True)
class OnixProduct:
    """One product as the metadata sync stores it (see the module docstring for each field)."""

    record_reference: str
    notification_type: str
    ean: str
    title: str | None = None
    subtitle: str | None = None
    contributors: tuple[Contributor, ...] = ()
    language: str | None = None
    product_form: str | None = None
    format: str | None = None
    publication_date: str | None = None
    publication_date_format: str | None = None
    publication_year: int | None = None
    publisher: str | None = None
    audience: str | None = None

    @property
    def deleted(self) -> bool:
        return self.notification_type == DELETE

    @property
    def authors(self) -> tuple[str, ...]:
        """The ``A01`` contributors in order; the ``B01`` editors when there is no author."""
        authors = tuple(c.name for c in self.contributors if AUTHOR in c.roles)
        return authors or tuple(c.name for c in self.contributors if EDITOR in c.roles)


@dataclass(frozen=True, slots=True)
class MalformedProduct:
    """A product that cannot be stored: where it was (1-based ``position`` in the message),
    its record reference or EAN when it had one, and why."""

    position: int
    record_reference: str | None
    reason: str
    ean: str | None = None

    @property
    def name(self) -> str:
        if self.record_reference:
            return self.record_reference
        return f"product #{self.position}" + (f" (EAN {self.ean})" if self.ean else "")

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass
class ParsedPage:
    """A whole message: its products and malformed products, in document order."""

    products: list[OnixProduct] = field(default_factory=list)
    malformed: list[MalformedProduct] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Every ``<Product>`` of the message: ``len(products) + len(malformed)``."""
        return len(self.products) + len(self.malformed)


def _clean(text: str | None) -> str | None:
    """Trimmed, inner whitespace runs collapsed to one space; None when empty."""
    if not text:
        return None
    text = text.strip()
    if "  " in text or "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text or None


def product_format(form: str | None) -> str | None:
    """``AUDIO``/``EBOOK``/``PAPER`` for audio, digital and book forms; other codes as they are.

    >>> product_format("BC"), product_format("AJ"), product_format("ED"), product_format("PC"), product_format(None)
    ('PAPER', 'AUDIO', 'EBOOK', 'PC', None)
    """
    if not form:
        return None
    return FORM_PREFIXES.get(form[0], form)


def publication_year(value: str | None, date_format: str | None) -> int | None:
    """The year of an ONIX date in any of the formats of list 55 that start with the year.

    >>> publication_year("2019", "05"), publication_year("20190315", None), publication_year("2019?", "05")
    (2019, 2019, None)
    """
    if not value or (date_format or "00") not in DATE_FORMATS:
        return None
    head = value[:4]
    if len(head) != 4 or not head.isdigit():
        return None
    pattern = DATE_FORMATS[date_format or "00"]
    if len(value) != len(pattern) or not value.replace("T", "").isdigit():
        return None
    return int(head)


def _ean(identifiers: dict[str, str]) -> tuple[str | None, str | None]:
    """(valid EAN, None) or (None, reason)."""
    candidates = [identifiers[t] for t in ("15", "03") if t in identifiers]
    if not candidates:
        return None, "no EAN/ISBN-13 (ProductIDType 15 or 03)"
    for value in candidates:
        try:
            compact = stdnum_ean.validate(value)
        except ValidationError:
            continue
        if len(compact) == 13:
            return compact, None
    return None, f"EAN/ISBN-13 {candidates[0]!r} is not a valid EAN-13 (length or check digit)"


def _fields(element) -> dict:
    """Child tag -> its text, the first child of each tag: a composite read in one pass.

    (One pass over the children is several times cheaper than a ``findtext`` per field.)
    """
    fields: dict = {}
    for child in element:
        tag = child.tag
        if tag not in fields:
            fields[tag] = child.text
    return fields


def _title(detail) -> tuple[str | None, str | None, bool]:
    """(title, subtitle, whether this TitleDetail is of TitleType 01)."""
    title_type = None
    elements = []
    for child in detail:
        tag = child.tag
        if tag == _TITLE_TYPE:
            title_type = _clean(child.text)
        elif tag == _TITLE_ELEMENT:
            elements.append(_fields(child))
    if title_type != "01" or not elements:
        return None, None, title_type == "01"
    chosen = next((e for e in elements if _clean(e.get(_TITLE_ELEMENT_LEVEL)) == "01"), elements[0])
    title = _clean(chosen.get(_TITLE_TEXT))
    if title is None:
        without = _clean(chosen.get(_TITLE_WITHOUT_PREFIX))
        prefix = _clean(chosen.get(_TITLE_PREFIX))
        title = f"{prefix} {without}" if prefix and without else without
    return title, _clean(chosen.get(_SUBTITLE)), True


def _contributor(element, index: int) -> tuple[tuple[int, int, int], Contributor] | None:
    sequence: int | None = None
    roles: list[str] = []
    names: dict[str, str] = {}
    for child in element:
        tag = child.tag
        if tag == _CONTRIBUTOR_ROLE:
            role = _clean(child.text)
            if role:
                roles.append(role)
        elif tag == _SEQUENCE_NUMBER:
            value = _clean(child.text)
            sequence = int(value) if value and value.isdigit() else None
        elif isinstance(tag, str) and tag not in names:
            value = _clean(child.text)
            if value:
                names[tag] = value
    name = names.get(_PERSON_NAME_INVERTED)
    if name is None and _KEY_NAMES in names:
        before = names.get(_NAMES_BEFORE_KEY)
        name = f"{names[_KEY_NAMES]}, {before}" if before else names[_KEY_NAMES]
    name = name or names.get(_PERSON_NAME) or names.get(_CORPORATE_NAME_INVERTED) or names.get(_CORPORATE_NAME)
    if not name:
        return None  # unnamed persons, "and others": nothing to keep
    order = (0 if sequence is not None else 1, sequence or 0, index)
    return order, Contributor(sequence, tuple(roles), name)


def _descriptive(detail, values: dict) -> None:
    contributors = []
    for index, child in enumerate(detail):
        tag = child.tag
        if tag == _CONTRIBUTOR:
            found = _contributor(child, index)
            if found is not None:
                contributors.append(found)
        elif tag == _PRODUCT_FORM:
            values["product_form"] = _clean(child.text)
        elif tag == _TITLE_DETAIL:
            if "title" not in values:
                title, subtitle, distinctive = _title(child)
                if distinctive:
                    values["title"], values["subtitle"] = title, subtitle
        elif tag == _LANGUAGE:
            if "language" not in values:
                fields = _fields(child)
                if _clean(fields.get(_LANGUAGE_ROLE)) == "01":
                    code = _clean(fields.get(_LANGUAGE_CODE))
                    values["language"] = code.lower() if code else None
        elif tag == _AUDIENCE and "audience" not in values:
            fields = _fields(child)
            if _clean(fields.get(_AUDIENCE_CODE_TYPE_NAME)) == BOKBASEN_AUDIENCE:
                values["audience"] = _clean(fields.get(_AUDIENCE_CODE_VALUE))
    if len(contributors) > 1:
        contributors.sort(key=lambda pair: pair[0])
    values["contributors"] = tuple(c for _, c in contributors)


def _publishing(detail, values: dict) -> None:
    publishers: list[tuple[str | None, str]] = []
    for child in detail:
        tag = child.tag
        if tag == _PUBLISHER:
            fields = _fields(child)
            name = _clean(fields.get(_PUBLISHER_NAME))
            if name:
                publishers.append((_clean(fields.get(_PUBLISHING_ROLE)), name))
        elif tag == _PUBLISHING_DATE and "publication_date" not in values:
            role = date = date_format = None
            for part in child:
                if part.tag == _PUBLISHING_DATE_ROLE:
                    role = _clean(part.text)
                elif part.tag == _DATE and date is None:
                    date = part
                elif part.tag == _DATE_FORMAT:
                    date_format = _clean(part.text)
            if role == "01":
                value = _clean(date.text) if date is not None else None
                date_format = (date.get("dateformat") if date is not None else None) or date_format
                values["publication_date"] = value
                values["publication_date_format"] = date_format
                values["publication_year"] = publication_year(value, date_format)
    if publishers:
        values["publisher"] = next((name for role, name in publishers if role == "01"), publishers[0][1])


def read_product(element, position: int) -> OnixProduct | MalformedProduct:
    """One ``<Product>`` element as a record, or a :class:`MalformedProduct` saying why not."""
    reference = notification = None
    identifiers: dict[str, str] = {}
    descriptive = publishing = None
    for child in element:
        tag = child.tag
        if tag == _PRODUCT_IDENTIFIER:
            fields = _fields(child)
            id_type, value = _clean(fields.get(_PRODUCT_ID_TYPE)), _clean(fields.get(_ID_VALUE))
            if id_type and value and id_type not in identifiers:
                identifiers[id_type] = value
        elif tag == _DESCRIPTIVE_DETAIL:
            descriptive = child
        elif tag == _PUBLISHING_DETAIL:
            publishing = child
        elif tag == _RECORD_REFERENCE:
            reference = _clean(child.text)
        elif tag == _NOTIFICATION_TYPE:
            notification = _clean(child.text)
    reasons = []
    if not reference:
        reasons.append("no RecordReference")
    if not notification:
        reasons.append("no NotificationType")
    ean, why = _ean(identifiers)
    if why:
        reasons.append(why)
    values: dict = {}
    if descriptive is not None:
        _descriptive(descriptive, values)
    if publishing is not None:
        _publishing(publishing, values)
    if notification != DELETE and not values.get("title"):
        reasons.append("no title (TitleDetail with TitleType 01)")
    if reasons:
        shown_ean = ean or next((identifiers[t] for t in ("15", "03") if t in identifiers), None)
        return MalformedProduct(position, reference, "; ".join(reasons), shown_ean)
    values["format"] = product_format(values.get("product_form"))
    return OnixProduct(record_reference=reference, notification_type=notification, ean=ean, **values)


def _source(source: bytes | str | IO[bytes]) -> IO[bytes] | str:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    return source


def iter_products(source: bytes | str | IO[bytes]) -> Iterator[OnixProduct | MalformedProduct]:
    """Every product of one ONIX 3.0 message (bytes, a path or a binary file), streamed.

    Each ``<Product>`` is read when it ends and then cleared with everything before it, so
    memory does not grow with the message. Raises :class:`OnixPageError` (after the products
    read so far) when the XML is broken or the message is not ONIX 3.0 reference tags: the
    caller must then discard the whole message.
    """
    if isinstance(source, bytes | bytearray | memoryview) and not bytes(source).strip():
        return  # an empty body: an empty page
    context = etree.iterparse(
        _source(source),
        events=("end",),
        tag=_PRODUCT,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    position = 0
    try:
        for _, element in context:
            position += 1
            yield read_product(element, position)
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise OnixPageError(f"the ONIX message is not well-formed XML after {position} product(s): {exc}") from None
    root = context.root
    if root is None:
        raise OnixPageError("the body holds no XML element")
    if root.tag != _ONIX_MESSAGE:
        raise OnixPageError(
            f"root element {root.tag!r} is not an ONIX 3.0 reference-tag ONIXMessage "
            f"(namespace {NAMESPACE}); short tags or another format are not read"
        )
    release = root.get("release") or ""
    if not release.startswith("3."):
        raise OnixPageError(f"ONIXMessage release {release!r} is not ONIX 3.x")


def parse_page(source: bytes | str | IO[bytes]) -> ParsedPage:
    """All of one message: :func:`iter_products` collected (raises :class:`OnixPageError`)."""
    page = ParsedPage()
    for item in iter_products(source):
        if isinstance(item, OnixProduct):
            page.products.append(item)
        else:
            page.malformed.append(item)
    return page
