"""The metadata sync as plain functions: where to start, the page loop, and what the log says.

A run:

1. takes the sync's lock (one run per subscription at a time, whatever the scheduler does);
2. reads the stored cursor and decides where to start (:func:`choose_start`): from the
   cursor (``next``) while it is younger than the service's limit, else from ``after``
   (the configured time, by default the limit minus a safety day back), with a warning
   that older changes need a full reload agreed with Bokbasen;
3. follows the service's pages (``Link``) until there are no more; per page it parses the
   ONIX stream, upserts the products by EAN and stores the page's ``Next`` cursor **in the
   same transaction** (compare-and-set on the cursor it started from), then logs the page.
   A run killed between pages resumes after the last committed page: nothing lost,
   nothing applied twice. Malformed products are named and counted, never stop the page;
4. if the service refuses the stored cursor as too old, starts once more from ``after``;
5. logs a summary: where it started, pages, products new/updated/deleted/malformed, where
   it stopped and what the local copy now holds.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from library_integrations.clients.bokbasen import onix
from library_integrations.clients.bokbasen.errors import BokbasenCursorTooOld, BokbasenExportPageError
from library_integrations.clients.bokbasen.export import BokbasenExportHook, after_parameter
from library_integrations.common.tables import format_table
from library_integrations.pipelines.metadata_sync.config import SyncSettings
from library_integrations.pipelines.metadata_sync.payloads import SyncResult
from library_integrations.state import cursors, metadata
from library_integrations.state.migrations import migrate

log = logging.getLogger(__name__)

PIPELINE = metadata.PIPELINE
MALFORMED_NAMED_PER_PAGE = 20
MALFORMED_EXAMPLES = 20


class SyncAlreadyRunning(RuntimeError):
    """Another session holds this subscription's sync lock (a run still going, or a manual one)."""


def fingerprint(cursor: str | None) -> str | None:
    """A short, stable name for an opaque cursor in logs: ``#`` + 10 hex digits of its sha256.

    >>> fingerprint("abc")
    '#ba7816bf8f'
    """
    return None if cursor is None else "#" + hashlib.sha256(cursor.encode()).hexdigest()[:10]


def _age(delta: timedelta) -> str:
    """
    >>> _age(timedelta(hours=3, minutes=12)), _age(timedelta(days=200)), _age(timedelta(seconds=40))
    ('3.2 h', '200.0 days', '40 s')
    """
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@dataclass(frozen=True)
class StartPoint:
    """Where a run starts: ``kind`` ``cursor`` (``next_cursor``) or ``after`` (``after``)."""

    kind: str
    next_cursor: str | None = None
    after: str | None = None
    stored: cursors.Cursor | None = None
    age: timedelta | None = None
    fallback: str | None = None

    def describe(self) -> str:
        if self.kind == "cursor":
            return (
                f"from the stored cursor {fingerprint(self.next_cursor)} (it last moved "
                f"{self.stored.changed_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC, {_age(self.age)} ago)"
            )
        return f"from after={self.after} (UTC): {self.fallback}"


def choose_start(stored: cursors.Cursor | None, settings: SyncSettings, now: datetime) -> StartPoint:
    """The cursor if there is one younger than ``max_cursor_age``; else ``after`` (see module docstring).

    The cursor's age is the time since its value last changed (``changed_at``): an empty page
    returns it unchanged, so it ages like the service's internal timestamp it stands for.
    """
    if stored is not None:
        age = now - stored.changed_at
        if age < settings.max_cursor_age:
            return StartPoint("cursor", next_cursor=stored.value, stored=stored, age=age)
        reason = (
            f"the stored cursor is {_age(age)} old, at or past the service's limit of "
            f"{settings.max_cursor_age.days} days"
        )
    else:
        reason = "no cursor is stored yet (first run, or the cursor was deleted for a reload)"
        age = None
    after = after_parameter(settings.after_time(now))
    return StartPoint("after", after=after, stored=stored, age=age, fallback=reason)


