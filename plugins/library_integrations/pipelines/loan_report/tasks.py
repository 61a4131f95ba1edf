"""Airflow-facing glue of the Bokbasen loan report DAG.

Each function takes the task's Airflow context, resolves connections, the report day and
the staging directory, turns XCom data into the typed payloads of :mod:`.payloads` (and
back), and calls the plain functions of :mod:`.steps`. Kept apart from the DAG file so
the DAG stays thin and parses fast.
"""

from __future__ import annotations

import logging
from datetime import date

from library_integrations.common import staging
from library_integrations.common.oslo_time import oslo_date
from library_integrations.common.settings import (
    BOKBASEN_CONN_ID,
    LIBRARY_CONN_ID,
    STATE_CONN_ID,
    MissingSettingError,
    Settings,
)
from library_integrations.common.timetables import period_of_run
from library_integrations.pipelines.loan_report import steps
from library_integrations.pipelines.loan_report.payloads import AgencyReport, ExtractResult

log = logging.getLogger(__name__)


def report_date_of(context) -> date:
    """The Oslo calendar day a run reports (see ``common.timetables.period_of_run``)."""
    return period_of_run(context, oslo_date, "day")


FAILURE_KEY = "failure"  # XCom key: why extract or transform failed, for the summary


def _record_failure(context, exc: BaseException) -> None:
    """Leave the reason of a failing extract/transform where ``summary`` finds it."""
    try:
        context["ti"].xcom_push(key=FAILURE_KEY, value=f"{type(exc).__name__}: {exc}"[:2000])
    except Exception:  # never hide the real error
        log.exception("could not record the failure reason for the summary")


def _run_dir(context, config: Settings, report_date: date):
    return staging.run_dir(config.staging_base, context["dag"].dag_id, report_date, context["run_id"])


def extract(context, config: Settings) -> dict:
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.exceptions import AirflowFailException

    report_date = report_date_of(context)
    try:
        config.require_installation()  # fail before any work, naming the setting
        steps.check_day_is_over(report_date)
    except (MissingSettingError, steps.DayNotOverError) as exc:
        _record_failure(context, exc)
        raise AirflowFailException(str(exc)) from None
    try:
        conn = PostgresHook(postgres_conn_id=LIBRARY_CONN_ID).get_conn()
        try:
            conn.read_only = True
            result = steps.run_extract(conn, report_date, _run_dir(context, config, report_date),
                                       chunk_rows=config.chunk_rows)
        finally:
            conn.close()
    except Exception as exc:
        _record_failure(context, exc)
        raise
    return result.to_xcom()


def transform(manifest: dict, context, config: Settings) -> list[dict]:
    from airflow.sdk.exceptions import AirflowFailException

    extracted = ExtractResult.from_xcom(manifest)
    metadata = _metadata_lookup()
    try:
        reports = steps.run_transform(extracted, _run_dir(context, config, extracted.report_date), config,
                                      metadata=metadata)
    except MissingSettingError as exc:
        _record_failure(context, exc)
        raise AirflowFailException(str(exc)) from None
    except Exception as exc:
        _record_failure(context, exc)
        raise
    finally:
        if metadata is not None:
            metadata.close()
    return [report.to_xcom() for report in reports]


def _metadata_lookup():
    """Bokbasen's metadata kept by the metadata sync in the pipeline state, or None without that database."""
    from library_integrations.state.connection import dsn_from_connection
    from library_integrations.state.metadata import MetadataLookup

    try:
        return MetadataLookup(dsn_from_connection(STATE_CONN_ID))
    except Exception as exc:
        log.warning("No usable connection %r (%s): loans are not enriched from Bokbasen's metadata",
                    STATE_CONN_ID, type(exc).__name__)
        return None


def load(agency: dict, context) -> dict:
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from library_integrations.clients.bokbasen.errors import BokbasenError
    from library_integrations.clients.bokbasen.loans import BokbasenHook
    from library_integrations.state.ledger import Ledger

    report = AgencyReport.from_xcom(agency)
    # Rendered as the mapped task's name in the UI (map_index_template="{{ agency_label }}").
    get_current_context()["agency_label"] = report.label
    try:
        return steps.run_load(
            report,
            hook_factory=lambda: BokbasenHook(bokbasen_conn_id=BOKBASEN_CONN_ID),
            ledger=Ledger.from_connection(STATE_CONN_ID),
        ).to_xcom()
    except steps.AgencyFailed as exc:
        raise AirflowFailException(str(exc)) from None
    except BokbasenError as exc:
        if exc.retryable:
            raise  # an Airflow retry may succeed
        raise AirflowFailException(str(exc)) from None


def summary(agencies: list[dict] | None, context) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    from library_integrations.state.ledger import Ledger

    report_date = report_date_of(context)
    if agencies is None:  # extract or transform failed: there is nothing to summarise per agency
        failures = {task: context["ti"].xcom_pull(task_ids=task, key=FAILURE_KEY) for task in ("extract", "transform")}
        failures = {task: reason for task, reason in failures.items() if reason} or {"extract": None}
        message = steps.nothing_reported(report_date, failures)
        log.error("%s", message)
        raise AirflowFailException(message)
    reports = [AgencyReport.from_xcom(a) for a in agencies]
    result = steps.run_summary(report_date, reports, Ledger.from_connection(STATE_CONN_ID))
    if result.failed:
        raise AirflowFailException(
            f"{len(result.failed)} of {len(reports)} agencies were not reported for {report_date}: "
            + ", ".join(result.failed)
            + ". See the table above and each agency's load log; clear its load task once fixed."
        )
    return result.to_xcom()
