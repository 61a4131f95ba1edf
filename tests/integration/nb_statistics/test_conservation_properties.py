"""Property: every loan of an included library's month is in the NB file or counted ``uten_isbn``.

For generated months of a small library system (any catalogued ISBN text, titles and shelf
words with control characters and quotes, every borrower kind and category, loans on the
month's edges and DST switches, libraries with and without consent), the pipeline's own
steps (``run_select``, ``run_aggregate``, ``run_check``) run against a private database on
the session's PostgreSQL, and per included library::

    sum(antall_utlan in the file) + uten_isbn == loans in the Oslo month (counted here)

Also: only included libraries have rows; every ``antall_utlan`` is positive; a loan of a
manifestation catalogued with a plain valid ISBN is never ``uten_isbn`` and one without any
ISBN (null, blank, ISMN, ISSN-EAN) always is.

The aggregation runs in SQL, so each example costs a few database round trips: the example
count is a quarter of the unit profile's (10 by default, 500 with ``HYPOTHESIS_PROFILE=large``).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from airflow.sdk import ObjectStoragePath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import ean as std_ean
from stdnum import isbn as std_isbn

from dev import embedded_db, lms_schema
from library_integrations.pipelines.nb_statistics import steps
from library_integrations.pipelines.nb_statistics.config import load_categories, load_file_format

OSLO = ZoneInfo("Europe/Oslo")
FMT = load_file_format()
CATEGORIES = load_categories()
SYSTEM = "Egenskapstestenes system"
LARGE = os.environ.get("HYPOTHESIS_PROFILE") == "large"
EXAMPLES = 500 if LARGE else 10
MONTHS = (date(2026, 3, 1), date(2026, 10, 1), date(2024, 2, 1), date(2026, 12, 1))  # DST, leap, year end
AGENCIES = [  # id, isil, (delivery consent, publication consent) or None
    (1, "NO-4000001", (True, True)),
    (2, "NO-4000002", (True, True)),
    (3, "NO-4000003", (True, False)),  # no publication consent: excluded
    (4, "NO-4000004", None),  # never asked: excluded
]
INCLUDED = {1: "NO-4000001", 2: "NO-4000002"}


def _ean(body12: str) -> str:
    return body12 + std_ean.calc_check_digit(body12)


def _isbn10_check(body9: str) -> str:
    check = (11 - sum((10 - i) * int(d) for i, d in enumerate(body9)) % 11) % 11
    return "X" if check == 10 else str(check)


@st.composite
def plain_isbns(draw) -> str:
    """A valid ISBN as most catalogues hold it: ISBN-13 or ISBN-10, compact or hyphenated."""
    digits = f"{draw(st.integers(0, 10**9 - 1)):09d}"
    number = _ean("978" + digits) if draw(st.booleans()) else digits + _isbn10_check(digits)
    assert std_isbn.is_valid(number)
    return f"{number[:3]}-{number[3:]}" if draw(st.booleans()) else number


@st.composite
def no_isbns(draw) -> str | None:
    """No ISBN for sure: null, blank, an ISMN, an ISSN-EAN, a valid ISBN-13 with a wrong check digit."""
    digits = f"{draw(st.integers(0, 10**8 - 1)):08d}"
    good = _ean("978" + digits + "1")
    return draw(st.sampled_from([None, "", "   ", _ean("9790" + digits), _ean("977" + digits + "0"),
                                 good[:12] + str((int(good[12]) + 1) % 10)]))


isbn_texts = st.one_of(  # (what it is for sure, the catalogued text)
    plain_isbns().map(lambda raw: ("isbn", raw)),
    no_isbns().map(lambda raw: ("none", raw)),
    st.text(max_size=16).map(lambda raw: ("any", raw.replace("\x00", ""))),
)
texts = st.one_of(st.none(), st.text(max_size=20).map(lambda s: s.replace("\x00", "")),
                  st.sampled_from(['"sitat"; semikolon', "linje\r\nskift", "Ø\t\x1f", "  "]))


@st.composite
def months(draw):
    """``(month, manifestations, patrons, loans)`` of one generated library system."""
    month = draw(st.sampled_from(MONTHS))
    start = datetime(month.year, month.month, 1, tzinfo=OSLO)
    end = (start + timedelta(days=32)).replace(day=1)
    edges = [start, end, start - timedelta(microseconds=1), end - timedelta(microseconds=1),
             datetime(month.year, month.month, 15, 12, tzinfo=OSLO)]
    span = int((end - start).total_seconds())
    instants = st.one_of(st.sampled_from(edges),
                         st.integers(-86_400, span + 86_400).map(lambda s: start + timedelta(seconds=s)))
    manifestations = draw(st.lists(
        st.tuples(isbn_texts, texts, texts, st.one_of(st.none(), st.integers(-5, 3000)),
                  st.one_of(st.none(), st.booleans()), st.sampled_from([None, "CHILDREN", " adult ", "x"])),
        min_size=1, max_size=6))
    patrons = draw(st.lists(
        st.tuples(st.sampled_from(["PERSON", "ORGANISATION", "INSTITUTION", "LIBRARY", "x"]),
                  st.sampled_from([None, "V", " b ", "BIB", "PENS", "ZZZ", ""]),
                  st.one_of(st.none(), st.dates(date(1880, 1, 1), date(2027, 12, 31)))),
        min_size=1, max_size=4))
    loans = draw(st.lists(
        st.tuples(st.sampled_from([a[0] for a in AGENCIES]), st.integers(0, len(manifestations) - 1),
                  st.integers(0, len(patrons) - 1), instants),
        max_size=30))
    return month, manifestations, patrons, loans


@pytest.fixture(scope="module")
def nb_dsn(session_dbname):
    name = f"{session_dbname}_nbprops"
    dsn = embedded_db.ensure_database(name)
    try:
        lms_schema.create_reference_schema(dsn)
        yield dsn
    finally:
        embedded_db.drop_database(name)


def _load(dsn: str, manifestations, patrons, loans) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE lms.loan, lms.item, lms.patron, lms.manifestation, lms.nb_statistics_consent, "
                     "lms.bokbasen_agency_settings, lms.agency CASCADE")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO lms.agency (id, isil, name) VALUES (%s, %s, %s)",
                            [(i, isil, f"Bibliotek {i}") for i, isil, _ in AGENCIES])
            cur.executemany(
                "INSERT INTO lms.nb_statistics_consent VALUES (%s, %s, %s, '2026-01-05T10:00:00Z', 'test')",
                [(i, *consent) for i, _, consent in AGENCIES if consent is not None])
            cur.executemany(
                "INSERT INTO lms.manifestation (id, isbn, title, shelf_word, publication_year, fiction, audience, "
                "material_type_code) VALUES (%s, %s, %s, %s, %s, %s, %s, 'BOOK')",
                [(m, isbn[1], *values) for m, (isbn, *values) in enumerate(manifestations)])
            cur.executemany("INSERT INTO lms.item (id, manifestation_id, agency_id) VALUES (%s, %s, 1)",
                            [(m, m) for m in range(len(manifestations))])
            cur.executemany("INSERT INTO lms.patron (id, patron_kind, category, birth_date) VALUES (%s, %s, %s, %s)",
                            [(p, *values) for p, values in enumerate(patrons)])
            cur.executemany("INSERT INTO lms.loan (id, item_id, patron_id, agency_id, loaned_at) "
                            "VALUES (%s, %s, %s, %s, %s)",
                            [(n, item, patron, agency, at) for n, (agency, item, patron, at) in enumerate(loans)])


@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LARGE, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(generated=months())
def test_every_loan_is_in_the_file_or_counted_without_isbn(nb_dsn, generated):
    month, manifestations, patrons, loans = generated
    _load(nb_dsn, manifestations, patrons, loans)
    with tempfile.TemporaryDirectory() as tmp, psycopg.connect(nb_dsn) as conn:
        staging = ObjectStoragePath(f"file://{tmp}")
        selection = steps.run_select(conn, month)
        assert {lib.agency_id for lib in selection.included} == set(INCLUDED)
        staged = steps.run_aggregate(conn, selection, staging, FMT, CATEGORIES, SYSTEM)
        steps.run_check(conn, staged, FMT)  # the pipeline's own independent check passes too
        text = ObjectStoragePath(staged.csv_path).read_bytes().decode("utf-8")
    header, *rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=FMT.delimiter))
    isil_at, loans_at = header.index(FMT.column("isil")), header.index(FMT.column("loans"))
    in_file: dict[str, int] = {}
    for row in rows:
        assert int(row[loans_at]) > 0
        in_file[row[isil_at]] = in_file.get(row[isil_at], 0) + int(row[loans_at])
    assert set(in_file) <= set(INCLUDED.values())

    start, end = steps.month_window(month)
    figures = {lib.agency_id: lib for lib in staged.libraries}
    for agency_id, isil in INCLUDED.items():
        kinds = [manifestations[item][0][0] for agency, item, _, at in loans
                 if agency == agency_id and start <= at.astimezone(UTC) < end]
        lib = figures[agency_id]
        assert in_file.get(isil, 0) + lib.without_isbn == len(kinds) == lib.loans, (isil, lib)
        assert lib.loans_with_isbn >= kinds.count("isbn") and lib.without_isbn >= kinds.count("none"), (isil, lib)
