"""The report-day timetable: one run per Oslo calendar day, labelled by that day.

A run's data interval is exactly the Oslo calendar day it reports, ``[D 00:00, D+1 00:00)``
in Europe/Oslo (23 or 25 hours on DST days), and its logical date is the start of that
day, so the Airflow UI lists runs by the day they report. The run is created ``grace``
after the day ends (late-synced loans from self-service machines have then arrived);
past days in a catchup or a backfill run at once.

Why not a cron string: Airflow 3 turns ``"30 2 * * *"`` into a ``CronTriggerTimetable``
whose logical date is the *run* time (the next day), and ``CronDataIntervalTimetable``
cannot start a run later than the end of its interval.

Run ids name the day: ``scheduled__2026-11-24`` (or ``manual__``/``backfill__``) is the
run that reports 24 November, whenever it ran. A second run for the same day is not
created by a second trigger: clear the first run (or one agency's ``load``) instead.

Manual runs: a logical date at midnight (Oslo, or UTC when the UI shows UTC) names the day
to report; any other time, such as the "now" the Trigger button proposes, reports the last
complete day before it. Clicking Trigger therefore reports yesterday (Oslo).

Backfill bounds: ``airflow backfill create --from-date 2026-01-01 --to-date 2026-01-31``
parses the dates in the deployment's ``default_timezone`` (UTC by default), where
"2026-01-01" would be 01:00 in Oslo and miss the first day. As Airflow does for its
partitioned timetables, the wall-clock reading of a bound is re-read as Oslo time, so
those arguments report January 1 to 31 in either configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable

OSLO = "Europe/Oslo"


def _midnight(day: date, tz: str) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, tz=tz)


def _wall_clock_in(moment: datetime, tz: str) -> pendulum.DateTime:
    """The same year-month-day hour:minute reading, in ``tz``."""
    return pendulum.datetime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, tz=tz
    )


class CalendarPeriodTimetable(Timetable):
    """One run per calendar period (a day, a month) in ``timezone``; what both timetables share.

    A subclass gives ``serialize``, ``interval_for(period)``, ``period_of(moment)`` (the period
    a moment falls in), ``manual_period(moment)`` (the period a manual run with that logical
    date reports) and ``run_id_suffix(period)``. Equality and hash follow ``serialize()``.
    """

    periodic = True
    run_ordering = ("logical_date", "run_after")
    timezone: str

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.serialize() == self.serialize()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.serialize().items()))))

    def interval_for(self, period: date) -> DataInterval:
        raise NotImplementedError

    def period_of(self, moment: datetime) -> date:
        raise NotImplementedError

    def manual_period(self, moment: datetime) -> date:
        raise NotImplementedError

    def run_id_suffix(self, period: date) -> str:
        raise NotImplementedError

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        """The data interval of a manual run (UI trigger, API, ``dag.test``) with this logical date.

        Airflow passes the chosen logical date here; see ``manual_period``.
        """
        return self.interval_for(self.manual_period(run_after))

    def generate_run_id(self, *, run_type, run_after, data_interval: DataInterval | None, **extra) -> str:
        """``scheduled__2026-11-24``, ``scheduled__2026-03``: the run id names the period reported, not when it ran.

        >>> from airflow.utils.types import DagRunType
        >>> day = ReportDayTimetable()
        >>> day.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=None,
        ...                     data_interval=day.interval_for(date(2026, 11, 24)))
        'scheduled__2026-11-24'
        >>> month = MonthTimetable()
        >>> month.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=None,
        ...                       data_interval=month.interval_for(date(2026, 3, 1)))
        'scheduled__2026-03'
        """
        if data_interval is None:
            return super().generate_run_id(run_type=run_type, run_after=run_after, data_interval=None, **extra)
        return run_type.generate_run_id(suffix=self.run_id_suffix(self.period_of(data_interval.start)))


class ReportDayTimetable(CalendarPeriodTimetable):
    """One run per calendar day in ``timezone``; created ``grace`` after the day ends."""

    def __init__(self, grace: timedelta = timedelta(hours=2), timezone: str = OSLO) -> None:
        self.grace = grace
        self.timezone = timezone
        hours = grace.total_seconds() / 3600
        self.description = f"Each {timezone} calendar day, reported {hours:g} h after it ends"

    # ------------------------------------------------------------------ serialisation
    def serialize(self) -> dict[str, Any]:
        return {"grace_seconds": self.grace.total_seconds(), "timezone": self.timezone}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ReportDayTimetable:
        return cls(grace=timedelta(seconds=data["grace_seconds"]), timezone=data["timezone"])

    @property
    def summary(self) -> str:
        return f"daily ({self.timezone}) +{self.grace}"

    # ------------------------------------------------------------------ scheduling
    def interval_for(self, day: date) -> DataInterval:
        return DataInterval(_midnight(day, self.timezone), _midnight(day + timedelta(days=1), self.timezone))

    def report_day(self, moment: datetime) -> date:
        """The calendar day (in the timetable's zone) that ``moment`` falls on."""
        return pendulum.instance(moment).in_timezone(self.timezone).date()

    def manual_report_day(self, moment: datetime) -> date:
        """The day a manual run with logical date ``moment`` reports.

        Midnight names the day (read in the timetable's zone, or as the UTC wall clock the
        UI shows by default); any other time means the last complete day before it.

        >>> tt = ReportDayTimetable()
        >>> tt.manual_report_day(pendulum.datetime(2026, 3, 29, tz="Europe/Oslo"))
        datetime.date(2026, 3, 29)
        >>> tt.manual_report_day(pendulum.datetime(2026, 3, 29, tz="UTC"))
        datetime.date(2026, 3, 29)
        >>> tt.manual_report_day(pendulum.datetime(2026, 11, 25, 14, 23, tz="UTC"))  # "now" in the form
        datetime.date(2026, 11, 24)
        """
        local = pendulum.instance(moment).in_timezone(self.timezone)
        utc = pendulum.instance(moment).in_timezone("UTC")
        if local.time() == time.min:
            day = local
        elif utc.time() == time.min:
            day = utc
        else:
            day = local.subtract(days=1)
        return date(day.year, day.month, day.day)

    def period_of(self, moment: datetime) -> date:
        return self.report_day(moment)

    def manual_period(self, moment: datetime) -> date:
        return self.manual_report_day(moment)

    def run_id_suffix(self, period: date) -> str:
        return period.isoformat()

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            day = self.report_day(last_automated_data_interval.end)
        elif restriction.earliest is None:
            return None
        else:
            earliest = _wall_clock_in(restriction.earliest, self.timezone)
            day = earliest.date()
            if earliest.time() != time.min:
                day += timedelta(days=1)
            if not restriction.catchup:
                latest_complete = self.report_day(pendulum.now("UTC") - self.grace) - timedelta(days=1)
                day = max(day, latest_complete)
        interval = self.interval_for(day)
        if restriction.latest is not None and interval.start > _wall_clock_in(restriction.latest, self.timezone):
            return None
        return DagRunInfo(run_after=interval.end + self.grace, data_interval=interval)


def _month_start(year: int, month: int, tz: str) -> pendulum.DateTime:
    """Midnight on the first of ``year-month`` in ``tz`` (month may run past 12 or below 1)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return pendulum.datetime(year, month, 1, tz=tz)


class MonthTimetable(CalendarPeriodTimetable):
    """One run per calendar month in ``timezone``; created on day ``run_day`` of the next month.

    A run's data interval is exactly the month it reports, ``[M-01 00:00, M+1-01 00:00)`` in
    Europe/Oslo (so it holds the 23-hour day of March and the 25-hour day of October), and
    its logical date is the start of that month. The run is created on day ``run_day`` of
    the following month at ``run_hour`` (Oslo wall clock; default the 5th at 06:00), when
    late registrations are in; past months in a catchup or a backfill run at once.

    Run ids name the month: ``scheduled__2026-03`` (or ``manual__``/``backfill__``) is the run
    that reports March 2026, whenever it ran.

    Manual runs: a logical date at midnight on the first of a month (Oslo, or UTC as the UI
    shows by default) names that month; any other moment, such as the "now" the Trigger
    button proposes, reports the last complete month before it.

    Backfill bounds are read as Oslo wall-clock times, as :class:`ReportDayTimetable` does:
    ``--from-date 2026-01-01 --to-date 2026-03-31`` reports January to March in a UTC or an
    Oslo deployment. A month is in the range when its first day is.
    """

    def __init__(self, run_day: int = 5, run_hour: int = 6, timezone: str = OSLO) -> None:
        if not 1 <= run_day <= 28:
            raise ValueError(f"run_day must be a day every month has (1-28), not {run_day}")
        if not 0 <= run_hour <= 23:
            raise ValueError(f"run_hour must be 0-23, not {run_hour}")
        self.run_day = run_day
        self.run_hour = run_hour
        self.timezone = timezone
        self.description = (f"Each {timezone} calendar month, reported on day {run_day} of the next month "
                            f"at {run_hour:02d}:00")

    # ------------------------------------------------------------------ serialisation
    def serialize(self) -> dict[str, Any]:
        return {"run_day": self.run_day, "run_hour": self.run_hour, "timezone": self.timezone}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MonthTimetable:
        return cls(run_day=data["run_day"], run_hour=data["run_hour"], timezone=data["timezone"])

    @property
    def summary(self) -> str:
        return f"monthly ({self.timezone}) on day {self.run_day} {self.run_hour:02d}:00"

    # ------------------------------------------------------------------ scheduling
    def interval_for(self, month: date) -> DataInterval:
        """The month holding ``month`` (any day of it), as an Oslo-local interval."""
        return DataInterval(_month_start(month.year, month.month, self.timezone),
                            _month_start(month.year, month.month + 1, self.timezone))

    def report_month(self, moment: datetime) -> date:
        """The first day of the calendar month (in the timetable's zone) that ``moment`` falls in."""
        local = pendulum.instance(moment).in_timezone(self.timezone)
        return date(local.year, local.month, 1)

    def run_after_for(self, interval: DataInterval) -> pendulum.DateTime:
        """When the run of ``interval`` is due: day ``run_day`` of the next month, ``run_hour`` o'clock."""
        end = pendulum.instance(interval.end).in_timezone(self.timezone)
        return pendulum.datetime(end.year, end.month, self.run_day, self.run_hour, tz=self.timezone)

    def manual_report_month(self, moment: datetime) -> date:
        """The month a manual run with logical date ``moment`` reports (its first day).

        >>> tt = MonthTimetable()
        >>> tt.manual_report_month(pendulum.datetime(2026, 3, 1, tz="Europe/Oslo"))
        datetime.date(2026, 3, 1)
        >>> tt.manual_report_month(pendulum.datetime(2026, 3, 1, tz="UTC"))
        datetime.date(2026, 3, 1)
        >>> tt.manual_report_month(pendulum.datetime(2026, 4, 3, 14, 23, tz="UTC"))  # "now" in the form
        datetime.date(2026, 3, 1)
        """
        local = pendulum.instance(moment).in_timezone(self.timezone)
        utc = pendulum.instance(moment).in_timezone("UTC")
        if local.day == 1 and local.time() == time.min:
            return date(local.year, local.month, 1)
        if utc.day == 1 and utc.time() == time.min:
            return date(utc.year, utc.month, 1)
        previous = _month_start(local.year, local.month - 1, self.timezone)
        return date(previous.year, previous.month, 1)

    def period_of(self, moment: datetime) -> date:
        return self.report_month(moment)

    def manual_period(self, moment: datetime) -> date:
        return self.manual_report_month(moment)

    def run_id_suffix(self, period: date) -> str:
        return period.strftime("%Y-%m")

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            month = self.report_month(last_automated_data_interval.end)
        elif restriction.earliest is None:
            return None
        else:
            earliest = _wall_clock_in(restriction.earliest, self.timezone)
            start = _month_start(earliest.year, earliest.month, self.timezone)
            if earliest != start:
                start = _month_start(earliest.year, earliest.month + 1, self.timezone)
            month = date(start.year, start.month, 1)
            if not restriction.catchup:
                now = pendulum.now(self.timezone)
                latest = _month_start(now.year, now.month - 1, self.timezone)
                if now < self.run_after_for(self.interval_for(latest)):
                    latest = _month_start(now.year, now.month - 2, self.timezone)
                month = max(month, date(latest.year, latest.month, 1))
        interval = self.interval_for(month)
        if restriction.latest is not None and interval.start > _wall_clock_in(restriction.latest, self.timezone):
            return None
        return DagRunInfo(run_after=self.run_after_for(interval), data_interval=interval)


class ManualRunMismatch(ValueError):
    """A manual run whose logical date asks for another period than its data interval holds."""


def period_of_run(context, period_of: Callable[[datetime], date], unit: str) -> date:
    """The period a run reports: ``period_of(data interval start)`` (the timetable's day or month).

    A manual run's logical date may be any time (the Trigger form proposes "now"); its data
    interval is the period it reports (the timetable's ``manual_period``). Airflow 3.3's
    ``airflow dags trigger --logical-date`` infers the interval from the trigger time instead
    of the logical date; such a run would report another period than asked, so it fails here,
    before anything is read, saying how to report that period (``unit``: "day", "month").
    """
    start = context.get("data_interval_start")
    if start is None:
        return period_of(context["logical_date"])
    period = period_of(start)
    run, logical, dag = context.get("dag_run"), context.get("logical_date"), context.get("dag")
    manual_period = getattr(getattr(dag, "timetable", None), "manual_period", None)
    run_type = getattr(run, "run_type", None)
    if logical is not None and manual_period and str(getattr(run_type, "value", run_type)) == "manual":
        asked = manual_period(logical)
        if asked != period:
            raise ManualRunMismatch(
                f"This manual run's logical date {logical.isoformat()} asks for the {unit} {asked}, but its data "
                f"interval is the {unit} {period} (airflow dags trigger --logical-date in Airflow 3.3 takes the "
                f"interval from the trigger time). Nothing was read or sent. To report {asked}: airflow backfill "
                f"create --dag-id {dag.dag_id} --from-date {asked} --to-date {asked} (with a running scheduler), "
                f"or the Trigger form with that logical date."
            )
    return period
