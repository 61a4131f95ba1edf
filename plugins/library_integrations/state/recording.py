"""Recording an outcome that cannot be had again, through a restart of the state database.

A ledger marks its row (``sent``, ``uploading``) before an irreversible act (a report POSTed,
a file uploaded) and records the outcome afterwards. If the state database goes away in
between, the outcome is known to the process but not to the ledger, and the next run would do
the act again. :func:`record_through_restart` closes that window as far as a bounded wait can:

1. it writes the outcome on the ledger's own connection, in one transaction;
2. if that connection broke, it reconnects every ``retry_interval`` seconds for up to
   ``wait_seconds`` (a restart or a fail-over of PostgreSQL), takes the ledger's advisory lock
   again (a concurrent run, if any, finishes first) and writes the outcome there;
3. if the database stays away longer, it raises :class:`ResultNotRecorded`, whose message says
   what happened outside and what the next run will do about it.

Errors that are not a lost connection (a constraint, a bug) are raised as they are. If the
connection broke after the database committed but before the client heard so, the write is
made a second time: ``write`` must be safe to repeat (the ledgers' result updates are; their
event history may then hold the event twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Self, TypeVar

import psycopg
from psycopg.rows import dict_row

from library_integrations.state.connection import STATE_CONN_ID, dsn_from_connection
from library_integrations.state.migrations import migrate
from library_integrations.state.queries import load_sql

__all__ = [
    "RECORD_RETRY_INTERVAL",
    "RECORD_WAIT_SECONDS",
    "RecordingLedger",
    "ResultNotRecorded",
    "record_through_restart",
]

log = logging.getLogger(__name__)

RECORD_WAIT_SECONDS = 300.0
RECORD_RETRY_INTERVAL = 2.0

T = TypeVar("T")


class ResultNotRecorded(RuntimeError):
    """The outside world answered, but the state database stayed unreachable: the answer is not in the ledger."""


def record_through_restart(
    conn: psycopg.Connection,
    dsn: str,
    write: Callable[[psycopg.Connection], T],
    *,
    lock: str,
    unlock: str,
    key: dict[str, Any],
    what: str,
    consequence: str,
    wait_seconds: float = RECORD_WAIT_SECONDS,
    retry_interval: float = RECORD_RETRY_INTERVAL,
) -> T:
    """Run ``write(connection)`` in a transaction on ``conn``, or on a new connection once the database is back.

    ``lock`` / ``unlock``: names of the ledger's advisory-lock queries (``include/sql/state``),
    run with ``key`` around a write on a new connection (the old session's lock died with it).
    ``what``: the outcome, for the log and the error ("Bokbasen answered for NO-1 2026-11-20
    (accepted)"); ``consequence``: what the next run does if it is not recorded.
    ``wait_seconds`` 0 tries one new connection, without waiting.
    """
    first_error: Exception | None = None
    if not conn.broken:
        try:
            with conn.transaction():
                return write(conn)
        except psycopg.OperationalError as exc:
            if not conn.broken:
                raise
            first_error = exc
    deadline = time.monotonic() + wait_seconds
    log.warning(
        "%s, but the state database is unreachable (%s); reconnecting every %.0f s for up to %.0f s to record it",
        what, first_error or "connection lost", retry_interval, wait_seconds,
    )
    tries = 0
    while True:
        tries += 1
        try:
            with psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=10) as again:
                again.execute(load_sql(lock), key)
                try:
                    with again.transaction():
                        result = write(again)
                finally:
                    if not again.broken:
                        again.execute(load_sql(unlock), key)
            log.warning("Recorded it after %d reconnection attempt(s): %s", tries, what)
            return result
        except psycopg.OperationalError as exc:
            if time.monotonic() + retry_interval > deadline:
                raise ResultNotRecorded(
                    f"{what}, but the state database stayed unreachable for {wait_seconds:.0f} s ({tries} "
                    f"attempt(s); last error: {type(exc).__name__}). {consequence}"
                ) from exc
            log.info("State database still unreachable (%s); retrying in %.0f s", type(exc).__name__, retry_interval)
            time.sleep(retry_interval)


class RecordingLedger:
    """What the submission and delivery ledgers share: the database, its migration and the recording wait.

    ``record_wait_seconds`` / ``record_retry_interval``: how long, and how often, an outcome
    worth waiting for is retried through a restart (:func:`record_through_restart`).
    """

    def __init__(self, dsn: str, *, create_schema: bool = True,
                 record_wait_seconds: float = RECORD_WAIT_SECONDS,
                 record_retry_interval: float = RECORD_RETRY_INTERVAL) -> None:
        self.dsn = dsn
        self.record_wait_seconds = record_wait_seconds
        self.record_retry_interval = record_retry_interval
        if create_schema:
            migrate(dsn)

    @classmethod
    def from_connection(cls, conn_id: str = STATE_CONN_ID, **kwargs) -> Self:
        return cls(dsn_from_connection(conn_id), **kwargs)

    def _record_through_restart(self, conn: psycopg.Connection, write: Callable[[psycopg.Connection], T], *,
                                wait: bool, **where: Any) -> T:
        """:func:`record_through_restart` with this ledger's database and wait (none unless ``wait``)."""
        return record_through_restart(conn, self.dsn, write, wait_seconds=self.record_wait_seconds if wait else 0.0,
                                      retry_interval=self.record_retry_interval, **where)
