"""Versioned, forward-only migrations of the pipeline-state schema ``pipeline_state``.

Every pipeline keeps its state (delivery ledgers, the shared OAuth2 token cache, sync cursors)
in one schema of the database behind the Airflow connection ``loan_reporting_db``. Its shape is
the files ``include/sql/state/migrations/NNN_<name>.sql``, applied in version order:

- each migration runs in its own transaction together with its row in
  ``pipeline_state.schema_migration`` (version, file name, sha256 checksum, when, by whom, how
  long), so a failed migration leaves nothing behind and is tried again next time;
- a PostgreSQL advisory lock serialises the processes that start at once (every worker's first
  task): one applies, the others wait and then find nothing to do;
- an applied migration is history: if its file's checksum no longer matches the recorded one,
  :func:`migrate` refuses with :class:`MigrationChecksumError` naming the file (revert the edit
  and add a new migration instead). A new file numbered below an applied version is refused
  too. Versions recorded in the database that this code does not know (a newer release ran)
  are logged as a warning and left alone;
- :func:`migrate` checks each DSN once per process (without taking the lock when nothing is
  pending), so every task may call it; :class:`~library_integrations.state.ledger.Ledger` and
  :class:`~library_integrations.state.token_cache.TokenCache` do.

Migration 001 is the ``bokbasen_reporting`` schema exactly as the previous release created it
(idempotent), 002 moves its tables into ``pipeline_state``: a deployment that ran the previous
release keeps its ledger rows and cached token, and a fresh database takes the same path, so
both end in the same shape.

Writing a migration: a new file with the next number; plain SQL, schema-qualified names, no
``COMMIT`` and nothing that cannot run inside a transaction (``CREATE INDEX CONCURRENTLY``).

Command line (also ``python -m dev state-migrate``)::

    python -m library_integrations.state.migrations [--conn-id loan_reporting_db | --dsn DSN] [--status]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from library_integrations.state.connection import describe
from library_integrations.state.queries import MIGRATIONS_DIR, load_sql

log = logging.getLogger(__name__)

FILE_NAME = re.compile(r"^(?P<version>\d{3})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql$")


class MigrationError(RuntimeError):
    """The pipeline-state schema cannot be brought up to date (the message says why)."""


class MigrationChecksumError(MigrationError):
    """An applied migration's file was changed afterwards."""


@dataclass(frozen=True)
class Migration:
    """One migration file: ``version`` from its ``NNN_`` prefix, ``name`` the file name."""

    version: int
    name: str
    path: Path
    checksum: str

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class AppliedMigration:
    """A row of ``pipeline_state.schema_migration``."""

    version: int
    name: str
    checksum: str
    applied_at: datetime
    applied_by: str
    duration_ms: int | None


def file_checksum(path: Path) -> str:
    """sha256 of a migration file, line endings normalised (a CRLF checkout is the same file).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     unix, dos = Path(d, "a.sql"), Path(d, "b.sql")
    ...     _ = unix.write_bytes(b"SELECT 1;\\n"), dos.write_bytes(b"SELECT 1;\\r\\n")
    ...     file_checksum(unix) == file_checksum(dos)
    True
    """
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def discover(migrations_dir: Path | None = None) -> list[Migration]:
    """The migration files in version order; a misnamed ``.sql`` file or a duplicate number is an error."""
    directory = Path(migrations_dir or MIGRATIONS_DIR)
    if not directory.is_dir():
        raise MigrationError(f"no migrations directory at {directory}")
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(
                f"{path}: a migration file is named NNN_<lowercase_name>.sql (e.g. 005_add_x.sql)"
            )
        version = int(match["version"])
        if version == 0:
            raise MigrationError(f"{path}: migration versions start at 001")
        if version in found:
            raise MigrationError(f"{path} and {found[version].path} share version {version:03d}")
        found[version] = Migration(version, path.name, path, file_checksum(path))
    return [found[v] for v in sorted(found)]


def _pending(files: Sequence[Migration], applied: Sequence[AppliedMigration], where: str) -> list[Migration]:
    """The files still to apply, after checking the applied ones against their files."""
    known = {m.version: m for m in files}
    for row in applied:
        migration = known.get(row.version)
        if migration is None:
            log.warning(
                "The pipeline-state schema in %s has migration %03d (%s), which this code does not know: "
                "a newer release migrated it. Continuing; deploy the newer release to every worker.",
                where,
                row.version,
                row.name,
            )
        elif migration.name != row.name:
            raise MigrationChecksumError(
                f"Migration {row.version:03d} was applied to {where} as {row.name}, but the file is now "
                f"{migration.path}: applied migrations are never renamed or replaced; restore {row.name}"
            )
        elif migration.checksum != row.checksum:
            raise MigrationChecksumError(
                f"{migration.path} was changed after it was applied to {where} "
                f"(applied sha256 {row.checksum[:12]}, file now {migration.checksum[:12]}): applied "
                f"migrations are never edited; revert the file and put the change in a new migration"
            )
    done = {row.version for row in applied}
    top = max(done, default=0)
    pending = [m for m in files if m.version not in done]
    late = [m for m in pending if m.version < top]
    if late:
        raise MigrationError(
            f"{late[0].path} was never applied to {where}, but the database is already at version {top:03d}: "
            f"migrations are forward only; renumber it above {top:03d}"
        )
    return pending


