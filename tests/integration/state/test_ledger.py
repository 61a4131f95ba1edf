"""The submission ledger: one row per agency-day, idempotent sends, one sender at a time."""

from __future__ import annotations

import logging
import threading
from datetime import date

import pytest

from library_integrations.clients.bokbasen.errors import BokbasenReportRejected, BokbasenRetryableError
from library_integrations.state.ledger import Ledger, payload_sha256
from library_integrations.state.migrations import current_version, migrate
from tests.fixtures.fake_bokbasen import make_report

ISIL = "NO-2030100"
DAY = date(2026, 11, 20)


@pytest.fixture()
def ledger(clean_bokbasen_ledger):
    return clean_bokbasen_ledger


@pytest.fixture()
def send(bokbasen_hook_factory):
    hook = bokbasen_hook_factory()

    def make_send(isil=ISIL, day=DAY):
        return lambda body: hook.send_report(body, isil=isil, report_date=day)

    return make_send


def test_ledger_is_migrated_and_migrating_again_changes_nothing(ledger):
    assert current_version(ledger.dsn) >= 2  # the ledger lives in pipeline_state
    assert migrate(ledger.dsn, force=True) == []
    assert migrate(ledger.dsn) == []


def test_first_submission_is_sent_and_recorded(ledger, send, fresh_fake_bokbasen):
    payload = make_report(ISIL, DAY, loans=4)
    outcome = ledger.submit(ISIL, DAY, payload, 4, send())
    assert (outcome.outcome, outcome.status, outcome.previous_status) == ("sent", "accepted", "pending")
    assert outcome.send_result.status_code == 204
    row = ledger.get(ISIL, DAY)
    assert row.status == "accepted" and row.payload_sha256 == payload_sha256(payload)
    assert (row.loan_count, row.attempts, row.submissions, row.last_http_status) == (4, 1, 1, 204)
    assert row.first_attempt_at <= row.last_attempt_at and row.accepted_at is not None
    assert fresh_fake_bokbasen.reports(ISIL)[0]["loan_count"] == 4


def test_identical_accepted_payload_is_not_sent_again(ledger, send, fresh_fake_bokbasen, caplog):
    caplog.set_level(logging.INFO)
    payload = make_report(ISIL, DAY)
    ledger.submit(ISIL, DAY, payload, 3, send())
    outcome = ledger.submit(ISIL, DAY, payload, 3, send())
    assert (outcome.outcome, outcome.status, outcome.send_result) == ("skipped", "accepted", None)
    assert fresh_fake_bokbasen.loan_request_count == 1
    assert "already accepted with an identical payload" in caplog.text
    assert [e["event"] for e in ledger.events(isil=ISIL)] == ["accepted", "skipped"]


def test_changed_payload_is_sent_again(ledger, send, fresh_fake_bokbasen):
    ledger.submit(ISIL, DAY, make_report(ISIL, DAY, loans=3), 3, send())
    late = make_report(ISIL, DAY, loans=5)  # late-registered loans
    outcome = ledger.submit(ISIL, DAY, late, 5, send())
    assert (outcome.outcome, outcome.previous_status) == ("sent", "accepted")
    row = ledger.get(ISIL, DAY)
    assert row.payload_sha256 == payload_sha256(late) and row.loan_count == 5 and row.submissions == 2
    assert [r["loan_count"] for r in fresh_fake_bokbasen.reports(ISIL)] == [3, 5]


def test_rejection_is_recorded_reraised_and_resent_next_time(ledger, send, fresh_fake_bokbasen):
    fresh_fake_bokbasen.add_faults({"status": 422, "message": "loans[0].ean: unknown product"})
    payload = make_report(ISIL, DAY)
    with pytest.raises(BokbasenReportRejected):
        ledger.submit(ISIL, DAY, payload, 3, send())
    row = ledger.get(ISIL, DAY)
    assert (row.status, row.last_http_status, row.attempts) == ("rejected", 422, 1)
    assert "loans[0].ean: unknown product" in row.last_message
    outcome = ledger.submit(ISIL, DAY, payload, 3, send())
    assert (outcome.outcome, outcome.previous_status, outcome.status) == ("sent", "rejected", "accepted")
    assert ledger.get(ISIL, DAY).attempts == 2


def test_transient_failure_is_recorded_as_failed(ledger, bokbasen_hook_factory, fresh_fake_bokbasen):
    fresh_fake_bokbasen.add_faults({"status": 503, "retry_after": "0", "repeat": 2})
    hook = bokbasen_hook_factory(retry_overrides={"max_attempts": 2})
    with pytest.raises(BokbasenRetryableError):
        ledger.submit(ISIL, DAY, make_report(), 3, lambda b: hook.send_report(b, isil=ISIL, report_date=DAY))
    row = ledger.get(ISIL, DAY)
    assert (row.status, row.last_http_status, row.attempts) == ("failed", 503, 2)
    assert "BokbasenRetryableError" in row.last_message


def test_any_error_from_send_is_recorded_as_failed(ledger):
    def broken(body):
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        ledger.submit(ISIL, DAY, make_report(), 3, broken)
    assert ledger.get(ISIL, DAY).status == "failed"


def test_concurrent_senders_of_one_agency_day_send_once(ledger, bokbasen_hook_factory, fresh_fake_bokbasen):
    fresh_fake_bokbasen.add_faults("slow 1")  # the first send holds the agency-day lock for a second
    payload = make_report(ISIL, DAY)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def sender():
        hook = bokbasen_hook_factory()
        barrier.wait()
        try:
            outcomes.append(
                Ledger(ledger.dsn).submit(
                    ISIL, DAY, payload, 3, lambda b: hook.send_report(b, isil=ISIL, report_date=DAY)
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(o.outcome for o in outcomes) == ["sent", "skipped"]
    assert fresh_fake_bokbasen.loan_request_count == 1
    assert len(fresh_fake_bokbasen.reports()) == 1


def test_rows_can_be_filtered_by_agency_and_day(ledger, send):
    for isil, day in [("NO-1000001", DAY), ("NO-1000002", DAY), ("NO-1000001", date(2026, 11, 21))]:
        ledger.submit(isil, day, make_report(isil, day), 3, send(isil, day))
    assert [(r.isil, r.report_date) for r in ledger.rows()] == [
        ("NO-1000001", DAY),
        ("NO-1000002", DAY),
        ("NO-1000001", date(2026, 11, 21)),
    ]
    assert {r.isil for r in ledger.rows(report_date=DAY)} == {"NO-1000001", "NO-1000002"}
    assert [r.report_date for r in ledger.rows(isil="NO-1000001")] == [DAY, date(2026, 11, 21)]
    assert len(ledger.rows(isil="NO-1000001", report_date=DAY)) == 1


def test_ledger_from_the_airflow_connection(ledger, bokbasen_airflow_env):
    from_conn = Ledger.from_connection("loan_reporting_db")
    ledger.submit(ISIL, DAY, make_report(), 3, lambda body: _accepted())
    assert [r.isil for r in from_conn.rows()] == [ISIL]


def _accepted():
    from library_integrations.http.results import SendResult

    return SendResult(status_code=204, attempts=1, waited_seconds=0.0, elapsed_seconds=0.01)
