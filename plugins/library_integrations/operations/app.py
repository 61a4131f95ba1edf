"""The operations view: a FastAPI app served by Airflow's API server, behind Airflow's login.

Mounted at ``/operations`` (see :mod:`.registration`) and shown in the Airflow UI under
"Operations" (``/plugin/operations``). Every route resolves the user with Airflow's own
dependencies (:func:`airflow.api_fastapi.core_api.security.get_user`: the UI's session cookie or
a bearer token) and checks the same permissions as Airflow's pages, through the configured
auth manager:

======================================  =========================================================
``GET /operations/``                    the page: the loan report's calendar (needs read access
                                        to ``bokbasen_loan_report``'s task instances) and the
                                        deliveries and cursors of every pipeline (read access to
                                        all DAG runs); without a session: the login page
``GET /operations/log/<ISIL>/<day>``    redirect to that agency's ``load`` log of that day
                                        (task logs of ``bokbasen_loan_report``)
``GET /operations/run/<day>``           redirect to the day's newest run
``GET /operations/api/loan-report/calendar?agency=&start=&end=``   the calendar as JSON
``GET /operations/api/state``           deliveries and cursors as JSON
======================================  =========================================================

Unauthenticated requests are refused (401), requests without the permission too (403).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from library_integrations.common.settings import LIBRARY_CONN_ID, STATE_CONN_ID
from library_integrations.operations import calendar, pages, sources
from library_integrations.operations.registration import URL_PREFIX
from library_integrations.state.connection import dsn_from_connection

log = logging.getLogger(__name__)

DAG_ID = sources.LOAN_REPORT_DAG_ID
NO_STORE = {"Cache-Control": "no-store"}

can_read_loan_calendar = requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE, param_dag_id=DAG_ID)
can_read_loan_logs = requires_access_dag("GET", DagAccessEntity.TASK_LOGS, param_dag_id=DAG_ID)
can_read_loan_runs = requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID)
can_read_all_runs = requires_access_dag("GET", DagAccessEntity.RUN)  # every pipeline's deliveries and cursors


def _short(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:300]


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text and text.strip() else None
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"not a date (YYYY-MM-DD): {text!r}") from None


def _roots(request: Request) -> tuple[str, str]:
    """(the app's base path, the Airflow UI's base path), as this request reached them."""
    root = request.scope.get("root_path", "").rstrip("/")
    ui = root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else ""
    return root + "/", ui + "/"


def _allowed(check, request: Request, user) -> bool:
    try:
        check(request, user)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_403_FORBIDDEN:
            return False
        raise
    return True


def _run_url(ui_root: str, target: sources.LogTarget) -> str:
    url = f"{ui_root}dags/{DAG_ID}/runs/{quote(target.run_id, safe='')}"
    if target.task_id:
        url += f"/tasks/{target.task_id}"
        if target.map_index is not None and target.map_index >= 0:
            url += f"/mapped/{target.map_index}"
    return url


def load_calendar(session, *, agency: str, start: date | None, end: date | None,
                  now: datetime | None = None) -> calendar.Calendar:
    """The loan report's calendar: library agencies (where readable), one ledger query, Airflow's runs."""
    last = calendar.last_complete_day(now or datetime.now(UTC))
    start, end, notes = calendar.period(start, end, last)
    agency_filter = sources.AgencyFilter.parse(agency)
    library: list[calendar.Agency] | None = None
    try:
        library = sources.read_library_agencies(dsn_from_connection(LIBRARY_CONN_ID))
    except Exception as exc:
        log.warning("operations view: the library system is not readable: %s", _short(exc))
        notes.append(f"The library system (connection {LIBRARY_CONN_ID}) is not readable, so agencies come from "
                     f"the ledger only and have no names: {_short(exc)}")
    isils, ledger = sources.read_ledger(dsn_from_connection(STATE_CONN_ID), start, end, agency_filter, library or [])
    agencies = sources.merge_agencies(isils, library, agency_filter)
    runs = sources.read_day_facts(session, start, end)
    return calendar.build(start=start, end=end, agencies=agencies, ledger=ledger, runs=runs, last_complete=last,
                          notes=notes)


def _state_panel() -> tuple[list | None, list | None, list[str]]:
    deliveries = cursors = None
    notes: list[str] = []
    try:
        dsn = dsn_from_connection(STATE_CONN_ID)
    except Exception as exc:
        return None, None, [f"The pipeline state (connection {STATE_CONN_ID}) is not readable: {_short(exc)}"]
    for name, reader in (("deliveries", sources.read_deliveries), ("cursors", sources.read_cursors)):
        try:
            rows = reader(dsn)
        except Exception as exc:
            notes.append(f"Could not read the {name}: {_short(exc)}")
            continue
        if name == "deliveries":
            deliveries = rows
        else:
            cursors = rows
    return deliveries, cursors, notes


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def create_app() -> FastAPI:
    app = FastAPI(title="Library integrations: operations", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)

    @app.exception_handler(StarletteHTTPException)
    async def login_for_pages(request: Request, exc: StarletteHTTPException):
        """A page asked for without a session goes to Airflow's login; the JSON API answers 401."""
        api = request.url.path.startswith(_roots(request)[0] + "api/")
        if exc.status_code == status.HTTP_401_UNAUTHORIZED and not api and request.method == "GET":
            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)
        return await http_exception_handler(request, exc)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, user: GetUserDep, session: SessionDep, agency: str = "", start: str | None = None,
              end: str | None = None) -> HTMLResponse:
        base, ui_root = _roots(request)
        body = [pages.header(user.get_name())]
        if _allowed(can_read_loan_calendar, request, user):
            try:
                cal = load_calendar(session, agency=agency, start=_parse_day(start), end=_parse_day(end))
                body.append(pages.loan_report_section(cal, agency=agency, last_complete=calendar.last_complete_day(
                    datetime.now(UTC)), dag_url=f"{ui_root}dags/{DAG_ID}"))
            except HTTPException:
                raise
            except Exception as exc:
                log.exception("operations view: cannot read the loan report's calendar")
                body.append(f'<section id="loan-report"><h2>Bokbasen loan report</h2>'
                            f"{pages.notes_block([f'Cannot read the calendar: {_short(exc)}'])}</section>")
        else:
            body.append('<p class="muted">You may not read the task instances of bokbasen_loan_report.</p>')
        if _allowed(can_read_all_runs, request, user):
            deliveries, cursors, notes = _state_panel()
            body.append(pages.state_section(deliveries=deliveries, cursors=cursors, notes=notes))
        return HTMLResponse(pages.document(title="Operations", base=base, body="".join(body)), headers=NO_STORE)

    def not_found(base: str, ui_root: str, day: date, message: str, resolve: bool):
        if resolve:
            return JSONResponse({"url": None, "detail": message}, status_code=404, headers=NO_STORE)
        return HTMLResponse(pages.message_page(
            base=base, title=f"No run reported {day}", message=message,
            links=[("Back to the operations view", f"{ui_root}plugin/operations"),
                   (f"{DAG_ID} runs", f"{ui_root}dags/{DAG_ID}/runs")]), status_code=404, headers=NO_STORE)

    def go(url: str, resolve: bool):
        if resolve:  # the page's script navigates the UI itself
            return JSONResponse({"url": url}, headers=NO_STORE)
        return RedirectResponse(url, status_code=303, headers=NO_STORE)

    @app.get("/log/{isil}/{day}", dependencies=[Depends(can_read_loan_logs)])
    def load_log(request: Request, isil: str, day: date, session: SessionDep, resolve: bool = False):
        """To the agency's ``load`` log of the day: the run that touched the ledger row."""
        from library_integrations.state.ledger import Ledger

        base, ui_root = _roots(request)
        attempted_at = None
        try:
            row = Ledger(dsn_from_connection(STATE_CONN_ID), create_schema=False).get(isil, day)
            attempted_at = row.last_attempt_at if row else None
        except Exception as exc:  # the log is still worth finding without the ledger
            log.warning("operations view: cannot read the ledger row of %s %s: %s", isil, day, _short(exc))
        target = sources.find_load_log(session, isil, day, attempted_at=attempted_at)
        if target is None:
            return not_found(base, ui_root, day, f"No run of {DAG_ID} covers {day} (Oslo), so {isil} has no load log "
                             f"for it. To report the day, trigger {DAG_ID} with the logical date {day} 00:00 "
                             "(Europe/Oslo).", resolve)
        return go(_run_url(ui_root, target), resolve)

    @app.get("/run/{day}", dependencies=[Depends(can_read_loan_runs)])
    def day_run(request: Request, day: date, session: SessionDep, resolve: bool = False):
        """To the day's newest run in the UI."""
        base, ui_root = _roots(request)
        facts = sources.read_day_facts(session, day, day).get(day)
        if facts is None or facts.run_id is None:
            return not_found(base, ui_root, day, f"No run of {DAG_ID} covers {day} (Oslo).", resolve)
        return go(_run_url(ui_root, sources.LogTarget(facts.run_id)), resolve)

    @app.get("/api/loan-report/calendar", dependencies=[Depends(can_read_loan_calendar)])
    def calendar_json(request: Request, session: SessionDep, agency: str = "", start: str | None = None,
                      end: str | None = None) -> JSONResponse:
        base, _ = _roots(request)
        try:
            cal = load_calendar(session, agency=agency, start=_parse_day(start), end=_parse_day(end))
        except HTTPException:
            raise
        except Exception as exc:
            log.exception("operations view: cannot read the loan report's calendar")
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"cannot read the calendar: {_short(exc)}") \
                from None
        return JSONResponse({
            "dag_id": DAG_ID,
            "start": cal.start.isoformat(),
            "end": cal.end.isoformat(),
            "statuses": calendar.LABELS,
            "counts": cal.counts(),
            "notes": cal.notes,
            "agencies": [{"isil": a.isil, "name": a.name, "enabled": a.enabled} for a in cal.agencies],
            "runs": {d.isoformat(): {"run_id": f.run_id, "state": f.run_state} for d, f in sorted(cal.runs.items())},
            "cells": [
                {"isil": isil, "day": day.isoformat(), "status": cell.status, "detail": cell.detail,
                 "log": f"{base}log/{isil}/{day}"}
                for (isil, day), cell in cal.cells.items()
            ],
        }, headers=NO_STORE)

    @app.get("/api/state", dependencies=[Depends(can_read_all_runs)])
    def state_json() -> JSONResponse:
        deliveries, cursors, notes = _state_panel()
        clean = [
            [{k: _jsonable(v) for k, v in row.items()} for row in rows] if rows is not None else None
            for rows in (deliveries, cursors)
        ]
        return JSONResponse({"deliveries": clean[0], "cursors": clean[1], "notes": notes}, headers=NO_STORE)

    return app
