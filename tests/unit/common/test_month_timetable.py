"""The month timetable: one run per Oslo calendar month, labelled by that month, DST-correct."""

from datetime import date, timedelta

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.utils.types import DagRunType

from library_integrations.common.timetables import MonthTimetable

TT = MonthTimetable(run_day=5, run_hour=6)


def _months(earliest, latest, catchup=True, tt=TT):
    out, last = [], None
    restriction = TimeRestriction(earliest, latest, catchup)
    while (info := tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)) is not None:
        out.append(info)
        last = info.data_interval
        if len(out) > 60:
            break
    return out


def test_interval_is_the_oslo_month_and_the_run_is_on_the_fifth_at_six():
    infos = _months(pendulum.datetime(2026, 3, 1, tz="Europe/Oslo"), pendulum.datetime(2026, 3, 31, tz="UTC"))
    assert len(infos) == 1
    first = infos[0]
    assert first.logical_date == pendulum.datetime(2026, 3, 1, tz="Europe/Oslo")
    assert first.data_interval.start == pendulum.datetime(2026, 2, 28, 23, tz="UTC")
    assert first.data_interval.end == pendulum.datetime(2026, 3, 31, 22, tz="UTC")  # summer time by then
    assert first.run_after == pendulum.datetime(2026, 4, 5, 6, tz="Europe/Oslo")


def test_dst_months_are_an_hour_short_or_long():
    march = TT.interval_for(date(2026, 3, 17))
    october = TT.interval_for(date(2026, 10, 1))
    assert march.end - march.start == timedelta(days=31) - timedelta(hours=1)
    assert october.end - october.start == timedelta(days=31) + timedelta(hours=1)
    january = TT.interval_for(date(2026, 1, 1))
    assert january.end - january.start == timedelta(days=31)


def test_consecutive_runs_tile_the_calendar_across_years_and_dst():
    infos = _months(pendulum.datetime(2025, 11, 1, tz="Europe/Oslo"), pendulum.datetime(2026, 11, 1, tz="Europe/Oslo"))
    assert [TT.report_month(i.logical_date) for i in infos][:3] == [date(2025, 11, 1), date(2025, 12, 1),
                                                                    date(2026, 1, 1)]
    assert len(infos) == 13
    for a, b in zip(infos, infos[1:], strict=False):
        assert a.data_interval.end == b.data_interval.start
        assert a.run_after < b.run_after


def test_configurable_run_day_and_hour():
    tt = MonthTimetable(run_day=10, run_hour=2)
    info = _months(pendulum.datetime(2026, 12, 1, tz="Europe/Oslo"), pendulum.datetime(2026, 12, 2, tz="UTC"),
                   tt=tt)[0]
    assert info.run_after == pendulum.datetime(2027, 1, 10, 2, tz="Europe/Oslo")
    with pytest.raises(ValueError, match="1-28"):
        MonthTimetable(run_day=31)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Oslo"])
def test_backfill_bounds_are_read_as_oslo_months(tz):
    """`airflow backfill create --from-date 2026-01-01 --to-date 2026-03-31` in a UTC or an Oslo deployment."""
    infos = _months(pendulum.datetime(2026, 1, 1, tz=tz), pendulum.datetime(2026, 3, 31, tz=tz))
    assert [TT.report_month(i.logical_date) for i in infos] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]


def test_start_date_stored_in_utc_starts_on_the_configured_oslo_month():
    start = pendulum.datetime(2026, 3, 1, tz="Europe/Oslo").in_timezone("UTC")  # 2026-02-28T23:00Z
    infos = _months(start, pendulum.datetime(2026, 4, 1, tz="UTC"))
    assert [TT.report_month(i.logical_date) for i in infos] == [date(2026, 3, 1), date(2026, 4, 1)]


def test_a_start_inside_a_month_begins_with_the_next_whole_month():
    infos = _months(pendulum.datetime(2026, 3, 15, tz="Europe/Oslo"), pendulum.datetime(2026, 4, 30, tz="UTC"))
    assert [TT.report_month(i.logical_date) for i in infos] == [date(2026, 4, 1)]


def test_without_catchup_only_the_latest_month_whose_run_time_has_passed(monkeypatch):
    now = pendulum.datetime(2026, 6, 4, 12, tz="Europe/Oslo")  # May's run is due on 5 June
    monkeypatch.setattr(pendulum, "now", lambda tz=None: now.in_timezone(tz or "UTC"))
    infos = _months(pendulum.datetime(2025, 1, 1, tz="Europe/Oslo"), pendulum.datetime(2026, 5, 31, tz="UTC"),
                    catchup=False)
    assert [TT.report_month(i.logical_date) for i in infos] == [date(2026, 4, 1), date(2026, 5, 1)]


def test_manual_run_at_midnight_on_the_first_reports_that_month():
    assert TT.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 1, tz="Europe/Oslo")) == (
        TT.interval_for(date(2026, 3, 1)))
    # The UI in its default UTC: 2026-03-01 00:00 UTC is 01:00 in Oslo.
    assert TT.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 1, tz="UTC")) == (
        TT.interval_for(date(2026, 3, 1)))


def test_trigger_now_reports_the_last_complete_oslo_month():
    now = pendulum.datetime(2026, 4, 17, 14, 23, 5, tz="UTC")
    assert TT.infer_manual_data_interval(run_after=now) == TT.interval_for(date(2026, 3, 1))
    # 00:30 on 1 May in Oslo (still 30 April in UTC): April is over in Oslo.
    just_after = pendulum.datetime(2026, 5, 1, 0, 30, tz="Europe/Oslo")
    assert TT.infer_manual_data_interval(run_after=just_after) == TT.interval_for(date(2026, 4, 1))
    # January: the last complete month is December of the year before.
    assert TT.infer_manual_data_interval(run_after=pendulum.datetime(2027, 1, 9, 8, tz="UTC")) == (
        TT.interval_for(date(2026, 12, 1)))


def test_run_ids_name_the_reported_month():
    interval = TT.interval_for(date(2026, 3, 1))
    for run_type, prefix in ((DagRunType.SCHEDULED, "scheduled"), (DagRunType.MANUAL, "manual"),
                             (DagRunType.BACKFILL_JOB, "backfill")):
        assert TT.generate_run_id(run_type=run_type, run_after=interval.end, data_interval=interval) == (
            f"{prefix}__2026-03")
    # The interval starts at 23:00 UTC on the last day of the month before: still named by the Oslo month.
    assert interval.start.in_timezone("UTC").month == 2


def test_serialisation_round_trip():
    tt = MonthTimetable(run_day=3, run_hour=4)
    again = MonthTimetable.deserialize(tt.serialize())
    assert again == tt and hash(again) == hash(tt) and again != TT
    assert isinstance(tt.interval_for(date(2026, 1, 1)), DataInterval)
    assert "monthly" in tt.summary and "day 3" in tt.description
