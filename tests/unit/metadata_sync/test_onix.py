"""Streaming ONIX 3.0 parsing: every field the sync keeps, malformed products named, broken pages refused."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from dev.fakes.bokbasen_export import ChangeEvent, onix_message, synthetic_products
from library_integrations.clients.bokbasen import onix

NS = onix.NAMESPACE
WHEN = datetime(2026, 11, 1)


def message(*products: str, release: str = "3.0", namespace: str = NS) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><ONIXMessage release="{release}" xmlns="{namespace}">'
            f"<Header><Sender><SenderName>Bokbasen AS</SenderName></Sender></Header>{''.join(products)}"
            "</ONIXMessage>").encode()


def product(ref="rec-1", notification="03", ean="9788203364181", *, title="Sult", extra="", descriptive="",
            publishing="", id_type="15") -> str:
    ident = f"<ProductIdentifier><ProductIDType>{id_type}</ProductIDType><IDValue>{ean}</IDValue></ProductIdentifier>"
    title_xml = (f"<TitleDetail><TitleType>01</TitleType><TitleElement><TitleElementLevel>01</TitleElementLevel>"
                 f"<TitleText>{title}</TitleText></TitleElement></TitleDetail>") if title else ""
    ref_xml = f"<RecordReference>{ref}</RecordReference>" if ref else ""
    notification_xml = f"<NotificationType>{notification}</NotificationType>" if notification else ""
    return (f"<Product>{ref_xml}{notification_xml}{ident if ean else ''}{extra}"
            f"<DescriptiveDetail><ProductForm>BC</ProductForm>{title_xml}{descriptive}</DescriptiveDetail>"
            f"<PublishingDetail>{publishing}</PublishingDetail></Product>")


def contributor(seq, role, name=None, *, key=None, before=None, corporate=None) -> str:
    parts = [f"<SequenceNumber>{seq}</SequenceNumber>" if seq is not None else "",
             *(f"<ContributorRole>{r}</ContributorRole>" for r in role.split())]
    if name:
        parts.append(f"<PersonNameInverted>{name}</PersonNameInverted>")
    if key:
        parts.append(f"<NamesBeforeKey>{before}</NamesBeforeKey><KeyNames>{key}</KeyNames>")
    if corporate:
        parts.append(f"<CorporateName>{corporate}</CorporateName>")
    return f"<Contributor>{''.join(parts)}</Contributor>"


def test_every_field_of_a_full_product():
    descriptive = (
        contributor(3, "E07", "Leser, Lise")
        + contributor(2, "A01", "Hamsun, Marie")
        + contributor(1, "A01", "Hamsun, Knut")
        + contributor(4, "B06", key="Translator", before="Tove")
        + "<Language><LanguageRole>02</LanguageRole><LanguageCode>dan</LanguageCode></Language>"
        + "<Language><LanguageRole>01</LanguageRole><LanguageCode>NOB</LanguageCode></Language>"
        + "<Audience><AudienceCodeType>01</AudienceCodeType><AudienceCodeValue>01</AudienceCodeValue></Audience>"
        + "<Audience><AudienceCodeType>04</AudienceCodeType><AudienceCodeTypeName>Bokbasen_Audience"
          "</AudienceCodeTypeName><AudienceCodeValue>Voksen</AudienceCodeValue></Audience>"
    )
    publishing = (
        "<Publisher><PublishingRole>02</PublishingRole><PublisherName>Co-publisher</PublisherName></Publisher>"
        "<Publisher><PublishingRole>01</PublishingRole><PublisherName>Gyldendal</PublisherName></Publisher>"
        "<PublishingDate><PublishingDateRole>19</PublishingDateRole><Date>20200101</Date></PublishingDate>"
        '<PublishingDate><PublishingDateRole>01</PublishingDateRole><Date dateformat="05">1890</Date></PublishingDate>'
    )
    body = message(product(descriptive=descriptive, publishing=publishing).replace(
        "<TitleText>Sult</TitleText>", "<TitleText>Sult</TitleText><Subtitle>roman</Subtitle>"))
    (p,) = onix.parse_page(body).products
    assert (p.record_reference, p.notification_type, p.ean, p.deleted) == ("rec-1", "03", "9788203364181", False)
    assert (p.title, p.subtitle) == ("Sult", "roman")
    assert [(c.sequence, c.roles, c.name) for c in p.contributors] == [
        (1, ("A01",), "Hamsun, Knut"), (2, ("A01",), "Hamsun, Marie"), (3, ("E07",), "Leser, Lise"),
        (4, ("B06",), "Translator, Tove")]
    assert p.authors == ("Hamsun, Knut", "Hamsun, Marie")
    assert (p.language, p.audience, p.publisher) == ("nob", "Voksen", "Gyldendal")
    assert (p.product_form, p.format) == ("BC", "PAPER")
    assert (p.publication_date, p.publication_date_format, p.publication_year) == ("1890", "05", 1890)


def test_editors_stand_in_for_missing_authors_and_unnamed_contributors_are_skipped():
    descriptive = (contributor(2, "B01", "Redaktør, Rut") + contributor(1, "B01 A19", corporate="Forlaget")
                   + contributor(3, "A01"))  # an author without a name: nothing to keep
    (p,) = onix.parse_page(message(product(descriptive=descriptive))).products
    assert p.authors == ("Forlaget", "Redaktør, Rut")
    assert [c.roles for c in p.contributors] == [("B01", "A19"), ("B01",)]


def test_contributors_without_sequence_numbers_keep_document_order_after_numbered_ones():
    descriptive = contributor(None, "A01", "C, C") + contributor(None, "A01", "A, A") + contributor(1, "A01", "B, B")
    (p,) = onix.parse_page(message(product(descriptive=descriptive))).products
    assert p.authors == ("B, B", "C, C", "A, A")


@pytest.mark.parametrize("form, expected", [("BB", "PAPER"), ("BC", "PAPER"), ("AC", "AUDIO"), ("AJ", "AUDIO"),
                                            ("EA", "EBOOK"), ("ED", "EBOOK"), ("DA", "DA"), ("PC", "PC")])
def test_product_form_mapping(form, expected):
    (p,) = onix.parse_page(message(product().replace("<ProductForm>BC", f"<ProductForm>{form}"))).products
    assert p.format == expected


@pytest.mark.parametrize("date, fmt, year", [("2019", "05", 2019), ("20190315", "00", 2019), ("20190315", None, 2019),
                                             ("201903", "01", 2019), ("19xx", "05", None), ("2019", "00", None)])
def test_publication_dates_as_sent_with_their_year(date, fmt, year):
    attr = f' dateformat="{fmt}"' if fmt else ""
    publishing = f"<PublishingDate><PublishingDateRole>01</PublishingDateRole><Date{attr}>{date}</Date></PublishingDate>"
    (p,) = onix.parse_page(message(product(publishing=publishing))).products
    assert (p.publication_date, p.publication_date_format, p.publication_year) == (date, fmt, year)


def test_title_from_prefix_and_gtin_when_no_isbn13():
    body = message(product(id_type="03").replace(
        "<TitleText>Sult</TitleText>", "<TitlePrefix>Det</TitlePrefix><TitleWithoutPrefix>store spelet</TitleWithoutPrefix>"))
    (p,) = onix.parse_page(body).products
    assert (p.title, p.ean) == ("Det store spelet", "9788203364181")


def test_a_delete_needs_no_title():
    (p,) = onix.parse_page(message(product(notification="05", title=None))).products
    assert p.deleted and p.title is None


def test_malformed_products_are_named_counted_and_never_stop_the_page():
    body = message(
        product("ok-1", ean="9788203364181"),
        product("no-ean", ean=None),
        product("bad-check", ean="9788203364182"),
        product("no-title", ean="9788202123451", title=None),
        product(None, ean="9788205385009"),
        product("no-type", notification=None, ean="9788203364181"),
        product("ok-2", ean="9788205385009"),
    )
    page = onix.parse_page(body)
    assert [p.record_reference for p in page.products] == ["ok-1", "ok-2"]
    assert page.count == 7
    named = {m.name: m.reason for m in page.malformed}
    assert named == {
        "no-ean": "no EAN/ISBN-13 (ProductIDType 15 or 03)",
        "bad-check": "EAN/ISBN-13 '9788203364182' is not a valid EAN-13 (length or check digit)",
        "no-title": "no title (TitleDetail with TitleType 01)",
        "product #5 (EAN 9788205385009)": "no RecordReference",
        "no-type": "no NotificationType",
    }
    assert [m.position for m in page.malformed] == [2, 3, 4, 5, 6]


def test_what_the_fake_sends_reads_back():
    products = synthetic_products(40, seed=5)
    events = [ChangeEvent(i + 1, WHEN, p) for i, p in enumerate(products)]
    parsed = onix.parse_page(onix_message(events))
    assert not parsed.malformed
    for sent, got in zip(products, parsed.products, strict=True):
        assert (got.ean, got.title, got.subtitle, got.language) == (sent.ean, sent.title, sent.subtitle, sent.language)
        assert list(got.authors) == sent.authors
        assert [(c.roles[0], c.name) for c in got.contributors] == sent.contributors
        assert got.format == {"A": "AUDIO", "E": "EBOOK", "B": "PAPER"}[sent.product_form[0]]
        assert got.publication_year == int(sent.publication_date[:4])
        assert got.audience == sent.audience


def test_streams_from_a_file_object_and_clears_each_product():
    products = synthetic_products(300, seed=9)
    body = onix_message(ChangeEvent(i + 1, WHEN, p)
                        for i, p in enumerate(products))
    seen_siblings = []
    original = onix.read_product

    def spy(element, position):
        seen_siblings.append(sum(1 for _ in element.itersiblings(preceding=True)))
        return original(element, position)

    onix.read_product = spy
    try:
        got = list(onix.iter_products(io.BytesIO(body)))
    finally:
        onix.read_product = original
    assert len(got) == 300
    assert max(seen_siblings) <= 1  # at most the Header: every earlier product was dropped


@pytest.mark.parametrize("body, words", [
    (b"<ONIXMessage release='3.0' xmlns='http://ns.editeur.org/onix/3.0/reference'><Product>", "not well-formed"),
    (message(product(), namespace="http://ns.editeur.org/onix/3.0/short"), "not an ONIX 3.0 reference-tag"),
    (message(product(), release="2.1"), "is not ONIX 3.x"),
    (b"<html><body>Service unavailable</body></html>", "not an ONIX 3.0 reference-tag"),
])
def test_an_unreadable_message_is_refused_as_a_whole(body, words):
    with pytest.raises(onix.OnixPageError, match=words):
        onix.parse_page(body)


def test_an_empty_body_or_message_is_an_empty_page():
    assert onix.parse_page(b"").count == 0
    assert onix.parse_page(message()).count == 0


def test_no_external_entities_are_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-read")
    body = (f'<?xml version="1.0"?><!DOCTYPE ONIXMessage [<!ENTITY x SYSTEM "file://{secret}">]>'
            f'<ONIXMessage release="3.0" xmlns="{NS}">'
            + product(title="&x;").replace("<?xml", "") + "</ONIXMessage>").encode()
    page = onix.parse_page(body)
    texts = [p.title for p in page.products] + [str(m) for m in page.malformed]
    assert page.count == 1
    assert not any("do-not-read" in (text or "") for text in texts)
