"""The steps of the nightly report, as plain functions the DAG's tasks call.

Each function takes its inputs explicitly (connections, directories, settings) and returns
a small typed payload (:mod:`.payloads`), so the DAG file only wires them together and tests can call
them without a scheduler. Logs are written for the data engineer reading them at 7 a.m.:
the first lines say which Oslo day and which UTC window a task covers.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import orjson

from library_integrations.common import staging
from library_integrations.common.oslo_time import oslo_day_window
from library_integrations.common.tables import format_table
from library_integrations.library_system import loans as extract
from library_integrations.pipelines.loan_report.payloads import (
    AgencyReport,
    ExtractResult,
    LoadResult,
    RunSummary,
    SummaryRow,
)

log = logging.getLogger(__name__)


class DayNotOverError(Exception):
    """The requested report day has not ended yet in Oslo."""


def describe_window(report_date: date) -> str:
    start, end = oslo_day_window(report_date)
    hours = (end - start).total_seconds() / 3600
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (
        f"report day {report_date.isoformat()} (Europe/Oslo calendar day, {hours:g} h): "
        f"UTC window [{start.astimezone(UTC).strftime(fmt)}, {end.astimezone(UTC).strftime(fmt)})"
    )


def agency_label(isil: str | None, agency_id: int, library_name: str | None) -> str:
    """The name of an agency's mapped task in the UI.

    >>> agency_label("NO-2030100", 7, "Oslo bibliotek"), agency_label(None, 7, None)
    ('NO-2030100 Oslo bibliotek', '7 (no library name)')
    """
    return f"{isil or agency_id} {library_name or '(no library name)'}"


def check_day_is_over(report_date: date, now: datetime | None = None) -> None:
    _, end = oslo_day_window(report_date)
    now = now or datetime.now(UTC)
    if now < end:
        raise DayNotOverError(
            f"report day {report_date} has not ended in Oslo yet (it ends {end.isoformat()}); "
            "a report now would be incomplete. Trigger the run with the logical date of a past day."
        )


def run_extract(conn, report_date: date, target_dir, *, chunk_rows: int) -> ExtractResult:
    """Stage the day's loans of every enabled agency; return the extract manifest."""
    log.info("Extract: %s", describe_window(report_date))
    start, end = oslo_day_window(report_date)
    agencies = extract.read_agencies(conn)
    enabled = [a for a in agencies if a.enabled]
    disabled = [a for a in agencies if not a.enabled]
    log.info("%d agencies enabled for Bokbasen reporting, %d disabled (%s)", len(enabled), len(disabled),
             ", ".join(a.isil or str(a.agency_id) for a in disabled) or "none")
    manifest = extract.stage_loans(conn, report_date, start, end, [a.agency_id for a in enabled],
                                   target_dir / "extract", chunk_rows=chunk_rows)
    log.info("Staged %s loans in %d part(s) under %s", f"{manifest.rows:,}", len(manifest.parts),
             target_dir / "extract")
    return ExtractResult(
        report_date=report_date,
        start_utc=manifest.start_utc,
        end_utc=manifest.end_utc,
        parts=manifest.parts,
        rows=manifest.rows,
        agencies=enabled,
        disabled=[a.isil or str(a.agency_id) for a in disabled],
    )


def run_transform(manifest: ExtractResult, target_dir, config, *, metadata=None) -> list[AgencyReport]:
    """Build every agency's report from the staged parts; stage the report files.

    ``metadata``: a lookup of Bokbasen's metadata by EAN (``state.metadata.MetadataLookup``)
    to fill missing titles, authors and languages; None leaves the catalogue's values alone.

    Returns one small manifest per agency (the load task is mapped over them). An agency
    whose settings are unusable comes back with ``error`` set and no report.
    """
    import hashlib

    from library_integrations.common.reference_data import load_reference_data
    from library_integrations.pipelines.loan_report.report.builder import ReportBuilder
    from library_integrations.pipelines.loan_report.report.quality import format_quality_table

    report_date = manifest.report_date
    log.info("Transform: %s", describe_window(report_date))
    builder = ReportBuilder(
        report_date,
        manifest.agencies,
        reference=load_reference_data(config.reference_data),
        installation_namespace=config.require_installation(),
        metadata=metadata,
    )
    for chunk in extract.read_staged_parts(manifest.parts):
        builder.add_chunk(chunk)

    reports_dir = target_dir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    agencies, unknown, summaries = [], {}, []
    for result in builder.iter_results():  # one payload in memory at a time
        summaries.append(result.quality)
        q = result.quality
        label = agency_label(result.isil, result.agency_id, result.library_name)
        report_path = sha256 = None
        if result.payload is not None:
            path = reports_dir / f"{result.agency_id}-{staging.safe_name(result.isil)}.json"
            with path.open("wb") as f:
                f.write(result.payload)
            report_path, sha256 = str(path), hashlib.sha256(result.payload).hexdigest()
        if result.error:
            log.error("Agency %s cannot be reported: %s", label, result.error)
        for code, n in q.unknown_material_types.items():
            unknown[code] = unknown.get(code, 0) + n
        agencies.append(AgencyReport(
            report_date=report_date,
            agency_id=result.agency_id,
            isil=result.isil,
            library_name=result.library_name,
            label=label,
            loan_count=result.loan_count,
            read=q.read,
            reported=q.reported,
            excluded=dict(q.excluded),
            location=q.location,
            error=result.error,
            report_path=report_path,
            sha256=sha256,
            enriched=q.enriched,
        ))
    log.info("Data quality per agency:\n%s", format_quality_table(summaries))
    if builder.enrichment is not None:
        enriched = sum(q.enriched for q in summaries)
        fields = {name: sum(q.enriched_fields.get(name, 0) for q in summaries) for name in ("title", "authors", "language")}
        log.info("Bokbasen metadata: %s; %s loan(s) enriched (%s)", builder.enrichment.describe(), f"{enriched:,}",
                 ", ".join(f"{k} {v:,}" for k, v in fields.items()))
    if unknown:
        log.warning("Unknown material type codes (excluded; add them to include/config/material_formats.toml): %s",
                    ", ".join(f"{code} x{n}" for code, n in sorted(unknown.items(), key=lambda kv: -kv[1])))
    write_json(target_dir / "quality.json", [q.to_dict() for q in summaries])
    read = sum(a.read for a in agencies)
    reported = sum(a.reported for a in agencies)
    log.info("%s loans read, %s reported, %s excluded, %d report(s) staged under %s", f"{read:,}",
             f"{reported:,}", f"{read - reported:,}", sum(1 for a in agencies if a.report_path), reports_dir)
    return agencies


