"""
### National patron registry: morning import (registry -> library system)

Applies what changed in Norway's national patron registry since the last run to the library
system, one mapped task per library with the sync enabled, named by ISIL and library. The
registry's values overwrite the library system's.

#### What happens
- `soekEndret` is asked for the records changed since the library's **watermark** (the
  registry's `server_tid` of the previous run, kept in `pipeline_state.cursor`) minus an
  overlap, page by page (`neste_indeks`). The first run starts 24 hours back and says so in
  its log: older changes need a full reload agreed with the registry's operator.
- A record last changed by this library (`sist_endret_av`) is its own change coming back:
  skipped.
- A record is matched to a local patron by national card number, else by national id;
  patrons without `registry_consent` are skipped. For the others the registry's values
  (name, birth date, gender, address, e-mail, phone; the PIN when the library syncs PINs)
  overwrite the local ones, and a national card the patron lacks is added beside any local
  card (the patron then holds both).
- A record without card number or national id is a registry deletion: the national card goes
  inactive; the patron stays.

#### Crash safety
Each page is applied in one transaction of the library database and committed before the
watermark is stored; applying a record twice gives the same result, so a run killed anywhere
resumes from the stored watermark without missing or doubling a change.

#### Configuration
- Connections: `patron_registry` (see the export DAG), `cicero_db` (the library system; this
  DAG **writes** patrons and cards), `loan_reporting_db` (pipeline state: the watermarks).
- Environment: `PATRON_REGISTRY_IMPORT_SCHEDULE` (cron, default `0 6 * * *`, Oslo time),
  `PATRON_REGISTRY_OVERLAP_MINUTES` (75), `PATRON_REGISTRY_INITIAL_LOOKBACK_HOURS` (24),
  `PATRON_REGISTRY_PAGE_SIZE` (100), `PATRON_REGISTRY_TASK_RETRIES`,
  `PATRON_REGISTRY_RETRY_DELAY_SECONDS`.
- A full reload of one library: delete its watermark (`pipeline_state.cursor`, pipeline
  `patron_registry_import`, name = ISIL) and set `PATRON_REGISTRY_INITIAL_LOOKBACK_HOURS`.

No national id, name, address, PIN or card number is logged or passed between tasks.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from library_integrations.pipelines.patron_registry import settings

CONFIG = settings.load()

default_args = {
    "owner": "library-data-engineering",
    "retries": CONFIG.task_retries,
    "retry_delay": CONFIG.retry_delay,
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
}


@dag(
    dag_id=settings.IMPORT_DAG_ID,
    schedule=CronTriggerTimetable(CONFIG.import_schedule, timezone=CONFIG.timezone),
    start_date=pendulum.datetime(CONFIG.start_date.year, CONFIG.start_date.month, CONFIG.start_date.day,
                                 tz=CONFIG.timezone),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["patron-registry", "patrons", "national-registry"],
    doc_md=__doc__,
)
def patron_registry_import():
    @task
    def libraries(**context) -> list[dict]:
        from library_integrations.pipelines.patron_registry import tasks

        return tasks.libraries(context, CONFIG, "import")

    @task(map_index_template="{{ library_label }}")
    def sync(library: dict, **context) -> dict:
        from library_integrations.pipelines.patron_registry import tasks

        return tasks.import_library(library, context, CONFIG)

    @task(trigger_rule="all_done", retries=0)
    def summary(libraries: list[dict], results: list[dict], **context) -> dict:
        from library_integrations.pipelines.patron_registry import tasks

        return tasks.summary("import", libraries, results, context, CONFIG)

    enabled = libraries()
    summary(enabled, sync.expand(library=enabled))


patron_registry_import()
