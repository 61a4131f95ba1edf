"""Synthetic, deterministic library-system data for the reference schema (``lms``).

Everything is drawn from one seeded NumPy generator, so the same arguments give the same
rows, byte for byte. Rows are written with ``COPY ... FROM STDIN`` (CSV built by pyarrow),
never row by row: a million loans for one day take seconds.

The data is meant to exercise every rule of the report: agencies with complete, partial,
invalid and disabled Bokbasen settings; every material type with a realistic mix; ISBNs as
catalogued in the wild; Norwegian and Sámi titles and authors; patrons of every kind;
loans over the Oslo day including DST days and loans within a second of midnight.
:class:`GenerationSummary` counts each case so tests can assert them.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from stdnum import ean as stdnum_ean
from stdnum import isbn as stdnum_isbn

from dev import DEV_DIR
from library_integrations.common.oslo_time import oslo_day_window

log = logging.getLogger(__name__)

# Material type mix of a Norwegian public library's loans (share of manifestations).
MATERIAL_MIX = {
    "BOOK": 0.70,
    "LARGE_PRINT": 0.02,
    "AUDIOBOOK_CD": 0.035,
    "AUDIOBOOK_CASSETTE": 0.005,
    "AUDIOBOOK_DAISY": 0.015,
    "AUDIOBOOK_ONLINE": 0.04,
    "EBOOK": 0.05,
    "NEWSPAPER": 0.01,
    "SERIAL": 0.02,
    "MUSICAL_SCORE": 0.01,
    "MANUSCRIPT": 0.002,
    "DVD": 0.04,
    "BLURAY": 0.01,
    "VIDEO_GAME": 0.01,
    "MUSIC_CD": 0.013,
    "BOARD_GAME": 0.005,
    "EQUIPMENT": 0.005,
}
# How an ISBN of a book-like manifestation is catalogued.
ISBN_FORMS = {
    "isbn13_hyphenated": 0.30,
    "ean13_bare": 0.33,
    "isbn10_hyphenated": 0.14,
    "isbn10_bare": 0.05,
    "isbn13_spaced": 0.03,
    "missing": 0.06,
    "bad_check_digit": 0.05,
    "garbage": 0.04,
}
GARBAGE_ISBNS = ["ukjent", "978-82-?", "s. 123", "ib.", "9788203", "ISBN mangler", "0000000000000", "n/a"]
PATRON_KINDS = {"PERSON": 0.94, "ORGANISATION": 0.02, "INSTITUTION": 0.03, "LIBRARY": 0.01}
GENDERS = ["M", "F", "K", "X", "m", " f ", "k", "ukjent", None]
GENDER_P = [0.34, 0.30, 0.16, 0.02, 0.03, 0.02, 0.02, 0.01, 0.10]
LANGUAGES = ["nob", "nno", "eng", "sme", "swe", "dan", "NOB", "ger", "fre", None, "", "norsk"]
LANGUAGE_P = [0.55, 0.09, 0.15, 0.02, 0.04, 0.03, 0.02, 0.02, 0.01, 0.05, 0.01, 0.01]

TITLE_WORDS = (
    "Sult Markens grøde Kristin Lavransdatter Fuglane Is-slottet Naiv Super Doppler Min kamp "
    "Jeg forbanner tidens elv Havboka Brødrene Løvehjerte Det store spelet Lykkeland Vår "
    "Søstrene Fjellet Nordlys Ødegården Vinterhagen Bølgene Hjørnestue Måkeskrik Blåbærskogen "
    "Čáhci Biegga Guovssahas Máttaráhkku Sámi Ráhkisvuohta Mánnu Beaivváš Dálvi Ŋuvttas "
    "Eallin Šaddu Žurnála Đuoddar Ŧuođđi Ánde"
).split()
SURNAMES = (
    "Hamsun Undset Vesaas Ibsen Knausgård Loe Fosse Christensen Solstad Ørstavik Hjorth Wassmo "
    "Ambjørnsen Jacobsen Nygårdshaug Ragde Petterson Bjørnson Kielland Skram Lie Aasen Øverland "
    "Gaup Paltto Valkeapää Utsi Vars Hætta Máret Sárá Åsheim Østby Kjærstad"
).split()
GIVEN_NAMES = (
    "Knut Sigrid Tarjei Henrik Karl Ove Erlend Jon Lars Dag Hanne Vigdis Herbjørg Ingvar Roy "
    "Gert Anne Per Bjørnstjerne Alexander Amalie Jonas Ivar Arnulf Kirsten Kerttu Nils-Aslak "
    "Synnøve Rauni Máret Ánte Siri Øystein Åse"
).split()


@dataclass
class GenerationSummary:
    seed: int
    agencies: int = 0
    materials: int = 0
    items: int = 0
    patrons: int = 0
    loans: int = 0
    seconds: float = 0.0
    agency_cases: dict = field(default_factory=dict)
    material_types: dict = field(default_factory=dict)
    isbn_forms: dict = field(default_factory=dict)
    patron_kinds: dict = field(default_factory=dict)
    patron_cases: dict = field(default_factory=dict)
    loans_per_day: dict = field(default_factory=dict)
    edge_loans: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- identifiers


def _isbn13(rng: np.random.Generator, prefix: str = "97882") -> str:
    body = prefix + "".join(str(d) for d in rng.integers(0, 10, 12 - len(prefix)))
    return body + stdnum_ean.calc_check_digit(body)


def _hyphenate(ean13: str) -> str:
    try:
        return stdnum_isbn.format(ean13)
    except Exception:  # pragma: no cover - stdnum cannot hyphenate every range
        return ean13[:3] + "-" + ean13[3:5] + "-" + ean13[5:9] + "-" + ean13[9:12] + "-" + ean13[12]


def _isbn_as_catalogued(rng: np.random.Generator, form: str) -> str | None:
    if form == "missing":
        return None if rng.random() < 0.7 else rng.choice(["", "  "])
    if form == "garbage":
        return str(rng.choice(GARBAGE_ISBNS))
    if form.startswith("isbn10"):
        ean13 = _isbn13(rng, "97882")
        isbn10 = stdnum_isbn.to_isbn10(ean13)
        if form == "isbn10_bare":
            return isbn10
        return stdnum_isbn.format(isbn10)
    ean13 = _isbn13(rng, str(rng.choice(["97882", "97891", "97803", "97814"])))
    if form == "ean13_bare":
        return ean13
    if form == "isbn13_spaced":
        return _hyphenate(ean13).replace("-", " ")
    if form == "bad_check_digit":
        wrong = (int(ean13[-1]) + 1 + int(rng.integers(0, 8))) % 10
        return _hyphenate(ean13)[:-1] + str(wrong)
    return _hyphenate(ean13)


def _ismn(rng: np.random.Generator) -> str:
    body = "9790" + "".join(str(d) for d in rng.integers(0, 10, 8))
    ean13 = body + stdnum_ean.calc_check_digit(body)
    return ean13 if rng.random() < 0.5 else f"979-0-{ean13[4:8]}-{ean13[8:12]}-{ean13[12]}"


def _issn_ean(rng: np.random.Generator) -> str:
    from stdnum import issn

    body7 = "".join(str(d) for d in rng.integers(0, 10, 7))
    issn8 = body7 + issn.calc_check_digit(body7)
    return issn.to_ean(issn8, issue_code="00")


def _other_ean(rng: np.random.Generator) -> str | None:
    if rng.random() < 0.3:
        return None
    body = str(rng.choice(["50", "70", "73", "57"])) + "".join(str(d) for d in rng.integers(0, 10, 10))
    return body + stdnum_ean.calc_check_digit(body)


def _pg_array(values: list[str]) -> str:
    escaped = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(escaped) + "}"


# --------------------------------------------------------------------------- tables


def _agencies(rng: np.random.Generator, n: int, failing: bool) -> tuple[list[list], list[list], Counter]:
    """Agencies and their settings. The first ones cover every settings case in a fixed order."""
    libs = list(csv.DictReader((DEV_DIR / "data" / "libraries.tsv").open(encoding="utf-8"), delimiter="\t"))
    cases = ["complete", "complete", "no_location", "partial_location", "location_wrong_municipality"]
    if failing:
        cases += ["missing_library_name", "malformed_isil"]
    cases += ["disabled", "no_settings_row", "location_invalid_postal_code"]
    agencies, settings, counts = [], [], Counter()
    for i in range(n):
        agency_id = i + 1
        case = cases[i] if i < len(cases) else ("disabled" if rng.random() < 0.08 else "complete")
        lib = libs[i % len(libs)]
        name = lib["library_name"] if i < len(libs) else f"{lib['library_name']} filial {i // len(libs)}"
        isil = f"NO-2{agency_id:06d}" if case != "malformed_isil" else f"NO-2{agency_id:03d}"
        agencies.append([agency_id, isil, name])
        counts[case] += 1
        if case == "no_settings_row":
            continue
        row = [agency_id, case != "disabled", name, lib["library_type"], lib["postal_code"], lib["municipality"],
               lib["county"]]
        if case == "no_location":
            row[4:7] = [None, None, None]
        elif case == "partial_location":
            row[5:7] = [None, None]
        elif case == "location_wrong_municipality":
            row[5], row[6] = "Bergen", "Vestland"  # postal code of Oslo, municipality of Bergen
            row[4] = "0150"
        elif case == "location_invalid_postal_code":
            row[4] = "0000"
        elif case == "missing_library_name":
            row[2] = None
        settings.append(row)
    return agencies, settings, counts


def _manifestations(rng: np.random.Generator, n: int) -> tuple[list[list], Counter, Counter]:
    codes = list(MATERIAL_MIX)
    p = np.array(list(MATERIAL_MIX.values()))
    chosen = rng.choice(len(codes), size=n, p=p / p.sum())
    # Make sure every material type occurs even in a tiny data set.
    chosen[: len(codes)] = np.arange(len(codes))
    forms = list(ISBN_FORMS)
    fp = np.array(list(ISBN_FORMS.values()))
    form_idx = rng.choice(len(forms), size=n, p=fp / fp.sum())
    form_idx[len(codes) : len(codes) + len(forms)] = np.arange(len(forms))
    languages = rng.choice(len(LANGUAGES), size=n, p=np.array(LANGUAGE_P) / sum(LANGUAGE_P))
    rows, mt_counts, isbn_counts = [], Counter(), Counter()
    for i in range(n):
        code = codes[chosen[i]]
        if code in ("MUSICAL_SCORE",):
            isbn, form = _ismn(rng), "ismn"
        elif code in ("SERIAL", "NEWSPAPER"):
            isbn, form = _issn_ean(rng), "issn_ean"
        elif code in ("DVD", "BLURAY", "VIDEO_GAME", "MUSIC_CD", "BOARD_GAME", "EQUIPMENT", "MANUSCRIPT"):
            isbn = _other_ean(rng) if code != "MANUSCRIPT" else None
            form = "other_ean" if isbn else "missing"
        else:
            form = forms[form_idx[i]]
            isbn = _isbn_as_catalogued(rng, form)
        n_words = int(rng.integers(1, 5))
        title = " ".join(rng.choice(TITLE_WORDS, size=n_words)) if rng.random() > 0.01 else None
        n_auth = int(rng.choice([0, 1, 1, 1, 2, 3]))
        authors = [f"{rng.choice(SURNAMES)}, {rng.choice(GIVEN_NAMES)}" for _ in range(n_auth)]
        language = LANGUAGES[languages[i]]
        year = int(rng.integers(1850, 2027)) if rng.random() > 0.05 else None
        rows.append([i + 1, isbn, title, _pg_array(authors) if authors else None, language, code, year])
        mt_counts[code] += 1
        isbn_counts[form] += 1
    return rows, mt_counts, isbn_counts


def _patrons(rng: np.random.Generator, n: int, reference_day: date) -> tuple[pa.Table, Counter, Counter]:
    kinds = list(PATRON_KINDS)
    kp = np.array(list(PATRON_KINDS.values()))
    kind_idx = rng.choice(len(kinds), size=n, p=kp / kp.sum())
    kind_idx[: len(kinds)] = np.arange(len(kinds))
    kind = np.array(kinds, dtype=object)[kind_idx]
    person = kind == "PERSON"
    ages = rng.gamma(4.0, 11.0, size=n).clip(1, 99)
    birth = np.datetime64(reference_day.isoformat()) - (ages * 365.25).astype("timedelta64[D]") - rng.integers(
        0, 365, size=n
    ).astype("timedelta64[D]")
    birth = birth.astype("datetime64[D]").astype(object)
    has_birth = person & (rng.random(n) > 0.08)
    birth = np.where(has_birth, birth, None)
    cases = Counter()
    # Deliberate edge cases, at fixed positions among the persons.
    person_idx = np.flatnonzero(person)
    specials = {
        "born_29_february": date(2012, 2, 29),
        "born_29_february_adult": date(1988, 2, 29),
        "birthday_on_reference_day": reference_day.replace(year=reference_day.year - 40),
        "implausible_old": date(1880, 5, 17),
        "implausible_future": reference_day + timedelta(days=400),
    }
    for k, (case, value) in enumerate(specials.items()):
        if k < len(person_idx):
            birth[person_idx[k]] = value
            cases[case] += 1
    gender = np.array(GENDERS, dtype=object)[rng.choice(len(GENDERS), size=n, p=np.array(GENDER_P) / sum(GENDER_P))]
    gender = np.where(person, gender, np.where(rng.random(n) < 0.5, None, "X"))
    cases["person_without_birth_date"] = int(np.sum(person & (birth == None)))  # noqa: E711
    cases["with_gender"] = int(np.sum(gender != None))  # noqa: E711
    cases["without_gender"] = int(np.sum(gender == None))  # noqa: E711
    table = pa.table(
        {
            "id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "birth_date": pa.array(list(birth), type=pa.date32()),
            "gender": pa.array(list(gender), type=pa.string()),
            "patron_kind": pa.array(list(kind), type=pa.string()),
        }
    )
    return table, Counter(kind.tolist()), cases


def _loan_times(rng: np.random.Generator, day: date, n: int) -> np.ndarray:
    """Loan instants (UTC, microseconds) over the Oslo day: opening hours plus e-loans at night."""
    start, end = oslo_day_window(day)
    span_us = int((end - start).total_seconds() * 1_000_000)
    # Local hour of day weights: libraries open ~10-20, e-loans all day.
    local = rng.normal(14.5, 3.2, size=n)
    night = rng.random(n) < 0.12
    local = np.where(night, rng.uniform(0, 24, size=n), local).clip(0, 23.9999)
    offset_us = (local / 24.0 * span_us).astype(np.int64)
    times = np.datetime64(start.replace(tzinfo=None), "us") + offset_us.astype("timedelta64[us]")
    # Within a second of midnight on both sides, always present.
    edges = [0, 1, 999_999, span_us - 1_000, span_us - 1]
    k = min(len(edges), n)
    times[:k] = np.datetime64(start.replace(tzinfo=None), "us") + np.array(edges[:k], dtype="timedelta64[us]")
    return times


def _copy_table(conn: psycopg.Connection, table_name: str, table: pa.Table) -> None:
    buf = io.BytesIO()
    pa_csv.write_csv(table, buf, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    columns = ", ".join(table.column_names)
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table_name} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:  # noqa: S608
            copy.write(buf.getbuffer())


def _copy_rows(conn: psycopg.Connection, table_name: str, columns: list[str], rows: list[list]) -> None:
    with conn.cursor() as cur:
        with cur.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:  # noqa: S608
            for row in rows:
                copy.write_row(row)


def generate(
    dsn: str,
    *,
    seed: int = 42,
    agencies: int = 12,
    days: int = 1,
    loans_per_day: int = 1000,
    start_date: date = date(2026, 3, 28),
    failing_agencies: bool = True,
) -> GenerationSummary:
    """Replace the contents of ``lms`` with a synthetic library system.

    ``days`` consecutive Oslo calendar days starting at ``start_date`` each get
    ``loans_per_day`` loans (the default start covers the spring DST switch when days >= 2).
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    summary = GenerationSummary(seed=seed)
    n_manif = max(200, min(loans_per_day * days // 8, 150_000))
    n_items = max(400, min(loans_per_day * days // 4, 400_000))
    n_patrons = max(300, min(loans_per_day * days // 5, 300_000))

    agency_rows, settings_rows, agency_cases = _agencies(rng, agencies, failing_agencies)
    manif_rows, mt_counts, isbn_counts = _manifestations(rng, n_manif)
    patrons, kind_counts, patron_cases = _patrons(rng, n_patrons, start_date)

    # Agency sizes follow a long tail: a few large city libraries, many small branches.
    weights = 1.0 / np.arange(1, agencies + 1) ** 0.8
    weights /= weights.sum()
    item_agency = rng.choice(np.arange(1, agencies + 1), size=n_items, p=weights)
    item_agency[:agencies] = np.arange(1, agencies + 1)  # every agency owns items
    # Popularity of manifestations is skewed too.
    item_manif = (rng.pareto(1.2, size=n_items) * n_manif / 20).astype(np.int64) % n_manif + 1
    items = pa.table(
        {
            "id": pa.array(np.arange(1, n_items + 1, dtype=np.int64)),
            "manifestation_id": pa.array(item_manif),
            "agency_id": pa.array(item_agency.astype(np.int64)),
            "barcode": pa.array([f"0302{i:010d}" for i in range(1, n_items + 1)]),
        }
    )

    with psycopg.connect(dsn) as conn:
        conn.execute("TRUNCATE lms.loan, lms.item, lms.patron, lms.manifestation, lms.bokbasen_agency_settings, "
                     "lms.agency CASCADE")  # CASCADE: tables that extend lms (e.g. NB consent) too
        _copy_rows(conn, "lms.agency", ["id", "isil", "name"], agency_rows)
        _copy_rows(conn, "lms.bokbasen_agency_settings",
                   ["agency_id", "enabled", "library_name", "library_type", "postal_code", "municipality", "county"],
                   settings_rows)
        _copy_rows(conn, "lms.manifestation",
                   ["id", "isbn", "title", "authors", "language", "material_type_code", "publication_year"], manif_rows)
        _copy_table(conn, "lms.item", items)
        _copy_table(conn, "lms.patron", patrons)
        next_id = 1
        for d in range(days):
            day = start_date + timedelta(days=d)
            n = loans_per_day
            loans = loan_table(rng, day, n, first_id=next_id, n_items=n_items, n_patrons=n_patrons,
                               item_agency=item_agency)
            _copy_table(conn, "lms.loan", loans)
            next_id += n
            summary.loans_per_day[day.isoformat()] = n
            summary.edge_loans += min(5, n)
        conn.execute("ANALYZE lms.loan")

    summary.agencies = agencies
    summary.materials = n_manif
    summary.items = n_items
    summary.patrons = n_patrons
    summary.loans = sum(summary.loans_per_day.values())
    summary.agency_cases = dict(agency_cases)
    summary.material_types = dict(mt_counts)
    summary.isbn_forms = dict(isbn_counts)
    summary.patron_kinds = dict(kind_counts)
    summary.patron_cases = dict(patron_cases)
    summary.seconds = round(time.perf_counter() - t0, 2)
    return summary


def loan_table(
    rng: np.random.Generator,
    day: date,
    n: int,
    *,
    first_id: int,
    n_items: int,
    n_patrons: int,
    item_agency: np.ndarray,
) -> pa.Table:
    item_ids = rng.integers(1, n_items + 1, size=n)
    # The first patrons are the deliberate edge cases (29 February, birthday today, ...):
    # give them loans every day.
    patron_ids = rng.integers(1, n_patrons + 1, size=n)
    patron_ids[5 : 5 + min(10, max(0, n - 5))] = np.arange(1, min(10, max(0, n - 5)) + 1)
    return pa.table(
        {
            "id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
            "item_id": pa.array(item_ids.astype(np.int64)),
            "patron_id": pa.array(patron_ids.astype(np.int64)),
            "agency_id": pa.array(item_agency[item_ids - 1].astype(np.int64)),
            "loaned_at": pa.array(_loan_times(rng, day, n), type=pa.timestamp("us", tz="UTC")),
        }
    )


def add_loans(dsn: str, day: date, n: int, *, seed: int = 7) -> int:
    """Append ``n`` loans on ``day`` to existing data (late-synced loans); returns the count."""
    rng = np.random.default_rng(seed)
    with psycopg.connect(dsn) as conn:
        (max_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM lms.loan").fetchone()
        (n_patrons,) = conn.execute("SELECT count(*) FROM lms.patron").fetchone()
        agency_of_item = conn.execute("SELECT agency_id FROM lms.item ORDER BY id").fetchall()
        item_agency = np.array([a for (a,) in agency_of_item], dtype=np.int64)
        loans = loan_table(rng, day, n, first_id=max_id + 1, n_items=len(item_agency), n_patrons=n_patrons,
                           item_agency=item_agency)
        _copy_table(conn, "lms.loan", loans)
    return n
