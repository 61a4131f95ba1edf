"""What the operations view reads: the pipeline state, the library system and Airflow's metadata.

- the pipeline state (connection ``loan_reporting_db``): the loan report's ledger in one query
  per page (``include/sql/operations/loan_calendar.sql``), file deliveries and sync cursors;
- the library system (connection ``cicero_db``), where readable: the agencies and their
  Bokbasen settings, for names and for agencies that never reported;
- Airflow's metadata database (the API server's own SQLAlchemy session): the runs of each
  report day and the task instances that did not succeed, and the ``load`` task instance
  behind a cell (:func:`find_load_log`).

Read only: nothing here writes, migrates or imports a pipeline.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from library_integrations import SQL_DIR
from library_integrations.common.oslo_time import oslo_date, oslo_day_window
from library_integrations.common.sql import SqlFiles
from library_integrations.operations.calendar import Agency, DayFacts, LedgerCell

log = logging.getLogger(__name__)

LOAN_REPORT_DAG_ID = "bokbasen_loan_report"
LOAD_TASK_ID = "load"
BEFORE_LOAD_TASKS = ("extract", "transform")  # a failure here reports no agency that day
OPERATIONS_SQL = SqlFiles(SQL_DIR / "operations")
CONNECT_TIMEOUT = 5  # seconds: a page must not hang on a database that is down

FAILED_STATES = ("failed", "upstream_failed")
UNFINISHED_STATES = ("scheduled", "queued", "running", "up_for_retry", "up_for_reschedule", "deferred",
                     "restarting")


# ----------------------------------------------------------------------------- agency filter
@dataclass(frozen=True)
class AgencyFilter:
    """Agencies whose ISIL or library name contains any of the terms (case-insensitive).

    >>> f = AgencyFilter.parse(" no-2000001, Bergen ")
    >>> f.terms, f.matches(Agency("NO-2000001")), f.matches(Agency("NO-2000009", "Bergen bibliotek"))
    (('no-2000001', 'bergen'), True, True)
    >>> f.matches(Agency("NO-2000003", "Oslo")), AgencyFilter.parse("").matches(Agency("NO-2000003"))
    (False, True)
    """

    terms: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> AgencyFilter:
        return cls(tuple(t.lower() for t in re.split(r"[,;\s]+", (text or "").strip()) if t))

    def matches(self, agency: Agency) -> bool:
        if not self.terms:
            return True
        haystack = f"{agency.isil} {agency.name or ''}".lower()
        return any(term in haystack for term in self.terms)

    def sql_params(self, named: list[Agency]) -> dict[str, Any]:
        """Parameters of ``loan_calendar.sql``: ISIL patterns, plus ISILs whose name matched."""
        patterns = ["%" + re.sub(r"([\\%_])", r"\\\1", term) + "%" for term in self.terms]
        return {"all_agencies": not self.terms, "patterns": patterns,
                "isils": [a.isil for a in named if self.matches(a)]}


# ----------------------------------------------------------------------------- pipeline state
def read_ledger(
    state_dsn: str, start: date, end: date, agency_filter: AgencyFilter, named: list[Agency]
) -> tuple[list[str], dict[tuple[str, date], LedgerCell]]:
    """The ISILs the ledger knows (matching the filter) and its cells in ``[start, end]``: one query."""
    params = {"start": start, "end": end, **agency_filter.sql_params(named)}
    isils: set[str] = set()
    cells: dict[tuple[str, date], LedgerCell] = {}
    with psycopg.connect(state_dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
        conn.read_only = True
        for isil, day, *fields in conn.execute(OPERATIONS_SQL["loan_calendar"], params):
            isils.add(isil)
            if day is not None:
                cells[(isil, day)] = LedgerCell(*fields)
    return sorted(isils), cells


def read_deliveries(state_dsn: str, *, keys: int = 12) -> list[dict[str, Any]]:
    """Every version of the newest ``keys`` delivery keys per pipeline (``pipeline_state.delivery``)."""
    return _read_state(state_dsn, "deliveries", {"keys": keys})


def read_cursors(state_dsn: str) -> list[dict[str, Any]]:
    """Every sync cursor with when it last changed and was last stored (``pipeline_state.cursor``)."""
    return _read_state(state_dsn, "cursors", {})


def _read_state(state_dsn: str, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with psycopg.connect(state_dsn, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT) as conn:
        conn.read_only = True
        return conn.execute(OPERATIONS_SQL[query], params).fetchall()


# ----------------------------------------------------------------------------- library system
def read_library_agencies(library_dsn: str) -> list[Agency]:
    """The agencies with Bokbasen settings in the library system (enabled or not), by ISIL."""
    from library_integrations.library_system.loans import read_agencies

    with psycopg.connect(library_dsn, connect_timeout=CONNECT_TIMEOUT) as conn:
        conn.read_only = True
        settings = read_agencies(conn)
    return [Agency(s.isil, s.library_name or s.agency_name, bool(s.enabled)) for s in settings if s.isil]


def merge_agencies(ledger_isils: list[str], library: list[Agency] | None, agency_filter: AgencyFilter) -> list[Agency]:
    """The calendar's rows: every ISIL of the ledger, and the library system's enabled agencies.

    >>> lib = [Agency("NO-2", "Bergen", True), Agency("NO-3", "Off", False)]
    >>> [a.label for a in merge_agencies(["NO-1", "NO-3"], lib, AgencyFilter())]
    ['NO-1', 'NO-2 Bergen', 'NO-3 Off']
    """
    known = {a.isil: a for a in library or []}
    rows = {isil: known.get(isil, Agency(isil)) for isil in ledger_isils}
    for agency in library or []:
        if agency.enabled and agency.isil not in rows and agency_filter.matches(agency):
            rows[agency.isil] = agency
    return [rows[isil] for isil in sorted(rows)]


# ----------------------------------------------------------------------------- Airflow metadata
def _isil_of(rendered_map_index: str | None) -> str | None:
    """The ISIL a ``load`` task instance is named by (``"<ISIL> <library name>"``)."""
    return rendered_map_index.split(" ", 1)[0] if rendered_map_index else None


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _recency(*moments: datetime | None) -> tuple:
    """A sort key: the first known moment (a run's start, else when it was due), oldest first."""
    known = [m for m in moments if m is not None]
    return (1, known[0]) if known else (0,)


def _window(start: date, end: date) -> tuple[datetime, datetime]:
    return oslo_day_window(start)[0], oslo_day_window(end)[1]


def read_day_facts(session, start: date, end: date, *, dag_id: str = LOAN_REPORT_DAG_ID) -> dict[date, DayFacts]:
    """Per report day in ``[start, end]``: the latest run and its tasks that did not succeed."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import and_, select

    lo, hi = _window(start, end)
    in_period = and_(DagRun.dag_id == dag_id, DagRun.data_interval_start >= lo, DagRun.data_interval_start < hi)
    latest: dict[date, tuple[tuple, str, str | None]] = {}
    for run_id, state, interval_start, run_after, started in session.execute(
        select(DagRun.run_id, DagRun.state, DagRun.data_interval_start, DagRun.run_after, DagRun.start_date)
        .where(in_period)
    ):
        day = oslo_date(interval_start)
        when = _recency(started, run_after)
        if day not in latest or when >= latest[day][0]:
            latest[day] = (when, run_id, _state(state))
    facts = {day: DayFacts(run_id=run_id, run_state=state) for day, (_, run_id, state) in latest.items()}
    by_run = {f.run_id: f for f in facts.values()}
    if not by_run:
        return facts
    for run_id, task_id, rendered, state in session.execute(
        select(TaskInstance.run_id, TaskInstance.task_id, TaskInstance.rendered_map_index, TaskInstance.state)
        .join(DagRun, and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id))
        .where(in_period, TaskInstance.task_id.in_([LOAD_TASK_ID, *BEFORE_LOAD_TASKS]),
               TaskInstance.state.in_([*FAILED_STATES, *UNFINISHED_STATES]))
    ):
        day_facts = by_run.get(run_id)
        if day_facts is None:  # an older run of a day that was run again
            continue
        state = _state(state)
        if task_id in BEFORE_LOAD_TASKS:
            if state in FAILED_STATES:
                day_facts.failed_tasks.setdefault("*", task_id)
            continue
        isil = _isil_of(rendered)
        if isil is None:
            continue
        if state in FAILED_STATES:
            day_facts.failed_tasks[isil] = task_id
        else:
            day_facts.running.add(isil)
    return facts


@dataclass(frozen=True)
class LogTarget:
    """The task instance behind a cell: its run, task and map index (``None``: not mapped)."""

    run_id: str
    task_id: str | None = None
    map_index: int | None = None


def find_load_log(
    session,
    isil: str,
    day: date,
    *,
    attempted_at: datetime | None = None,
    dag_id: str = LOAN_REPORT_DAG_ID,
) -> LogTarget | None:
    """The ``load`` task instance that reported ``isil`` for ``day``, or what stands for it.

    Among the day's runs (any run id: ``scheduled__<day>``, ``manual__...``, a ``dag.test``),
    the load task named by the ISIL whose run time covers the ledger's last attempt
    (``attempted_at``), else the newest one. Without one: the task that failed before any load
    (extract, transform), else the day's newest run; ``None`` when no run reported that day.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import and_, select

    lo, hi = _window(day, day)
    on_day = and_(DagRun.dag_id == dag_id, DagRun.data_interval_start >= lo, DagRun.data_interval_start < hi)
    joined = and_(DagRun.dag_id == TaskInstance.dag_id, DagRun.run_id == TaskInstance.run_id)
    loads = session.execute(
        select(TaskInstance.run_id, TaskInstance.map_index, TaskInstance.start_date, TaskInstance.end_date,
               DagRun.start_date, DagRun.run_after)
        .join(DagRun, joined)
        .where(on_day, TaskInstance.task_id == LOAD_TASK_ID,
               (TaskInstance.rendered_map_index == isil)
               | TaskInstance.rendered_map_index.startswith(isil + " ", autoescape=True))
    ).all()
    if loads:
        def newest(row) -> tuple:  # the newest run, then the newest try
            return _recency(row[4], row[5]), _recency(row[2])

        if attempted_at is not None:
            slack = timedelta(seconds=5)
            covering = [r for r in loads if r[2] is not None and r[2] - slack <= attempted_at
                        and (r[3] is None or attempted_at <= r[3] + slack)]
            if covering:
                row = max(covering, key=newest)
                return LogTarget(row[0], LOAD_TASK_ID, row[1])
        row = max(loads, key=newest)
        return LogTarget(row[0], LOAD_TASK_ID, row[1])
    runs = session.execute(
        select(DagRun.run_id, DagRun.start_date, DagRun.run_after).where(on_day)
    ).all()
    if not runs:
        return None
    run_id = max(runs, key=lambda r: _recency(r[1], r[2]))[0]
    failed = session.execute(
        select(TaskInstance.task_id).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id,
                                           TaskInstance.task_id.in_(BEFORE_LOAD_TASKS),
                                           TaskInstance.state.in_(FAILED_STATES))
    ).scalars().all()
    first_failed = next((t for t in BEFORE_LOAD_TASKS if t in failed), None)
    return LogTarget(run_id, first_failed)
