"""Airflow plugin: registers the report-day timetable so the scheduler can deserialise it."""

from airflow.plugins_manager import AirflowPlugin

from loan_reporting.timetable import ReportDayTimetable


class LoanReportingPlugin(AirflowPlugin):
    name = "loan_reporting"
    timetables = [ReportDayTimetable]
