"""Deployment settings of the reporting DAGs, read from the environment.

Every knob has a default that works on a laptop. Set them in the scheduler's and workers'
environment (or in ``airflow.cfg``'s ``[core]`` section through your deployment tooling).

========================================  ===================================================
``LOAN_REPORTING_START_DATE``             first report day for catchup (default 2026-01-01)
``LOAN_REPORTING_GRACE_MINUTES``          wait after Oslo midnight before a nightly run (120)
``LOAN_REPORTING_STAGING_BASE``           ObjectStoragePath URL for staged files
                                          (default ``file://<project>/var/staging``)
``LOAN_REPORTING_INSTALLATION``           installation namespace of transaction ids
``LOAN_REPORTING_REFERENCE_DATA``         directory of postal/municipality/county registers;
                                          unset: locations are omitted with a warning
``LOAN_REPORTING_CHUNK_ROWS``             rows per staged extract part (200000)
``LOAN_REPORTING_TASK_RETRIES``           Airflow retries of each task (3)
``LOAN_REPORTING_RETRY_DELAY_SECONDS``    first retry delay, doubled each retry (120)
``LOAN_REPORTING_MAX_ACTIVE_RUNS``        runs at once, e.g. during a backfill (4)
``LOAN_REPORTING_CATCHUP``                schedule every missed day since the start (true)
========================================  ===================================================

Connections: ``cicero_db`` (library system, read-only), ``bokbasen_default`` (the API),
``loan_reporting_db`` (a Postgres database the pipeline may write: ledger, token cache).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta

from library_integrations import INCLUDE_DIR, PROJECT_ROOT

LIBRARY_CONN_ID = "cicero_db"
BOKBASEN_CONN_ID = "bokbasen_default"
STATE_CONN_ID = "loan_reporting_db"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    start_date: date
    grace: timedelta
    staging_base: str
    installation: str
    reference_data: str | None
    chunk_rows: int
    task_retries: int
    retry_delay: timedelta
    max_active_runs: int
    catchup: bool


def load() -> Settings:
    return Settings(
        start_date=date.fromisoformat(_env("LOAN_REPORTING_START_DATE", "2026-01-01")),
        grace=timedelta(minutes=int(_env("LOAN_REPORTING_GRACE_MINUTES", "120"))),
        staging_base=_env("LOAN_REPORTING_STAGING_BASE", (PROJECT_ROOT / "var" / "staging").as_uri()),
        installation=_env("LOAN_REPORTING_INSTALLATION", "no.example.library-system.demo"),
        reference_data=_env("LOAN_REPORTING_REFERENCE_DATA", str(INCLUDE_DIR / "reference")),
        chunk_rows=int(_env("LOAN_REPORTING_CHUNK_ROWS", "200000")),
        task_retries=int(_env("LOAN_REPORTING_TASK_RETRIES", "3")),
        retry_delay=timedelta(seconds=int(_env("LOAN_REPORTING_RETRY_DELAY_SECONDS", "120"))),
        max_active_runs=int(_env("LOAN_REPORTING_MAX_ACTIVE_RUNS", "4")),
        catchup=_env("LOAN_REPORTING_CATCHUP", "true").lower() in ("1", "true", "yes", "on"),
    )
