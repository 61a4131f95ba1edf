"""
### National patron registry: night export (library system -> registry)

Sends what librarians and patrons changed during the day to Norway's national patron
registry (*Nasjonalt lånerregister*, the *Bibliotekkortet*), one mapped task per library
with the sync enabled (`lms.patron_registry_settings.enabled`), named by ISIL and library.
The library system's values overwrite the registry's.

#### What happens to a queued patron (`lms.patron_registry_queue`)
- **No consent** (`registry_consent` false): nothing is sent; the change waits.
- **new**: looked up by national id first. In the registry already: the registry's national
  card number and/or PIN are taken (as the library syncs them) and this library's relation
  is added. Not there: the patron gets the next number of the library's *own* national
  series when it holds no national card (checked before it is issued; an exhausted series
  fails that patron with a clear message) and is created. A local card number is never sent;
  the patron keeps it beside the national card.
- **edited**: updated (a changed card number replaces the registry's).
- **delete**: this library's relation is removed; the patron stays for other libraries.
- A patron without a PIN gets a random default PIN (encrypted), marked `pin_must_change`.
- A failure (the registry's `melding`, or the registry unreachable) is stored in the queue's
  `last_error` and retried next night; the others go on. Three patrons in a row without an
  answer stop that library's run (the rest stays queued; Airflow retries the task).

#### Crash safety
Each patron commits on its own: the registry's answer, the patron's card and PIN and the
queue status together. A row is marked before a registry write; a run killed before the
answer was stored re-reads the registry first and does not send the patron twice.

#### Configuration
- Connections: `patron_registry` (http: host = SOAP endpoint, login = vendor code,
  password = vendor secret, extra `{"pin_key": ..., "libraries": {"NO-2030100":
  {"auth_code": ..., "reserved_series": ["N000100000-N000199999"]}}}` plus optional
  `connect_timeout`, `read_timeout`, `max_attempts`, `max_total_seconds`, `backoff_base`,
  `backoff_max`); `cicero_db` (the library system: this DAG **writes** patrons, cards and
  queue statuses, so its role needs those rights; `PATRON_REGISTRY_LIBRARY_CONN_ID` names
  another connection).
- Environment: `PATRON_REGISTRY_EXPORT_SCHEDULE` (cron, default `0 1 * * *`, Oslo time),
  `PATRON_REGISTRY_MAX_TRANSPORT_FAILURES` (3), `PATRON_REGISTRY_ALERT_AFTER_FAILURES` (3),
  `PATRON_REGISTRY_TASK_RETRIES`, `PATRON_REGISTRY_RETRY_DELAY_SECONDS`.

No national id, name, address, PIN or card number is logged or passed between tasks: logs
name patrons by the library system's internal id and count outcomes.
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
    dag_id=settings.EXPORT_DAG_ID,
    schedule=CronTriggerTimetable(CONFIG.export_schedule, timezone=CONFIG.timezone),
    start_date=pendulum.datetime(CONFIG.start_date.year, CONFIG.start_date.month, CONFIG.start_date.day,
                                 tz=CONFIG.timezone),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["patron-registry", "patrons", "national-registry"],
    doc_md=__doc__,
)
def patron_registry_export():
    @task
    def libraries(**context) -> list[dict]:
        from library_integrations.pipelines.patron_registry import tasks

        return tasks.libraries(context, CONFIG, "export")

    @task(map_index_template="{{ library_label }}")
    def sync(library: dict, **context) -> dict:
        from library_integrations.pipelines.patron_registry import tasks

        return tasks.export_library(library, context, CONFIG)

    @task(trigger_rule="all_done", retries=0)
    def summary(libraries: list[dict], results: list[dict], **context) -> dict:
        from library_integrations.pipelines.patron_registry import tasks

        return tasks.summary("export", libraries, results, context, CONFIG)

    enabled = libraries()
    summary(enabled, sync.expand(library=enabled))


patron_registry_export()
