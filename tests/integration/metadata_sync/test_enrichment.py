"""The loan report carries Bokbasen's titles where the catalogue lacks them: the real extract, a real
sync from a fake Export Service fed with the catalogue's ISBNs, the pipeline-state database, the
transform reading the metadata through ``state.metadata``."""

from __future__ import annotations

from datetime import date

import orjson
import psycopg
import pytest
from airflow.sdk import ObjectStoragePath
from stdnum import isbn as stdnum_isbn

from dev import generator
from dev.fakes.bokbasen_export import FakeBokbasenExport, products_from_lms
from library_integrations.common import settings
from library_integrations.pipelines.loan_report import steps as loan_report
from library_integrations.pipelines.loan_report.report.transaction_id import transaction_id
from library_integrations.pipelines.metadata_sync import steps as metadata_sync
from library_integrations.pipelines.metadata_sync.config import SyncSettings
from library_integrations.state.metadata import MetadataLookup

DAY = date(2026, 9, 15)


@pytest.fixture(scope="module")
def library(lms_dsn):
    summary = generator.generate(lms_dsn, seed=31, agencies=3, days=1, loans_per_day=1500, start_date=DAY,
                                 failing_agencies=False)
    with psycopg.connect(lms_dsn) as conn:  # a tenth of the books lose their title in the catalogue
        conn.execute("UPDATE lms.manifestation SET title = NULL WHERE id % 10 = 0")
    return summary


def catalogue_loans(lms_dsn) -> dict[str, dict]:
    """Transaction id -> what the catalogue says about the loan's material, with its ISBN-13."""
    installation = settings.load().installation
    with psycopg.connect(lms_dsn) as conn:
        rows = conn.execute(
            "SELECT l.id, m.isbn, m.title, m.authors, m.language FROM lms.loan l "
            "JOIN lms.item i ON i.id = l.item_id JOIN lms.manifestation m ON m.id = i.manifestation_id "
            "WHERE (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date = %s", (DAY,)).fetchall()
    out = {}
    for loan_id, isbn, title, authors, language in rows:
        compact = "".join(ch for ch in isbn or "" if ch.isalnum()).upper()
        ean = stdnum_isbn.compact(stdnum_isbn.to_isbn13(compact)) if stdnum_isbn.is_valid(compact) else None
        out[transaction_id(loan_id, installation)] = {"ean": ean, "title": (title or "").strip() or None,
                                                      "authors": authors, "language": language}
    return out


def transform(lms_dsn, tmp_path_factory, metadata=None):
    target = ObjectStoragePath(tmp_path_factory.mktemp("staging").as_uri())
    with psycopg.connect(lms_dsn) as conn:
        manifest = loan_report.run_extract(conn, DAY, target, chunk_rows=400)
    agencies = loan_report.run_transform(manifest, target, settings.load(), metadata=metadata)
    loans = {}
    for agency in agencies:
        for loan in orjson.loads(ObjectStoragePath(agency.report_path).read_bytes())["loans"]:
            loans[loan["transactionId"]] = loan
    return agencies, loans


def test_loan_report_carries_bokbasen_titles_where_the_catalogue_lacks_them(
    library, lms_dsn, metadata_state_dsn, tmp_path_factory
):
    dsn = metadata_state_dsn
    with MetadataLookup(dsn) as empty:  # the sync never ran: nothing changes
        before, _ = transform(lms_dsn, tmp_path_factory, empty)
    plain, _ = transform(lms_dsn, tmp_path_factory)
    assert [a.sha256 for a in before] == [a.sha256 for a in plain] and not any(a.enriched for a in before)

    products = products_from_lms(lms_dsn, coverage=1.0)
    catalogue = catalogue_loans(lms_dsn)
    untitled = [p for p in products if p.ean in {c["ean"] for c in catalogue.values() if c["title"] is None}]
    assert len(untitled) >= 3
    withdrawn = untitled[0]  # deleted at Bokbasen: its record is not used
    from library_integrations.clients.bokbasen.export import BokbasenExportHook

    with FakeBokbasenExport(products=products, deletes=0, malformed=0).start() as fake:
        fake.add_changes([withdrawn], notification="05")
        hook = BokbasenExportHook(endpoint=fake.export_url, client_id=fake.client_id, client_secret=fake.client_secret,
                                  token_url=fake.token_url, subscription="basic", pagesize=50, state_dsn=dsn)
        result = metadata_sync.run_sync(dsn, hook, SyncSettings())
        hook.close()
    assert result.new == len(products) and result.deleted == 1

    with MetadataLookup(dsn) as lookup:
        agencies, loans = transform(lms_dsn, tmp_path_factory, lookup)
    needing = {loan["ean"] for tid, loan in loans.items() if _needs(catalogue[tid])}
    assert lookup.eans_asked == len(needing) > 0  # one lookup per distinct EAN that lacks something
    bokbasen = {p.ean: p for p in products}
    enriched_expected = 0
    for tid, loan in loans.items():
        known = catalogue[tid]
        record = bokbasen.get(loan["ean"]) if loan["ean"] != withdrawn.ean else None
        if known["title"] is not None:
            assert loan["title"] == known["title"]  # the catalogue's own title wins
        elif record is not None:
            assert loan["title"] == record.title  # Bokbasen's title where the catalogue has none
        else:
            assert "title" not in loan
        enriched_expected += bool(record is not None and _needs(known))
    assert any(loan["ean"] == withdrawn.ean for loan in loans.values())  # the withdrawn book was lent that day ...
    assert all("title" not in loan for loan in loans.values() if loan["ean"] == withdrawn.ean)  # ... untitled
    assert sum(a.enriched for a in agencies) == enriched_expected > 0
    quality = orjson.loads((ObjectStoragePath(agencies[0].report_path).parent.parent / "quality.json").read_bytes())
    assert sum(q["enriched"] for q in quality) == enriched_expected
    assert sum(q["enriched_fields"]["title"] for q in quality) == sum(
        1 for t, loan in loans.items() if catalogue[t]["title"] is None and loan["ean"] in bokbasen
        and loan["ean"] != withdrawn.ean)


def _needs(known: dict) -> bool:
    """Would the report omit the title, the authors or the language of this catalogue record?"""
    language = (known["language"] or "").strip()
    authors = [a for a in known["authors"] or [] if a and a.strip()]
    return known["title"] is None or not authors or not (len(language) == 3 and language.isascii()
                                                          and language.isalpha())
