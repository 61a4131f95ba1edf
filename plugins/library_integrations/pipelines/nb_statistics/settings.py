"""Settings of the NB statistics, read from the environment (``NB_STATISTICS_*``).

==========================================  ==================================================
``NB_STATISTICS_LIBRARY_SYSTEM``            **required**: the library system's name as NB knows
                                            it (manifest ``biblioteksystem``, and in the file
                                            names); no default, a run fails naming it
``NB_STATISTICS_START_MONTH``               first month for catchup, ``YYYY-MM`` (2026-01)
``NB_STATISTICS_RUN_DAY``                   day of the next month the run starts (5)
``NB_STATISTICS_RUN_HOUR``                  hour (Oslo) of that day (6)
``NB_STATISTICS_TARGET``                    ``sftp`` (default) or ``object_storage``
``NB_STATISTICS_TARGET_URL``                ObjectStoragePath URL of the folder for the
                                            ``object_storage`` target (required for it)
``NB_STATISTICS_REMOTE_DIR``                SFTP folder when the connection's extra has no
                                            ``remote_dir`` (default: the login directory)
``NB_STATISTICS_TASK_RETRIES``              Airflow retries of each task (3)
``NB_STATISTICS_RETRY_DELAY_SECONDS``       first retry delay, doubled each retry (900)
``NB_STATISTICS_MAX_ACTIVE_RUNS``           months at once in a catchup/backfill (1)
``NB_STATISTICS_CATCHUP``                   deliver every missed month since the start (true)
``NB_STATISTICS_WORK_MEM``                  PostgreSQL work_mem of the aggregation's transaction
                                            (256MB: the month's hash aggregate stays in memory)
``NB_STATISTICS_FILE_FORMAT``               file-format TOML (default include/config/nb_statistics_file.toml)
``NB_STATISTICS_CATEGORIES``                borrower-category TOML (default include/config/nb_borrower_categories.toml)
==========================================  ==================================================

Shared: ``LIBRARY_INTEGRATIONS_STAGING_BASE`` (staged files). Connections: ``cicero_db``
(library system), ``loan_reporting_db`` (pipeline state: the delivery ledger),
``nb_statistics_sftp`` (the SFTP target).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from library_integrations import PROJECT_ROOT
from library_integrations.common.settings import MissingSettingError, env
from library_integrations.pipelines.nb_statistics import config

SFTP_CONN_ID = "nb_statistics_sftp"
PIPELINE = "nb_statistics"  # the delivery ledger's pipeline name
TARGETS = ("sftp", "object_storage")


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class NbSettings:
    library_system: str | None
    start_month: date
    run_day: int
    run_hour: int
    target: str
    target_url: str | None
    remote_dir: str | None
    staging_base: str
    task_retries: int
    retry_delay: timedelta
    max_active_runs: int
    catchup: bool
    file_format_path: str
    categories_path: str
    work_mem: str = "256MB"

    def require_library_system(self) -> str:
        if not self.library_system:
            raise MissingSettingError(
                "NB_STATISTICS_LIBRARY_SYSTEM is not set. It names this library system to Nasjonalbiblioteket "
                "(in the manifest and the file names): set it once per installation, e.g. "
                "NB_STATISTICS_LIBRARY_SYSTEM='Kommunens biblioteksystem', in the environment of the scheduler "
                "and workers. Nothing was delivered."
            )
        return self.library_system

    def require_target(self) -> str:
        if self.target not in TARGETS:
            raise MissingSettingError(
                f"NB_STATISTICS_TARGET is {self.target!r}; it must be one of {', '.join(TARGETS)}. Nothing was delivered.")
        if self.target == "object_storage" and not self.target_url:
            raise MissingSettingError(
                "NB_STATISTICS_TARGET is object_storage but NB_STATISTICS_TARGET_URL is not set: set it to the "
                "folder to deliver to (an ObjectStoragePath URL such as s3://bucket/nb/ or file:///srv/nb/). "
                "Nothing was delivered.")
        return self.target

    def file_format(self) -> config.FileFormat:
        return config.load_file_format(self.file_format_path)

    def categories(self) -> config.CategoryMapping:
        return config.load_categories(self.categories_path)


def load() -> NbSettings:
    start = env("NB_STATISTICS_START_MONTH", "2026-01")
    return NbSettings(
        library_system=env("NB_STATISTICS_LIBRARY_SYSTEM"),
        start_month=date.fromisoformat(f"{start[:7]}-01"),
        run_day=int(env("NB_STATISTICS_RUN_DAY", "5")),
        run_hour=int(env("NB_STATISTICS_RUN_HOUR", "6")),
        target=(env("NB_STATISTICS_TARGET", "sftp") or "sftp").lower(),
        target_url=env("NB_STATISTICS_TARGET_URL"),
        remote_dir=env("NB_STATISTICS_REMOTE_DIR"),
        staging_base=env("LIBRARY_INTEGRATIONS_STAGING_BASE", (PROJECT_ROOT / "var" / "staging").as_uri()),
        task_retries=int(env("NB_STATISTICS_TASK_RETRIES", "3")),
        retry_delay=timedelta(seconds=int(env("NB_STATISTICS_RETRY_DELAY_SECONDS", "900"))),
        max_active_runs=int(env("NB_STATISTICS_MAX_ACTIVE_RUNS", "1")),
        catchup=_flag(env("NB_STATISTICS_CATCHUP", "true")),
        file_format_path=env("NB_STATISTICS_FILE_FORMAT", str(config.FILE_FORMAT_PATH)),
        categories_path=env("NB_STATISTICS_CATEGORIES", str(config.CATEGORIES_PATH)),
        work_mem=env("NB_STATISTICS_WORK_MEM", "256MB"),
    )
