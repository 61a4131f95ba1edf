"""Extract one report day's loans from the library database and stage them as Parquet.

The loans query (``include/sql/extract/loans.sql``) runs inside ``COPY (...) TO STDOUT``
as CSV; pyarrow's streaming CSV reader parses it in C++ while the rows arrive, and every
``chunk_rows`` rows are written as one Parquet part under the staging directory. At most
one chunk of raw rows is held in memory. The staged rows carry no patron identifiers.

Loans that cannot be reported are never dropped silently: agencies that lent something on
the day but have no Bokbasen settings row are named in a warning with their loan count
(``unconfigured_agencies``), and the loans query reads every loan of the enabled
agencies even when the library system lacks the item, manifestation or patron row it
refers to (see ``include/sql/extract/loans.sql``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from library_integrations import SQL_DIR
from library_integrations.common.sql import SqlFiles
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA, AgencySettings

log = logging.getLogger(__name__)

EXTRACT_SQL_DIR = SQL_DIR / "extract"
AUTHOR_SEPARATOR = "\x1f"

# Column types of the CSV coming out of loans.sql, before conversion to LOAN_ROW_SCHEMA.
_CSV_TYPES = {
    "loan_id": pa.int64(),
    "agency_id": pa.int64(),
    "loaned_at_us": pa.int64(),
    "isbn": pa.string(),
    "title": pa.string(),
    "authors": pa.string(),
    "language": pa.string(),
    "material_type_code": pa.string(),
    "patron_kind": pa.string(),
    "gender": pa.string(),
    "age": pa.int32(),
}


EXTRACT_SQL = SqlFiles(EXTRACT_SQL_DIR)


@dataclass
class ExtractManifest:
    """What the extract staged: small enough for XCom."""

    report_date: str
    start_utc: str
    end_utc: str
    agency_ids: list[int]
    parts: list[str] = field(default_factory=list)
    rows: int = 0
    unconfigured: list[dict] = field(default_factory=list)  # UnconfiguredAgency as dicts

    def to_dict(self) -> dict:
        return asdict(self)


def read_agencies(conn: psycopg.Connection) -> list[AgencySettings]:
    with conn.cursor() as cur:
        cur.execute(EXTRACT_SQL["agencies"])
        return [AgencySettings(*row) for row in cur.fetchall()]


@dataclass(frozen=True)
class UnconfiguredAgency:
    """An agency that lent something in the window but has no Bokbasen settings row."""

    agency_id: int
    isil: str | None  # None when the loans name an agency that lms.agency does not have
    agency_name: str | None
    loans: int


def unconfigured_agencies(
    conn: psycopg.Connection, start_utc: datetime, end_utc: datetime
) -> list[UnconfiguredAgency]:
    """Agencies with loans in ``[start_utc, end_utc)`` and no Bokbasen settings: not reported.

    Each is logged as a warning naming its id, ISIL and loan count, so that loans of an
    agency nobody configured do not disappear without a word. (An agency that should not
    report gets a settings row with ``enabled = false``: it is then listed as disabled.)
    """
    with conn.cursor() as cur:
        cur.execute(EXTRACT_SQL["unconfigured_agencies"], {"start_utc": start_utc, "end_utc": end_utc})
        found = [UnconfiguredAgency(*row) for row in cur.fetchall()]
    for agency in found:
        log.warning(
            "agency %s (%s): %s loan(s) in the window not reported: the agency has no Bokbasen settings "
            "(no row in lms.bokbasen_agency_settings%s); add one, enabled or not",
            agency.agency_id,
            agency.isil or "no ISIL",
            f"{agency.loans:,}",
            "" if agency.isil is not None else ", and no row in lms.agency either",
        )
    return found


class _CopyReader(io.RawIOBase):
    """A read-only file object over the blocks of a psycopg ``COPY ... TO STDOUT``."""

    def __init__(self, copy) -> None:
        self._blocks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._blocks))
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def to_loan_rows(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """Convert a parsed CSV batch into a table of ``LOAN_ROW_SCHEMA``."""
    table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    authors = table.column("authors")
    author_lists = pc.split_pattern(authors, AUTHOR_SEPARATOR)
    columns = {
        "loan_id": table.column("loan_id"),
        "agency_id": table.column("agency_id"),
        "loaned_at": table.column("loaned_at_us").cast(pa.timestamp("us", tz="UTC")),
        "isbn": table.column("isbn"),
        "title": table.column("title"),
        "authors": author_lists,
        "language": table.column("language"),
        "material_type_code": table.column("material_type_code"),
        "patron_kind": table.column("patron_kind"),
        "gender": table.column("gender"),
        "age": table.column("age"),
    }
    return pa.table(columns, schema=LOAN_ROW_SCHEMA)


def stream_loans(
    conn: psycopg.Connection,
    start_utc: datetime,
    end_utc: datetime,
    agency_ids: list[int],
    *,
    chunk_rows: int = 200_000,
) -> Iterator[pa.Table]:
    """Yield the window's loans as tables of about ``chunk_rows`` rows each."""
    params = {"start_utc": start_utc, "end_utc": end_utc, "agency_ids": list(agency_ids)}
    query = EXTRACT_SQL["loans"].rstrip().rstrip(";")
    statement = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)"  # noqa: S608 - file, not input
    read_options = pa_csv.ReadOptions(block_size=4 << 20, use_threads=True)
    parse_options = pa_csv.ParseOptions(newlines_in_values=True)
    convert_options = pa_csv.ConvertOptions(
        column_types=_CSV_TYPES, strings_can_be_null=True, quoted_strings_can_be_null=False
    )
    with conn.cursor() as cur:
        with cur.copy(statement, params) as copy:
            reader = pa_csv.open_csv(
                io.BufferedReader(_CopyReader(copy), buffer_size=1 << 20),
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            for batch in reader:
                pending.append(batch)
                pending_rows += batch.num_rows
                while pending_rows >= chunk_rows:
                    table = pa.Table.from_batches(pending)
                    yield to_loan_rows(table.slice(0, chunk_rows))
                    rest = table.slice(chunk_rows)
                    pending, pending_rows = rest.to_batches(), rest.num_rows
            if pending_rows:
                yield to_loan_rows(pa.Table.from_batches(pending))


def stage_loans(
    conn: psycopg.Connection,
    report_date: date,
    start_utc: datetime,
    end_utc: datetime,
    agency_ids: list[int],
    target_dir,
    *,
    chunk_rows: int = 200_000,
) -> ExtractManifest:
    """Stream the loans into Parquet parts under ``target_dir`` (an ``ObjectStoragePath``).

    Parts from an earlier attempt of the same run are removed first, so a retried task
    never mixes old and new rows.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    for old in target_dir.glob("part-*.parquet"):
        old.unlink()
    manifest = ExtractManifest(
        report_date=report_date.isoformat(),
        start_utc=start_utc.isoformat(),
        end_utc=end_utc.isoformat(),
        agency_ids=list(agency_ids),
    )
    manifest.unconfigured = [asdict(a) for a in unconfigured_agencies(conn, start_utc, end_utc)]
    if not agency_ids:
        return manifest
    for i, chunk in enumerate(stream_loans(conn, start_utc, end_utc, agency_ids, chunk_rows=chunk_rows)):
        part = target_dir / f"part-{i:05d}.parquet"
        with part.open("wb") as f:
            pq.write_table(chunk, f, compression="zstd")
        manifest.parts.append(str(part))
        manifest.rows += chunk.num_rows
        log.info("staged %s rows in %s", f"{chunk.num_rows:,}", part)
    return manifest


def read_staged_parts(parts: list[str]) -> Iterator[pa.Table]:
    """Yield the staged Parquet parts one at a time (for the transform)."""
    from airflow.sdk import ObjectStoragePath

    for part in parts:
        with ObjectStoragePath(part).open("rb") as f:
            yield pq.read_table(f, schema=LOAN_ROW_SCHEMA)
