"""Connection extras change the hook's behaviour against the fake over real HTTP."""

from __future__ import annotations

import json
import time

import pytest

from library_integrations.clients.bokbasen.errors import BokbasenRetryableError
from library_integrations.clients.bokbasen.loans import BokbasenHook
from tests.fixtures.fake_bokbasen import make_report

ISIL = "NO-2030100"
DAY = "2026-11-20"


@pytest.fixture()
def hook_with_extras(bokbasen_airflow_env, clean_bokbasen_ledger, monkeypatch):
    """``factory(**extras)`` -> a BokbasenHook on an Airflow connection to the fake with those extras."""
    server = bokbasen_airflow_env

    def factory(**extras) -> BokbasenHook:
        monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_EXTRAS", json.dumps(server.connection(**extras)))
        return BokbasenHook(bokbasen_conn_id="bokbasen_extras")

    return factory


def test_max_attempts_extra_gives_up_after_that_many_attempts(hook_with_extras, fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    server.add_faults({"status": 503, "retry_after": "0", "repeat": -1})
    hook = hook_with_extras(max_attempts="2")
    with pytest.raises(BokbasenRetryableError) as info:
        hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert info.value.attempts == 2 and info.value.status_code == 503
    assert server.loan_request_count == 2


def test_max_total_seconds_extra_bounds_the_wait(hook_with_extras, fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    server.add_faults({"status": 429, "retry_after": "5", "repeat": -1})
    hook = hook_with_extras(max_total_seconds="2")
    started = time.monotonic()
    with pytest.raises(BokbasenRetryableError):
        hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert time.monotonic() - started < 2  # a 5 s Retry-After does not fit: gives up at once
    assert server.loan_request_count == 1


def test_read_timeout_extra_times_out_a_slow_answer(hook_with_extras, fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    server.add_faults("slow 1.5")
    hook = hook_with_extras(read_timeout="0.3", max_attempts=1)
    assert hook.timeout == (10.0, 0.3)
    started = time.monotonic()
    with pytest.raises(BokbasenRetryableError) as info:
        hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert time.monotonic() - started < 1.4
    assert "timed out (ReadTimeout)" in str(info.value) and info.value.attempts == 1
    time.sleep(1.3)  # let the fake finish the abandoned request before the next test resets it


def test_without_extras_the_defaults_apply(hook_with_extras, fresh_fake_bokbasen):
    hook = hook_with_extras()
    assert hook.timeout == (10.0, 120.0)
    assert (hook.retry.max_attempts, hook.retry.max_total_seconds) == (6, 900.0)
    assert hook.send_report(make_report(), isil=ISIL, report_date=DAY).status_code == 204
