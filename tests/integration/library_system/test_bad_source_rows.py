"""Bad source data never stops the night: rows that break an assumption are excluded with a
reason and named in the log, and every other agency is reported.

A private library database on the session's PostgreSQL holds one day of loans with the
problems a production library system has and the reference schema forbids (its foreign
keys and NOT NULL constraints are dropped first, as in a system without them):

* an agency that lends but has no Bokbasen settings row, and loans naming an agency that
  does not exist: not reported, each named in a warning with its loan count;
* a manifestation without material type, a loan whose item row is missing, a material
  type the mapping does not know: excluded as ``unknown_material_type``, each named by
  loan id in the quality log;
* a loan whose patron row is missing: reported, with an anonymous borrower;
* a loan whose item belongs to another agency: reported once, by the agency that lent it
  (floating collections and transfers make this normal, not an error);
* titles with line breaks, quotes, separators and COPY's end-of-data marker;
* an enabled agency with unusable settings: fails alone; a disabled one: not read.

The steps run as the DAG runs them (extract, transform, one load per agency, summary),
against the fake Bokbasen over HTTP and the session's ledger. A retried extract (the
task's Airflow retry) stages the same rows again, never mixed with the first attempt's.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk import ObjectStoragePath

from dev import embedded_db, lms_schema
from library_integrations.common import settings
from library_integrations.pipelines.loan_report import steps
from library_integrations.pipelines.loan_report.report.transaction_id import transaction_id

DAY = date(2026, 5, 12)
OSLO = ZoneInfo("Europe/Oslo")
SULT = "978-82-03-36418-1"

AGENCIES = [  # id, isil, name, settings (enabled, library name) or None
    (1, "NO-2000001", "Hovedbiblioteket", (True, "Deichman Bjørvika")),
    (2, "NO-2000002", "Filial", (True, "Bergen Offentlige Bibliotek")),
    (3, "NO-2000003", "Ikke satt opp", None),  # lends, but nobody configured Bokbasen reporting
    (4, "NO-2000004", "Avslått", (False, "Avslått bibliotek")),
    (5, "NO-2000005", "Uten navn", (True, None)),  # enabled, no library name: fails alone
]
MANIFESTATIONS = [  # id, isbn, title, authors, material type
    (10, SULT, "Sult", ["Hamsun, Knut"], "BOOK"),
    (11, "978-82-05-00000-5", "Uten materialtype", None, None),
    (12, "9788203364181", "En podkast", None, "PODCAST"),
    (13, SULT, 'Linje\nto, "sitat"; semikolon', ["Hamsun, Knut", "Undset, Sigrid"], "BOOK"),
    (14, SULT, "\\.", ["\\."], "BOOK"),  # COPY's end-of-data marker as a title
]
ITEMS = [(100, 10, 1), (101, 10, 2), (102, 11, 1), (103, 12, 1), (104, 13, 1), (105, 14, 2), (106, 10, 3),
         (107, 10, 4), (108, 10, 5)]  # id, manifestation, owning agency
PATRONS = [(1000, date(1980, 5, 12), "K", "PERSON"), (1001, None, None, "ORGANISATION")]
LOANS = {  # id: (agency, item, patron, Oslo time)
    1: (1, 100, 1000, "10:00"),
    2: (1, 101, 1000, "10:05"),  # agency 2's item, lent by agency 1
    3: (1, 102, 1000, "10:10"),  # manifestation without material type
    4: (1, 103, 1001, "10:15"),  # material type not in the mapping
    5: (1, 9999, 1000, "10:20"),  # item row missing
    6: (1, 100, 9999, "10:25"),  # patron row missing
    7: (1, 104, 1000, "10:30"),  # title with line break, quotes and separators
    8: (2, 100, 1000, "11:00"),  # agency 1's item, lent by agency 2
    9: (2, 105, 1001, "11:05"),  # "\." as title
    10: (3, 106, 1000, "12:00"),  # agency without settings
    11: (3, 106, 1001, "12:05"),
    12: (4, 107, 1000, "13:00"),  # disabled agency
    13: (5, 108, 1000, "14:00"),  # enabled, unusable settings
    14: (99, 100, 1000, "15:00"),  # an agency lms.agency does not have
}
RELAXED = """
ALTER TABLE lms.loan DROP CONSTRAINT IF EXISTS loan_item_id_fkey;
ALTER TABLE lms.loan DROP CONSTRAINT IF EXISTS loan_patron_id_fkey;
ALTER TABLE lms.loan DROP CONSTRAINT IF EXISTS loan_agency_id_fkey;
ALTER TABLE lms.manifestation ALTER COLUMN material_type_code DROP NOT NULL;
INSERT INTO lms.material_type (code, description) VALUES ('PODCAST', 'Podkast') ON CONFLICT DO NOTHING;
"""


def at(hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=OSLO).astimezone(UTC)


@pytest.fixture(scope="module")
def bad_lms(session_dbname):
    name = f"{session_dbname}_badrows"
    dsn = embedded_db.ensure_database(name)
    try:
        lms_schema.create_reference_schema(dsn)
        with psycopg.connect(dsn) as conn:
            conn.execute(RELAXED)
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO lms.agency VALUES (%s, %s, %s)", [a[:3] for a in AGENCIES])
                cur.executemany(
                    "INSERT INTO lms.bokbasen_agency_settings VALUES (%s, %s, %s, 'Folkebibliotek', '0150', 'Oslo', 'Oslo')",
                    [(a[0], *a[3]) for a in AGENCIES if a[3] is not None])
                cur.executemany("INSERT INTO lms.manifestation (id, isbn, title, authors, material_type_code) "
                                "VALUES (%s, %s, %s, %s, %s)", MANIFESTATIONS)
                cur.executemany("INSERT INTO lms.item (id, manifestation_id, agency_id) VALUES (%s, %s, %s)", ITEMS)
                cur.executemany("INSERT INTO lms.patron (id, birth_date, gender, patron_kind) VALUES (%s, %s, %s, %s)",
                                PATRONS)
                cur.executemany("INSERT INTO lms.loan VALUES (%s, %s, %s, %s, %s)",
                                [(i, item, patron, agency, at(t)) for i, (agency, item, patron, t) in LOANS.items()])
        yield dsn
    finally:
        embedded_db.drop_database(name)


@pytest.fixture()
def night(bad_lms, tmp_path, caplog, fresh_fake_bokbasen, clean_bokbasen_ledger, bokbasen_hook_factory):
    """The whole night's steps; returns what each produced and the log."""
    caplog.set_level(logging.INFO, logger="library_integrations")
    target = ObjectStoragePath(tmp_path.as_uri())
    with psycopg.connect(bad_lms) as conn:
        conn.read_only = True
        manifest = steps.run_extract(conn, DAY, target, chunk_rows=3)
    reports = steps.run_transform(manifest, target, settings.load())
    loads, failures = {}, {}
    for report in reports:
        try:
            loads[report.isil] = steps.run_load(report, hook_factory=bokbasen_hook_factory,
                                                ledger=clean_bokbasen_ledger)
        except steps.AgencyFailed as exc:
            failures[report.agency_id] = str(exc)
    summary = steps.run_summary(DAY, reports, clean_bokbasen_ledger)
    return {"manifest": manifest, "reports": {r.agency_id: r for r in reports}, "loads": loads,
            "failures": failures, "summary": summary, "log": caplog.text, "fake": fresh_fake_bokbasen}


