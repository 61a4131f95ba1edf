"""The shared retry loop and its parts: policy bounds, Retry-After, classification, budget."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest
import requests

from library_integrations.http.errors import ErrorTypes, RequestRejected, RetryableApiError
from library_integrations.http.retry import (
    TRANSIENT_EXCEPTIONS,
    Resend,
    Retry,
    RetryBudget,
    RetryPolicy,
    current_budget,
    describe_exception,
    http_date,
    is_transient_status,
    parse_retry_after,
    send_with_retries,
)


def response(
    status: int, headers: dict | None = None, body: bytes = b"", history: int = 0
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    r._content = body
    r.history = [response(401) for _ in range(history)]
    return r


class Clock:
    """A fake ``sleep`` that records the waits (and sleeps for nothing)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def scripted(*outcomes):
    """``send_once`` answering each attempt with the next response, or raising the next exception."""
    queue = list(outcomes)
    calls: list[int] = []

    def send_once(attempt: int):
        calls.append(attempt)
        outcome = queue.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    send_once.calls = calls
    return send_once


def classify(r: requests.Response, attempt: int):
    if r.status_code < 300:
        return ("done", attempt)
    if is_transient_status(r.status_code):
        return Retry.for_response(r, f"HTTP {r.status_code}")
    raise RequestRejected(f"HTTP {r.status_code}", status_code=r.status_code, attempts=attempt)


FAST = RetryPolicy(max_attempts=5, max_total_seconds=100, backoff_base=1.0, backoff_max=8.0)


# -- policy -------------------------------------------------------------------------------


def test_default_policy_matches_the_documented_bounds():
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.max_total_seconds) == (6, 900.0)
    assert (policy.backoff_base, policy.backoff_max, policy.max_retry_after) == (2.0, 120.0, 600.0)


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0)
    for n, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (30, 5.0)]:
        waits = [policy.backoff(n) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jitter


def test_retry_after_is_capped_and_preferred_over_backoff():
    policy = RetryPolicy(max_retry_after=60)
    assert policy.wait_before_retry(1, 30) == 30
    assert policy.wait_before_retry(1, 0) == 0
    assert policy.wait_before_retry(1, 3600) == 60
    assert 1.0 <= policy.wait_before_retry(1, None) <= 2.0


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"max_total_seconds": -1}, {"backoff_base": -1}])
def test_nonsensical_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


# -- Retry-After and Date -----------------------------------------------------------------


def test_retry_after_as_seconds():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None


def test_retry_after_as_http_date():
    now = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
    later = email.utils.format_datetime(now + timedelta(seconds=30), usegmt=True)
    earlier = email.utils.format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now) == 30.0
    assert parse_retry_after(earlier, now) == 0.0
    assert parse_retry_after("Fri, 20 Nov 2026 12:01:00 GMT", now) == 60.0
    assert parse_retry_after("Fri, 20 Nov 2026 12:01:00", now) == 60.0  # no zone: GMT


def test_date_header_is_rfc_1123():
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert email.utils.parsedate_to_datetime(http_date()).tzinfo is not None


def test_retry_for_response_reads_retry_after_only_on_429_and_503():
    assert Retry.for_response(response(429, {"Retry-After": "7"}), "x").retry_after == 7.0
    assert Retry.for_response(response(503, {"Retry-After": "7"}), "x").retry_after == 7.0
    assert Retry.for_response(response(502, {"Retry-After": "7"}), "x").retry_after is None
    assert Retry.for_response(response(503), "x").retry_after is None
    assert Retry.for_response(response(503), "x").status_code == 503


# -- classification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "transient"),
    [(408, True), (429, True), (500, True), (502, True), (503, True), (504, True), (599, True),
     (400, False), (401, False), (403, False), (404, False), (409, False), (415, False), (422, False)],
)  # fmt: skip
def test_transient_statuses(status, transient):
    assert is_transient_status(status) is transient


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (requests.ReadTimeout(), "request timed out (ReadTimeout)"),
        (requests.ConnectTimeout(), "request timed out (ConnectTimeout)"),
        (requests.ConnectionError(), "request connection failed or was dropped (ConnectionError)"),
        (
            requests.exceptions.ChunkedEncodingError(),
            "request connection failed or was dropped (ChunkedEncodingError)",
        ),
    ],
)
def test_network_failures_are_transient_and_described_without_details(exc, words):
    assert isinstance(exc, TRANSIENT_EXCEPTIONS)
    assert describe_exception(exc) == words


def test_other_request_errors_are_not_transient():
    assert not isinstance(requests.exceptions.InvalidURL(), TRANSIENT_EXCEPTIONS)
    assert not isinstance(requests.exceptions.MissingSchema(), TRANSIENT_EXCEPTIONS)


# -- the loop -----------------------------------------------------------------------------


def test_success_at_first_attempt_sleeps_never():
    clock = Clock()
    assert send_with_retries(scripted(response(204)), classify, FAST, sleep=clock) == ("done", 1)
    assert clock.waits == []


def test_retry_after_is_honoured_exactly():
    clock = Clock()
    send = scripted(
        response(429, {"Retry-After": "30"}), response(503, {"Retry-After": "2.5"}), response(200)
    )
    assert send_with_retries(send, classify, FAST, sleep=clock) == ("done", 3)
    assert clock.waits == [30.0, 2.5]
    assert send.calls == [1, 2, 3]


def test_transient_failures_back_off_exponentially():
    clock = Clock()
    send = scripted(
        response(500), requests.ConnectionError(), requests.ReadTimeout(), response(502), response(200)
    )
    assert send_with_retries(send, classify, FAST, sleep=clock) == ("done", 5)
    assert len(clock.waits) == 4
    for n, wait in enumerate(clock.waits, start=1):
        assert 2 ** (n - 1) / 2 <= wait <= 2 ** (n - 1)


