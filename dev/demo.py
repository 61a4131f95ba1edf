"""``make demo``: the main job end to end on the embedded defaults.

1. start (or reuse) the embedded PostgreSQL and create the reference schema;
2. generate a synthetic library system over several days around the spring DST switch;
3. start the local fake Bokbasen on 127.0.0.1 (reports it receives are written to disk);
4. migrate Airflow's metadata database and run the real DAG with ``dag.test()`` per day;
5. print a per-day, per-agency table from the submission ledger, the wall time and the
   token requests the fake server saw per run.

Airflow reads its configuration when first imported, so the environment is set before
any Airflow import.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from dev import PROJECT_ROOT, airflow_env, embedded_db, generator
from dev import lms_schema as schema

RECEIVED_DIR = PROJECT_ROOT / "var" / "fake-bokbasen" / "received"
STATE_DB = "loan_reporting"


def run(
    *,
    start: date = date(2026, 3, 27),
    days: int = 4,
    agencies: int = 12,
    loans_per_day: int = 5000,
    failing_agencies: bool = False,
    database: str = "lms",
    verbose: bool = False,
) -> int:
    t0 = time.perf_counter()
    dsn = embedded_db.ensure_database(database)
    schema.create_reference_schema(dsn)
    summary = generator.generate(dsn, agencies=agencies, days=days, loans_per_day=loans_per_day, start_date=start,
                                 failing_agencies=failing_agencies)
    print(f"Created {summary.agencies} agencies, {summary.materials} materials, {summary.patrons} patrons and "
          f"{summary.loans} loans ({loans_per_day}/day, {days} days from {start}) in database '{database}' "
          f"in {summary.seconds:.1f} s", flush=True)

    from dev.fakes.bokbasen import FakeBokbasen

    # The demo regenerates its library data, so it starts from an empty ledger too
    # (otherwise identical reports from the last demo would be skipped, as they should be).
    embedded_db.drop_database(STATE_DB)
    server = FakeBokbasen(host="127.0.0.1", port=0, client_id=airflow_env.DEMO_CLIENT_ID,
                          client_secret=airflow_env.DEMO_CLIENT_SECRET, store_dir=RECEIVED_DIR)
    server.start()
    env = airflow_env.airflow_environment(library_db=database, state_db=STATE_DB, fake_bokbasen_url=server.base_url)
    os.environ.update(env)
    # dag.test() waits out retry delays in-process; the hook already retries within a task.
    os.environ.setdefault("LOAN_REPORTING_TASK_RETRIES", "0")
    if not verbose:  # task logs are in .airflow/logs and the UI; the console shows the summary
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    print(f"Fake Bokbasen listening on {server.base_url}; migrating Airflow's metadata database ...", flush=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    import logging

    import pendulum

    logging.getLogger("airflow").setLevel(logging.WARNING)
    from dev.dag_runs import load_dag
    from library_integrations.state.ledger import Ledger

    __import__("dev.demo_metadata", fromlist=["run"]).run(dsn, verbose=verbose)  # Bokbasen metadata: reports enriched
    dag = load_dag("bokbasen_loan_report")
    ledger = Ledger(embedded_db.ensure_database(STATE_DB))
    token_requests = {}
    states = {}
    for d in range(days):
        day = start + timedelta(days=d)
        before = server.stats()["token_requests"]
        print(f"Running bokbasen_loan_report for {day} ...", flush=True)
        dagrun = dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo"))
        token_requests[day] = server.stats()["token_requests"] - before
        states[day] = str(getattr(dagrun, "state", "?"))
    # A rerun of the first day: the ledger knows it was accepted with this exact payload.
    before = server.stats()["loan_requests"]
    print(f"Rerunning {start} (idempotency: nothing should be sent again) ...", flush=True)
    rerun = dag.test(logical_date=pendulum.datetime(start.year, start.month, start.day, tz="Europe/Oslo"))
    rerun_requests = server.stats()["loan_requests"] - before
    locations = {}
    for report in server.reports():
        where = report["payload"]["library"].get("location")
        locations[(report["report_date"], report["isil"])] = (
            f"{where['postalCode']} {where['municipality']}" if where else "(not sent)")
    server.stop()

    from library_integrations.common.tables import format_table

    rows = []
    for r in ledger.rows():
        if start <= r.report_date < start + timedelta(days=days):
            rows.append({"day": r.report_date.isoformat(), "agency": r.isil, "loans": r.loan_count,
                         "status": r.status, "http": r.last_http_status, "attempts": r.attempts,
                         "location sent": locations.get((r.report_date.isoformat(), r.isil), "-")})
    print()
    print(format_table(rows))
    print()
    for day in sorted(states):
        print(f"{day}: run {states[day]}, {token_requests[day]} token request(s) to the fake Bokbasen")
    print(f"Rerun of {start}: run {getattr(rerun, 'state', '?')}, {rerun_requests} report(s) sent again "
          "(the ledger skips reports already accepted with an identical payload)")
    print(f"Reports received by the fake Bokbasen: {RECEIVED_DIR} (one JSON file per report)")
    print(f"Submission ledger: database '{STATE_DB}', schema pipeline_state ({ledger.dsn})")
    __import__("dev.demo_registry", fromlist=["run"]).run(database=database, state_database=STATE_DB, verbose=verbose)
    __import__("dev.demo_nb", fromlist=["run"]).run(database=database, state_database=STATE_DB, verbose=verbose)
    print(f"Demo wall time: {time.perf_counter() - t0:.1f} s")
    return 0 if all(s.endswith("success") for s in states.values()) or failing_agencies else 1


UI_AIRFLOW_HOME = PROJECT_ROOT / ".airflow-ui"


def ui() -> int:
    """``airflow standalone`` on the project's setup, with the fake Bokbasen beside it.

    Its own Airflow home and metadata database (``airflow_ui``), so the demo's
    ``dag.test()`` runs do not crowd its grid and charts; the LocalExecutor is sized for
    this machine (one task process per CPU) instead of Airflow's default 32.
    """
    cpus = os.cpu_count() or 2
    env = {**os.environ, **airflow_env.airflow_environment(airflow_db="airflow_ui", home=UI_AIRFLOW_HOME)}
    env.setdefault("AIRFLOW__CORE__PARALLELISM", str(cpus))
    env.setdefault("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", str(cpus))
    # standalone starts its components as `airflow ...` subprocesses: the venv must be on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    fake = subprocess.Popen([sys.executable, "-m", "dev.fakes.bokbasen", "--port",
                             str(airflow_env.DEFAULT_FAKE_BOKBASEN_PORT), "--store-dir", str(RECEIVED_DIR)], env=env)
    try:
        return subprocess.call([str(Path(sys.executable).parent / "airflow"), "standalone"], env=env)
    finally:
        fake.terminate()
