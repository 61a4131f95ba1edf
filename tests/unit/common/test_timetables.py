"""The report-day timetable: runs labelled by the Oslo day they report, DST-correct."""

from datetime import date, timedelta

import pendulum
from airflow.timetables.base import DataInterval, TimeRestriction

from library_integrations.common.timetables import ReportDayTimetable

TT = ReportDayTimetable(grace=timedelta(hours=2))


def _days(earliest, latest, catchup=True, tt=TT):
    out, last = [], None
    restriction = TimeRestriction(earliest, latest, catchup)
    while (info := tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)) is not None:
        out.append(info)
        last = info.data_interval
        if len(out) > 400:
            break
    return out


def test_logical_date_is_the_oslo_midnight_of_the_reported_day():
    infos = _days(pendulum.datetime(2026, 11, 20, tz="Europe/Oslo"), pendulum.datetime(2026, 11, 21, tz="UTC"))
    first = infos[0]
    assert first.logical_date == pendulum.datetime(2026, 11, 20, tz="Europe/Oslo")
    assert first.data_interval.end == pendulum.datetime(2026, 11, 21, tz="Europe/Oslo")
    assert first.run_after == pendulum.datetime(2026, 11, 21, 2, tz="Europe/Oslo")


def test_dst_days_are_23_and_25_hours():
    spring = TT.interval_for(date(2026, 3, 29))
    autumn = TT.interval_for(date(2026, 10, 25))
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)


def test_backfill_bounds_in_utc_report_the_whole_month():
    """`airflow backfill create --from-date 2026-01-01 --to-date 2026-01-31` with UTC default."""
    infos = _days(pendulum.datetime(2026, 1, 1, tz="UTC"), pendulum.datetime(2026, 1, 31, tz="UTC"))
    days = [TT.report_day(i.logical_date) for i in infos]
    assert days[0] == date(2026, 1, 1) and days[-1] == date(2026, 1, 31) and len(days) == 31


def test_backfill_bounds_in_oslo_report_the_whole_month():
    infos = _days(pendulum.datetime(2026, 1, 1, tz="Europe/Oslo"), pendulum.datetime(2026, 1, 31, tz="Europe/Oslo"))
    days = [TT.report_day(i.logical_date) for i in infos]
    assert days[0] == date(2026, 1, 1) and days[-1] == date(2026, 1, 31) and len(days) == 31


def test_start_date_stored_in_utc_starts_on_the_configured_oslo_day():
    start = pendulum.datetime(2026, 3, 1, tz="Europe/Oslo").in_timezone("UTC")  # 2026-02-28T23:00Z
    infos = _days(start, pendulum.datetime(2026, 3, 3, tz="UTC"))
    assert [TT.report_day(i.logical_date) for i in infos] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]


def test_consecutive_runs_tile_the_calendar_across_dst():
    infos = _days(pendulum.datetime(2026, 3, 27, tz="UTC"), pendulum.datetime(2026, 3, 31, tz="UTC"))
    for a, b in zip(infos, infos[1:], strict=False):
        assert a.data_interval.end == b.data_interval.start
    assert [TT.report_day(i.logical_date).day for i in infos] == [27, 28, 29, 30, 31]


def test_manual_run_at_midnight_reports_that_day():
    midnight = pendulum.datetime(2026, 3, 29, tz="Europe/Oslo")
    assert TT.infer_manual_data_interval(run_after=midnight) == TT.interval_for(date(2026, 3, 29))
    # The UI in its default UTC: the date picker's 2026-03-29 00:00 UTC is 01:00 in Oslo.
    utc_midnight = pendulum.datetime(2026, 3, 29, tz="UTC")
    assert TT.infer_manual_data_interval(run_after=utc_midnight) == TT.interval_for(date(2026, 3, 29))


def test_trigger_now_reports_the_last_complete_oslo_day():
    # The Trigger form proposes "now": the run reports yesterday (Oslo), a day that is over.
    now = pendulum.datetime(2026, 11, 25, 14, 23, 5, tz="UTC")
    assert TT.infer_manual_data_interval(run_after=now) == TT.interval_for(date(2026, 11, 24))
    # 00:30 on 21 November in Oslo (still 20 November in UTC): the last complete Oslo day is the 20th.
    late = pendulum.datetime(2026, 11, 21, 0, 30, tz="Europe/Oslo")
    assert TT.infer_manual_data_interval(run_after=late) == TT.interval_for(date(2026, 11, 20))


def test_run_ids_name_the_reported_day():
    from airflow.utils.types import DagRunType

    interval = TT.interval_for(date(2026, 11, 24))
    for run_type, prefix in ((DagRunType.SCHEDULED, "scheduled"), (DagRunType.MANUAL, "manual"),
                             (DagRunType.BACKFILL_JOB, "backfill")):
        assert TT.generate_run_id(run_type=run_type, run_after=interval.end, data_interval=interval) == (
            f"{prefix}__2026-11-24")
    # The 25-hour day too: its interval starts at Oslo midnight, 23:00 UTC the day before.
    fall_back = TT.interval_for(date(2026, 10, 25))
    assert TT.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=fall_back.end,
                              data_interval=fall_back) == "scheduled__2026-10-25"


def test_serialisation_round_trip():
    tt = ReportDayTimetable(grace=timedelta(minutes=45))
    again = ReportDayTimetable.deserialize(tt.serialize())
    assert again == tt and again.grace == timedelta(minutes=45)
    assert isinstance(tt.interval_for(date(2026, 1, 1)), DataInterval)
