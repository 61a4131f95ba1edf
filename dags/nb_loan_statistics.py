"""
### NB monthly loan statistics (ISBN level)

Once a month, delivers to **Nasjonalbiblioteket** the number of loans per ISBN of every
public library of this library system that gave **both** consents (automatic delivery and
publication by NB): one CSV file and one JSON manifest per month, over SFTP.

**Runs are named by the month they report.** Run `scheduled__2026-03` (logical date and data
interval start: 1 March 00:00 Oslo) covers loans from 1 March 00:00 to 1 April 00:00 Europe/Oslo
(an hour short: the clocks go forward on 29 March); in UTC `[2026-02-28T23:00Z,
2026-03-31T22:00Z)`. It starts on day `NB_STATISTICS_RUN_DAY` (default the 5th) of the next
month at `NB_STATISTICS_RUN_HOUR` (06:00 Oslo), so late registrations are in. The same month
gives the same file whenever it runs.

#### Tasks
1. **select_libraries**: every library with its consent (`lms.nb_statistics_consent`);
   included: delivery *and* publication consent and a well-formed ISIL. Excluded, with the
   reason in the log and the manifest: `ingen_samtykke` (no consent recorded),
   `ikke_aktivert` (no delivery consent), `ikke_publiseringssamtykke`, `ugyldig_isil`.
2. **aggregate**: counts the month's loans **in the database** (GROUP BY library,
   manifestation, borrower category), normalises each distinct catalogued ISBN once with
   python-stdnum to ISBN-13, groups again per library x ISBN x title, ordningsord, year,
   skjønn/fag, barn/voksen, borrower category, and streams the sorted rows from `COPY` into
   the staged CSV. Loans of material without a valid ISBN (ISMN, ISSN, garbage, none) are
   counted per library as `uten_isbn`. Its log lists loans, rows, `uten_isbn` per library
   and the borrower category codes the mapping does not know, with their loans.
3. **check**: reads the staged CSV back (header, sha256, rows, only included libraries, valid
   ISBN-13s, labels) and checks, for every library, `sum(antall_utlan) + uten_isbn` against
   a fresh count of its loans in `lms.loan`. A file that fails is never delivered.
4. **deliver**: through the delivery ledger (`pipeline_state.delivery`): identical content
   already delivered -> nothing uploaded; new or changed content (late loans, corrections)
   -> the next version, `..._v2.csv` / `..._v2.json`; every version stays in the ledger.
   Uploads go to a temporary name and are renamed, CSV first, manifest last.
5. **summary**: the month's table per library and the ledger's versions of the month.

#### The files
`nb_utlan_<system>_<YYYY-MM>[_vN].csv`: RFC 4180 (CRLF), UTF-8, `;`, header
`maaned;isil;bibliotek;isbn;tittel;ordningsord;utgivelsesaar;skjonn_fag;barn_voksen;lanerkategori;antall_utlan`,
sorted on every column, byte for byte the same for the same data. The `.json` manifest holds
month, period, library system, version and the file it replaces, the CSV's name, sha256,
rows and bytes, per included library ISIL, name, `utlan`, `utlan_med_isbn`, `uten_isbn`,
`rader`, and the excluded libraries with their reason. Column names, delimiter and labels:
`include/config/nb_statistics_file.toml`. Borrower categories: local codes ->
`barn`/`voksen`/`bibliotek`/`institusjon`/`annet` in `include/config/nb_borrower_categories.toml`
(interlibrary loans are always `bibliotek`; people with no or an unknown code by age on the
loan date, 0-14 `barn`; no usable age `ukjent`).

#### Configuration
- Connections: `cicero_db` (library system; SELECT on `lms` and TEMPORARY on the
  database), `loan_reporting_db` (pipeline state: the delivery ledger), `nb_statistics_sftp`
  (sftp: host, port, login, password or key; extra `remote_dir`, `host_key` to pin NB's key,
  and optionally `max_attempts` (5), `max_total_seconds` (300), `backoff_base` (5)).
- Environment: `NB_STATISTICS_LIBRARY_SYSTEM` (**required**: the system's name for NB),
  `NB_STATISTICS_START_MONTH` (2026-01), `NB_STATISTICS_RUN_DAY` (5), `NB_STATISTICS_RUN_HOUR`
  (6), `NB_STATISTICS_TARGET` (`sftp` or `object_storage`), `NB_STATISTICS_TARGET_URL` (for
  `object_storage`), `NB_STATISTICS_REMOTE_DIR`, `NB_STATISTICS_TASK_RETRIES` (3),
  `NB_STATISTICS_RETRY_DELAY_SECONDS` (900), `NB_STATISTICS_CATCHUP`,
  `NB_STATISTICS_MAX_ACTIVE_RUNS`, `LIBRARY_INTEGRATIONS_STAGING_BASE`.
- Retries: transport faults (refused, dropped, timeouts) are retried inside **deliver** with
  the shared retry policy (backoff with jitter, bounded attempts and time); then the task
  fails as retryable and Airflow retries it (`NB_STATISTICS_TASK_RETRIES`, minutes apart). A
  refused login or a wrong host key fails at once, without retries.

#### Trigger, reruns and backfills
- **Trigger** with the proposed date ("now") delivers the **last complete month**. For a
  given month, set the logical date to its first day at 00:00. A month not yet over is refused.
- **Rerun by clearing the run** (or from **aggregate**): identical content is not uploaded
  again; late loans give a new version. Backfill: `airflow backfill create --dag-id
  nb_loan_statistics --from-date 2026-01-01 --to-date 2026-03-31` (dates read as Oslo).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from library_integrations.common.timetables import MonthTimetable
from library_integrations.pipelines.nb_statistics import settings

CONFIG = settings.load()

default_args = {
    "owner": "library-data-engineering",
    "retries": CONFIG.task_retries,
    "retry_delay": CONFIG.retry_delay,
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=2),
}


@dag(
    dag_id="nb_loan_statistics",
    schedule=MonthTimetable(run_day=CONFIG.run_day, run_hour=CONFIG.run_hour),
    start_date=pendulum.datetime(CONFIG.start_month.year, CONFIG.start_month.month, 1, tz="Europe/Oslo"),
    catchup=CONFIG.catchup,
    max_active_runs=CONFIG.max_active_runs,
    default_args=default_args,
    tags=["nasjonalbiblioteket", "loans", "statistics", "national-reporting"],
    doc_md=__doc__,
)
def nb_loan_statistics():
    @task
    def select_libraries(**context) -> dict:
        from library_integrations.pipelines.nb_statistics import tasks

        return tasks.select_libraries(context, CONFIG)

    @task
    def aggregate(selection: dict, **context) -> dict:
        from library_integrations.pipelines.nb_statistics import tasks

        return tasks.aggregate(selection, context, CONFIG)

    @task
    def check(staged: dict, **context) -> dict:
        from library_integrations.pipelines.nb_statistics import tasks

        return tasks.check(staged, context, CONFIG)

    @task
    def deliver(staged: dict, checked: dict, **context) -> dict:
        from library_integrations.pipelines.nb_statistics import tasks

        return tasks.deliver(staged, checked, context, CONFIG)

    @task(retries=0)
    def summary(staged: dict, delivered: dict, **context) -> list[dict]:
        from library_integrations.pipelines.nb_statistics import tasks

        return tasks.summary(staged, delivered, context)

    staged = aggregate(select_libraries())
    delivered = deliver(staged, check(staged))
    summary(staged, delivered)


nb_loan_statistics()
