"""The ledger of file deliveries: identical content is not delivered again, changed content is a new version.

Table ``pipeline_state.delivery``: one row per version of one delivery key of a pipeline (the
NB statistics: pipeline ``nb_statistics``, key the month ``2026-11``), with the content's
sha256, the file name(s), row count, target, status (``pending``, ``uploading``,
``delivered``, ``failed``) and timestamps. Every version stays.

:meth:`DeliveryLedger.deliver` is the way to deliver. Under a PostgreSQL advisory lock on
(pipeline, key), so a second deliverer waits and then finds the content delivered, it compares
the content with the **latest** version:

- same sha256, delivered: nothing is uploaded (``skipped``);
- same sha256, not delivered (an upload failed or its process died): the same version is
  uploaded again under the same name;
- otherwise (no version yet, or changed content such as late corrections): the next version
  (1, 2, ...; ``file_name(version)`` names it, e.g. ``..._v2.csv``).

The row is ``uploading`` while ``upload`` runs, then ``delivered`` or ``failed`` (with the
error, re-raised). If the state database goes away while a file is on the wire, the ledger
waits for it (``record_wait_seconds``, default 300 s) to record ``delivered``
(:mod:`library_integrations.state.recording`); only a longer outage leaves the row
``uploading``, and the next run uploads the same version again under the same name. A failed version whose content then changes stays ``failed`` and the new
content gets the next number, so a receiver may see a gap in the numbers, never one name with
two contents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from library_integrations.state.queries import load_sql
from library_integrations.state.recording import RecordingLedger

log = logging.getLogger(__name__)

STATUSES = ("pending", "uploading", "delivered", "failed")
_MESSAGE_LIMIT = 4000


@dataclass(frozen=True)
class Delivery:
    """One version of one delivery key, as stored."""

    id: int
    pipeline: str
    delivery_key: str
    version: int
    content_sha256: str
    file_name: str
    files: list[dict[str, Any]]
    row_count: int | None
    target: str | None
    status: str
    attempts: int
    last_message: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class DeliveryOutcome:
    """What :meth:`DeliveryLedger.deliver` did.

    ``delivery``: the version uploaded now (``delivered``) or the one that already holds this
    content (``skipped``); ``previous``: the latest version before this call, if any.
    """

    outcome: Literal["delivered", "skipped"]
    delivery: Delivery
    previous: Delivery | None


def _clip(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def _files_json(files: Sequence[dict[str, Any]] | None) -> str | None:
    return None if files is None else json.dumps(list(files))


class DeliveryLedger(RecordingLedger):
    """The delivery ledger in the database at ``dsn`` (migrates the pipeline-state schema on first use)."""

    def _rows(self, sql_name: str, params: dict[str, Any]) -> list[Delivery]:
        with psycopg.connect(self.dsn, row_factory=dict_row) as conn:
            return [Delivery(**row) for row in conn.execute(load_sql(sql_name), params).fetchall()]

    def latest(self, pipeline: str, delivery_key: str) -> Delivery | None:
        """The latest version of a delivery key (what the receiver should hold once delivered)."""
        rows = self._rows("delivery_latest", {"pipeline": pipeline, "delivery_key": delivery_key})
        return rows[0] if rows else None

    def history(self, pipeline: str, delivery_key: str | None = None) -> list[Delivery]:
        """Every version, ordered by key and version; optionally of one key."""
        return self._rows("delivery_list", {"pipeline": pipeline, "delivery_key": delivery_key})

    def deliver(
        self,
        pipeline: str,
        delivery_key: str,
        content_sha256: str,
        upload: Callable[[Delivery], Sequence[dict[str, Any]] | None],
        *,
        file_name: Callable[[int], str],
        row_count: int | None = None,
        target: str | None = None,
    ) -> DeliveryOutcome:
        """Deliver content unless its latest version already holds it (see the module doc).

        ``upload(delivery)`` uploads the files under ``delivery.file_name`` (version
        ``delivery.version``) and may return the files it wrote (e.g. ``[{"name": ...,
        "sha256": ..., "bytes": ...}]``) to record; an exception marks the version ``failed``
        and is re-raised.
        """
        if not pipeline or not delivery_key:
            raise ValueError("a delivery needs a pipeline and a delivery key")
        key = {"pipeline": pipeline, "delivery_key": delivery_key}
        with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
            log.debug("Waiting for the delivery lock of %s %s", pipeline, delivery_key)
            conn.execute(load_sql("delivery_lock"), key)
            try:
                return self._deliver_locked(
                    conn, key, content_sha256, upload, file_name, row_count, target
                )
            finally:
                if not conn.broken:
                    conn.execute(load_sql("delivery_unlock"), key)

    def _deliver_locked(self, conn, key, sha, upload, file_name, row_count, target) -> DeliveryOutcome:
        def one(sql_name: str, params: dict[str, Any]) -> Delivery:
            return Delivery(**conn.execute(load_sql(sql_name), params).fetchone())

        row = conn.execute(load_sql("delivery_latest"), key).fetchone()
        previous = Delivery(**row) if row else None
        label = f"{key['pipeline']} {key['delivery_key']}"
        if previous and previous.content_sha256 == sha and previous.status == "delivered":
            log.info(
                "%s: identical content (sha256 %s) already delivered as version %s (%s) at %s; "
                "nothing uploaded",
                label, sha[:12], previous.version, previous.file_name, previous.delivered_at,
            )
            return DeliveryOutcome("skipped", previous, previous)
        if previous and previous.content_sha256 == sha:
            delivery = previous
            log.info(
                "%s: version %s (%s) is %s; uploading it again", label, delivery.version,
                delivery.file_name, delivery.status,
            )
        else:
            version = previous.version + 1 if previous else 1
            delivery = one(
                "delivery_insert",
                {
                    **key,
                    "version": version,
                    "content_sha256": sha,
                    "file_name": file_name(version),
                    "files": None,
                    "row_count": row_count,
                    "target": target,
                },
            )
            if previous:
                log.info(
                    "%s: content changed since version %s (sha256 %s -> %s); delivering version %s as %s",
                    label, previous.version, previous.content_sha256[:12], sha[:12], version, delivery.file_name,
                )
        delivery = one("delivery_mark_uploading", {"id": delivery.id, "row_count": row_count, "target": target})
        try:
            files = upload(delivery)
        except BaseException as exc:
            message = _clip(f"{type(exc).__name__}: {exc}")
            try:
                self._record(conn, key, delivery, "failed", message, None)
            except Exception:  # never let the bookkeeping hide the real error
                log.exception("Could not record the failed delivery of %s version %s", label, delivery.version)
            log.error("%s: version %s (%s) failed: %s", label, delivery.version, delivery.file_name, message)
            raise
        delivery = self._record(conn, key, delivery, "delivered", None, _files_json(files))
        log.info(
            "%s: delivered version %s as %s (sha256 %s, %s rows, target %s)",
            label, delivery.version, delivery.file_name, sha[:12], delivery.row_count, delivery.target,
        )
        return DeliveryOutcome("delivered", delivery, previous)

    def _record(self, conn, key, delivery: Delivery, status: str, message: str | None, files: str | None) -> Delivery:
        """Record the upload's outcome, through a restart of the state database (waiting only for ``delivered``)."""

        def write(c) -> Delivery:
            params = {"id": delivery.id, "status": status, "message": message, "files": files}
            return Delivery(**c.execute(load_sql("delivery_record_result"), params).fetchone())

        return self._record_through_restart(
            conn, write, lock="delivery_lock", unlock="delivery_unlock", key=key,
            what=f"{key['pipeline']} {key['delivery_key']}: version {delivery.version} ({delivery.file_name}) {status}",
            consequence="The ledger row stays 'uploading': the next run uploads the same version again under the "
                        "same name.",
            wait=status == "delivered",
        )
