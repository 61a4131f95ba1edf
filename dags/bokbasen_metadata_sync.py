"""
### Bokbasen metadata sync

Keeps a local copy of Bokbasen's book metadata (ONIX 3.0 from the **Export Service**) in the
pipeline-state database, table `pipeline_state.bokbasen_metadata`: one record per EAN with
title, subtitle, contributors and their roles, authors, language, format
(`AUDIO`/`EBOOK`/`PAPER`, other ONIX forms as their code), publication date, publisher and
Bokbasen's audience. Deletes are kept as records marked deleted. The loan report fills a
loan's missing title, authors and language from it.

**The cursor is the state, not the schedule.** Every answer of the service carries a cursor
(`Next`); the sync stores it after each page, in the same transaction as that page's
records, and the next run continues from it. Runs are hourly by default, one at a time, and
never caught up: a run that was killed, failed or skipped loses nothing, the next one
resumes after the last committed page.

#### What the log says
- where the run started: the stored cursor and its age, or `after=yyyyMMddHHmmss` with a
  **warning** when there is no cursor or it is older than the service's 180-day limit
  (changes older than that need a full reload agreed with Bokbasen);
- one line per page: products new / updated / deleted / malformed, and the cursor stored
  with them; malformed products are named (record reference and reason) and skipped;
- a summary table and where it stopped (no more pages), and what the local copy holds.

#### Failures
- `Date header ... the worker's clock is off`: fix the worker's clock (NTP). No retry.
- `refused the request's parameters (HTTP 400): <Bokbasen's message>`: the connection's
  `subscription`/`pagesize` or the request is wrong. No retry.
- `refused the cursor as too old`: the run starts once more from `after` by itself.
- HTTP 5xx, timeouts, dropped connections: retried per page; if they persist, the task
  fails and Airflow retries it later (it resumes from the last committed page).

#### Configuration
- Connection `bokbasen_export` (http): host = the export endpoint URL, login/password =
  client id/secret, extra `{"token_url": ..., "subscription": "extended", "pagesize": 1000}`
  (optionally `audience`, `notification_type`, `connect_timeout`, `read_timeout`,
  `max_attempts`, `max_total_seconds`). `loan_reporting_db`: the pipeline-state database.
- Environment: `METADATA_SYNC_SCHEDULE` (`@hourly`), `METADATA_SYNC_START_DATE`,
  `METADATA_SYNC_MAX_CURSOR_AGE_DAYS` (180), `METADATA_SYNC_AFTER_DAYS` (179),
  `METADATA_SYNC_AFTER` (explicit start, UTC `yyyyMMddHHmmss`), `METADATA_SYNC_MAX_PAGES`,
  `METADATA_SYNC_TASK_RETRIES`, `METADATA_SYNC_RETRY_DELAY_SECONDS`.
- A full reload from a given time: delete the cursor (`DELETE FROM pipeline_state.cursor
  WHERE pipeline = 'bokbasen_metadata_sync'`), set `METADATA_SYNC_AFTER`, trigger a run.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from library_integrations.pipelines.metadata_sync import config

CONFIG = config.load()

default_args = {
    "owner": "library-data-engineering",
    "retries": CONFIG.task_retries,
    "retry_delay": CONFIG.retry_delay,
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="bokbasen_metadata_sync",
    schedule=CONFIG.schedule,
    start_date=pendulum.datetime(CONFIG.start_date.year, CONFIG.start_date.month, CONFIG.start_date.day, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["bokbasen", "metadata", "onix"],
    doc_md=__doc__,
)
def bokbasen_metadata_sync():
    @task
    def sync(**context) -> dict:
        from library_integrations.pipelines.metadata_sync import tasks

        return tasks.sync(context, CONFIG)

    sync()


bokbasen_metadata_sync()
