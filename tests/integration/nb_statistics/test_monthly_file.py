"""The month's file against the real PostgreSQL: reconciliation, consent, determinism, merging, categories.

The expected rows are computed loan by loan in Python from a plain SQL query (Oslo-local
month by ``AT TIME ZONE``, python-stdnum directly, the category rules re-implemented from the
TOML), independently of the pipeline's SQL.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from airflow.sdk import ObjectStoragePath

from library_integrations.pipelines.nb_statistics import fileformat, steps
from library_integrations.pipelines.nb_statistics.config import load_categories, load_file_format
from tests.integration.nb_statistics.library import MERGED_ISBN, MONTH, SYSTEM, expected_month

FMT = load_file_format()


def build(dsn: str, staging: ObjectStoragePath, month: date = MONTH):
    with psycopg.connect(dsn) as conn:
        selection = steps.run_select(conn, month)
        staged = steps.run_aggregate(conn, selection, staging, FMT, load_categories(), SYSTEM)
    return selection, staged


def file_rows(staged) -> list[list[str]]:
    text = ObjectStoragePath(staged.csv_path).read_bytes().decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


@pytest.fixture()
def staging(tmp_path):
    return ObjectStoragePath(tmp_path.as_uri()) / "staging"


def test_every_included_library_reconciles_with_an_independent_count(nb_library, staging, caplog):
    caplog.set_level(logging.INFO)
    selection, staged = build(nb_library.dsn, staging)
    included = {lib.isil for lib in selection.included}
    assert len(included) >= 3
    with psycopg.connect(nb_library.dsn) as conn:
        expected, without, unmapped = expected_month(conn, MONTH, included)
        counted = dict(conn.execute(
            """SELECT a.isil, count(*) FROM lms.loan l JOIN lms.agency a ON a.id = l.agency_id
               WHERE date_trunc('month', l.loaned_at AT TIME ZONE 'Europe/Oslo') = '2026-03-01' GROUP BY 1""").fetchall())
        # The month's edges are in the data: loans at 00:00:00 on 1 March and at 23:59:59.999 on 31 March
        # (Oslo) count; 23:59:59.999 on 28 February and 00:00 on 1 April do not.
        edges = conn.execute(
            """SELECT (loaned_at AT TIME ZONE 'Europe/Oslo')::text FROM lms.loan
               WHERE loaned_at IN ('2026-03-01 00:00:00+01', '2026-03-31 23:59:59.999+02',
                                   '2026-02-28 23:59:59.999+01', '2026-04-01 00:00:00+02')""").fetchall()
    assert len({e[0][:10] for e in edges}) == 4
    rows = file_rows(staged)
    assert rows[0] == list(FMT.columns)
    got = {tuple(r[:-1]): int(r[-1]) for r in rows[1:]}
    assert len(got) == len(rows) - 1 == staged.rows
    assert got == expected
    for lib in staged.libraries:
        in_file = sum(n for key, n in got.items() if key[1] == lib.isil)
        assert in_file == lib.loans_with_isbn
        assert lib.without_isbn == without.get(lib.isil, 0)
        assert in_file + lib.without_isbn == counted.get(lib.isil, 0) == lib.loans, lib.isil
    assert staged.unmapped_categories == unmapped and unmapped
    code, n = next(iter(unmapped.items()))
    assert f"{code} ({n:,} loans)" in caplog.text
    # The check agrees (and would refuse a file that does not).
    with psycopg.connect(nb_library.dsn) as conn:
        result = steps.run_check(conn, staged, FMT)
    assert result.rows == staged.rows and result.loans == staged.loans


def test_dst_month_window_is_an_hour_short():
    start, end = steps.month_window(MONTH)
    assert (start, end) == (datetime(2026, 2, 28, 23, tzinfo=UTC), datetime(2026, 3, 31, 22, tzinfo=UTC))
    assert end - start == timedelta(days=31, hours=-1)


def test_two_catalogue_forms_of_one_isbn_are_one_row(nb_library, staging):
    _, staged = build(nb_library.dsn, staging)
    merged = [r for r in file_rows(staged)[1:] if r[3] == MERGED_ISBN]
    with psycopg.connect(nb_library.dsn) as conn:
        per_category = dict(conn.execute(
            """SELECT count(*), count(DISTINCT i.manifestation_id) FROM lms.loan l JOIN lms.item i ON i.id = l.item_id
               WHERE i.manifestation_id = ANY(%s) AND l.agency_id = 1
                 AND l.loaned_at >= '2026-02-28 23:00Z' AND l.loaned_at < '2026-03-31 22:00Z'""",
            (list(nb_library.merged),)).fetchall())
    (loans, manifestations), = per_category.items()
    assert manifestations == 2
    lib1 = [r for r in merged if r[1] == "NO-2000001"]
    assert sum(int(r[-1]) for r in lib1) == loans
    assert len({tuple(r[:-2]) for r in lib1}) == 1  # one description: the two forms merged
    assert len(lib1) == len({r[-2] for r in lib1})  # one row per borrower category


def test_libraries_without_both_consents_are_absent_and_listed_with_the_reason(nb_library, staging):
    selection, staged = build(nb_library.dsn, staging)
    reasons = {ex.isil: ex.reason for ex in staged.excluded}
    with psycopg.connect(nb_library.dsn) as conn:
        consent = {r[0]: r[1:] for r in conn.execute(
            "SELECT a.isil, c.delivery_consent, c.publication_consent FROM lms.agency a "
            "LEFT JOIN lms.nb_statistics_consent c ON c.agency_id = a.id").fetchall()}
    for isil, (delivery, publication) in consent.items():
        if delivery is None:
            assert reasons[isil] == fileformat.NO_CONSENT
        elif not delivery:
            assert reasons[isil] == fileformat.NOT_ENABLED
        elif not publication:
            assert reasons[isil] == fileformat.NO_PUBLICATION_CONSENT
    assert set(reasons.values()) == {fileformat.NO_CONSENT, fileformat.NOT_ENABLED,
                                     fileformat.NO_PUBLICATION_CONSENT, fileformat.INVALID_ISIL}
    in_file = {r[1] for r in file_rows(staged)[1:]}
    assert in_file and not in_file & set(reasons)
    manifest = json.loads(fileformat.render_manifest(fileformat.manifest_body(staged, FMT),
                                                     fileformat.file_names(FMT, SYSTEM, MONTH, 1), 1, None))
    assert {e["isil"]: e["grunn"] for e in manifest["ekskludert"]} == reasons
    assert {b["isil"] for b in manifest["bibliotek"]} == {lib.isil for lib in selection.included} >= in_file
    assert manifest["fil"]["sha256"] == staged.csv_sha256 and manifest["fil"]["rader"] == staged.rows
    for b in manifest["bibliotek"]:
        assert b["utlan"] == b["utlan_med_isbn"] + b["uten_isbn"]


def test_same_data_gives_the_same_bytes(nb_library, tmp_path):
    first = build(nb_library.dsn, ObjectStoragePath((tmp_path / "a").as_uri()))[1]
    second = build(nb_library.dsn, ObjectStoragePath((tmp_path / "b").as_uri()))[1]
    assert first.csv_sha256 == second.csv_sha256 and first.content_sha256 == second.content_sha256
    assert ObjectStoragePath(first.csv_path).read_bytes() == ObjectStoragePath(second.csv_path).read_bytes()
    names = fileformat.file_names(FMT, SYSTEM, MONTH, 1)
    assert fileformat.render_manifest(fileformat.manifest_body(first, FMT), names, 1, None) == (
        fileformat.render_manifest(fileformat.manifest_body(second, FMT), names, 1, None))
    raw = ObjectStoragePath(first.csv_path).read_bytes()
    assert raw.count(b"\r\n") == first.rows + 1 and raw.count(b"\n") == raw.count(b"\r\n")  # RFC 4180 line ends


def test_a_tampered_file_fails_the_check(nb_library, staging):
    _, staged = build(nb_library.dsn, staging)
    path = ObjectStoragePath(staged.csv_path)
    data = path.read_bytes()
    last_line = data.rstrip(b"\r\n").rsplit(b"\r\n", 1)[1]
    path.write_bytes(data[: -len(last_line) - 2])  # one row lost
    with psycopg.connect(nb_library.dsn) as conn, pytest.raises(fileformat.FileCheckError, match="data rows"):
        steps.run_check(conn, staged, FMT)


def test_a_month_that_has_not_ended_is_refused():
    with pytest.raises(steps.MonthNotOverError, match="2026-03 has not ended"):
        steps.check_month_is_over(MONTH, now=datetime(2026, 3, 31, 21, 59, tzinfo=UTC))
    steps.check_month_is_over(MONTH, now=datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
