"""The loan report's calendar: one cell per agency (ISIL) and report day, and what it means.

Plain data and functions (no Airflow, no database): :mod:`.sources` reads the facts, this
module decides each cell's status, :mod:`.pages` draws them.

A cell's status, from the delivery ledger first and Airflow's task instances second:

=============  =========================================================================
``accepted``   Bokbasen accepted the day's report
``resent``     accepted, after an earlier accepted report was replaced by a changed one
               (late-registered loans, a corrected library setting)
``rejected``   Bokbasen refused the report (HTTP 400/422): the report must be fixed
``failed``     the send failed (the API stayed unavailable), or the agency's ``load`` task
               failed before anything was sent (e.g. broken settings), or the day's run
               failed before reporting any agency (extract, transform)
``running``    a send is in progress, or the day's run is still going
``missing``    never reported: the day is over, its run is done, and nothing was sent
``waiting``    the day is not over yet, or its run has not come (yet)
``disabled``   nothing sent and the agency is disabled in the library system
=============  =========================================================================

>>> classify(LedgerCell("accepted", replaced=True), facts=None, due=True, enabled=True)
'resent'
>>> classify(None, facts=DayFacts(run_state="failed", failed_tasks={"NO-2000002": "load"}), due=True,
...          enabled=True, isil="NO-2000002")
'failed'
>>> classify(None, facts=DayFacts(run_state="success"), due=True, enabled=True)
'missing'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple

from library_integrations.common.oslo_time import OSLO

STATUSES = ("accepted", "resent", "rejected", "failed", "running", "missing", "waiting", "disabled")
LABELS = {
    "accepted": "accepted",
    "resent": "resent after a change",
    "rejected": "rejected",
    "failed": "failed",
    "running": "in progress",
    "missing": "never reported",
    "waiting": "not due yet",
    "disabled": "disabled, not sent",
}
PROBLEMS = ("failed", "rejected", "running")  # listed one by one under the calendar, with reasons
FINISHED_RUN_STATES = ("success", "failed")


@dataclass(frozen=True)
class Agency:
    """An agency of the calendar: from the ledger and, where readable, the library system."""

    isil: str
    name: str | None = None
    enabled: bool | None = None  # None: not known (the library system was not readable)

    @property
    def label(self) -> str:
        return f"{self.isil} {self.name}" if self.name else self.isil


class LedgerCell(NamedTuple):
    """One row of ``pipeline_state.submission`` for the calendar (a tuple: a year has 100 000 of them)."""

    status: str
    loan_count: int | None = None
    last_http_status: int | None = None
    last_message: str | None = None  # why it was rejected or failed (None for accepted rows)
    replaced: bool = False  # accepted after an earlier accepted report with another payload


@dataclass
class DayFacts:
    """What Airflow knows about one report day: its latest run and the tasks that did not succeed.

    ``failed_tasks`` maps an ISIL to the task that failed for it (``load``); ``"*"`` maps to a
    task that failed for every agency (``extract`` or ``transform``). ``running`` holds ISILs whose
    ``load`` is still queued or running.
    """

    run_id: str | None = None
    run_state: str | None = None
    failed_tasks: dict[str, str] = field(default_factory=dict)
    running: set[str] = field(default_factory=set)


def classify(
    cell: LedgerCell | None,
    *,
    facts: DayFacts | None,
    due: bool,
    enabled: bool | None,
    isil: str | None = None,
) -> str:
    """The status of one agency-day (see the module docstring)."""
    if cell is not None:
        if cell.status == "accepted":
            return "resent" if cell.replaced else "accepted"
        if cell.status in ("rejected", "failed"):
            return cell.status
        # pending / sent: a send is under way, or its process died before recording the answer.
        if facts is not None and facts.run_state not in FINISHED_RUN_STATES and facts.run_state is not None:
            return "running"
        return "failed"
    if facts is not None and facts.run_state is not None:
        if (isil is not None and isil in facts.failed_tasks) or "*" in facts.failed_tasks:
            return "failed"
        if (isil is not None and isil in facts.running) or facts.run_state not in FINISHED_RUN_STATES:
            return "running"
    if enabled is False:
        return "disabled"
    return "missing" if due else "waiting"


def last_complete_day(now: datetime) -> date:
    """The last Oslo calendar day that is over at ``now``: yesterday in Oslo.

    >>> from datetime import UTC
    >>> last_complete_day(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))  # 00:30 on the 25th in Oslo
    datetime.date(2026, 11, 24)
    """
    return now.astimezone(OSLO).date() - timedelta(days=1)


def days_between(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end``, both included.

    >>> days_between(date(2026, 3, 28), date(2026, 3, 30))
    [datetime.date(2026, 3, 28), datetime.date(2026, 3, 29), datetime.date(2026, 3, 30)]
    """
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


class Cell(NamedTuple):
    """A drawn cell: its status and a one-line description for the tooltip."""

    status: str
    detail: str
    ledger: LedgerCell | None = None


