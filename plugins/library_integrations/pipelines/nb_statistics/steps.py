"""The steps of the monthly NB delivery, as plain functions the DAG's tasks call.

Each takes its inputs explicitly (a database connection, the staging directory, the
configuration, the ledger, the delivery target) and returns a small typed payload
(:mod:`.payloads`), so tests call them without a scheduler. Every task's log opens with
what it covers in numbers: the month and its UTC window, libraries in and out and why,
loans, rows, ``uten_isbn``, unmapped borrower categories with their loans.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from datetime import UTC, date, datetime

from library_integrations.common.oslo_time import OSLO
from library_integrations.common.tables import format_table
from library_integrations.pipelines.nb_statistics import fileformat, source
from library_integrations.pipelines.nb_statistics.config import CategoryMapping, FileFormat
from library_integrations.pipelines.nb_statistics.payloads import (
    CheckResult,
    DeliveryResult,
    ExcludedLibrary,
    Library,
    LibraryFigures,
    Selection,
    StagedStatistics,
)
from library_integrations.pipelines.nb_statistics.settings import PIPELINE

log = logging.getLogger(__name__)

ISIL = re.compile(r"^NO-[0-9]{7}$")


class MonthNotOverError(Exception):
    """The requested month has not ended yet in Oslo."""


def month_window(month: date) -> tuple[datetime, datetime]:
    """``(start_utc, end_utc)`` of the Oslo calendar month holding ``month``; the end is exclusive.

    >>> [t.isoformat() for t in month_window(date(2026, 3, 1))]
    ['2026-02-28T23:00:00+00:00', '2026-03-31T22:00:00+00:00']
    """
    start = datetime(month.year, month.month, 1, tzinfo=OSLO)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=OSLO)
    return start.astimezone(UTC), end.astimezone(UTC)


def describe_month(month: date) -> str:
    """
    >>> describe_month(date(2026, 10, 1))
    'month 2026-10 (Europe/Oslo calendar month, 745 h): UTC window [2026-09-30T22:00:00Z, 2026-10-31T23:00:00Z)'
    """
    start, end = month_window(month)
    hours = (end - start).total_seconds() / 3600
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (f"month {month:%Y-%m} (Europe/Oslo calendar month, {hours:g} h): "
            f"UTC window [{start.strftime(fmt)}, {end.strftime(fmt)})")


def check_month_is_over(month: date, now: datetime | None = None) -> None:
    _, end = month_window(month)
    if (now or datetime.now(UTC)) < end:
        raise MonthNotOverError(
            f"month {month:%Y-%m} has not ended in Oslo yet (it ends {end.isoformat()}); a delivery now would be "
            "incomplete. Trigger with the logical date of a past month's first day at 00:00, or with 'now' for "
            "the last complete month.")


# ----------------------------------------------------------------------------- select
def decide(row: source.LibraryRow) -> str | None:
    """The reason a library is left out of the delivery, or None when it is included."""
    if row.delivery_consent is None:
        return fileformat.NO_CONSENT
    if not row.delivery_consent:
        return fileformat.NOT_ENABLED
    if not row.publication_consent:
        return fileformat.NO_PUBLICATION_CONSENT
    if not ISIL.match(row.isil or ""):
        return fileformat.INVALID_ISIL
    return None


def run_select(conn, month: date) -> Selection:
    """Who is in the month's delivery: both consents and a well-formed ISIL; everyone else with a reason."""
    start, end = month_window(month)
    rows = source.read_libraries(conn)
    included, excluded = [], []
    for row in rows:
        reason = decide(row)
        if reason is None:
            included.append(Library(row.agency_id, row.isil, row.name))
        else:
            excluded.append(ExcludedLibrary(row.agency_id, row.isil, row.name, reason))
    counts: dict[str, int] = {}
    for ex in excluded:
        counts[ex.reason] = counts.get(ex.reason, 0) + 1
    log.info("Select: %s; %d of %d libraries included, %d excluded (%s)", describe_month(month), len(included),
             len(rows), len(excluded), ", ".join(f"{n} {r}" for r, n in sorted(counts.items())) or "none")
    log.info("Libraries of the delivery:\n%s", format_table(
        [{"status": "included", "isil": lib.isil, "library": lib.name, "reason": "both consents given"}
         for lib in included]
        + [{"status": "excluded", "isil": ex.isil, "library": ex.name,
            "reason": f"{ex.reason}: {fileformat.REASONS[ex.reason]}"} for ex in excluded]))
    if not included:
        log.warning("No library has given both consents: the month's file will have no rows, and the manifest "
                    "lists every library as excluded")
    return Selection(month=month, start_utc=start, end_utc=end, included=included, excluded=excluded)


