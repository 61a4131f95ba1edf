"""The month's statistics from the library system's database: selection and aggregation in SQL.

Every query is a file in ``include/sql/nb_statistics``. The aggregation runs in one
transaction on temporary tables (``ON COMMIT DROP``), rolled back at the end: the
connection's role needs ``SELECT`` on ``lms`` and the ``TEMPORARY`` privilege on the
database, nothing else (PostgreSQL refuses temporary tables in a read-only transaction, so
the transaction is read-write but writes nothing outside its own temporary tables).

1. ``patrons`` / ``month_loans``: each patron's category rule once per patron, then the month's
   loans grouped by library, item and borrower category, in the database: one scan of the month
   and one join, integer group keys, ``work_mem`` raised for the transaction so the hash
   aggregate stays in memory; the libraries are chosen after the grouping;
2. ``month_manifestations`` / ``month_isbns``: the manifestation of each item lent, and their
   distinct catalogued ISBN values, normalised once each in Python (python-stdnum) and copied
   back (``nb_isbn``);
3. ``month_titles`` / ``month_rows``: descriptive columns per manifestation, numbered in the
   file's sort order, then the file's rows grouped on integers: library x description x
   category label (and per library the loans without a valid ISBN);
4. the file's bytes come straight from ``COPY (file_rows) TO STDOUT (FORMAT csv)``, sorted on
   those numbers and streamed to the staged file block by block (memory stays bounded whatever
   the month's size).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from library_integrations import SQL_DIR
from library_integrations.common.isbn import isbn13_map
from library_integrations.common.sql import SqlFiles
from library_integrations.pipelines.nb_statistics.config import ALL_CATEGORIES, CategoryMapping, FileFormat

log = logging.getLogger(__name__)

NB_SQL = SqlFiles(SQL_DIR / "nb_statistics")
DEFAULT_WORK_MEM = "256MB"


@dataclass(frozen=True)
class LibraryRow:
    agency_id: int
    isil: str
    name: str
    delivery_consent: bool | None
    publication_consent: bool | None
    decided_at: datetime | None


def read_libraries(conn: psycopg.Connection) -> list[LibraryRow]:
    return [LibraryRow(*row) for row in conn.execute(NB_SQL["libraries"]).fetchall()]


def count_loans(conn: psycopg.Connection, start_utc: datetime, end_utc: datetime, agency_ids: list[int]) -> dict[int, int]:
    """Loans per library in the window, straight from ``lms.loan`` (the check's independent count)."""
    rows = conn.execute(NB_SQL["count_loans"], {"start_utc": start_utc, "end_utc": end_utc,
                                                "agency_ids": list(agency_ids)}).fetchall()
    return {agency_id: n for agency_id, n in rows}


@dataclass(frozen=True)
class Aggregate:
    """The month aggregated in temporary tables of the open transaction on ``conn``."""

    figures: dict[int, tuple[int, int, int, int]]  # agency id -> (loans, without_isbn, rows, loans_with_isbn)
    unmapped: dict[str, int]
    distinct_isbn_values: int
    isbn13_values: int


def aggregate(conn: psycopg.Connection, start_utc: datetime, end_utc: datetime, agency_ids: list[int],
              categories: CategoryMapping, fmt: FileFormat, *, work_mem: str = DEFAULT_WORK_MEM) -> Aggregate:
    """Run steps 1-3 (see the module doc) in the open transaction; the tables stay until it ends.

    ``work_mem``: PostgreSQL's memory per sort/hash of this transaction (``SET LOCAL``), so the
    month's hash aggregate and joins stay in memory instead of spilling to disk.
    """
    t0 = time.perf_counter()
    number = {category: i for i, category in enumerate(ALL_CATEGORIES)}
    codes = sorted(categories.codes)
    kinds = sorted(categories.kinds)
    conn.execute(sql.SQL("SET LOCAL work_mem = {}").format(sql.Literal(work_mem)))
    conn.execute(NB_SQL["patrons"], {
        "codes": codes, "code_categories": [number[categories.codes[c]] for c in codes],
        "kinds": kinds, "kind_categories": [number[categories.kinds[k]] for k in kinds],
        "library": number["bibliotek"], "unknown": number["ukjent"],
        "adult_age": categories.child_max_age + 1, "too_old": categories.max_plausible_age + 1,
    })
    conn.execute("ANALYZE nb_patron")
    conn.execute(NB_SQL["month_loans"], {
        "start_utc": start_utc, "end_utc": end_utc, "agency_ids": list(agency_ids),
        "unknown": number["ukjent"], "child": number["barn"], "adult": number["voksen"],
    })
    conn.execute("ANALYZE nb_month_loans")
    t1 = time.perf_counter()
    conn.execute(NB_SQL["month_manifestations"])
    conn.execute("ANALYZE nb_month_manifestation")
    raw_values = [row[0] for row in conn.execute(NB_SQL["month_isbns"]).fetchall()]
    mapping = isbn13_map(raw_values)  # python-stdnum, once per distinct catalogued value
    conn.execute(NB_SQL["isbn_table"])
    with conn.cursor() as cur:
        with cur.copy("COPY nb_isbn (raw, isbn13) FROM STDIN") as copy:
            for raw, isbn13 in mapping.items():
                copy.write_row((raw, isbn13))
    conn.execute("ANALYZE nb_isbn")  # temporary tables have no statistics until analysed: the plans need them
    conn.execute(NB_SQL["month_titles"], {
        "fiction": fmt.fiction["fiction"], "non_fiction": fmt.fiction["non_fiction"],
        "fiction_unknown": fmt.fiction["unknown"], "children": fmt.audience["children"],
        "adult": fmt.audience["adult"], "audience_unknown": fmt.audience["unknown"],
    })
    conn.execute("ANALYZE nb_title")
    labels = [fmt.borrower_category[c] for c in ALL_CATEGORIES]
    conn.execute(NB_SQL["month_rows"], {"label_numbers": [labels.index(label) for label in labels]})
    conn.execute("ANALYZE nb_rows")  # without statistics, file_rows joined lms.agency by nested loop
    t2 = time.perf_counter()
    log.info("Aggregated in the database: month's loans by library, material and category %.1f s; ISBNs, "
             "descriptions and file rows %.1f s", t1 - t0, t2 - t1)
    figures = {agency_id: (loans, without, rows, with_isbn)
               for agency_id, loans, without, rows, with_isbn in conn.execute(NB_SQL["library_figures"]).fetchall()}
    unmapped = dict(conn.execute(NB_SQL["unmapped_categories"]).fetchall())
    return Aggregate(figures=figures, unmapped=unmapped, distinct_isbn_values=len(mapping),
                     isbn13_values=sum(1 for v in mapping.values() if v))


def copy_file_rows(conn: psycopg.Connection, month: str, fmt: FileFormat) -> Iterator[bytes]:
    """The file's data rows as CSV blocks (RFC 4180: CRLF line ends), sorted, from ``COPY ... TO STDOUT``.

    The text columns hold no line breaks (``month_titles.sql`` and ``file_rows.sql`` turn
    control characters into spaces), so every ``\\n`` PostgreSQL writes ends a record and
    becomes ``\\r\\n``.
    """
    query = NB_SQL["file_rows"].rstrip().rstrip(";")
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, DELIMITER {}, ENCODING 'UTF8')").format(
        sql.SQL(query), sql.Literal(fmt.delimiter))  # noqa: S608 - the query is a file, the delimiter a literal
    with conn.cursor() as cur:
        labels = [fmt.borrower_category[c] for c in ALL_CATEGORIES]
        with cur.copy(statement, {"month": month, "category_labels": labels}) as copy:
            pending = bytearray()  # PostgreSQL sends one message per row: write ~1 MB at a time
            for block in copy:
                pending += block
                if len(pending) >= 1 << 20:
                    yield bytes(pending).replace(b"\n", b"\r\n")
                    pending.clear()
            if pending:
                yield bytes(pending).replace(b"\n", b"\r\n")


def write_file(conn: psycopg.Connection, month: str, fmt: FileFormat, path) -> tuple[str, int, int]:
    """Write header and rows to ``path`` (an ``ObjectStoragePath``); returns ``(sha256, bytes, data rows)``."""
    t0 = time.perf_counter()
    digest, size, rows = hashlib.sha256(), 0, 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        header = fmt.header()
        f.write(header)
        digest.update(header)
        size += len(header)
        for block in copy_file_rows(conn, month, fmt):
            f.write(block)
            digest.update(block)
            size += len(block)
            rows += block.count(b"\n")
    log.info("Wrote %s rows (%s bytes) sorted by PostgreSQL's COPY in %.1f s", f"{rows:,}", f"{size:,}",
             time.perf_counter() - t0)
    return digest.hexdigest(), size, rows
