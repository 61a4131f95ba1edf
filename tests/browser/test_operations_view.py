"""The operations view in a real browser, on a real Airflow (API server + scheduler) after a real run.

``bokbasen_loan_report`` reports DAY through the fake Bokbasen: the run is triggered through the
REST API with DAY's midnight as logical date and executed by the scheduler (LocalExecutor), so
task logs are written and served as in production. Three agencies fail three ways: NO-2000002
has broken settings (its load fails before anything is sent: nothing in the ledger), Bokbasen
answers 503 for NO-2000003 (failed in the ledger) and 400 for NO-2000004 (rejected). Afterwards
a corrected report for NO-2000001 is sent through the ledger and the hook (resent after a
change), and the NB statistics and metadata sync leave a delivery and a cursor in the state.

Chromium (Debian's package, driven by playwright) signs in through Airflow's login form and uses
the view inside the Airflow UI. Screenshots go to ``docs/screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from dev import PROJECT_ROOT, generator
from tests.fixtures.fake_bokbasen import make_report

pytestmark = pytest.mark.slow

DAG_ID = "bokbasen_loan_report"
DAY = date(2026, 5, 6)  # no other test reports this day
OSLO = ZoneInfo("Europe/Oslo")
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
RESENT, BROKEN, UNAVAILABLE, REJECTED = "NO-2000001", "NO-2000002", "NO-2000003", "NO-2000004"
ACCEPTED = ("NO-2000005",)
EXPECTED = {RESENT: "resent", BROKEN: "failed", UNAVAILABLE: "failed", REJECTED: "rejected",
            **dict.fromkeys(ACCEPTED, "accepted")}
PERIOD = {"start": (DAY - timedelta(days=13)).isoformat(), "end": (DAY + timedelta(days=1)).isoformat()}


@pytest.fixture(scope="module", autouse=True)
def connections(fake_bokbasen):
    """The fake Bokbasen for the run: two agencies fail there. Set first: the Airflow processes inherit it."""
    fake_bokbasen.reset()
    fake_bokbasen.add_faults(f"503 isil={UNAVAILABLE} repeat=3",
                             f"400 isil={REJECTED} loans[0].ean: not a known product")
    # One HTTP attempt per report: the 503 is recorded as failed at once instead of after retries.
    previous = os.environ.get("AIRFLOW_CONN_BOKBASEN_DEFAULT")
    os.environ["AIRFLOW_CONN_BOKBASEN_DEFAULT"] = json.dumps(fake_bokbasen.connection(max_attempts=1))
    yield
    fake_bokbasen.clear_faults()
    if previous is None:
        os.environ.pop("AIRFLOW_CONN_BOKBASEN_DEFAULT", None)
    else:
        os.environ["AIRFLOW_CONN_BOKBASEN_DEFAULT"] = previous


@pytest.fixture(scope="module")
def library(connections, airflow_stack, lms_dsn, bokbasen_ledger_dsn):
    """Five agencies, one with broken settings (made while the Airflow processes start)."""
    generator.generate(lms_dsn, seed=5, agencies=5, days=1, loans_per_day=150, start_date=DAY,
                       failing_agencies=False)
    with psycopg.connect(lms_dsn) as conn:
        conn.execute("UPDATE lms.bokbasen_agency_settings SET library_name = NULL WHERE agency_id = 2")


@pytest.fixture(scope="module")
def run(library, airflow_stack, bokbasen_ledger_dsn):
    """DAY reported by the scheduler: triggered through the REST API with DAY's midnight (Oslo)."""
    stack = airflow_stack
    stack.api("PATCH", f"/dags/{DAG_ID}", {"is_paused": False})
    try:
        logical = datetime(DAY.year, DAY.month, DAY.day, tzinfo=OSLO).isoformat()
        created = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": logical})
        finished = stack.wait_for_run(DAG_ID, created["dag_run_id"])
    finally:
        stack.api("PATCH", f"/dags/{DAG_ID}", {"is_paused": True})  # nothing else runs from here on
    with psycopg.connect(bokbasen_ledger_dsn) as conn:
        ledger = {isil: (status, message) for isil, status, message in conn.execute(
            "SELECT isil, status, last_message FROM pipeline_state.submission WHERE report_date = %s", (DAY,))}
    expected = {RESENT: "accepted", UNAVAILABLE: "failed", REJECTED: "rejected", **dict.fromkeys(ACCEPTED, "accepted")}
    assert {isil: status for isil, (status, _) in ledger.items()} == expected, ledger
    mapped = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{finished['dag_run_id']}/taskInstances/load/listMapped")
    finished["map_index"] = {ti["rendered_map_index"].split(" ")[0]: ti["map_index"]
                             for ti in mapped["task_instances"]}
    finished["load_state"] = {ti["rendered_map_index"].split(" ")[0]: ti["state"] for ti in mapped["task_instances"]}
    return finished


