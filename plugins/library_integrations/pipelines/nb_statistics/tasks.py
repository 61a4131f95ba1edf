"""Airflow-facing glue of the NB statistics DAG.

Each function takes the task's Airflow context, resolves connections, the month and the
staging directory, turns XCom data into the typed payloads of :mod:`.payloads` (and back),
and calls the plain functions of :mod:`.steps`. Kept apart from the DAG file so the DAG stays
thin and parses fast.
"""

from __future__ import annotations

import logging
from datetime import date

from library_integrations.common import staging
from library_integrations.common.oslo_time import OSLO
from library_integrations.common.settings import LIBRARY_CONN_ID, STATE_CONN_ID, MissingSettingError
from library_integrations.common.timetables import period_of_run
from library_integrations.pipelines.nb_statistics import steps
from library_integrations.pipelines.nb_statistics.config import ConfigError
from library_integrations.pipelines.nb_statistics.payloads import (
    CheckResult,
    DeliveryResult,
    Selection,
    StagedStatistics,
)
from library_integrations.pipelines.nb_statistics.settings import SFTP_CONN_ID, NbSettings

log = logging.getLogger(__name__)


def _oslo_month(moment) -> date:
    local = moment.astimezone(OSLO)
    return date(local.year, local.month, 1)


def month_of(context) -> date:
    """The Oslo calendar month a run reports, its first day (see ``common.timetables.period_of_run``)."""
    return period_of_run(context, _oslo_month, "month")


def _library_connection():
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=LIBRARY_CONN_ID).get_conn()


def _fail(exc: BaseException):
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(exc))


def select_libraries(context, config: NbSettings) -> dict:
    month = month_of(context)
    try:
        config.require_library_system()  # fail before any work, naming the setting
        config.require_target()
        steps.check_month_is_over(month)
    except (MissingSettingError, steps.MonthNotOverError) as exc:
        raise _fail(exc) from None
    conn = _library_connection()
    try:
        return steps.run_select(conn, month).to_xcom()
    finally:
        conn.close()


def aggregate(selection: dict, context, config: NbSettings) -> dict:
    chosen = Selection.from_xcom(selection)
    try:
        fmt, categories = config.file_format(), config.categories()
        library_system = config.require_library_system()
    except (MissingSettingError, ConfigError) as exc:
        raise _fail(exc) from None
    target_dir = staging.run_dir(config.staging_base, context["dag"].dag_id, chosen.month, context["run_id"])
    conn = _library_connection()
    try:
        return steps.run_aggregate(conn, chosen, target_dir, fmt, categories, library_system,
                                   work_mem=config.work_mem).to_xcom()
    finally:
        conn.close()


def check(staged: dict, context, config: NbSettings) -> dict:
    from library_integrations.pipelines.nb_statistics.fileformat import FileCheckError

    statistics = StagedStatistics.from_xcom(staged)
    conn = _library_connection()
    try:
        return steps.run_check(conn, statistics, config.file_format()).to_xcom()
    except FileCheckError as exc:
        log.error("%s", exc)
        raise _fail(f"{exc}. Nothing was delivered; see the aggregate log.") from None
    finally:
        conn.close()


def make_target(config: NbSettings):
    from library_integrations.clients.nb.delivery import ObjectStorageTarget, SftpTarget

    if config.require_target() == "object_storage":
        return ObjectStorageTarget(config.target_url)
    return SftpTarget(SFTP_CONN_ID, remote_dir=config.remote_dir)


def deliver(staged: dict, checked: dict, context, config: NbSettings) -> dict:
    from library_integrations.clients.nb.delivery import DeliveryError
    from library_integrations.state.deliveries import DeliveryLedger

    statistics = StagedStatistics.from_xcom(staged)
    CheckResult.from_xcom(checked)  # only a checked file is delivered
    try:
        target = make_target(config)
        return steps.run_deliver(statistics, config.file_format(), DeliveryLedger.from_connection(STATE_CONN_ID),
                                 target).to_xcom()
    except MissingSettingError as exc:
        raise _fail(exc) from None
    except DeliveryError as exc:
        log.error("%s", exc)
        if exc.retryable:
            raise  # an Airflow retry later may find the server back
        raise _fail(exc) from None


def summary(staged: dict, delivered: dict, context) -> list[dict]:
    from library_integrations.state.deliveries import DeliveryLedger

    return steps.run_summary(StagedStatistics.from_xcom(staged), DeliveryResult.from_xcom(delivered),
                             DeliveryLedger.from_connection(STATE_CONN_ID))
