"""The loan report's builder fills what the catalogue lacks from Bokbasen's metadata (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pyarrow as pa

from library_integrations.common.oslo_time import OSLO
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA, AgencySettings
from library_integrations.pipelines.loan_report.report.builder import ReportBuilder
from library_integrations.pipelines.loan_report.report.quality import format_quality_table
from library_integrations.state.metadata import BookMetadata

DAY = date(2026, 11, 20)
SULT = "9788203364181"
VEIEN = "9788205385009"
UKJENT = "9788202123451"  # Bokbasen has no record of it
AGENCY = AgencySettings(1, "NO-2030101", "Agency 1", True, "Bibliotek 1", "Folkebibliotek", None, None, None)
BOKBASEN = {
    SULT: BookMetadata(SULT, "Sult", ("Hamsun, Knut",), "nob"),
    VEIEN: BookMetadata(VEIEN, "Veien videre", ("Ørstavik, Hanne", "Loe, Erlend"), "nno"),
}


class Lookup:
    """A dict-backed lookup that records what it was asked."""

    def __init__(self, records):
        self.records = records
        self.calls: list[list[str]] = []

    def __call__(self, eans):
        self.calls.append(list(eans))
        return {e: self.records[e] for e in eans if e in self.records}


_ids = iter(range(1, 10**6))


def row(isbn, title=None, authors=None, language=None, **more):
    values = dict(loan_id=next(_ids), agency_id=1, loaned_at=datetime(2026, 11, 20, 12, tzinfo=OSLO).astimezone(UTC),
                  isbn=isbn, title=title, authors=authors, language=language, material_type_code="BOOK",
                  patron_kind="PERSON", gender="F", age=40)
    values.update(more)
    return values


def build(rows, metadata=None, chunk=None):
    builder = ReportBuilder(DAY, [AGENCY], installation_namespace="no.example.test", metadata=metadata)
    table = pa.Table.from_pylist(rows, schema=LOAN_ROW_SCHEMA)
    step = chunk or len(rows)
    for offset in range(0, len(rows), step):
        builder.add_chunk(table.slice(offset, step))
    (result,) = builder.finish()
    return result


def test_missing_fields_are_filled_and_the_catalogue_wins():
    rows = [
        row("978-82-03-36418-1"),  # nothing catalogued: all three from Bokbasen
        row(SULT, title="Sult (katalogens tittel)", authors=["Hamsun, K."], language="NOB"),  # catalogue wins
        row(VEIEN, title="  ", authors=[" ", None], language="norsk"),  # blank / unusable: filled
        row(UKJENT),  # unknown to Bokbasen: stays without
    ]
    lookup = Lookup(BOKBASEN)
    result = build(rows, lookup)
    got = {(loan["ean"], loan.get("title")): loan for loan in orjson.loads(result.payload)["loans"]}
    assert len(got) == 4
    filled = got[(SULT, "Sult")]
    assert (filled["authors"], filled["language"]) == (["Hamsun, Knut"], "nob")
    catalogued = got[(SULT, "Sult (katalogens tittel)")]
    assert (catalogued["authors"], catalogued["language"]) == (["Hamsun, K."], "nob")
    veien = got[(VEIEN, "Veien videre")]
    assert (veien["authors"], veien["language"]) == (["Ørstavik, Hanne", "Loe, Erlend"], "nno")
    unknown = got[(UKJENT, None)]
    assert "title" not in unknown and "authors" not in unknown and "language" not in unknown
    q = result.quality
    assert q.enriched == 2 and q.enriched_fields == {"title": 2, "authors": 2, "language": 2}
    assert q.to_dict()["enriched"] == 2 and "2 loan(s) enriched from Bokbasen metadata" in q.one_line()
    assert "2 loan(s) enriched" in format_quality_table([q])
    assert len(lookup.calls) == 1 and sorted(lookup.calls[0]) == sorted([SULT, VEIEN, UKJENT])


def test_one_lookup_per_distinct_ean_across_chunks():
    rows = [row(SULT) for _ in range(30)] + [row(VEIEN) for _ in range(30)] + [row(UKJENT) for _ in range(10)]
    lookup = Lookup(BOKBASEN)
    result = build(rows, lookup, chunk=7)
    asked = [ean for call in lookup.calls for ean in call]
    assert sorted(asked) == sorted([SULT, VEIEN, UKJENT])  # each EAN once, found or not, whatever the chunking
    assert result.quality.enriched == 60


def test_the_same_bytes_without_metadata_or_with_an_empty_table():
    rows = [row(SULT), row(VEIEN, title="Veien", authors=["X, Y"], language="nob"), row(UKJENT, language="eng")]
    plain = build([dict(r) for r in rows])
    empty = build([dict(r) for r in rows], Lookup({}))
    assert plain.payload == empty.payload and empty.quality.enriched == 0
    assert plain.quality.to_dict() == empty.quality.to_dict()


def test_duplicates_are_not_counted_twice():
    first = row(SULT)
    result = build([first, dict(first)], Lookup(BOKBASEN))
    assert result.loan_count == 1 and result.quality.enriched == 1
