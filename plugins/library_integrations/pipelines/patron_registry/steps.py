"""The steps around the per-library work: which libraries to sync, and the run's summary.

Plain functions (no Airflow): the tasks in :mod:`.tasks` call them with connections and
payloads, tests call them directly.
"""

from __future__ import annotations

import logging
from collections import Counter

import psycopg

from library_integrations.common.tables import format_table
from library_integrations.library_system import patrons as lms
from library_integrations.library_system.patrons import RegistryLibrary
from library_integrations.pipelines.patron_registry.payloads import LibraryToSync, SyncResult, SyncSummary

log = logging.getLogger(__name__)


def library_label(isil: str, name: str | None) -> str:
    """
    >>> library_label("NO-2030100", "Deichman")
    'NO-2030100 Deichman'
    """
    return f"{isil} {name or '(no name)'}"


def libraries_to_sync(conn: psycopg.Connection, direction: str) -> list[LibraryToSync]:
    """Every library with the registry sync enabled; the disabled ones are named in the log."""
    libraries = lms.registry_libraries(conn)
    enabled = [lib for lib in libraries if lib.enabled]
    disabled = [lib.isil for lib in libraries if not lib.enabled]
    log.info(
        "Patron registry %s: %d librar%s enabled (%s); %d disabled (%s)",
        direction, len(enabled), "y" if len(enabled) == 1 else "ies", ", ".join(lib.isil for lib in enabled) or "none",
        len(disabled), ", ".join(disabled) or "none",
    )
    return [
        LibraryToSync(lib.agency_id, lib.isil, lib.name, library_label(lib.isil, lib.name), lib.sync_card_number,
                      lib.sync_pin)
        for lib in enabled
    ]


def as_library(payload: LibraryToSync) -> RegistryLibrary:
    return RegistryLibrary(payload.agency_id, payload.isil, payload.name, True, payload.sync_card_number,
                           payload.sync_pin)


def ordered_outcomes(direction: str, results: list[SyncResult]) -> list[str]:
    """The outcome names of ``results`` in the order the logs list them (XCom does not keep dict order)."""
    from library_integrations.pipelines.patron_registry.export import EXPORT_OUTCOMES
    from library_integrations.pipelines.patron_registry.importing import IMPORT_OUTCOMES

    order = list(EXPORT_OUTCOMES if direction == "export" else IMPORT_OUTCOMES)
    seen = {k for r in results for k in r.counts}
    return [k for k in order if k in seen] + sorted(seen - set(order))


def summarize(
    direction: str,
    libraries: list[LibraryToSync],
    results: list[SyncResult],
    failures: dict[str, str],
    *,
    alert_after: int,
) -> SyncSummary:
    """One table of every library's outcomes; the libraries that failed and the patrons to look at."""
    by_isil = {r.isil: r for r in results}
    keys = ordered_outcomes(direction, results)
    rows, totals, failed = [], Counter(), []
    for library in libraries:
        result = by_isil.get(library.isil)
        if result is None:
            failed.append(library.label)
            rows.append({"library": library.label, "status": "FAILED", **{k: "-" for k in keys},
                         "detail": failures.get(library.isil, "the task failed; see its log")})
            continue
        totals.update(result.counts)
        rows.append({"library": library.label, "status": "ok", **{k: result.counts.get(k, 0) for k in keys},
                     "detail": f"watermark {result.watermark_after}" if direction == "import" else
                     f"{len(result.failures)} patron(s) kept queued"})
    alerts = [
        f"{r.isil} patron {f.patron_id} ({f.change}) failed {f.failed_nights} nights in a row: {f.message}"
        for r in results for f in r.failures if f.failed_nights >= alert_after
    ]
    log.info("Patron registry %s, %d librar%s:\n%s", direction, len(libraries), "y" if len(libraries) == 1 else "ies",
             format_table(rows, empty="(no library has the registry sync enabled)"))
    for alert in alerts:
        log.error("Needs a librarian: %s", alert)
    return SyncSummary(direction, len(libraries), failed, dict(totals), alerts)
