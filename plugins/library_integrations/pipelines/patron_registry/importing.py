"""The morning: the registry's changes since the library's watermark, applied to the library system.

* The watermark is the registry's own clock (``server_tid``), kept per library in
  ``pipeline_state.cursor`` (pipeline ``patron_registry_import``, name = ISIL). A run asks
  ``soekEndret`` for everything changed since the watermark minus an overlap, page by page
  (``neste_indeks``). Without a watermark it starts ``initial_lookback`` back and says so.
* A record whose ``sist_endret_av`` is this library is its own change coming back: skipped.
* The record is matched to a local patron by national card number, else by national id. A
  patron without ``registry_consent`` is skipped (nothing of the record is stored). For a
  consenting patron the registry's values overwrite the local ones (fields present in the
  record only); a national card the patron lacks is added beside any local card (when the
  library syncs card numbers), and the PIN taken (when it syncs PINs).
* A record without ``lnr`` or ``fnr_hash`` is a registry deletion: the national card goes
  inactive locally; the patron stays.
* A record that fails (e.g. its card is held by another local patron) is counted and named
  by the local patron id; the others of the page are applied (each record in a savepoint).

Consistency of the watermark with the changes (they live in two databases): each page is
applied in **one** transaction of the library database and committed *first*; the watermark
is stored afterwards in the pipeline-state database. Applying a record is idempotent (the
registry's values over the local ones; a card added once), so a run killed between the two
commits, or anywhere mid-page, re-reads from the last stored watermark and re-applies what
was applied already, to the same result: nothing missed, nothing doubled. The watermark
moves forward after a page only while the registry returns records in ``sist_endret``
order (then every earlier change has been applied); at the end of a complete run it becomes
the ``server_tid`` of the run's first page.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from library_integrations.clients.registry.interface import PatronRegistry
from library_integrations.clients.registry.models import RegistryPatron, ReplyStatus
from library_integrations.clients.registry.privacy import scrub
from library_integrations.common.tables import format_table
from library_integrations.library_system import patrons as lms
from library_integrations.library_system.patrons import RegistryLibrary
from library_integrations.pipelines.patron_registry import mapping
from library_integrations.pipelines.patron_registry.payloads import PatronFailure, SyncResult
from library_integrations.pipelines.patron_registry.settings import WATERMARK_PIPELINE
from library_integrations.state import cursors

log = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
#: Every outcome the import counts, in log order.
IMPORT_OUTCOMES = (
    "fetched", "applied", "unchanged", "skipped_own_change", "skipped_no_consent", "not_local",
    "national_card_added", "national_card_deactivated", "pin_taken", "overwrote_pending_local_change", "failed",
)  # fmt: skip


class ImportFailed(Exception):
    """The registry refused the change search itself (the library's run fails)."""


class RecordFailed(Exception):
    """One record cannot be applied; the message names the local patron id, never personal data."""

    def __init__(self, message: str, patron_id: int | None = None) -> None:
        super().__init__(message)
        self.patron_id = patron_id


def registry_time(text: str | None) -> datetime | None:
    """``YYYY-MM-DDTHH:MM:SS`` (the registry's local clock) as a naive datetime, else None.

    >>> registry_time("2026-11-20T06:00:03"), registry_time("yesterday")
    (datetime.datetime(2026, 11, 20, 6, 0, 3), None)
    """
    if not text or not _TIME.match(text.strip()[:19]):
        return None
    return datetime.strptime(text.strip()[:19], TIME_FORMAT)


@dataclass(frozen=True)
class Window:
    """Where a run starts: the ``tidspunkt`` sent and why."""

    since: str
    watermark: str | None
    reason: str


def start_window(watermark: str | None, *, overlap: timedelta, lookback: timedelta, now: datetime) -> Window:
    """The ``tidspunkt`` of this run: the watermark minus the overlap, or ``now`` minus the lookback.

    >>> start_window("2026-11-20T06:00:03", overlap=timedelta(minutes=75), lookback=timedelta(hours=24),
    ...              now=datetime(2026, 11, 21, 6, 0)).since
    '2026-11-20T04:45:03'
    >>> start_window(None, overlap=timedelta(0), lookback=timedelta(hours=24), now=datetime(2026, 11, 21, 6, 0)).since
    '2026-11-20T06:00:00'
    """
    stored = registry_time(watermark)
    if stored is not None:
        return Window((stored - overlap).strftime(TIME_FORMAT), watermark, "watermark minus overlap")
    return Window((now - lookback).strftime(TIME_FORMAT), None, "no watermark yet")


class LibraryImport:
    """The morning import of one library (see the module docstring)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        state: psycopg.Connection,
        registry: PatronRegistry,
        library: RegistryLibrary,
        *,
        overlap: timedelta,
        initial_lookback: timedelta,
        page_size: int,
        timezone: str = "Europe/Oslo",
        run_id: str | None = None,
    ) -> None:
        if not conn.autocommit or not state.autocommit:
            raise ValueError("the import needs autocommit connections (it commits one page at a time)")
        self.conn = conn
        self.state = state
        self.registry = registry
        self.library = library
        self.overlap = overlap
        self.initial_lookback = initial_lookback
        self.page_size = page_size
        self.timezone = timezone
        self.run_id = run_id
        self.counts: Counter[str] = Counter({k: 0 for k in IMPORT_OUTCOMES})
        self.failures: list[PatronFailure] = []

    @property
    def label(self) -> str:
        return f"{self.library.isil} {self.library.name}"

    def run(self) -> SyncResult:
        stored = cursors.get(self.state, WATERMARK_PIPELINE, self.library.isil)
        now = datetime.now(ZoneInfo(self.timezone)).replace(tzinfo=None)
        window = start_window(
            stored.value if stored else None, overlap=self.overlap, lookback=self.initial_lookback, now=now
        )
        if stored is None:
            log.warning(
                "%s: no watermark yet: fetching the registry's changes since %s (%s back). Older changes are "
                "not fetched: agree a full reload with the registry's operator if the library needs them.",
                self.label, window.since, f"{self.initial_lookback.total_seconds() / 3600:g} h",
            )
        log.info(
            "Import from the national patron registry for %s: changes since %s (%s; stored watermark %s); "
            "page size %d; card numbers %s, PINs %s",
            self.label, window.since, window.reason, window.watermark or "none", self.page_size,
            "synced" if self.library.sync_card_number else "not synced", "synced" if self.library.sync_pin else "not synced",
        )
        expected = stored.value if stored else None
        first_server_time: str | None = None
        in_order = True
        last_seen: str | None = None
        start, pages = 1, 0
        while True:
            page = self.registry.changes_since(window.since, start_index=start, max_count=self.page_size)
            if page.status is ReplyStatus.REFUSED:
                raise ImportFailed(f"{self.label}: the registry refused the change search (soekEndret): {page.message}")
            pages += 1
            first_server_time = first_server_time or page.server_time
            self._apply_page(page.records)
            stamps = [r.changed_at or "" for r in page.records]
            in_order = in_order and all(_TIME.match(s) for s in stamps) and stamps == sorted(stamps) and (
                last_seen is None or not stamps or stamps[0] >= last_seen)
            if page.records:
                log.info("%s: page %d (from index %d): %d record(s) of %d applied", self.library.isil, pages, start,
                         len(page.records), page.total)
            if in_order and stamps:
                last_seen = stamps[-1]
                progress = min(last_seen, first_server_time) if first_server_time else last_seen
                if expected is None or progress > expected:
                    expected = self._store_watermark(progress, expected, pages, complete=False)
            if not page.records or page.next_index <= start:
                break
            start = page.next_index
        final = first_server_time or expected
        if final and (expected is None or final >= expected):
            expected = self._store_watermark(final, expected, pages, complete=True)
        self._log_result(pages)
        return SyncResult(
            direction="import",
            isil=self.library.isil,
            label=self.label,
            counts=dict(self.counts),
            failures=self.failures,
            watermark_before=stored.value if stored else None,
            watermark_after=expected,
            registry_requests=getattr(getattr(self.registry, "stats", None), "http_requests", 0),
        )

    def _store_watermark(self, value: str, expected: str | None, pages: int, *, complete: bool) -> str:
        with self.state.transaction():
            cursors.set(
                self.state, WATERMARK_PIPELINE, self.library.isil, value,
                meta={"complete": complete, "pages": pages, "fetched": self.counts["fetched"], "run_id": self.run_id},
                expected=expected,
            )
        return value

    def _log_result(self, pages: int) -> None:
        rows = [{"outcome": k, "records": v} for k, v in self.counts.items()]
        log.info("Import result for %s (%d page(s)):\n%s", self.label, pages, format_table(rows))
        for failure in self.failures:
            log.warning("%s: patron %s not updated: %s", self.library.isil, failure.patron_id or "?", failure.message)

    # -- records ----------------------------------------------------------------------------

    def _apply_page(self, records: tuple[RegistryPatron, ...]) -> None:
        with self.conn.transaction():
            for record in records:
                self.counts["fetched"] += 1
                try:
                    with self.conn.transaction():  # a savepoint: one bad record does not undo the page
                        outcome = self._apply(record)
                except RecordFailed as exc:
                    self.counts["failed"] += 1
                    self.failures.append(PatronFailure(exc.patron_id or 0, "registry change", str(exc)))
                    continue
                self.counts[outcome] += 1

    def _match(self, record: RegistryPatron) -> int | None:
        if record.lnr:
            owner = lms.card_owner(self.conn, record.lnr)
            if owner is not None:
                return owner.patron_id
        if record.fnr:
            ids = lms.patrons_with_national_id(self.conn, record.fnr)
            if len(ids) > 1:
                raise RecordFailed(
                    f"{len(ids)} local patrons ({', '.join(map(str, ids))}) share the record's national id; "
                    "merge them in the library system", ids[0]
                )
            return ids[0] if ids else None
        return None

    def _apply(self, record: RegistryPatron) -> str:
        if self.registry.is_own_change(record):
            return "skipped_own_change"
        patron_id = self._match(record)
        if patron_id is None:
            return "not_local"
        current = lms.lock_patron(self.conn, patron_id)
        if current is None:
            return "not_local"
        if not current["consent"]:
            return "skipped_no_consent"
        if record.is_registry_deletion:
            if record.lnr:
                owner = lms.card_owner(self.conn, record.lnr)
                if owner is None or owner.kind != "NATIONAL" or not owner.active:
                    return "unchanged"
                lms.deactivate_national_cards(self.conn, patron_id, keep=None)
            elif not lms.deactivate_national_cards(self.conn, patron_id, keep=None):
                return "unchanged"
            return "national_card_deactivated"
        if record.fnr and current["national_id"] and record.fnr != current["national_id"]:
            raise RecordFailed(
                "the registry's card number is held locally by a patron with another national id; check the patron",
                patron_id,
            )
        before = {c: current[c] for c in lms.PATRON_COLUMNS}
        after = mapping.local_values_from_registry(record, before, sync_pin=self.library.sync_pin)
        changed = after != before
        card_added = False
        if self.library.sync_card_number and record.lnr:
            try:
                card_added = lms.add_national_card(self.conn, patron_id, self.library.agency_id, record.lnr) != "present"
            except lms.CardIssueError as exc:
                raise RecordFailed(scrub(f"the registry's national card cannot be added: {exc}") or "", patron_id) from None
        if changed:
            lms.update_patron(self.conn, patron_id, after)
            if after.get("pin_encrypted") != before.get("pin_encrypted"):
                self.counts["pin_taken"] += 1
            if current.get("queue_status") in ("new", "edited"):
                self.counts["overwrote_pending_local_change"] += 1
        if card_added:
            self.counts["national_card_added"] += 1
        return "applied" if changed or card_added else "unchanged"


def run_import(
    conn: psycopg.Connection,
    state: psycopg.Connection,
    registry: PatronRegistry,
    library: RegistryLibrary,
    *,
    overlap: timedelta,
    initial_lookback: timedelta,
    page_size: int,
    timezone: str = "Europe/Oslo",
    run_id: str | None = None,
) -> SyncResult:
    """Apply one library's registry changes since its watermark (both connections in autocommit)."""
    return LibraryImport(
        conn, state, registry, library, overlap=overlap, initial_lookback=initial_lookback, page_size=page_size,
        timezone=timezone, run_id=run_id,
    ).run()
