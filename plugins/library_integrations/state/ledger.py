"""The loan report's delivery ledger: what was sent to Bokbasen, per agency (ISIL) and report day.

Tables ``submission`` and ``submission_event`` of the pipeline-state schema ``pipeline_state``
(see :mod:`library_integrations.state.migrations`) in a Postgres database the pipeline may
write (Airflow connection ``loan_reporting_db``); every query is a ``.sql`` file in
``include/sql/state``.

:meth:`Ledger.submit` is the only way a report should be sent. For one agency-day it

1. takes a PostgreSQL advisory lock on that agency-day (a second sender, in another process
   or on another worker, waits here until the first one is done);
2. skips the send when the day was already **accepted with the identical payload** (same
   SHA-256) and logs ``already accepted ... skipping``;
3. otherwise marks the row ``sent``, sends, and records ``accepted``, ``rejected`` (400/422:
   the report is wrong) or ``failed`` (anything else, e.g. the API stayed unavailable), with
   the HTTP status and the API's message; typed errors are re-raised after recording.

A changed payload (e.g. late-registered loans) for an accepted day is sent again. Row
statuses: ``pending`` (row exists, nothing sent), ``sent`` (a send is in progress, or the
process died mid-send: the next run sends again), ``accepted``, ``rejected``, ``failed``.
``submission_event`` keeps the full history of sends and skips.

**The state database going away while a report is on the wire.** Bokbasen's answer is the
one thing that cannot be had again without sending again, so it is not given up lightly:
when the connection breaks between the send and the recording of its result, the ledger
reconnects (every ``record_retry_interval`` seconds, for up to ``record_wait_seconds``,
default 300 s: a restart or a fail-over of PostgreSQL), takes the agency-day's lock again and
records the answer (:mod:`library_integrations.state.recording`). Only if the database stays away longer does the row stay ``sent``; the
task then fails with an error saying that Bokbasen *accepted* the report, and the next run
sends the identical payload again (same bytes, same transaction ids).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from library_integrations.http.errors import ApiError, RequestRejected
from library_integrations.http.results import SendResult
from library_integrations.state.connection import dsn_from_connection
from library_integrations.state.queries import STATE_SCHEMA, STATE_SQL_DIR, load_sql
from library_integrations.state.recording import RecordingLedger, ResultNotRecorded

__all__ = [
    "STATE_SCHEMA",
    "STATE_SQL_DIR",
    "STATUSES",
    "Ledger",
    "LedgerRow",
    "ResultNotRecorded",
    "SubmissionOutcome",
    "dsn_from_connection",
    "load_sql",
    "payload_sha256",
]

log = logging.getLogger(__name__)

STATUSES = ("pending", "sent", "accepted", "rejected", "failed")
_MESSAGE_LIMIT = 4000


def payload_sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class LedgerRow:
    """One agency-day of the ledger, as stored."""

    isil: str
    report_date: date
    status: str
    payload_sha256: str | None
    loan_count: int | None
    attempts: int
    submissions: int
    last_http_status: int | None
    last_message: str | None
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    accepted_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SubmissionOutcome:
    """What :meth:`Ledger.submit` did: ``outcome`` is ``sent`` or ``skipped``.

    ``status`` is the agency-day's ledger status afterwards (``accepted`` on success),
    ``previous_status`` what it was before this call, ``send_result`` the hook's result
    (None when skipped).
    """

    isil: str
    report_date: date
    outcome: Literal["sent", "skipped"]
    status: str
    payload_sha256: str
    loan_count: int
    previous_status: str | None
    send_result: SendResult | None = None


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


class Ledger(RecordingLedger):
    """The submission ledger in the database at ``dsn`` (migrates the pipeline-state schema on first use)."""

    # -- reading ---------------------------------------------------------------------------

    def get(self, isil: str, report_date: date) -> LedgerRow | None:
        with psycopg.connect(self.dsn, row_factory=dict_row) as conn:
            row = conn.execute(
                load_sql("select_submission"), {"isil": isil, "report_date": report_date}
            ).fetchone()
        return LedgerRow(**row) if row else None

    def rows(self, *, isil: str | None = None, report_date: date | None = None) -> list[LedgerRow]:
        """Ledger rows ordered by day and ISIL, optionally only one agency and/or day."""
        with psycopg.connect(self.dsn, row_factory=dict_row) as conn:
            rows = conn.execute(
                load_sql("list_submissions"), {"isil": isil, "report_date": report_date}
            ).fetchall()
        return [LedgerRow(**row) for row in rows]

    def events(self, *, isil: str | None = None, report_date: date | None = None) -> list[dict[str, Any]]:
        """The append-only history (sends, skips, failures), oldest first."""
        with psycopg.connect(self.dsn, row_factory=dict_row) as conn:
            return conn.execute(
                load_sql("list_events"), {"isil": isil, "report_date": report_date}
            ).fetchall()

    # -- sending ---------------------------------------------------------------------------

    def submit(
        self,
        isil: str,
        report_date: date,
        payload_bytes: bytes,
        loan_count: int,
        send: Callable[[bytes], SendResult],
    ) -> SubmissionOutcome:
        """Send ``payload_bytes`` for one agency-day through ``send`` unless already accepted.

        ``send`` is typically ``lambda body: hook.send_report(body, isil=isil,
        report_date=report_date)``. Errors from ``send`` are recorded (``rejected`` for
        :class:`RequestRejected`, ``failed`` otherwise) and re-raised.
        """
        sha = payload_sha256(payload_bytes)
        key = {"isil": isil, "report_date": report_date}
        with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
            conn.execute(load_sql("ensure_submission"), key)
            log.debug("Waiting for the ledger lock of %s %s", isil, report_date)
            conn.execute(load_sql("lock_agency_day"), key)
            try:
                return self._submit_locked(conn, isil, report_date, payload_bytes, sha, loan_count, send)
            finally:
                if not conn.broken:  # a broken session has released its lock with it
                    conn.execute(load_sql("unlock_agency_day"), key)

    def _submit_locked(
        self, conn, isil, report_date, payload_bytes, sha, loan_count, send
    ) -> SubmissionOutcome:
        key = {"isil": isil, "report_date": report_date}
        row = conn.execute(load_sql("select_submission"), key).fetchone()
        previous = row["status"]
        if previous == "accepted" and row["payload_sha256"] == sha:
            log.info(
                "Bokbasen: %s %s already accepted with an identical payload (sha256 %s, %s loans, accepted at %s); "
                "skipping, nothing sent",
                isil,
                report_date,
                sha[:12],
                row["loan_count"],
                row["accepted_at"],
            )
            self._event(conn, key, "skipped", sha, loan_count, 0, None, "identical payload already accepted")
            return SubmissionOutcome(isil, report_date, "skipped", "accepted", sha, loan_count, previous)
        if previous == "accepted":
            log.info(
                "Bokbasen: %s %s was accepted with another payload (sha256 %s, %s loans); "
                "sending the changed payload (sha256 %s, %s loans)",
                isil,
                report_date,
                (row["payload_sha256"] or "")[:12],
                row["loan_count"],
                sha[:12],
                loan_count,
            )
        elif previous != "pending":
            log.info("Bokbasen: %s %s is %s in the ledger; sending again", isil, report_date, previous)
        conn.execute(load_sql("mark_sent"), {**key, "payload_sha256": sha, "loan_count": loan_count})
        try:
            result = send(payload_bytes)
        except BaseException as exc:
            status = "rejected" if isinstance(exc, RequestRejected) else "failed"
            attempts = exc.attempts if isinstance(exc, ApiError) else 0
            http_status = exc.status_code if isinstance(exc, ApiError) else None
            message = _clip(f"{type(exc).__name__}: {exc}")
            try:
                self._record_outcome(conn, key, status, sha, loan_count, attempts, http_status, message)
            except Exception:  # never let the bookkeeping hide the real error
                log.exception(
                    "Could not record the %s submission of %s %s in the ledger", status, isil, report_date
                )
            log.error("Bokbasen: %s %s recorded as %s in the ledger: %s", isil, report_date, status, message)
            raise
        self._record_outcome(conn, key, "accepted", sha, loan_count, result.attempts, result.status_code,
                             _clip(result.message))
        log.info(
            "Bokbasen: %s %s accepted (HTTP %s, %s loans, sha256 %s, %s attempt(s))",
            isil,
            report_date,
            result.status_code,
            loan_count,
            sha[:12],
            result.attempts,
        )
        return SubmissionOutcome(isil, report_date, "sent", "accepted", sha, loan_count, previous, result)

    def _record_outcome(self, conn, key, status, sha, loan_count, attempts, http_status, message) -> None:
        """Record the API's answer and its event in one transaction, through a restart of the database.

        Only an acceptance is worth waiting for (``record_wait_seconds``): without it in the ledger
        the report is sent twice. A failure left unrecorded leaves the row ``sent``, which the next
        run sends again anyway.
        """

        def write(c) -> None:
            self._record(c, key, status, attempts, http_status, message)
            self._event(c, key, status, sha, loan_count, attempts, http_status, message)

        self._record_through_restart(
            conn, write, lock="lock_agency_day", unlock="unlock_agency_day", key=key,
            what=f"Bokbasen answered for {key['isil']} {key['report_date']} ({status})",
            consequence=f"The ledger row stays 'sent': the next run sends the identical payload (sha256 {sha[:12]}) "
                        "again.",
            wait=status == "accepted",
        )

    @staticmethod
    def _record(conn, key, status, attempts, http_status, message) -> None:
        conn.execute(
            load_sql("record_result"),
            {**key, "status": status, "attempts": attempts, "http_status": http_status, "message": message},
        )

    @staticmethod
    def _event(conn, key, event, sha, loan_count, attempts, http_status, message) -> None:
        conn.execute(
            load_sql("insert_event"),
            {
                **key,
                "event": event,
                "payload_sha256": sha,
                "loan_count": loan_count,
                "attempts": attempts,
                "http_status": http_status,
                "message": message,
            },
        )
