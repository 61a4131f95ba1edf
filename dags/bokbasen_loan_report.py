"""
### Bokbasen loan report

Reports every loan of the previous **Oslo calendar day** to Bokbasen's Library Loans API:
one report per enabled library (agency) per day.

**Runs are named by the day they report.** Run `scheduled__2026-03-29` (logical date and
data interval start: 29 March 00:00 Oslo) reports the loans of 29 March 2026, 00:00 to
24:00 Oslo time (23 hours that day: the clocks go forward). Choose Europe/Oslo in the UI's
time zone menu and every date in the grid reads as the reported day. The nightly run starts `LOAN_REPORTING_GRACE_MINUTES` (default 120)
after Oslo midnight, so that loans synced late by self-service machines are included.
A run reports the same loans whenever it runs; nothing depends on the wall clock.

#### Tasks
1. **extract**: reads the enabled agencies' loans of the day from the library system
   (`cicero_db`) and stages them as Parquet parts under the staging base. No patron id,
   birth date or name leaves the database; the age is computed in the query.
2. **transform**: builds one report per agency (EAN validation, format mapping,
   anonymised borrower, library identity and location) and a data-quality summary:
   loans read, reported and excluded per reason, unknown material codes.
3. **load** (one mapped task per agency, named by ISIL and library name): sends the
   report, unless the ledger says this exact report was already accepted. One library's
   rejection or outage does not stop the others.
4. **summary**: one table of every agency; fails the run if any agency failed, so the
   failure shows in the UI. Its log says what to do.

#### Configuration
- Connections: `cicero_db` (postgres, read-only library system), `bokbasen_default`
  (http: host = loans endpoint URL, login = client id, password = client secret, extra
  `{"token_url": ..., "audience": optional, "gzip": false}` and, optionally, the transport
  settings `connect_timeout` (seconds, default 10), `read_timeout` (default 120),
  `max_attempts` (HTTP requests per report, retries included, default 6) and
  `max_total_seconds` (retry budget per report, default 900)), `loan_reporting_db`
  (postgres the pipelines may write: the `pipeline_state` schema with the submission
  ledger and the shared token cache).
- Environment: `LOAN_REPORTING_INSTALLATION` (**required**: namespace of transaction ids;
  without it the run fails in `extract` naming it; never change it once reports are sent),
  `LOAN_REPORTING_START_DATE` (first day for catchup), `LOAN_REPORTING_GRACE_MINUTES`,
  `LIBRARY_INTEGRATIONS_STAGING_BASE` (`file://...` or `s3://...`),
  `LIBRARY_INTEGRATIONS_REFERENCE_DATA` (postal code and municipality registers; default:
  the snapshot shipped in `include/reference`),
  `LOAN_REPORTING_MAX_ACTIVE_RUNS`, `LOAN_REPORTING_TASK_RETRIES`,
  `LOAN_REPORTING_RETRY_DELAY_SECONDS`, `LOAN_REPORTING_CATCHUP` (default true).
- Material type mapping: `include/config/material_formats.toml`. An unknown code is
  excluded and named with its count in the transform log: add it there.

#### Trigger, reruns and backfills
- **Trigger** with the proposed date ("now") reports **yesterday** (Oslo), the last complete
  day. To report a given day, set the logical date to that day at 00:00. A day that has
  not ended is refused in `extract`.
- **Rerun a day by clearing its run, not by triggering again** (a second trigger for the
  same day is refused: its run id already exists). Clearing a run, or one agency's **load**, sends exactly the same report again (same
  transaction ids) or skips it when the ledger shows it accepted. Clearing **extract**
  after late loans arrived sends a corrected report.
- Backfill January: `airflow backfill create --dag-id bokbasen_loan_report
  --from-date 2026-01-01 --to-date 2026-01-31` (needs a running scheduler). The dates
  are read as Oslo calendar days.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from library_integrations.common import settings
from library_integrations.common.timetables import ReportDayTimetable

CONFIG = settings.load()

default_args = {
    "owner": "library-data-engineering",
    "retries": CONFIG.task_retries,
    "retry_delay": CONFIG.retry_delay,
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="bokbasen_loan_report",
    schedule=ReportDayTimetable(grace=CONFIG.grace),
    start_date=pendulum.datetime(
        CONFIG.start_date.year, CONFIG.start_date.month, CONFIG.start_date.day, tz="Europe/Oslo"
    ),
    catchup=CONFIG.catchup,
    max_active_runs=CONFIG.max_active_runs,
    default_args=default_args,
    tags=["bokbasen", "loans", "national-reporting"],
    doc_md=__doc__,
)
def bokbasen_loan_report():
    @task
    def extract(**context) -> dict:
        from library_integrations.pipelines.loan_report import tasks

        return tasks.extract(context, CONFIG)

    @task
    def transform(manifest: dict, **context) -> list[dict]:
        from library_integrations.pipelines.loan_report import tasks

        return tasks.transform(manifest, context, CONFIG)

    @task(map_index_template="{{ agency_label }}")
    def load(agency: dict, **context) -> dict:
        from library_integrations.pipelines.loan_report import tasks

        return tasks.load(agency, context)

    @task(trigger_rule="all_done", retries=0)
    def summary(agencies: list[dict], **context) -> dict:
        from library_integrations.pipelines.loan_report import tasks

        return tasks.summary(agencies, context)

    manifest = extract()
    agencies = transform(manifest)
    loads = load.expand(agency=agencies)
    loads >> summary(agencies)


bokbasen_loan_report()