def write_json(path, data) -> None:
    with path.open("wb") as f:
        f.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))


class AgencyFailed(Exception):
    """This agency cannot be reported until someone fixes its data or settings."""


def run_load(agency: AgencyReport, *, hook_factory, ledger) -> LoadResult:
    """Send one agency's staged report through the ledger (skipped if already accepted)."""
    from airflow.sdk import ObjectStoragePath

    report_date = agency.report_date
    log.info("Load: %s, agency %s", describe_window(report_date), agency.label)
    if agency.error:
        log.error("Agency %s has unusable Bokbasen settings: %s", agency.label, agency.error)
        raise AgencyFailed(f"{agency.label}: {agency.error}")
    path = ObjectStoragePath(agency.report_path)
    payload = path.read_bytes()
    log.info("Report %s: %s loans, %s bytes, sha256 %s", path, f"{agency.loan_count:,}", f"{len(payload):,}",
             agency.sha256[:12])
    hook = hook_factory()
    outcome = ledger.submit(
        agency.isil,
        report_date,
        payload,
        agency.loan_count,
        lambda body: hook.send_report(body, isil=agency.isil, report_date=report_date),
    )
    sent = outcome.send_result
    return LoadResult(
        isil=agency.isil,
        outcome=outcome.outcome,
        status=outcome.status,
        loan_count=outcome.loan_count,
        http_status=sent.status_code if sent else None,
        attempts=sent.attempts if sent else None,
        waited_seconds=round(sent.waited_seconds, 2) if sent else None,
    )


def run_summary(report_date: date, agencies: list[AgencyReport], ledger) -> RunSummary:
    """Log one table of every agency of the day; return it with the list of failures.

    Status and reason come first and reasons are never cut; the loans excluded per reason
    follow in a second table.
    """
    log.info("Summary: %s", describe_window(report_date))
    rows = {r.isil: r for r in ledger.rows(report_date=report_date)}
    table, failed = [], []
    for agency in agencies:
        row = rows.get(agency.isil)
        if agency.error:
            status, detail = "failed", agency.error
        elif row is None:
            status, detail = "not sent", "no ledger entry: the load task did not run"
        elif row.status == "accepted" and row.payload_sha256 == agency.sha256:
            status, detail = "accepted", f"HTTP {row.last_http_status}"
        elif row.status == "accepted":
            status, detail = "failed", "ledger holds another payload than this run built (a concurrent run?)"
        else:
            status, detail = row.status, f"HTTP {row.last_http_status}: {row.last_message}"
        if status != "accepted":
            failed.append(f"{agency.label} ({status}: {detail})")
        table.append(SummaryRow(
            agency=agency.label,
            read=agency.read,
            reported=agency.reported,
            excluded=", ".join(f"{k} {v}" for k, v in sorted(agency.excluded.items())) or "-",
            status=status,
            detail=detail,
        ))
    log.info("Bokbasen loan report for %s:\n%s", report_date, format_table(
        [{"status": r.status, "agency": r.agency, "read": r.read, "reported": r.reported, "reason": r.detail}
         for r in table], empty="(no enabled agencies)"))
    excluded = [{"agency": r.agency, "excluded loans per reason": r.excluded} for r in table if r.excluded != "-"]
    if excluded:
        log.info("Loans excluded per reason:\n%s", format_table(excluded))
    return RunSummary(report_date=report_date, agencies=table, failed=failed)


def nothing_reported(report_date: date, failures: dict[str, str | None]) -> str:
    """The summary's one line when no agency got as far as a report (extract or transform failed).

    >>> nothing_reported(date(2026, 11, 24), {"extract": "MissingSettingError: LOAN_REPORTING_INSTALLATION is not set"})
    'extract failed: nothing was reported for 2026-11-24: MissingSettingError: LOAN_REPORTING_INSTALLATION is not set'
    """
    task, reason = next(iter(failures.items()), ("extract", None))
    return f"{task} failed: nothing was reported for {report_date}: {reason or 'see the ' + task + ' task log'}"
