"""Airflow plugin: the project's timetables (so the scheduler can deserialise them) and the
operations view in the UI (``library_integrations.operations``: built on its first request, in
the API server only)."""

from airflow.plugins_manager import AirflowPlugin

from library_integrations.common.timetables import MonthTimetable, ReportDayTimetable
from library_integrations.operations.registration import EXTERNAL_VIEW, FASTAPI_APP


class LibraryIntegrationsPlugin(AirflowPlugin):
    name = "library_integrations"
    timetables = [ReportDayTimetable, MonthTimetable]
    fastapi_apps = [FASTAPI_APP]
    external_views = [EXTERNAL_VIEW]