def test_attempts_are_bounded_and_the_last_problem_is_reported():
    clock = Clock()
    send = scripted(*[response(500)] * 10)
    with pytest.raises(RetryableApiError) as info:
        send_with_retries(send, classify, RetryPolicy(max_attempts=3, backoff_base=0.01), sleep=clock)
    assert info.value.retryable and info.value.attempts == 3 and info.value.status_code == 500
    assert "HTTP 500" in str(info.value)
    assert len(send.calls) == 3 and len(clock.waits) == 2


def test_time_is_bounded_the_loop_gives_up_instead_of_waiting_past_the_budget():
    clock = Clock()
    send = scripted(response(503, {"Retry-After": "30"}), response(200))
    with pytest.raises(RetryableApiError) as info:
        send_with_retries(send, classify, RetryPolicy(max_total_seconds=10), sleep=clock)
    assert clock.waits == [] and send.calls == [1]
    assert info.value.attempts == 1


def test_retry_after_beyond_the_cap_waits_the_cap():
    clock = Clock()
    policy = RetryPolicy(max_retry_after=5, max_total_seconds=100)
    send_with_retries(
        scripted(response(429, {"Retry-After": "3600"}), response(200)), classify, policy, sleep=clock
    )
    assert clock.waits == [5]


def test_permanent_outcomes_are_raised_at_once():
    clock = Clock()
    send = scripted(response(422), response(200))
    with pytest.raises(RequestRejected) as info:
        send_with_retries(send, classify, FAST, sleep=clock)
    assert info.value.attempts == 1 and send.calls == [1] and clock.waits == []


def test_other_exceptions_propagate_unretried():
    send = scripted(requests.exceptions.InvalidURL("no"), response(200))
    with pytest.raises(requests.exceptions.InvalidURL):
        send_with_retries(send, classify, FAST, sleep=Clock())
    assert send.calls == [1]


def test_resend_sends_again_at_once_and_counts_an_attempt():
    clock = Clock()
    state = {"resent": False}

    def classify_415(r, attempt):
        if r.status_code == 415 and not state["resent"]:
            state["resent"] = True
            return Resend("gzip refused")
        return classify(r, attempt)

    assert send_with_retries(scripted(response(415), response(204)), classify_415, FAST, sleep=clock) == (
        "done",
        2,
    )
    assert clock.waits == []


def test_a_classify_that_always_resends_still_ends():
    send = scripted(*[response(415)] * 100)
    with pytest.raises(RetryableApiError):
        send_with_retries(send, lambda r, a: Resend("again"), RetryPolicy(max_attempts=3), sleep=Clock())
    assert len(send.calls) < 100


def test_requests_resent_by_the_auth_object_count_as_attempts():
    budget = RetryBudget(FAST, Clock())
    result = send_with_retries(scripted(response(200, history=1)), classify, FAST, budget=budget)
    assert result == ("done", 2) and budget.attempts == 2


def test_callbacks_see_each_wait_and_build_the_error():
    notices, clock = [], Clock()
    errors = ErrorTypes()

    def give_up(notice):
        return errors.retryable(
            f"gave up after {notice.attempt}: {notice.retry.problem}", attempts=notice.attempt
        )

    with pytest.raises(RetryableApiError, match="gave up after 3: HTTP 503"):
        send_with_retries(
            scripted(response(429, {"Retry-After": "1"}), response(500), response(503)),
            classify,
            RetryPolicy(max_attempts=3, backoff_base=0.5),
            sleep=clock,
            on_retry=notices.append,
            on_give_up=give_up,
        )
    assert [(n.attempt, n.max_attempts, n.retry.status_code) for n in notices] == [(1, 3, 429), (2, 3, 500)]
    assert notices[0].how == "Retry-After 1 s; waiting 1.0 s"
    assert notices[1].how.startswith("backing off ")


def test_default_give_up_and_log_lines(caplog):
    caplog.set_level("WARNING")
    with pytest.raises(RetryableApiError) as info:
        send_with_retries(
            scripted(requests.ReadTimeout(), requests.ReadTimeout()),
            classify,
            RetryPolicy(max_attempts=2, backoff_base=0.01),
            sleep=Clock(),
        )
    assert "request timed out (ReadTimeout) (attempt 1/2); backing off" in caplog.text
    assert info.value.status_code is None and info.value.attempts == 2


def test_nested_loops_share_the_operation_budget():
    clock = Clock()
    outer = RetryBudget(FAST, clock, label="NO-1 2026-11-20")
    seen = []

    def send_outer(attempt):
        seen.append(current_budget())
        # a token request in the middle of the operation: waits count in the same budget
        send_with_retries(
            scripted(response(503, {"Retry-After": "4"}), response(200)),
            classify,
            FAST,
            budget=current_budget(),
            main=False,
        )
        return response(204)

    assert current_budget() is None
    assert send_with_retries(send_outer, classify, FAST, budget=outer) == ("done", 1)
    assert seen == [outer] and current_budget() is None
    assert outer.waited == 4.0 and clock.waits == [4.0]
    assert outer.attempts == 1  # the nested loop's attempts are not the operation's


def test_budget_wait_refuses_what_does_not_fit():
    clock = Clock()
    budget = RetryBudget(RetryPolicy(max_total_seconds=10), clock)
    assert budget.wait(3) and budget.waited == 3
    assert not budget.wait(30) and clock.waits == [3]
    assert budget.can_wait(9) and not budget.can_wait(11)
