"""End to end: the real DAG with dag.test(), the embedded PostgreSQL and the fake Bokbasen over HTTP.

One library system is generated for the module (no agencies with unusable settings, so a
normal day succeeds); each test runs the DAG for its own report day, so tests do not see
each other's ledger rows. Expected reports are computed independently, row by row, from a
plain SQL query and python-stdnum, and compared field by field with what the fake received.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import pendulum
import psycopg
import pytest
from stdnum import ean as stdnum_ean
from stdnum import isbn as stdnum_isbn
from stdnum import ismn as stdnum_ismn

from dev import generator
from library_integrations.common import settings
from tests.fixtures.leftovers import stop_process_trees

pytestmark = pytest.mark.slow

START = date(2026, 3, 26)
DAYS = 6  # 26..31 March; 29 March is the spring-forward day (23 hours)
FALL_BACK = date(2026, 10, 25)  # 25 hours
LOANS_PER_DAY = 1500
BACKFILL_DAYS = [date(2026, 4, 1), date(2026, 4, 2)]
SECRETS_DAY = date(2026, 4, 3)
FORMATS = {
    "BOOK": "PAPER", "LARGE_PRINT": "PAPER", "NEWSPAPER": "PAPER", "SERIAL": "PAPER", "MUSICAL_SCORE": "PAPER",
    "MANUSCRIPT": "PAPER", "AUDIOBOOK_CD": "AUDIO", "AUDIOBOOK_CASSETTE": "AUDIO", "AUDIOBOOK_DAISY": "AUDIO",
    "AUDIOBOOK_ONLINE": "AUDIO", "EBOOK": "EBOOK",
}


@pytest.fixture(scope="module")
def library(lms_dsn):
    summary = generator.generate(lms_dsn, seed=11, agencies=9, days=DAYS, loans_per_day=LOANS_PER_DAY,
                                 start_date=START, failing_agencies=False)
    generator.add_loans(lms_dsn, FALL_BACK, 1200, seed=3)
    for i, day in enumerate([*BACKFILL_DAYS, SECRETS_DAY]):
        generator.add_loans(lms_dsn, day, 800, seed=20 + i)
    return summary


@pytest.fixture(scope="module")
def dag(airflow_db, library, fake_bokbasen, bokbasen_ledger_dsn):
    os.environ["AIRFLOW_CONN_BOKBASEN_DEFAULT"] = json.dumps(fake_bokbasen.connection())
    from dev.dag_runs import load_dag

    return load_dag("bokbasen_loan_report")


@pytest.fixture()
def fake(fake_bokbasen):
    fake_bokbasen.reset()
    yield fake_bokbasen
    fake_bokbasen.clear_faults()


def run_day(dag, day: date):
    return dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo"))


def state_of(dagrun) -> str:
    return str(getattr(dagrun.state, "value", dagrun.state))


def enabled_isils(conn) -> set[str]:
    rows = conn.execute("SELECT a.isil FROM lms.agency a JOIN lms.bokbasen_agency_settings s ON s.agency_id = a.id "
                        "WHERE s.enabled").fetchall()
    return {r[0] for r in rows}


def reports_for(fake, day: date) -> dict[str, dict]:
    out = {}
    for r in fake.reports():
        if r["report_date"] == day.isoformat():
            out[r["isil"]] = r["payload"]
    return out


def ledger_rows(state_dsn, day):
    with psycopg.connect(state_dsn) as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT isil, status, attempts, last_http_status, last_message, payload_sha256 "
            "FROM pipeline_state.submission WHERE report_date = %s", (day,)).fetchall()}


# ----------------------------------------------------------------------------- independent expectation
def _expected_ean(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    compact = "".join(ch for ch in raw if ch.isalnum()).upper()
    if stdnum_ismn.is_valid(compact):
        return stdnum_ismn.compact(stdnum_ismn.to_ismn13(compact))
    if stdnum_isbn.is_valid(compact):
        return stdnum_isbn.compact(stdnum_isbn.to_isbn13(compact))
    if len(compact) == 13 and compact.startswith("977") and stdnum_ean.is_valid(compact):
        return compact
    return None


def _expected_gender(kind: str, gender: str | None) -> str:
    if kind != "PERSON" or gender is None:
        return "UNKNOWN"
    return {"M": "MALE", "F": "FEMALE", "K": "FEMALE"}.get(gender.strip().upper(), "UNKNOWN")


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def expected_loans(conn, day: date, agency_isil: str) -> dict[str, dict]:
    rows = conn.execute(
        """SELECT l.id, l.loaned_at, (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date, m.isbn, m.title, m.authors,
                  m.language, m.material_type_code, p.patron_kind, p.gender, p.birth_date
           FROM lms.loan l JOIN lms.item i ON i.id = l.item_id JOIN lms.manifestation m ON m.id = i.manifestation_id
           JOIN lms.patron p ON p.id = l.patron_id JOIN lms.agency a ON a.id = l.agency_id
           WHERE a.isil = %s AND (l.loaned_at AT TIME ZONE 'Europe/Oslo')::date = %s""",
        (agency_isil, day),
    ).fetchall()
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "urn:loan-reporting:" + settings.load().installation)
    out = {}
    for loan_id, at, local_day, isbn, title, authors, language, code, kind, gender, born in rows:
        fmt = FORMATS.get(code)
        ean = _expected_ean(isbn)
        if fmt is None or ean is None:
            continue
        borrower = {"isPerson": kind == "PERSON", "gender": _expected_gender(kind, gender)}
        if kind == "PERSON" and born is not None and 0 <= _age(born, local_day) <= 120:
            borrower["age"] = _age(born, local_day)
        loan = {"transactionId": str(uuid.uuid5(namespace, str(loan_id))),
                "timestamp": at.astimezone(pendulum.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ean": ean, "format": fmt, "borrower": borrower}
        if title:
            loan["title"] = title
        if authors:
            loan["authors"] = list(authors)
        if language and len(language.strip()) == 3 and language.strip().isalpha():
            loan["language"] = language.strip().lower()
        out[loan["transactionId"]] = loan
    return out


# ----------------------------------------------------------------------------- tests
def test_normal_day_reports_exactly_the_expected_loans(dag, fake, lms_conn, state_dsn):
    day = START
    dagrun = run_day(dag, day)
    assert state_of(dagrun) == "success"
    received = reports_for(fake, day)
    # Every enabled agency reported once; disabled agencies and those without settings did not.
    assert set(received) == enabled_isils(lms_conn)
    disabled = {r[0] for r in lms_conn.execute(
        "SELECT a.isil FROM lms.agency a LEFT JOIN lms.bokbasen_agency_settings s ON s.agency_id = a.id "
        "WHERE s.enabled IS NOT TRUE").fetchall()}
    assert disabled and not disabled & set(received)
    for isil, payload in received.items():
        assert payload["reportDate"] == day.isoformat()
        assert payload["library"]["isil"] == isil
        expected = expected_loans(lms_conn, day, isil)
        got = {loan["transactionId"]: loan for loan in payload["loans"]}
        assert set(got) == set(expected), isil
        for tid, loan in got.items():
            assert loan == expected[tid], (isil, tid)
    # One token for the whole run, however many agencies (shared cache across task processes).
    assert fake.token_request_count <= 1
    assert {v[0] for v in ledger_rows(state_dsn, day).values()} == {"accepted"}


def test_library_location_sent_only_when_valid(dag, fake, lms_conn):
    day = START + timedelta(days=1)
    assert state_of(run_day(dag, day)) == "success"
    received = reports_for(fake, day)
    cases = dict(lms_conn.execute(
        "SELECT a.isil, coalesce(s.postal_code, '-') || '|' || coalesce(s.municipality, '-') "
        "FROM lms.agency a JOIN lms.bokbasen_agency_settings s ON s.agency_id = a.id WHERE s.enabled").fetchall())
    assert received["NO-2000001"]["library"]["location"]["postalCode"] == "0150"
    assert "location" not in received["NO-2000003"]["library"], cases["NO-2000003"]  # no location configured
    assert "location" not in received["NO-2000005"]["library"], cases["NO-2000005"]  # Oslo postcode, Bergen


@pytest.mark.parametrize("day, hours", [(date(2026, 3, 29), 23), (FALL_BACK, 25)])
def test_dst_days_cover_their_23_or_25_hours(dag, fake, lms_conn, day, hours):
    assert state_of(run_day(dag, day)) == "success"
    start = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Oslo")
    end = start.add(days=1)
    assert (end - start).in_hours() == hours
    (in_window,) = lms_conn.execute(
        "SELECT count(*) FROM lms.loan WHERE loaned_at >= %s AND loaned_at < %s", (start, end)).fetchone()
    received = reports_for(fake, day)
    sent = [loan for payload in received.values() for loan in payload["loans"]]
    assert 0 < len(sent) <= in_window
    stamps = sorted(pendulum.parse(loan["timestamp"]) for loan in sent)
    assert start.in_timezone("UTC").subtract(seconds=1) < stamps[0] and stamps[-1] < end
    # Loans in the first and last hour of the long or short day are in.
    assert stamps[0] < start.add(hours=1) and stamps[-1] >= end.subtract(hours=1)
    per_agency = {isil: len(expected_loans(lms_conn, day, isil)) for isil in received}
    assert {isil: len(p["loans"]) for isil, p in received.items()} == per_agency


def test_agency_with_broken_settings_fails_alone(dag, fake, lms_conn, state_dsn):
    day = START + timedelta(days=2)
    lms_conn.execute("UPDATE lms.bokbasen_agency_settings SET library_name = NULL WHERE agency_id = 2")
    lms_conn.commit()
    try:
        dagrun = run_day(dag, day)
    finally:
        lms_conn.execute("UPDATE lms.bokbasen_agency_settings SET library_name = 'Bergen Offentlige Bibliotek' "
                         "WHERE agency_id = 2")
        lms_conn.commit()
    assert state_of(dagrun) == "failed"  # the summary fails the run so it shows in the UI
    received = reports_for(fake, day)
    assert "NO-2000002" not in received
    assert set(received) == enabled_isils(lms_conn) - {"NO-2000002"}
    assert {v[0] for v in ledger_rows(state_dsn, day).values()} == {"accepted"}
    tis = {(ti.task_id, ti.map_index): ti for ti in dagrun.get_task_instances()}
    assert str(tis[("summary", -1)].state) in ("failed", "TaskInstanceState.FAILED")
    failed_loads = [ti for (task, _), ti in tis.items() if task == "load" and "failed" in str(ti.state)]
    assert len(failed_loads) == 1 and failed_loads[0].rendered_map_index.startswith("NO-2000002")


def test_retry_after_429_then_503_is_honoured(dag, fake, state_dsn):
    day = date(2026, 3, 30)
    fake.add_faults("429 Retry-After: 1 isil=NO-2000001", "503 Retry-After: 2 isil=NO-2000001")
    assert state_of(run_day(dag, day)) == "success"
    requests = [r for r in fake.requests("loans") if r.isil == "NO-2000001"]
    assert [r.status for r in requests] == [429, 503, 204]
    assert requests[1].at - requests[0].at >= 1.0
    assert requests[2].at - requests[1].at >= 2.0
    status, attempts, http_status, _, _ = ledger_rows(state_dsn, day)["NO-2000001"]
    assert (status, attempts, http_status) == ("accepted", 3, 204)


def test_400_rejects_one_agency_without_retry(dag, fake, state_dsn):
    day = date(2026, 3, 31)
    fake.add_faults("400 isil=NO-2000004 loans[3].ean: not a known product")
    dagrun = run_day(dag, day)
    assert state_of(dagrun) == "failed"
    assert len([r for r in fake.requests("loans") if r.isil == "NO-2000004"]) == 1
    rows = ledger_rows(state_dsn, day)
    status, attempts, http_status, message, _ = rows["NO-2000004"]
    assert (status, http_status) == ("rejected", 400)
    assert "not a known product" in message
    assert {v[0] for k, v in rows.items() if k != "NO-2000004"} == {"accepted"}


def test_rerun_of_an_accepted_day_sends_nothing(dag, fake):
    day = START  # reported by test_normal_day... or reported now
    run_day(dag, day)
    fake.reset()
    assert state_of(run_day(dag, day)) == "success"
    assert fake.loan_request_count == 0


def test_rerun_after_late_loans_sends_a_corrected_report(dag, fake, lms_dsn, state_dsn):
    day = START + timedelta(days=1)
    run_day(dag, day)
    before = ledger_rows(state_dsn, day)
    fake.reset()
    generator.add_loans(lms_dsn, day, 40, seed=99)
    assert state_of(run_day(dag, day)) == "success"
    after = ledger_rows(state_dsn, day)
    changed = {isil for isil in after if after[isil][4] != before[isil][4]}
    received = reports_for(fake, day)
    assert changed and set(received) == changed  # only the agencies whose report changed are resent
    for isil in changed:
        # The corrected report repeats the earlier loans with the same transaction ids.
        assert after[isil][0] == "accepted"
    with psycopg.connect(lms_dsn) as conn:
        for isil, payload in received.items():
            assert {loan["transactionId"] for loan in payload["loans"]} == set(expected_loans(conn, day, isil))


def test_no_secret_or_token_in_logs_xcom_or_staged_files(dag, fake, capfd, caplog, state_dsn):
    import logging

    from library_integrations.state.token_cache import clear_process_cache

    caplog.set_level(logging.DEBUG)

    with psycopg.connect(state_dsn) as conn:  # force a fresh token for this run
        conn.execute("DELETE FROM pipeline_state.oauth_token")
    clear_process_cache()
    assert state_of(run_day(dag, SECRETS_DAY)) == "success"
    tokens = fake.issued_tokens()
    assert tokens, "the run should have fetched a token"
    secrets = [fake.client_secret, *tokens]
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text
    assert "Bokbasen accepted report" in logs  # the task logs were captured
    for secret in secrets:
        assert secret not in logs
    # XCom of the run (in the metadata database) and every staged file.
    airflow_dsn = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(airflow_dsn) as conn:
        xcoms = conn.execute("SELECT value::text FROM xcom WHERE dag_id = 'bokbasen_loan_report'").fetchall()
    assert xcoms
    staging = settings.load().staging_base.removeprefix("file://")
    staged = [p.read_bytes() for p in __import__("pathlib").Path(staging).rglob("*") if p.is_file()]
    assert staged
    for secret in secrets:
        assert not any(secret in x for (x,) in xcoms)
        assert not any(secret.encode() in blob for blob in staged)


# ----------------------------------------------------------------------------- backfill, real scheduler
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _airflow(args, env, **kwargs):
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True,
                          **kwargs)


@pytest.mark.timeout(600)  # its own deadlines (120 s to parse, 300 s to finish) fail first, with a clear message
def test_backfill_create_with_a_running_scheduler(dag, fake, lms_conn, state_dsn, tmp_path):
    """`airflow backfill create` for two days, executed by a real scheduler, checked in the ledger."""
    port = _free_port()
    env = os.environ.copy()
    env.update({
        # No catchup flood: only the backfill's runs should happen (plus at most the latest day).
        "LOAN_REPORTING_CATCHUP": "false",
        "LOAN_REPORTING_START_DATE": "2026-03-26",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__CORE__PARALLELISM": "4",
    })
    procs = []
    logs = []
    try:
        # --skip-serve-logs: task logs are read from files here; no log server to hold port 8793.
        for name, args in (("api-server", ["api-server", "--port", str(port)]),
                           ("scheduler", ["scheduler", "--skip-serve-logs"]), ("dag-processor", ["dag-processor"])):
            log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed below
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "-m", "airflow", *args], env=env, stdout=log,
                                          stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while _airflow(["dags", "details", "bokbasen_loan_report"], env).returncode != 0:
            assert time.monotonic() < deadline, "the dag-processor did not parse the DAG in time"
            time.sleep(2)
        assert _airflow(["dags", "unpause", "bokbasen_loan_report"], env).returncode == 0
        created = _airflow(["backfill", "create", "--dag-id", "bokbasen_loan_report",
                            "--from-date", BACKFILL_DAYS[0].isoformat(), "--to-date", BACKFILL_DAYS[-1].isoformat()],
                           env)
        assert created.returncode == 0, created.stderr[-2000:]
        expected = enabled_isils(lms_conn)
        deadline = time.monotonic() + 300
        while True:
            rows = {day: ledger_rows(state_dsn, day) for day in BACKFILL_DAYS}
            if all(set(r) == expected and {v[0] for v in r.values()} == {"accepted"} for r in rows.values()):
                break
            assert all(p.poll() is None for p in procs), "an Airflow process died; see its log in " + str(tmp_path)
            assert time.monotonic() < deadline, f"backfill did not finish: {rows}"
            time.sleep(3)
        for day in BACKFILL_DAYS:
            received = reports_for(fake, day)
            assert set(received) == expected
            for isil, (_, _, _, _, sha) in rows[day].items():
                assert sha is not None
                assert len(received[isil]["loans"]) == len(expected_loans(lms_conn, day, isil))
    finally:
        stop_process_trees(procs, timeout=30)  # with their children: task processes, API workers
        for log in logs:
            log.close()