@pytest.fixture(scope="module")
def history(run, fake_bokbasen, bokbasen_ledger_dsn):
    """After the run: a corrected report for NO-2000001 (ledger + hook + fake), a delivery, a cursor."""
    from library_integrations.clients.bokbasen.loans import BokbasenHook
    from library_integrations.state import cursors
    from library_integrations.state.deliveries import DeliveryLedger
    from library_integrations.state.ledger import Ledger

    hook = BokbasenHook()  # the connections of the run: the fake Bokbasen, the session's state database
    payload = make_report(RESENT, DAY, loans=4, seed=99)
    outcome = Ledger(bokbasen_ledger_dsn).submit(
        RESENT, DAY, payload, 4, lambda body: hook.send_report(body, isil=RESENT, report_date=DAY))
    hook.close()
    assert (outcome.outcome, outcome.previous_status) == ("sent", "accepted")
    deliveries = DeliveryLedger(bokbasen_ledger_dsn)
    for month, content in (("2026-03", "a"), ("2026-04", "a"), ("2026-04", "b")):
        deliveries.deliver("nb_statistics", month, content * 64, lambda d: None,
                           file_name=lambda v, m=month: f"nb_statistics_{m}_v{v}.csv", row_count=120,
                           target="sftp:nb_statistics_sftp")
    with psycopg.connect(bokbasen_ledger_dsn) as conn:
        cursors.set(conn, "bokbasen_metadata_sync", "onix-subscription", "MjAyNi0xMS0yNVQyMTowMDowMFo")
    return run