def tid(loan_id: int) -> str:
    return transaction_id(loan_id, settings.load().installation)


def test_every_loan_of_the_enabled_agencies_is_read_even_with_rows_missing(night):
    manifest = night["manifest"]
    assert sorted(a.agency_id for a in manifest.agencies) == [1, 2, 5]
    enabled = [i for i, (agency, *_) in LOANS.items() if agency in (1, 2, 5)]
    assert manifest.rows == len(enabled)  # no loan lost to a missing item, manifestation or patron
    reports = night["reports"]
    assert sum(r.read for r in reports.values()) == manifest.rows
    for report in reports.values():
        assert report.read == report.reported + sum(report.excluded.values())


def test_agencies_without_settings_are_named_with_their_loan_count(night):
    log = night["log"]
    assert "agency 3 (NO-2000003): 2 loan(s) in the window not reported: the agency has no Bokbasen settings" in log
    assert "agency 99 (no ISIL): 1 loan(s) in the window not reported" in log
    assert "and no row in lms.agency either" in log
    assert "agency 4 (NO-2000004)" not in log  # disabled on purpose: listed as disabled, no warning
    assert "1 disabled (NO-2000004)" in log
    assert not {3, 4, 99} & set(night["reports"])


def test_rows_without_a_known_material_type_are_excluded_and_named_by_loan_id(night):
    agency = night["reports"][1]
    assert agency.excluded == {"unknown_material_type": 3}
    assert (agency.read, agency.reported) == (7, 4)
    log = night["log"]
    assert "agency 1: unknown material types: (missing)=2 (loans 3, 5), PODCAST=1 (loan 4)" in log