@dataclass
class _Run:
    """Counters of one run (over a fallback restart too)."""

    pages: int = 0
    products: int = 0
    malformed: int = 0
    examples: list[str] = field(default_factory=list)
    counts: metadata.UpsertCounts = field(default_factory=metadata.UpsertCounts)
    cursor: str | None = None
    cursor_changed: bool = False
    stopped: str = "no page was fetched"


def _warn_after(start: StartPoint, settings: SyncSettings) -> None:
    log.warning(
        "Starting %s. Changes before %s are not fetched: if the local copy missed any (a cursor lost "
        "or older than %d days), a full reload has to be agreed with Bokbasen.",
        start.describe(),
        start.after,
        settings.max_cursor_age.days,
    )


def _pages(
    conn: psycopg.Connection,
    hook: BokbasenExportHook,
    start: StartPoint,
    settings: SyncSettings,
    run: _Run,
    on_page_committed: Callable[[int], None] | None,
) -> None:
    name = hook.config.subscription
    current = start.stored.value if start.stored is not None else None
    pages = hook.pages(next_cursor=start.next_cursor, after=start.after, max_pages=settings.max_pages)
    for page in pages:
        try:
            parsed = onix.parse_page(page.body)
        except onix.OnixPageError as exc:
            raise BokbasenExportPageError(
                f"Page {page.number} ({len(page.body):,} bytes) is not a readable ONIX message: {exc}. Nothing "
                "of it was stored and the cursor did not move; the next run fetches it again."
            ) from None
        previous = current
        with conn.transaction():
            counts = metadata.upsert_products(conn, parsed.products)
            if page.next_cursor:
                cursors.set(
                    conn,
                    PIPELINE,
                    name,
                    page.next_cursor,
                    meta={"page": page.number, "products": parsed.count},
                    expected=current,
                )
        run.pages += 1
        run.products += parsed.count
        run.malformed += len(parsed.malformed)
        run.counts.add(counts)
        if page.next_cursor:
            current = run.cursor = page.next_cursor
            run.cursor_changed |= current != previous
            cursor_note = (
                f"cursor {fingerprint(current)} stored with it" if current != previous else "cursor unchanged"
            )
        else:
            cursor_note = "no Next header: cursor not moved"
            if parsed.count:
                log.warning(
                    "Page %d carried %d product(s) but no Next header: they are stored, the cursor is not moved "
                    "(a run from here would fetch them again; upserts are idempotent)",
                    page.number,
                    parsed.count,
                )
        log.info(
            "Page %d: %d product(s): %d new, %d updated, %d deleted, %d malformed%s; %s%s",
            page.number,
            parsed.count,
            counts.new,
            counts.updated,
            counts.deleted,
            len(parsed.malformed),
            f", {counts.superseded} superseded within the page" if counts.superseded else "",
            cursor_note,
            f" ({page.attempts} requests)" if page.attempts > 1 else "",
        )
        if parsed.malformed:
            shown = parsed.malformed[:MALFORMED_NAMED_PER_PAGE]
            log.warning(
                "Page %d: %d malformed product(s) skipped (not stored):\n%s%s",
                page.number,
                len(parsed.malformed),
                "\n".join(f"  {m}" for m in shown),
                f"\n  ... and {len(parsed.malformed) - len(shown)} more" if len(parsed.malformed) > len(shown) else "",
            )
            run.examples.extend(str(m) for m in parsed.malformed[: max(0, MALFORMED_EXAMPLES - len(run.examples))])
        run.stopped = (
            f"page {page.number} had no Link header: no more pages"
            if page.link is None
            else f"stopped after page {page.number} (METADATA_SYNC_MAX_PAGES = {settings.max_pages}); "
            "the next run goes on from the stored cursor"
        )
        if on_page_committed is not None:
            on_page_committed(page.number)


