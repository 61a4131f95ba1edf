"""The extract against the embedded PostgreSQL with generated data.

* exactly the loans of the Oslo day, checked against an independent query that groups by
  the Oslo-local date instead of using the UTC window;
* no patron id, birth date or name in the extracted rows or the staged files, checked by
  column and by value;
* the age computed in SQL agrees with the Python reference ``age_on``.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk import ObjectStoragePath

from dev import generator
from library_integrations.common import settings
from library_integrations.common.oslo_time import oslo_day_window
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA
from library_integrations.pipelines.loan_report import steps as pipeline
from library_integrations.pipelines.loan_report.report.borrower import age_on

START = date(2026, 10, 23)  # 25 October 2026 is the fall-back day in Oslo
DAYS = 4
FORBIDDEN_COLUMNS = {"patron_id", "birth_date", "name", "patron_name", "card_number", "barcode"}


@pytest.fixture(scope="module")
def library(lms_dsn):
    return generator.generate(lms_dsn, seed=5, agencies=10, days=DAYS, loans_per_day=2500, start_date=START)


@pytest.fixture(scope="module")
def staged(library, lms_dsn, tmp_path_factory):
    """Each day extracted and transformed into a staging directory."""
    import psycopg

    out = {}
    with psycopg.connect(lms_dsn) as conn:
        for i in range(DAYS):
            day = START + timedelta(days=i)
            target = ObjectStoragePath(tmp_path_factory.mktemp(f"staging-{day}").as_uri())
            manifest = pipeline.run_extract(conn, day, target, chunk_rows=700)
            agencies = pipeline.run_transform(manifest, target, settings.load())
            out[day] = (target, manifest, agencies)
    return out


def _staged_table(manifest) -> pa.Table:
    return pa.concat_tables(pq.read_table(part) for part in manifest.parts)


@pytest.mark.parametrize("offset", range(DAYS))
def test_extract_returns_exactly_the_loans_of_the_oslo_day(staged, lms_conn, offset):
    day = START + timedelta(days=offset)
    _, manifest, _ = staged[day]
    enabled = [a.agency_id for a in manifest.agencies]
    expected = {r[0] for r in lms_conn.execute(
        "SELECT id FROM lms.loan WHERE (loaned_at AT TIME ZONE 'Europe/Oslo')::date = %s AND agency_id = ANY(%s)",
        (day, enabled)).fetchall()}
    table = _staged_table(manifest)
    ids = table.column("loan_id").to_pylist()
    assert len(ids) == len(set(ids)) == manifest.rows
    assert set(ids) == expected
    assert len(manifest.parts) > 1  # streamed in chunks, not one piece
    start, end = oslo_day_window(day)
    stamps = table.column("loaned_at").to_pylist()
    assert min(stamps) >= start and max(stamps) < end
    if day == date(2026, 10, 25):
        assert end - start == timedelta(hours=25)


def test_midnight_edges_go_to_the_right_day(staged, lms_conn):
    """A loan at 23:59:59.999999 Oslo time is in its day; one at 00:00:00 is in the next."""
    for day, (_, manifest, _) in staged.items():
        start, end = oslo_day_window(day)
        stamps = set(_staged_table(manifest).column("loaned_at").to_pylist())
        edge_rows = lms_conn.execute(
            "SELECT loaned_at, agency_id FROM lms.loan WHERE loaned_at IN (%s, %s)",
            (start, end - timedelta(microseconds=1))).fetchall()
        enabled = {a.agency_id for a in manifest.agencies}
        for at, agency in edge_rows:
            if agency in enabled:
                assert at in stamps
        assert end not in stamps


def test_no_patron_identifiers_by_column(staged):
    for _, manifest, _ in staged.values():
        table = _staged_table(manifest)
        assert table.schema.names == LOAN_ROW_SCHEMA.names
        assert not FORBIDDEN_COLUMNS & set(table.schema.names)
        assert not any(pa.types.is_date(f.type) for f in table.schema)


def test_no_patron_identifiers_by_value(staged, lms_conn):
    """No staged column carries a patron's id or birth date, in any representation."""
    for _, manifest, _ in staged.values():
        table = _staged_table(manifest)
        rows = dict(((loan_id, (patron_id, birth)) for loan_id, patron_id, birth in lms_conn.execute(
            "SELECT l.id, p.id, p.birth_date FROM lms.loan l JOIN lms.patron p ON p.id = l.patron_id "
            "WHERE l.id = ANY(%s)", (table.column("loan_id").to_pylist(),)).fetchall()))
        loan_ids = table.column("loan_id").to_pylist()
        patron_ids = [rows[i][0] for i in loan_ids]
        births = [rows[i][1] for i in loan_ids]
        birth_texts = {b.isoformat() for b in births if b} | {b.strftime("%d.%m.%Y") for b in births if b}
        for name in table.schema.names:
            values = table.column(name).to_pylist()
            if name != "loan_id":
                same_as_patron = sum(1 for v, p in zip(values, patron_ids, strict=True) if v == p)
                assert same_as_patron < len(values) * 0.05, f"column {name} looks like the patron id"
            same_as_birth = sum(1 for v, b in zip(values, births, strict=True) if b is not None and v == b)
            assert same_as_birth == 0, f"column {name} carries birth dates"
            if pa.types.is_string(table.schema.field(name).type):
                assert not birth_texts & set(values), f"column {name} carries birth dates as text"
        # And the raw staged bytes hold no birth date text either.
        for part in manifest.parts:
            raw = ObjectStoragePath(part).read_bytes()
            assert not any(t.encode() in raw for t in list(birth_texts)[:500])


def test_staged_reports_carry_no_patron_data(staged, lms_conn):
    patron_keys = {"patronId", "patron_id", "birthDate", "birth_date", "name", "cardNumber"}
    for _, _, agencies in staged.values():
        for agency in agencies:
            if not agency.report_path:
                continue
            report = orjson.loads(ObjectStoragePath(agency.report_path).read_bytes())
            for loan in report["loans"]:
                assert not patron_keys & set(loan) and not patron_keys & set(loan["borrower"])
                assert set(loan["borrower"]) <= {"isPerson", "age", "gender"}


def test_sql_age_matches_the_python_reference(staged, lms_conn):
    checked = 0
    for _, manifest, _ in staged.values():
        table = _staged_table(manifest)
        ages = dict(zip(table.column("loan_id").to_pylist(), table.column("age").to_pylist(), strict=True))
        for loan_id, loaned_at, birth in lms_conn.execute(
                "SELECT l.id, l.loaned_at, p.birth_date FROM lms.loan l JOIN lms.patron p ON p.id = l.patron_id "
                "WHERE l.id = ANY(%s)", (list(ages),)).fetchall():
            local_day = loaned_at.astimezone(ZoneInfo("Europe/Oslo")).date()
            if birth is None or birth > local_day:
                assert ages[loan_id] is None
            else:
                assert ages[loan_id] == age_on(birth, local_day), (loan_id, birth, local_day)
                checked += 1
    assert checked > 1000


def test_rows_with_every_edge_case_are_read(staged):
    """29 February birthdays, implausible birth dates and birthdays on the loan day reach the builder."""
    ages = pa.concat_arrays([_staged_table(m).column("age").combine_chunks() for _, m, _ in staged.values()])
    values = [a for a in ages.to_pylist() if a is not None]
    assert max(values) > 120  # born 1880: dropped by the builder as implausible, not by the extract