def test_the_other_agencies_are_reported_with_exactly_their_own_loans(night):
    fake = night["fake"]
    received = {r["isil"]: r["payload"] for r in fake.reports()}
    assert set(received) == {"NO-2000001", "NO-2000002"}
    assert len(fake.reports()) == 2
    first = {loan["transactionId"]: loan for loan in received["NO-2000001"]["loans"]}
    second = {loan["transactionId"]: loan for loan in received["NO-2000002"]["loans"]}
    assert set(first) == {tid(1), tid(2), tid(6), tid(7)}  # loan 2: another agency's item
    assert set(second) == {tid(8), tid(9)}  # loan 8: agency 1's item, lent here
    assert first[tid(6)]["borrower"] == {"isPerson": False, "gender": "UNKNOWN"}  # patron row missing
    assert first[tid(7)]["title"] == 'Linje\nto, "sitat"; semikolon'
    assert first[tid(7)]["authors"] == ["Hamsun, Knut", "Undset, Sigrid"]
    assert second[tid(9)]["title"] == "\\." and second[tid(9)]["authors"] == ["\\."]
    assert {r.status for r in night["summary"].agencies if r.agency.startswith(("NO-2000001", "NO-2000002"))} == {
        "accepted"}


def test_an_agency_with_unusable_settings_fails_alone(night):
    assert set(night["failures"]) == {5}
    assert "library name is not configured" in night["failures"][5]
    summary = night["summary"]
    assert len(summary.failed) == 1 and summary.failed[0].startswith("NO-2000005")
    assert night["reports"][5].excluded == {"agency_config_error": 1}


def test_a_retried_extract_replaces_the_parts_of_the_earlier_attempt(bad_lms, tmp_path):
    target = ObjectStoragePath(tmp_path.as_uri())
    with psycopg.connect(bad_lms) as conn:
        first = steps.run_extract(conn, DAY, target, chunk_rows=2)  # the attempt that failed later
        first_ids = sorted(pa.concat_tables(pq.read_table(p) for p in first.parts).column("loan_id").to_pylist())
        again = steps.run_extract(conn, DAY, target, chunk_rows=4)  # its retry, chunked differently
    staged = sorted(p.name for p in (tmp_path / "extract").iterdir())
    assert len(first.parts) > len(again.parts)
    assert staged == sorted(p.rsplit("/", 1)[-1] for p in again.parts)  # the first attempt's extra parts are gone
    rows = pa.concat_tables(pq.read_table(part) for part in again.parts)
    assert sorted(rows.column("loan_id").to_pylist()) == first_ids
    assert again.rows == first.rows == rows.num_rows
