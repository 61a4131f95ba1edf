"""Settings of the patron registry sync (``PATRON_REGISTRY_*``), read where the DAGs are parsed and run.

=============================================  ================================================
``PATRON_REGISTRY_CONN_ID``                    the registry connection (``patron_registry``)
``PATRON_REGISTRY_LIBRARY_CONN_ID``            the library system's database (``cicero_db``);
                                               this sync **writes** patrons, cards and queue
                                               statuses: its role needs UPDATE/INSERT there
``PATRON_REGISTRY_IMPORT_SCHEDULE``            cron of the morning import (``0 6 * * *``)
``PATRON_REGISTRY_EXPORT_SCHEDULE``            cron of the night export (``0 1 * * *``)
``PATRON_REGISTRY_TIMEZONE``                   time zone of the schedules and of the
                                               registry's clock (``Europe/Oslo``)
``PATRON_REGISTRY_START_DATE``                 first schedulable day (2026-01-01; no catchup)
``PATRON_REGISTRY_OVERLAP_MINUTES``            the import asks for changes since the
                                               watermark minus this (75: clock skew, slow
                                               commits and the repeated hour in October)
``PATRON_REGISTRY_INITIAL_LOOKBACK_HOURS``     without a watermark, fetch this far back (24)
``PATRON_REGISTRY_PAGE_SIZE``                  ``max_antall`` per ``soekEndret`` page (100)
``PATRON_REGISTRY_MAX_TRANSPORT_FAILURES``     patrons in a row the registry could not be
                                               reached for before a library's export stops
                                               (the rest stays queued) (3)
``PATRON_REGISTRY_ALERT_AFTER_FAILURES``       a patron failing this many nights in a row
                                               fails the run's summary, for a librarian (3)
``PATRON_REGISTRY_TASK_RETRIES``               Airflow retries of a library's task (2)
``PATRON_REGISTRY_RETRY_DELAY_SECONDS``        first retry delay, doubled each retry (600)
=============================================  ================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from library_integrations.common.settings import LIBRARY_CONN_ID, STATE_CONN_ID, env

PREFIX = "PATRON_REGISTRY_"
IMPORT_DAG_ID = "patron_registry_import"
EXPORT_DAG_ID = "patron_registry_export"
WATERMARK_PIPELINE = "patron_registry_import"  # pipeline_state.cursor: one row per library (ISIL)


def _number(name: str, default: str, kind=int):
    value = env(PREFIX + name, default)
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{PREFIX}{name} must be a number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{PREFIX}{name} must not be negative, not {value!r}")
    return number


@dataclass(frozen=True)
class RegistrySettings:
    conn_id: str
    library_conn_id: str
    state_conn_id: str
    import_schedule: str
    export_schedule: str
    timezone: str
    start_date: date
    overlap: timedelta
    initial_lookback: timedelta
    page_size: int
    max_transport_failures: int
    alert_after_failures: int
    task_retries: int
    retry_delay: timedelta


def load() -> RegistrySettings:
    return RegistrySettings(
        conn_id=env(PREFIX + "CONN_ID", "patron_registry"),
        library_conn_id=env(PREFIX + "LIBRARY_CONN_ID", LIBRARY_CONN_ID),
        state_conn_id=STATE_CONN_ID,
        import_schedule=env(PREFIX + "IMPORT_SCHEDULE", "0 6 * * *"),
        export_schedule=env(PREFIX + "EXPORT_SCHEDULE", "0 1 * * *"),
        timezone=env(PREFIX + "TIMEZONE", "Europe/Oslo"),
        start_date=date.fromisoformat(env(PREFIX + "START_DATE", "2026-01-01")),
        overlap=timedelta(minutes=_number("OVERLAP_MINUTES", "75", float)),
        initial_lookback=timedelta(hours=_number("INITIAL_LOOKBACK_HOURS", "24", float)),
        page_size=max(1, _number("PAGE_SIZE", "100")),
        max_transport_failures=max(1, _number("MAX_TRANSPORT_FAILURES", "3")),
        alert_after_failures=max(1, _number("ALERT_AFTER_FAILURES", "3")),
        task_retries=_number("TASK_RETRIES", "2"),
        retry_delay=timedelta(seconds=_number("RETRY_DELAY_SECONDS", "600")),
    )
