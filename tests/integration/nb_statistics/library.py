"""One synthetic library system for the NB statistics tests (integration and DAG): March 2026 (the
spring DST switch) with a day on each side, the NB additions, and a few deliberate cases (see
:func:`make_library`); and the independent expectation the tests compare the file with."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg
from stdnum import isbn as stdnum_isbn

from dev import generator, generator_nb
from library_integrations import INCLUDE_DIR

MONTH = date(2026, 3, 1)
SYSTEM = "Testbibliotekenes system"
MERGED_ISBN = "9788203364181"  # catalogued as ISBN-10 on one manifestation, ISBN-13 on another
CATEGORIES = tomllib.loads((INCLUDE_DIR / "config" / "nb_borrower_categories.toml").read_text())


@dataclass(frozen=True)
class NbLibrary:
    dsn: str
    merged: tuple[int, int]  # the two manifestations catalogued with two forms of MERGED_ISBN
    malformed_isil_agency: int


def make_library(lms_dsn: str) -> NbLibrary:
    # 28 Feb .. 1 Apr: every day has loans within a second of its midnights (dev.generator).
    generator.generate(lms_dsn, seed=5, agencies=10, days=33, loans_per_day=240, start_date=MONTH - timedelta(days=1))
    generator_nb.fill(lms_dsn, seed=5)
    with psycopg.connect(lms_dsn) as conn:
        # Two manifestations lent by library 1 in March, one ISBN in two catalogue forms, same description.
        a, b = [r[0] for r in conn.execute(
            "SELECT DISTINCT i.manifestation_id FROM lms.loan l JOIN lms.item i ON i.id = l.item_id "
            "JOIN lms.manifestation m ON m.id = i.manifestation_id WHERE l.agency_id = 1 AND m.material_type_code = 'BOOK' "
            "AND l.loaned_at >= '2026-03-02' AND l.loaned_at < '2026-03-30' ORDER BY 1 LIMIT 2").fetchall()]
        conn.execute("UPDATE lms.manifestation SET isbn = '82-03-36418-7', title = 'Sult', shelf_word = 'Ham', "
                     "publication_year = 1890, fiction = true, audience = 'ADULT' WHERE id = %s", (a,))
        conn.execute("UPDATE lms.manifestation SET isbn = '978-82-03-36418-1', title = 'Sult', shelf_word = 'Ham', "
                     "publication_year = 1890, fiction = true, audience = ' adult ' WHERE id = %s", (b,))
        # The malformed ISIL of the base generator (agency 7): give it both consents, so ugyldig_isil shows.
        (bad,) = conn.execute("SELECT id FROM lms.agency WHERE isil !~ '^NO-[0-9]{7}$'").fetchone()
        conn.execute("UPDATE lms.nb_statistics_consent SET delivery_consent = true, publication_consent = true "
                     "WHERE agency_id = %s", (bad,))
    return NbLibrary(dsn=lms_dsn, merged=(a, b), malformed_isil_agency=bad)


# ----------------------------------------------------------------------------- independent expectation
def oracle_isbn(raw: str | None) -> str | None:
    if raw is None:
        return None
    compact = raw.replace("-", "").replace(" ", "").strip().upper()
    if len(compact) not in (10, 13) or compact.startswith("9790") or not stdnum_isbn.is_valid(compact):
        return None
    return stdnum_isbn.to_isbn13(compact)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def oracle_category(kind: str, code: str | None, born: date | None, on: date) -> tuple[str, str | None]:
    """NB category and the unmapped code (if the code did not decide), from the TOML read here."""
    codes = {k.strip().upper(): v for k, v in CATEGORIES["categories"].items()}
    key = (code or "").strip().upper()
    if kind == "LIBRARY":
        return "bibliotek", None
    if key in codes:
        return codes[key], None
    unmapped = key or None
    if kind == "PERSON":
        if born is None or born > on:
            return "ukjent", unmapped
        age = _age(born, on)
        if age <= CATEGORIES["child_max_age"]:
            return "barn", unmapped
        return ("voksen" if age <= CATEGORIES["max_plausible_age"] else "ukjent"), unmapped
    return CATEGORIES["patron_kinds"].get(kind, "ukjent"), unmapped


def expected_month(conn, month: date, isils: set[str]):
    """``(rows, without_isbn per ISIL, unmapped code counts)`` computed loan by loan in Python."""
    end = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    loans = conn.execute(
        """SELECT a.isil, a.name, m.isbn, m.title, m.shelf_word, m.publication_year, m.fiction, m.audience,
                  p.patron_kind, p.category, p.birth_date, (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date
           FROM lms.loan l JOIN lms.agency a ON a.id = l.agency_id JOIN lms.item i ON i.id = l.item_id
           JOIN lms.manifestation m ON m.id = i.manifestation_id JOIN lms.patron p ON p.id = l.patron_id
           WHERE (l.loaned_at AT TIME ZONE 'Europe/Oslo') >= %s AND (l.loaned_at AT TIME ZONE 'Europe/Oslo') < %s""",
        (datetime(month.year, month.month, 1), datetime(end.year, end.month, 1))).fetchall()
    rows: dict[tuple, int] = {}
    without: dict[str, int] = {}
    unmapped: dict[str, int] = {}
    for isil, name, raw, title, shelf, year, fiction, audience, kind, code, born, on in loans:
        if isil not in isils:
            continue
        category, code_left = oracle_category(kind, code, born, on)
        if code_left:
            unmapped[code_left] = unmapped.get(code_left, 0) + 1
        isbn13 = oracle_isbn(raw)
        if isbn13 is None:
            without[isil] = without.get(isil, 0) + 1
            continue
        key = (f"{month:%Y-%m}", isil, name, isbn13, (title or "").strip(), (shelf or "").strip(),
               "" if year is None else str(year), {True: "skjønn", False: "fag"}.get(fiction, "ukjent"),
               {"CHILDREN": "barn", "ADULT": "voksen"}.get((audience or "").strip().upper(), "ukjent"), category)
        rows[key] = rows.get(key, 0) + 1
    return rows, without, unmapped