# ----------------------------------------------------------------------------- aggregate
def run_aggregate(conn, selection: Selection, target_dir, fmt: FileFormat, categories: CategoryMapping,
                  library_system: str, *, work_mem: str = source.DEFAULT_WORK_MEM) -> StagedStatistics:
    """Aggregate the month in the database and write the CSV to ``target_dir`` (an ObjectStoragePath)."""
    month = selection.month
    ids = [lib.agency_id for lib in selection.included]
    log.info("Aggregate: %s; %d libraries included, %d excluded", describe_month(month), len(ids),
             len(selection.excluded))
    try:
        agg = source.aggregate(conn, selection.start_utc, selection.end_utc, ids, categories, fmt, work_mem=work_mem)
        csv_path = target_dir / f"{fmt.file_prefix}_{month:%Y-%m}.csv"
        for old in target_dir.glob("*.csv") if target_dir.exists() else []:
            old.unlink()  # a retried task never leaves a file of an earlier attempt
        sha, size, rows = source.write_file(conn, f"{month:%Y-%m}", fmt, csv_path)
    finally:
        conn.rollback()  # the temporary tables go; nothing else was written
    figures = []
    for lib in selection.included:
        loans, without, lib_rows, with_isbn = agg.figures.get(lib.agency_id, (0, 0, 0, 0))
        figures.append(LibraryFigures(lib.agency_id, lib.isil, lib.name, loans, with_isbn, without, lib_rows))
    staged = StagedStatistics(
        month=month, start_utc=selection.start_utc, end_utc=selection.end_utc, library_system=library_system,
        csv_path=str(csv_path), csv_sha256=sha, csv_bytes=size, rows=rows, content_sha256="",
        libraries=figures, excluded=selection.excluded, unmapped_categories=agg.unmapped,
    )
    body = fileformat.manifest_body(staged, fmt)
    staged = StagedStatistics(**{**staged.__dict__, "content_sha256": fileformat.content_sha256(body)})
    loans = staged.loans
    log.info("%s loans of %d libraries: %s with a valid ISBN in %s rows, %s uten_isbn; %s distinct catalogued "
             "ISBN values normalised with python-stdnum (%s valid ISBN-13)", f"{loans:,}", len(figures),
             f"{loans - staged.without_isbn:,}", f"{rows:,}", f"{staged.without_isbn:,}",
             f"{agg.distinct_isbn_values:,}", f"{agg.isbn13_values:,}")
    if agg.unmapped:
        log.warning("Borrower category codes not in the mapping (people fall back to age, others to their kind; "
                    "add them to nb_borrower_categories.toml if they mean something else): %s",
                    ", ".join(f"{code} ({n:,} loans)" for code, n in agg.unmapped.items()))
    else:
        log.info("Every borrower category code is mapped")
    log.info("Per library:\n%s", figures_table(figures))
    log.info("Staged %s (%s bytes, sha256 %s, %s data rows); delivery identity %s", csv_path, f"{size:,}",
             sha[:12], f"{rows:,}", staged.content_sha256[:12])
    return staged


def figures_table(figures: list[LibraryFigures]) -> str:
    return format_table([{"isil": f.isil, "loans": f.loans, "with isbn": f.loans_with_isbn,
                          "uten_isbn": f.without_isbn, "rows": f.rows, "library": f.name}
                         for f in sorted(figures, key=lambda f: f.isil)], empty="(no library included)")


# ----------------------------------------------------------------------------- check
def run_check(conn, staged: StagedStatistics, fmt: FileFormat) -> CheckResult:
    """Read the staged CSV back and compare it with the staged figures and a fresh count from ``lms.loan``."""
    from airflow.sdk import ObjectStoragePath

    log.info("Check: %s; %s rows, %s loans of %d libraries (%s uten_isbn) in %s", describe_month(staged.month),
             f"{staged.rows:,}", f"{staged.loans:,}", len(staged.libraries), f"{staged.without_isbn:,}",
             staged.csv_path)
    counted = source.count_loans(conn, staged.start_utc, staged.end_utc, [lib.agency_id for lib in staged.libraries])
    conn.rollback()
    with ObjectStoragePath(staged.csv_path).open("rb") as f:
        facts = fileformat.read_back(f, fmt)
    checks = fileformat.check_file(facts, staged, fmt, counted)
    log.info("The file passed %d checks: %s", len(checks), "; ".join(checks))
    return CheckResult(month=staged.month, rows=facts.rows, loans=sum(counted.values()), checks=checks)