def _applied(conn: psycopg.Connection) -> list[AppliedMigration]:
    if not conn.execute(load_sql("migration_table_exists")).fetchone()[0]:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        return [AppliedMigration(**row) for row in cur.execute(load_sql("migration_applied")).fetchall()]


_done: set[tuple[str, Path]] = set()
_guard = threading.Lock()


def migrate(dsn: str, *, migrations_dir: Path | None = None, force: bool = False) -> list[Migration]:
    """Bring the pipeline-state schema at ``dsn`` up to date; return the migrations applied now.

    Cheap to call from every task: once a DSN is up to date in this process, later calls return
    ``[]`` without touching the database (``force`` checks again). Raises
    :class:`MigrationChecksumError` when an applied migration's file was changed and
    :class:`MigrationError` when a migration fails (its transaction is rolled back).
    """
    directory = Path(migrations_dir or MIGRATIONS_DIR).resolve()
    key = (dsn, directory)
    with _guard:  # threads of this process: one check per DSN
        if key in _done and not force:
            return []
        files = discover(directory)
        where = describe(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            if not _pending(files, _applied(conn), where):  # the usual case: no lock, no DDL
                _done.add(key)
                return []
            applied = _migrate_locked(conn, files, where)
        _done.add(key)
        return applied


def _migrate_locked(conn: psycopg.Connection, files: list[Migration], where: str) -> list[Migration]:
    if not conn.execute(load_sql("migration_try_lock")).fetchone()[0]:
        log.info("Waiting for another process to finish migrating the pipeline-state schema in %s", where)
        conn.execute(load_sql("migration_lock"))
    try:
        with conn.transaction():
            conn.execute(load_sql("migration_bootstrap"))
        pending = _pending(files, _applied(conn), where)  # again: another process may have applied some
        applied = []
        for migration in pending:
            log.info("Applying pipeline-state migration %s to %s", migration.name, where)
            started = time.perf_counter()
            try:
                with conn.transaction():
                    conn.execute(migration.sql())
                    duration_ms = round((time.perf_counter() - started) * 1000)
                    conn.execute(
                        load_sql("migration_record"),
                        {
                            "version": migration.version,
                            "name": migration.name,
                            "checksum": migration.checksum,
                            "duration_ms": duration_ms,
                        },
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"Pipeline-state migration {migration.path} failed on {where} and was rolled back: "
                    f"{type(exc).__name__}: {exc}".rstrip()
                ) from exc
            log.info("Applied pipeline-state migration %s in %s ms", migration.name, duration_ms)
            applied.append(migration)
        if not applied:
            log.debug("The pipeline-state schema in %s was migrated by another process meanwhile", where)
        return applied
    finally:
        if not conn.closed and not conn.broken:
            conn.execute(load_sql("migration_unlock"))


def applied_migrations(dsn: str) -> list[AppliedMigration]:
    """The rows of ``pipeline_state.schema_migration`` (empty before the first migration)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return _applied(conn)


def current_version(dsn: str) -> int:
    """The highest applied migration version at ``dsn``; 0 for a database never migrated."""
    return max((m.version for m in applied_migrations(dsn)), default=0)


def status(dsn: str, *, migrations_dir: Path | None = None) -> list[tuple[Migration | None, AppliedMigration | None]]:
    """Every known or applied migration, paired: (file, row); either may be None."""
    files = {m.version: m for m in discover(migrations_dir)}
    rows = {m.version: m for m in applied_migrations(dsn)}
    return [(files.get(v), rows.get(v)) for v in sorted(files.keys() | rows.keys())]


def _reset_process_cache() -> None:
    """Forget which DSNs this process found up to date (tests)."""
    with _guard:
        _done.clear()


def main(argv: Sequence[str] | None = None, *, default_dsn: str | None = None) -> int:
    """``migrate`` (or ``--status``) from the command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m library_integrations.state.migrations",
        description="Apply the pipeline-state migrations (include/sql/state/migrations) to a database.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dsn", help="libpq DSN of the state database")
    where.add_argument("--conn-id", help="Airflow connection of the state database (default: loan_reporting_db)")
    parser.add_argument("--status", action="store_true", help="list the migrations and exit, applying nothing")
    args = parser.parse_args(argv)
    if args.dsn:
        dsn = args.dsn
    elif default_dsn and not args.conn_id:
        dsn = default_dsn
    else:
        from library_integrations.state.connection import STATE_CONN_ID, dsn_from_connection

        dsn = dsn_from_connection(args.conn_id or STATE_CONN_ID)
    where_text = describe(dsn)
    try:
        if not args.status:
            applied = migrate(dsn, force=True)
            print(f"applied {', '.join(m.name for m in applied)}" if applied else "nothing to apply")
        for migration, row in status(dsn):
            name = (migration or row).name
            state = f"applied {row.applied_at:%Y-%m-%d %H:%M:%S%z} by {row.applied_by}" if row else "pending"
            if migration is None:
                state += " (unknown to this code: a newer release)"
            elif row and row.checksum != migration.checksum:
                state += " (FILE CHANGED since: migrate refuses to run)"
            print(f"{name:<45} {state}")
        print(f"{where_text}: pipeline_state at version {current_version(dsn):03d}")
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
