"""The synthetic data generator: deterministic, and every case of the issue is present."""

import hashlib
from datetime import date

import psycopg
import pytest

from dev import embedded_db, generator
from dev import lms_schema as schema
from dev.generator import MATERIAL_MIX

DAYS = 3
START = date(2026, 3, 28)  # 29 March 2026 is the spring-forward day in Oslo


def _fingerprint(dsn: str) -> str:
    digest = hashlib.sha256()
    with psycopg.connect(dsn) as conn:
        for table in ("agency", "bokbasen_agency_settings", "manifestation", "item", "patron", "loan"):
            # Table names come from the fixed tuple above.
            rows = conn.execute(f"SELECT * FROM lms.{table} ORDER BY 1").fetchall()  # noqa: S608
            digest.update(repr(rows).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def generated(lms_dsn):
    summary = generator.generate(lms_dsn, seed=7, agencies=14, days=DAYS, loans_per_day=3000, start_date=START)
    return summary


def test_same_seed_same_rows(generated, lms_dsn, session_dbname):
    other = embedded_db.ensure_database(session_dbname + "_b")
    try:
        schema.create_reference_schema(other)
        generator.generate(other, seed=7, agencies=14, days=DAYS, loans_per_day=3000, start_date=START)
        assert _fingerprint(other) == _fingerprint(lms_dsn)
        generator.generate(other, seed=8, agencies=14, days=DAYS, loans_per_day=3000, start_date=START)
        assert _fingerprint(other) != _fingerprint(lms_dsn)
    finally:
        embedded_db.drop_database(session_dbname + "_b")
    # and the seeded run left lms_dsn as it was: regenerate for later tests in this module
    generator.generate(lms_dsn, seed=7, agencies=14, days=DAYS, loans_per_day=3000, start_date=START)


def test_counts_match_summary(generated, lms_conn):
    q = lms_conn.execute
    assert q("SELECT count(*) FROM lms.agency").fetchone()[0] == generated.agencies == 14
    assert q("SELECT count(*) FROM lms.loan").fetchone()[0] == generated.loans == DAYS * 3000
    assert q("SELECT count(*) FROM lms.patron").fetchone()[0] == generated.patrons
    assert q("SELECT count(*) FROM lms.manifestation").fetchone()[0] == generated.materials


def test_agency_settings_cases(generated, lms_conn):
    cases = generated.agency_cases
    for case in ("complete", "no_location", "partial_location", "location_wrong_municipality",
                 "location_invalid_postal_code", "missing_library_name", "malformed_isil", "disabled",
                 "no_settings_row"):
        assert cases.get(case, 0) >= 1, case
    q = lms_conn.execute
    assert q("SELECT count(*) FROM lms.agency WHERE isil ~ '^NO-2[0-9]{6}$'").fetchone()[0] == 14 - cases[
        "malformed_isil"]
    assert q("SELECT count(*) FROM lms.bokbasen_agency_settings WHERE NOT enabled").fetchone()[0] == cases[
        "disabled"]
    assert q("SELECT count(*) FROM lms.bokbasen_agency_settings WHERE enabled AND library_name IS NULL"
             ).fetchone()[0] == cases["missing_library_name"]
    assert q("SELECT count(*) FROM lms.agency a WHERE NOT EXISTS "
             "(SELECT 1 FROM lms.bokbasen_agency_settings s WHERE s.agency_id = a.id)").fetchone()[0] == cases[
        "no_settings_row"]


def test_every_material_type_with_books_dominating(generated, lms_conn):
    rows = dict(lms_conn.execute(
        "SELECT material_type_code, count(*) FROM lms.manifestation GROUP BY 1").fetchall())
    assert set(rows) == set(MATERIAL_MIX)
    assert rows == generated.material_types
    assert rows["BOOK"] > sum(rows.values()) / 2


def test_isbn_forms_as_catalogued_in_the_wild(generated, lms_conn):
    forms = generated.isbn_forms
    for form in ("isbn13_hyphenated", "ean13_bare", "isbn10_hyphenated", "isbn10_bare", "isbn13_spaced",
                 "ismn", "issn_ean", "missing", "bad_check_digit", "garbage"):
        assert forms.get(form, 0) >= 1, form
    q = lms_conn.execute
    assert q("SELECT count(*) FROM lms.manifestation WHERE isbn ~ '^97[89]-'").fetchone()[0] >= 1
    assert q("SELECT count(*) FROM lms.manifestation WHERE isbn ~ '^[0-9]{9}[0-9X]$'").fetchone()[0] >= 1
    assert q("SELECT count(*) FROM lms.manifestation WHERE material_type_code = 'MUSICAL_SCORE' "
             "AND replace(isbn, '-', '') LIKE '9790%'").fetchone()[0] == generated.material_types["MUSICAL_SCORE"]
    assert q("SELECT count(*) FROM lms.manifestation WHERE isbn LIKE '977%'").fetchone()[0] == forms["issn_ean"]
    assert q("SELECT count(*) FROM lms.manifestation WHERE isbn IS NULL").fetchone()[0] >= 1


def test_norwegian_and_sami_text(lms_conn):
    q = lms_conn.execute
    assert q("SELECT count(*) FROM lms.manifestation WHERE title ~ '[æøåÆØÅ]'").fetchone()[0] >= 1
    assert q("SELECT count(*) FROM lms.manifestation WHERE title ~ '[áčđŋšŧžÁČĐŊŠŦŽ]'").fetchone()[0] >= 1
    assert q("SELECT count(*) FROM lms.manifestation WHERE array_to_string(authors, '|') ~ '[æøå]'"
             ).fetchone()[0] >= 1


def test_patrons_of_every_kind(generated, lms_conn):
    rows = dict(lms_conn.execute("SELECT patron_kind, count(*) FROM lms.patron GROUP BY 1").fetchall())
    assert set(rows) == {"PERSON", "ORGANISATION", "INSTITUTION", "LIBRARY"}
    assert rows == generated.patron_kinds
    q = lms_conn.execute
    assert q("SELECT count(*) FROM lms.patron WHERE birth_date IS NULL AND patron_kind = 'PERSON'"
             ).fetchone()[0] == generated.patron_cases["person_without_birth_date"] >= 1
    assert q("SELECT count(*) FROM lms.patron WHERE extract(month FROM birth_date) = 2 "
             "AND extract(day FROM birth_date) = 29").fetchone()[0] >= 2
    genders = {g for (g,) in q("SELECT DISTINCT gender FROM lms.patron").fetchall()}
    assert {"M", "F", "K", None} <= genders and len(genders) >= 6


def test_loans_cover_every_day_including_dst_and_midnight(generated, lms_conn):
    q = lms_conn.execute
    per_day = dict(q("SELECT (loaned_at AT TIME ZONE 'Europe/Oslo')::date, count(*) FROM lms.loan GROUP BY 1"
                     ).fetchall())
    assert {d.isoformat(): n for d, n in per_day.items()} == generated.loans_per_day
    # Within a second of Oslo midnight, on both sides, on every day.
    near = q("""SELECT count(*) FROM lms.loan
                WHERE (loaned_at AT TIME ZONE 'Europe/Oslo')::time < '00:00:01'
                   OR (loaned_at AT TIME ZONE 'Europe/Oslo')::time >= '23:59:59'""").fetchone()[0]
    assert near >= 4 * DAYS
    # The spring-forward day has loans in its 23 hours only (no 02:xx local time exists).
    hours = q("""SELECT count(DISTINCT extract(hour FROM loaned_at AT TIME ZONE 'Europe/Oslo'))
                 FROM lms.loan WHERE (loaned_at AT TIME ZONE 'Europe/Oslo')::date = '2026-03-29'""").fetchone()[0]
    assert hours == 23
    assert q("""SELECT count(*) FROM lms.loan WHERE loaned_at >= '2026-03-28 23:00Z'
                AND loaned_at < '2026-03-29 22:00Z'""").fetchone()[0] == 3000
