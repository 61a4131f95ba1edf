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


class ReportDayTimetable(Timetable):
    """One run per calendar day in ``timezone``; created ``grace`` after the day ends."""

    periodic = True
    run_ordering = ("logical_date", "run_after")

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

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ReportDayTimetable)
            and self.grace == other.grace
            and self.timezone == other.timezone
        )

    def __hash__(self) -> int:
        return hash((self.grace, self.timezone))

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

    def infer_manual_data_interval(self, *, run_after: pendulum.DateTime) -> DataInterval:
        """The data interval of a manual run (UI trigger, API, ``dag.test``) with this logical date.

        Airflow passes the chosen logical date here; see :meth:`manual_report_day`.
        """
        return self.interval_for(self.manual_report_day(run_after))

    def generate_run_id(self, *, run_type, run_after, data_interval: DataInterval | None, **extra) -> str:
        """``scheduled__2026-11-24``: the run id names the day reported, not when it ran.

        >>> from airflow.utils.types import DagRunType
        >>> tt = ReportDayTimetable()
        >>> tt.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=None,
        ...                    data_interval=tt.interval_for(date(2026, 11, 24)))
        'scheduled__2026-11-24'
        """
        if data_interval is None:
            return super().generate_run_id(run_type=run_type, run_after=run_after, data_interval=None, **extra)
        return run_type.generate_run_id(suffix=self.report_day(data_interval.start).isoformat())

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
