"""Airflow plugin: registers the project's timetables so the scheduler can deserialise them."""

from airflow.plugins_manager import AirflowPlugin

from library_integrations.common.timetables import MonthTimetable, ReportDayTimetable


class LibraryIntegrationsPlugin(AirflowPlugin):
    name = "library_integrations"
    timetables = [ReportDayTimetable, MonthTimetable]