@dataclass
class Calendar:
    """Agencies x days with a :class:`Cell` each, and counts per status."""

    start: date
    end: date
    agencies: list[Agency]
    days: list[date]
    cells: dict[tuple[str, date], Cell]
    runs: dict[date, DayFacts]
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for cell in self.cells.values():
            out[cell.status] += 1
        return out

    def problems(self) -> list[tuple[Agency, date, Cell]]:
        """Failed, rejected and unfinished cells, newest day first."""
        by_isil = {a.isil: a for a in self.agencies}
        rows = [(by_isil[isil], day, cell) for (isil, day), cell in self.cells.items() if cell.status in PROBLEMS]
        rows.sort(key=lambda r: (-r[1].toordinal(), r[0].isil))
        return rows

    def missing_by_agency(self) -> list[tuple[Agency, int]]:
        """Agencies with days never reported, and how many."""
        counts: dict[str, int] = {}
        for (isil, _), cell in self.cells.items():
            if cell.status == "missing":
                counts[isil] = counts.get(isil, 0) + 1
        return [(a, counts[a.isil]) for a in self.agencies if a.isil in counts]


def describe(status: str, cell: LedgerCell | None, facts: DayFacts | None, isil: str) -> str:
    """One line for a cell's tooltip: the status and what the ledger or Airflow says.

    >>> describe("accepted", LedgerCell("accepted", loan_count=12, last_http_status=204), None, "NO-1")
    'accepted: 12 loans, HTTP 204'
    >>> describe("failed", None, DayFacts(run_state="failed", failed_tasks={"NO-1": "load"}), "NO-1")
    'failed: not sent, the load task failed (see its log)'
    """
    label = LABELS[status]
    if cell is not None:
        parts = []
        if cell.loan_count is not None:
            parts.append(f"{cell.loan_count} loans")
        if cell.last_http_status is not None:
            parts.append(f"HTTP {cell.last_http_status}")
        if status == "resent":
            parts.append("replaces an earlier accepted report")
        if cell.status in ("pending", "sent"):
            parts.append("a send started but no answer was recorded; the next run sends again")
        elif status in ("rejected", "failed") and cell.last_message:
            parts.append(cell.last_message)
        return f"{label}: {', '.join(parts)}" if parts else label
    if facts is not None and status == "failed":
        task = facts.failed_tasks.get(isil) or facts.failed_tasks.get("*")
        if task == "load":
            return f"{label}: not sent, the load task failed (see its log)"
        return f"{label}: the run failed in {task or 'a task'} before reporting any agency"
    if status == "running":
        return f"{label}: run {facts.run_id if facts else '?'} is {facts.run_state if facts else '?'}"
    if status == "missing":
        return f"{label}: no report in the ledger" + (f" (run {facts.run_id} did not send one)" if facts else "")
    return label


def build(
    *,
    start: date,
    end: date,
    agencies: list[Agency],
    ledger: dict[tuple[str, date], LedgerCell],
    runs: dict[date, DayFacts],
    last_complete: date,
    notes: list[str] | None = None,
) -> Calendar:
    """Decide every cell of the calendar from the ledger cells and Airflow's per-day facts."""
    days = days_between(start, end)
    # Per day once: its facts and whether it is due (yesterday once its run exists: the run
    # starts a grace period after midnight).
    per_day = [(day, runs.get(day), day < last_complete or (day == last_complete and day in runs)) for day in days]
    cells: dict[tuple[str, date], Cell] = {}
    for agency in agencies:
        isil = agency.isil
        for day, facts, due in per_day:
            entry = ledger.get((isil, day))
            if entry is not None and entry.status == "accepted" and not entry.replaced:  # the common case, fast
                cells[(isil, day)] = Cell("accepted", f"accepted: {entry.loan_count} loans", entry)
                continue
            status = classify(entry, facts=facts, due=due, enabled=agency.enabled, isil=isil)
            cells[(isil, day)] = Cell(status, describe(status, entry, facts, isil), entry)
    return Calendar(start=start, end=end, agencies=agencies, days=days, cells=cells, runs=runs,
                    notes=list(notes or []))

MAX_DAYS = 366
DEFAULT_DAYS = 35


def period(start: date | None, end: date | None, last_complete: date) -> tuple[date, date, list[str]]:
    """The period to show: by default the 5 weeks up to the last complete day; at most a year.

    >>> period(None, None, date(2026, 11, 24))[:2]
    (datetime.date(2026, 10, 21), datetime.date(2026, 11, 24))
    >>> period(date(2025, 1, 1), date(2026, 11, 24), date(2026, 11, 24))
    (datetime.date(2025, 11, 24), datetime.date(2026, 11, 24), ['Showing the last 366 days of the period (at most 366).'])
    """
    notes = []
    end = end or last_complete
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
        notes.append(f"Showing the last {MAX_DAYS} days of the period (at most {MAX_DAYS}).")
    return start, end, notes
