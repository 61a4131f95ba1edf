"""Deployment settings, read from the environment of the scheduler and the workers.

Shared by every pipeline (``LIBRARY_INTEGRATIONS_*``):

============================================  =================================================
``LIBRARY_INTEGRATIONS_STAGING_BASE``         ObjectStoragePath URL for staged files
                                              (default ``file://<project>/var/staging``)
``LIBRARY_INTEGRATIONS_REFERENCE_DATA``       directory of the postal code, municipality and
                                              county registers (default: the dated snapshot
                                              in ``include/reference``)
============================================  =================================================

The loan report to Bokbasen (``LOAN_REPORTING_*``):

============================================  =================================================
``LOAN_REPORTING_INSTALLATION``               **required**: installation namespace of the
                                              transaction ids; never change it once reports
                                              have been sent (every id would change)
``LOAN_REPORTING_START_DATE``                 first report day for catchup (2026-01-01)
``LOAN_REPORTING_GRACE_MINUTES``              wait after Oslo midnight before a nightly run (120)
``LOAN_REPORTING_CHUNK_ROWS``                 rows per staged extract part (200000)
``LOAN_REPORTING_TASK_RETRIES``               Airflow retries of each task (3)
``LOAN_REPORTING_RETRY_DELAY_SECONDS``        first retry delay, doubled each retry (120)
``LOAN_REPORTING_MAX_ACTIVE_RUNS``            runs at once, e.g. during a backfill (4)
``LOAN_REPORTING_CATCHUP``                    schedule every missed day since the start (true)
============================================  =================================================

Renamed settings: ``LOAN_REPORTING_STAGING_BASE``, ``LOAN_REPORTING_REFERENCE_DATA`` (and, for
the dev tooling, ``LOAN_REPORTING_DSN`` and ``LOAN_REPORTING_PGDATA``) are still read when the new name is unset, with a deprecation warning naming the new one.

A setting without a safe default (the installation namespace) is not guessed: a task that
needs it fails with :class:`MissingSettingError` naming it. The dev tooling (``make demo``,
the tests) sets a demo namespace explicitly.

Connections: ``cicero_db`` (library system, read-only), ``bokbasen_default`` (the API),
``loan_reporting_db`` (a Postgres database the pipelines may write: the pipeline state).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from datetime import date, timedelta

from library_integrations import INCLUDE_DIR, PROJECT_ROOT

log = logging.getLogger(__name__)

LIBRARY_CONN_ID = "cicero_db"
BOKBASEN_CONN_ID = "bokbasen_default"
STATE_CONN_ID = "loan_reporting_db"

INSTALLATION_ENV = "LOAN_REPORTING_INSTALLATION"
RENAMED = {  # new name -> old names still accepted
    "LIBRARY_INTEGRATIONS_STAGING_BASE": ("LOAN_REPORTING_STAGING_BASE",),
    "LIBRARY_INTEGRATIONS_REFERENCE_DATA": ("LOAN_REPORTING_REFERENCE_DATA",),
    # read by the dev tooling only (which PostgreSQL the demo and tests use)
    "LIBRARY_INTEGRATIONS_DSN": ("LOAN_REPORTING_DSN",),
    "LIBRARY_INTEGRATIONS_PGDATA": ("LOAN_REPORTING_PGDATA",),
}
_warned: set[str] = set()


class MissingSettingError(RuntimeError):
    """A setting that has no safe default is not set; the message names it and says why."""


def env(name: str, default: str | None = None) -> str | None:
    """The value of setting ``name`` (blank counts as unset), or of a renamed old name.

    >>> env("LIBRARY_INTEGRATIONS_NO_SUCH_SETTING", "default")
    'default'
    """
    value = os.environ.get(name, "").strip()
    if value:
        return value
    for old in RENAMED.get(name, ()):
        value = os.environ.get(old, "").strip()
        if value:
            if old not in _warned:
                _warned.add(old)
                message = f"Setting {old} is deprecated: set {name} instead (the value of {old} is used for now)"
                warnings.warn(message, DeprecationWarning, stacklevel=2)
                log.warning(message)
            return value
    return default


def _flag(value: str | None) -> bool:
    """
    >>> _flag("yes"), _flag("0"), _flag(None)
    (True, False, False)
    """
    return (value or "").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    start_date: date
    grace: timedelta
    staging_base: str
    installation: str | None
    reference_data: str
    chunk_rows: int
    task_retries: int
    retry_delay: timedelta
    max_active_runs: int
    catchup: bool

    def require_installation(self) -> str:
        """The installation namespace, or :class:`MissingSettingError` naming the setting.

        >>> from dataclasses import replace
        >>> replace(load(), installation=None).require_installation()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        library_integrations.common.settings.MissingSettingError: LOAN_REPORTING_INSTALLATION is not set. ...
        """
        if not self.installation:
            raise MissingSettingError(
                f"{INSTALLATION_ENV} is not set. It is the namespace of every transaction id sent to "
                "Bokbasen and must never change once reports are sent: set it once per installation, e.g. "
                f"{INSTALLATION_ENV}=no.<your-organisation>.<library-system>, in the environment of the "
                "scheduler and workers. Nothing was reported."
            )
        return self.installation


def load() -> Settings:
    return Settings(
        start_date=date.fromisoformat(env("LOAN_REPORTING_START_DATE", "2026-01-01")),
        grace=timedelta(minutes=int(env("LOAN_REPORTING_GRACE_MINUTES", "120"))),
        staging_base=env("LIBRARY_INTEGRATIONS_STAGING_BASE", (PROJECT_ROOT / "var" / "staging").as_uri()),
        installation=env(INSTALLATION_ENV),
        reference_data=env("LIBRARY_INTEGRATIONS_REFERENCE_DATA", str(INCLUDE_DIR / "reference")),
        chunk_rows=int(env("LOAN_REPORTING_CHUNK_ROWS", "200000")),
        task_retries=int(env("LOAN_REPORTING_TASK_RETRIES", "3")),
        retry_delay=timedelta(seconds=int(env("LOAN_REPORTING_RETRY_DELAY_SECONDS", "120"))),
        max_active_runs=int(env("LOAN_REPORTING_MAX_ACTIVE_RUNS", "4")),
        catchup=_flag(env("LOAN_REPORTING_CATCHUP", "true")),
    )
