"""Which period a run reports (common.timetables.period_of_run), for the loan report's day and the NB month."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pendulum
import pytest
from airflow.utils.types import DagRunType

from library_integrations.common.timetables import ManualRunMismatch, ReportDayTimetable
from library_integrations.pipelines.loan_report.tasks import report_date_of

TT = ReportDayTimetable()
DAG = SimpleNamespace(dag_id="bokbasen_loan_report", timetable=TT)


def context(run_type: DagRunType, logical, interval_day: date) -> dict:
    interval = TT.interval_for(interval_day)
    return {"dag": DAG, "dag_run": SimpleNamespace(run_type=run_type), "logical_date": logical,
            "data_interval_start": interval.start, "data_interval_end": interval.end}


def test_a_scheduled_run_reports_its_interval():
    logical = pendulum.datetime(2026, 11, 24, tz="Europe/Oslo")
    assert report_date_of(context(DagRunType.SCHEDULED, logical, date(2026, 11, 24))) == date(2026, 11, 24)


def test_a_manual_run_from_the_trigger_form_reports_the_day_its_logical_date_names():
    now = pendulum.datetime(2026, 11, 25, 14, 23, tz="UTC")  # the form's "now": yesterday
    assert report_date_of(context(DagRunType.MANUAL, now, date(2026, 11, 24))) == date(2026, 11, 24)
    midnight = pendulum.datetime(2026, 11, 20, tz="Europe/Oslo")
    assert report_date_of(context(DagRunType.MANUAL, midnight, date(2026, 11, 20))) == date(2026, 11, 20)


def test_a_manual_run_whose_interval_is_not_its_logical_dates_day_fails_saying_how_to_report_it():
    # airflow dags trigger --logical-date 2026-11-20T00:00+01:00, run on the 25th: interval = the 24th
    logical = pendulum.datetime(2026, 11, 20, tz="Europe/Oslo")
    with pytest.raises(ManualRunMismatch) as raised:
        report_date_of(context(DagRunType.MANUAL, logical, date(2026, 11, 24)))
    message = str(raised.value)
    assert "asks for the day 2026-11-20, but its data interval is the day 2026-11-24" in message
    assert "airflow backfill create --dag-id bokbasen_loan_report --from-date 2026-11-20 --to-date 2026-11-20" \
        in message


def test_a_backfill_run_is_not_second_guessed():
    logical = pendulum.datetime(2026, 1, 5, tz="Europe/Oslo")
    assert report_date_of(context(DagRunType.BACKFILL_JOB, logical, date(2026, 1, 5))) == date(2026, 1, 5)


def test_the_nb_month_has_the_same_guard():
    from library_integrations.common.timetables import MonthTimetable
    from library_integrations.pipelines.nb_statistics.tasks import month_of

    month_tt = MonthTimetable()
    dag = SimpleNamespace(dag_id="nb_loan_statistics", timetable=month_tt)
    march = month_tt.interval_for(date(2026, 3, 1))
    now = pendulum.datetime(2026, 4, 3, 14, 23, tz="UTC")  # the form's "now": last month
    ctx = {"dag": dag, "dag_run": SimpleNamespace(run_type=DagRunType.MANUAL), "logical_date": now,
           "data_interval_start": march.start}
    assert month_of(ctx) == date(2026, 3, 1)
    ctx["logical_date"] = pendulum.datetime(2026, 1, 1, tz="Europe/Oslo")  # asks for January
    with pytest.raises(ManualRunMismatch, match="asks for the month 2026-01-01, but its data interval is the "
                                                "month 2026-03-01"):
        month_of(ctx)