@pytest.fixture(scope="module")
def ui(airflow_stack, chromium):
    """A signed-in browser page (1440 x 1000): signing in through the view sends the user back to it."""
    airflow_stack.wait_until_ready()
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(airflow_stack.base_url + "/operations/")
    assert "/auth/login" in page.url  # Airflow's login page, not the view
    page.get_by_label("Username").fill(airflow_stack.username)
    page.get_by_label("Password").fill(airflow_stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(airflow_stack.base_url + "/operations/")
    assert page.locator("h1").inner_text() == "Operations"
    yield page
    context.close()


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def _view(page, stack, **query):
    """The view inside the Airflow UI (its page of the navigation), with a period set in its form."""
    nav = page.get_by_role("link", name="Operations")
    if page.url.startswith(stack.base_url) and "/operations/" not in page.url and nav.count():
        nav.click()  # within the loaded UI, as a person would
        page.wait_for_url("**/plugin/operations")
    else:
        page.goto(stack.base_url + "/plugin/operations")
    frame = page.frame_locator("iframe[title=Operations]")
    frame.locator("#loan-calendar").wait_for()
    if query:
        frame.locator("input[name=agency]").fill(query.get("agency", ""))
        frame.locator("input[name=start]").fill(query["start"])
        frame.locator("input[name=end]").fill(query["end"])
        frame.get_by_role("button", name="Show").click()
        frame.locator(f"#loan-calendar a[href='log/{RESENT}/{DAY}']").wait_for()
    return frame


def _cell(frame, isil: str, day: date):
    return frame.locator(f"#loan-calendar td:has(> a[href='log/{isil}/{day}'])")


# ----------------------------------------------------------------------------- authentication
def test_the_view_and_its_api_refuse_unauthenticated_requests(airflow_stack):
    stack = airflow_stack
    for path in ("/operations/api/loan-report/calendar", "/operations/api/state"):
        status, body = stack.request("GET", path, auth=False)
        assert (status, body) == (401, {"detail": "Not authenticated"}), path
        status, _ = stack.request("GET", path, auth=False, headers={"Authorization": "Bearer not-a-token"})
        assert status == 403, path
    for path in ("/operations/", f"/operations/log/{UNAVAILABLE}/{DAY}"):
        status, _ = stack.request("GET", path, auth=False)
        assert status == 303, path  # a page sends the browser to Airflow's login
    status, body = stack.request("GET", "/operations/api/state")  # the same request, signed in
    assert status == 200 and set(body) == {"deliveries", "cursors", "notes"}


# ----------------------------------------------------------------------------- the calendar
def test_calendar_shows_every_agency_of_the_day_and_why(history, ui, airflow_stack):
    assert history["state"] == "failed"  # the summary fails the run: three agencies were not reported
    assert history["load_state"][BROKEN] == history["load_state"][UNAVAILABLE] == "failed"
    frame = _view(ui, airflow_stack, **PERIOD)
    assert ui.get_by_role("link", name="Operations").get_attribute("href") == "/plugin/operations"  # navigation
    for isil, status in EXPECTED.items():
        assert _cell(frame, isil, DAY).get_attribute("class") == f"s-{status}", isil
    assert _cell(frame, RESENT, DAY - timedelta(days=1)).get_attribute("class") == "s-missing"  # no run that day
    problems = frame.locator("#loan-problems").inner_text()
    assert re.search(rf"failed\s+{DAY}\s+{BROKEN} .*not sent, the load task failed", problems)
    assert re.search(rf"failed\s+{DAY}\s+{UNAVAILABLE} .*HTTP 503", problems)
    assert re.search(rf"rejected\s+{DAY}\s+{REJECTED} .*loans\[0\]\.ean: not a known product", problems)
    _screenshot(ui, "operations-view.png")
    frame.locator("#pipeline-state").scroll_into_view_if_needed()
    deliveries = frame.locator("#deliveries").inner_text()
    assert re.search(r"nb_statistics\s+2026-04\s+v2\s+delivered\s+nb_statistics_2026-04_v2\.csv", deliveries)
    assert "bokbasen_metadata_sync" in frame.locator("#cursors").inner_text()
    _screenshot(ui, "operations-other-pipelines.png")


@pytest.mark.parametrize("isil", [UNAVAILABLE, BROKEN])
def test_a_failed_cell_opens_that_agencys_load_log(history, ui, airflow_stack, isil):
    frame = _view(ui, airflow_stack, **PERIOD)
    _cell(frame, isil, DAY).locator("a").click()
    run_id = history["dag_run_id"]
    ui.wait_for_url(f"{airflow_stack.base_url}/dags/{DAG_ID}/runs/{run_id}/tasks/load/mapped/"
                    f"{history['map_index'][isil]}")
    # The log of that agency's load, in the UI: why it failed.
    expected = (f"{UNAVAILABLE} {DAY} recorded as failed in the ledger" if isil == UNAVAILABLE
                else f"Agency {BROKEN} \\(no library name\\) has unusable Bokbasen settings")
    ui.get_by_text(re.compile(expected)).first.wait_for()
    if isil == UNAVAILABLE:
        _screenshot(ui, "operations-load-log.png")


def test_filters_and_the_json_api(history, airflow_stack):
    stack = airflow_stack
    query = f"start={DAY}&end={DAY}"
    status, body = stack.request("GET", f"/operations/api/loan-report/calendar?{query}")
    assert status == 200
    assert {c["isil"]: c["status"] for c in body["cells"]} == EXPECTED
    assert body["runs"] == {DAY.isoformat(): {"run_id": history["dag_run_id"], "state": "failed"}}
    # By library name (from the library system's settings) and by part of an ISIL.
    by_name = stack.request("GET", f"/operations/api/loan-report/calendar?{query}&agency=trondheim")[1]
    assert [(c["isil"], c["status"]) for c in by_name["cells"]] == [(UNAVAILABLE, "failed")]
    by_isil = stack.request("GET", f"/operations/api/loan-report/calendar?{query}&agency=no-2000004,NO-2000005")[1]
    assert {c["isil"] for c in by_isil["cells"]} == {REJECTED, "NO-2000005"}
    # A cell's link resolves to its load task instance; a day without a run has none.
    status, target = stack.request("GET", f"/operations/log/{RESENT}/{DAY}?resolve=1")
    assert target["url"] == f"/dags/{DAG_ID}/runs/{history['dag_run_id']}/tasks/load/mapped/{history['map_index'][RESENT]}"
    status, target = stack.request("GET", f"/operations/log/{RESENT}/{DAY - timedelta(days=1)}?resolve=1")
    assert status == 404 and target["url"] is None
    status, target = stack.request("GET", f"/operations/run/{DAY}")
    assert status == 303
    state = stack.request("GET", "/operations/api/state")[1]
    assert [(d["delivery_key"], d["version"]) for d in state["deliveries"]] == [("2026-04", 2), ("2026-04", 1),
                                                                              ("2026-03", 1)]
    assert [(c["pipeline"], c["name"]) for c in state["cursors"]] == [("bokbasen_metadata_sync", "onix-subscription")]


# ----------------------------------------------------------------------------- runs named by their day
def test_runs_are_labelled_with_the_day_they_report(run, ui, airflow_stack):
    stack = airflow_stack
    assert run["dag_run_id"] == f"manual__{DAY}"
    assert run["data_interval_start"] == "2026-05-05T22:00:00Z"  # 6 May 00:00 in Oslo
    oslo_now = datetime.now(OSLO)
    ui.goto(f"{stack.base_url}/dags/{DAG_ID}")
    ui.get_by_role("button", name="Trigger").first.click()
    dialog = ui.get_by_role("dialog")
    dialog.get_by_text(f"Unpause {DAG_ID} on trigger").click()  # keep it paused: the run is only looked at
    assert not dialog.get_by_role("checkbox").is_checked()
    dialog.get_by_role("button", name="Trigger").click()  # the form's logical date: "now"
    dialog.wait_for(state="hidden")
    runs = stack.api("GET", f"/dags/{DAG_ID}/dagRuns?order_by=-run_after&limit=1")["dag_runs"]
    triggered = runs[0]
    try:
        yesterday = {(oslo_now - timedelta(days=1)).date(), (datetime.now(OSLO) - timedelta(days=1)).date()}
        assert triggered["dag_run_id"] in {f"manual__{d}" for d in yesterday}
        day = date.fromisoformat(triggered["dag_run_id"].removeprefix("manual__"))
        start = datetime(day.year, day.month, day.day, tzinfo=OSLO)
        assert datetime.fromisoformat(triggered["data_interval_start"]) == start
        # Both runs are listed by the day they report.
        ui.goto(f"{stack.base_url}/dags/{DAG_ID}/runs")
        ui.get_by_role("link", name=triggered["dag_run_id"]).wait_for()
        ui.get_by_role("link", name=f"manual__{DAY}").wait_for()
        _screenshot(ui, "runs-named-by-day.png")
    finally:
        stack.request("DELETE", f"/api/v2/dags/{DAG_ID}/dagRuns/{triggered['dag_run_id']}")