# ----------------------------------------------------------------------------- deliver
def run_deliver(staged: StagedStatistics, fmt: FileFormat, ledger, target) -> DeliveryResult:
    """Deliver CSV and manifest through the ledger: skip identical content, else the next version.

    ``target``: a delivery target of :mod:`library_integrations.clients.nb.delivery` (SFTP or
    object storage). CSV first, manifest last: a manifest on the server means a complete delivery.
    """
    from airflow.sdk import ObjectStoragePath

    from library_integrations.clients.nb.delivery import OutgoingFile

    key = f"{staged.month:%Y-%m}"
    log.info("Deliver: %s; %s rows, %s loans of %d libraries, %d excluded; content %s; target %s",
             describe_month(staged.month), f"{staged.rows:,}", f"{staged.loans:,}", len(staged.libraries),
             len(staged.excluded), staged.content_sha256[:12], target.description)
    body = fileformat.manifest_body(staged, fmt)
    if fileformat.content_sha256(body) != staged.content_sha256:
        raise fileformat.FileCheckError("the staged figures do not match their recorded identity (sha256)")

    def upload(delivery):
        names = fileformat.file_names(fmt, staged.library_system, staged.month, delivery.version)
        earlier = [d for d in ledger.history(PIPELINE, key) if d.status == "delivered" and d.version < delivery.version]
        replaces = earlier[-1].file_name if earlier else None
        manifest = fileformat.render_manifest(body, names, delivery.version, replaces)
        csv_path = ObjectStoragePath(staged.csv_path)
        files = [
            OutgoingFile(names.csv, lambda: csv_path.open("rb"), staged.csv_bytes, staged.csv_sha256),
            OutgoingFile(names.manifest, lambda: io.BytesIO(manifest), len(manifest),
                         hashlib.sha256(manifest).hexdigest()),
        ]
        return target.upload(files)

    outcome = ledger.deliver(
        PIPELINE, key, staged.content_sha256, upload,
        file_name=lambda version: fileformat.file_names(fmt, staged.library_system, staged.month, version).csv,
        row_count=staged.rows, target=target.description,
    )
    d = outcome.delivery
    names = fileformat.file_names(fmt, staged.library_system, staged.month, d.version)
    if outcome.outcome == "skipped":
        log.info("Nothing uploaded: version %d (%s) with identical content was delivered at %s", d.version,
                 names.csv, d.delivered_at)
    else:
        log.info("Delivered version %d: %s and %s to %s", d.version, names.csv, names.manifest, target.description)
    return DeliveryResult(month=staged.month, outcome=outcome.outcome, version=d.version, csv_name=names.csv,
                          manifest_name=names.manifest, target=target.description,
                          content_sha256=staged.content_sha256,
                          previous_version=outcome.previous.version if outcome.previous else None)


# ----------------------------------------------------------------------------- summary
def run_summary(staged: StagedStatistics, delivery: DeliveryResult, ledger) -> list[dict]:
    """One table of the month's libraries and one of every version in the ledger."""
    key = f"{staged.month:%Y-%m}"
    log.info("Summary: %s; %s: version %d (%s) to %s; %s loans of %d libraries, %s rows, %s uten_isbn, "
             "%d libraries excluded", describe_month(staged.month), delivery.outcome, delivery.version,
             delivery.csv_name, delivery.target, f"{staged.loans:,}", len(staged.libraries), f"{staged.rows:,}",
             f"{staged.without_isbn:,}", len(staged.excluded))
    log.info("Included libraries:\n%s", figures_table(staged.libraries))
    if staged.excluded:
        log.info("Excluded libraries:\n%s", format_table(
            [{"isil": ex.isil, "reason": ex.reason, "library": ex.name} for ex in staged.excluded]))
    history = [{"version": d.version, "status": d.status, "file": d.file_name, "rows": d.row_count,
                "delivered at": d.delivered_at.isoformat() if d.delivered_at else "-",
                "sha256": d.content_sha256[:12], "target": d.target or "-"}
               for d in ledger.history(PIPELINE, key)]
    log.info("Delivery ledger for %s:\n%s", key, format_table(history))
    return history