def run_sync(
    dsn: str,
    hook: BokbasenExportHook,
    settings: SyncSettings,
    *,
    now: datetime | None = None,
    on_page_committed: Callable[[int], None] | None = None,
) -> SyncResult:
    """One run of the sync against the pipeline-state database ``dsn`` (see the module docstring).

    ``on_page_committed(page_number)`` is called after each page's transaction committed.
    """
    now = now or datetime.now(UTC)
    migrate(dsn)
    cfg = hook.config
    name = cfg.subscription
    log.info(
        "Bokbasen metadata sync: subscription %r, page size %d, from %s into pipeline_state.bokbasen_metadata",
        name,
        hook.pagesize,
        cfg.endpoint,
    )
    run = _Run()
    with psycopg.connect(dsn, autocommit=True) as conn:
        if not metadata.try_lock(conn, name):
            raise SyncAlreadyRunning(
                f"Another metadata sync of subscription {name!r} is running (it holds the lock); this run did "
                "nothing. It ends by itself; the next run goes on from its cursor."
            )
        try:
            stored = cursors.get(conn, PIPELINE, name)
            start = choose_start(stored, settings, now)
            if start.kind == "cursor":
                log.info("Starting %s", start.describe())
            else:
                _warn_after(start, settings)
            first = start
            try:
                _pages(conn, hook, start, settings, run, on_page_committed)
            except BokbasenCursorTooOld as exc:
                if start.kind != "cursor" or run.pages:
                    raise
                start = StartPoint(
                    "after",
                    after=after_parameter(settings.after_time(now)),
                    stored=stored,
                    age=start.age,
                    fallback=f"the service refused the stored cursor as too old ({exc.api_message})",
                )
                _warn_after(start, settings)
                _pages(conn, hook, start, settings, run, on_page_committed)
            table = metadata.table_counts(conn)
        finally:
            if not conn.closed and not conn.broken:
                metadata.unlock(conn, name)
    counts = run.counts
    log.info(
        "Bokbasen metadata sync of %r:\n%s",
        name,
        format_table(
            [
                {
                    "started from": "cursor" if start.kind == "cursor" else f"after {start.after}",
                    "pages": run.pages,
                    "products": run.products,
                    "new": counts.new,
                    "updated": counts.updated,
                    "deleted": counts.deleted,
                    "malformed": run.malformed,
                    "requests": hook.requests_sent,
                    "stopped": run.stopped,
                }
            ]
        ),
    )
    where = (
        f"stored cursor {fingerprint(run.cursor)} (the next run starts there)"
        if run.cursor
        else "no cursor stored (the next run starts from 'after' again)"
        if stored is None
        else f"the stored cursor {fingerprint(stored.value)} (unchanged)"
    )
    log.info(
        "Stopped: %s; %s. The local copy holds %s record(s), %s of them deleted; per format: %s",
        run.stopped,
        where,
        f"{table.records:,}",
        f"{table.deleted:,}",
        ", ".join(f"{k} {v:,}" for k, v in table.formats.items()) or "-",
    )
    if run.malformed:
        log.warning(
            "%d malformed product(s) were skipped in this run (named in the page lines above); "
            "Bokbasen's support can correct them at the source",
            run.malformed,
        )
    return SyncResult(
        subscription=name,
        started_from=start.kind,
        after=start.after,
        cursor_age_hours=round(first.age.total_seconds() / 3600, 2) if first.age is not None else None,
        fallback=start.fallback,
        pages=run.pages,
        products=run.products,
        new=counts.new,
        updated=counts.updated,
        deleted=counts.deleted,
        superseded=counts.superseded,
        malformed=run.malformed,
        stopped=run.stopped,
        cursor=fingerprint(run.cursor or (stored.value if stored else None)),
        cursor_changed=run.cursor_changed,
        requests=hook.requests_sent,
        token_refreshes=hook.token_refreshes,
        records=table.records,
        records_deleted=table.deleted,
        malformed_examples=run.examples,
    )
