"""The one retry loop of every API call: Retry-After, backoff with jitter, bounded attempts and time.

:func:`send_with_retries` sends a request (``send_once``), asks the caller's ``classify``
what the response means, and either returns, raises, or waits and sends again:

* ``classify`` returns a value: done, that value is returned;
* it raises (a typed :mod:`~library_integrations.http.errors` error): a permanent
  outcome (400, 401 after a refresh, 403, 404, ...), raised as is;
* it returns :class:`Retry`: a transient outcome (408, 429, 5xx); timeouts, refused or
  dropped connections and broken chunked bodies (:data:`TRANSIENT_EXCEPTIONS`) are
  transient without asking ``classify``;
* it returns :class:`Resend`: send again at once, without waiting (e.g. the server
  refused a gzip body, so the next attempt is uncompressed).

Waiting: a ``Retry-After`` (429/503, in seconds or as an HTTP date) is honoured exactly,
capped at ``max_retry_after``; otherwise exponential backoff with jitter
(:meth:`RetryPolicy.backoff`). The loop gives up, through ``on_give_up`` (which builds the
error to raise, typically a :class:`~library_integrations.http.errors.RetryableApiError`),
when the attempts are used up or when the next wait would end after ``max_total_seconds``
since the operation began: it never waits past the budget only to fail.

A :class:`RetryBudget` is the time of one *operation*. Nested loops share it: the OAuth2
token request made in the middle of a report POST (see
:mod:`~library_integrations.http.auth`) waits within the POST's budget, through
:func:`current_budget`. Every request the auth object re-sent after a 401 counts as an
attempt (``response.history``).

The loop logs nothing itself: ``on_retry`` and ``on_give_up`` let each client keep the log
lines its readers know. The defaults log ``<problem> (attempt n/N); backing off 1.2 s``.
"""

from __future__ import annotations

import contextvars
import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests

from library_integrations.http.errors import ApiError, ErrorTypes

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Network failures worth another attempt: timeouts, refused/reset/dropped connections,
#: a body cut off mid-stream. (``ConnectTimeout`` is both a Timeout and a ConnectionError.)
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
#: Statuses whose ``Retry-After`` header is honoured.
RETRY_AFTER_STATUSES = frozenset({429, 503})


def is_transient_status(status: int) -> bool:
    """408 Request Timeout, 429 Too Many Requests and every 5xx: the same request may succeed later."""
    return status in (408, 429) or status >= 500


def describe_exception(exc: BaseException) -> str:
    """A log-friendly description of a transient network failure (no URL, no secrets)."""
    kind = "timed out" if isinstance(exc, requests.Timeout) else "connection failed or was dropped"
    return f"request {kind} ({type(exc).__name__})"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def http_date(now: float | None = None) -> str:
    """An RFC 1123 date for the ``Date`` header, e.g. ``Fri, 20 Nov 2026 13:45:10 GMT``."""
    return email.utils.formatdate(now, usegmt=True)


@dataclass(frozen=True)
class RetryPolicy:
    """Retry bounds of one operation: attempts (HTTP requests), total time, backoff shape.

    Backoff before retry *n* (n = 1, 2, ...) is ``min(backoff_max, backoff_base * 2**(n-1))``
    scaled by a random factor in [0.5, 1.0] (jitter). A ``Retry-After`` is honoured exactly
    (capped at ``max_retry_after``). No wait ever goes past ``max_total_seconds`` after the
    first attempt began: the client gives up early instead.
    """

    max_attempts: int = 6
    max_total_seconds: float = 900.0
    backoff_base: float = 2.0
    backoff_max: float = 120.0
    max_retry_after: float = 600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.max_total_seconds < 0 or self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("retry times must not be negative")

    def backoff(self, retry_number: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** max(0, retry_number - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    def wait_before_retry(self, retry_number: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``retry_number``: the capped Retry-After, else backoff."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return self.backoff(retry_number)


_current_budget: contextvars.ContextVar[RetryBudget | None] = contextvars.ContextVar(
    "library_integrations_retry_budget", default=None
)


def current_budget() -> RetryBudget | None:
    """The budget of the operation running in this thread/task, if any (see :meth:`RetryBudget.active`)."""
    return _current_budget.get()


@dataclass
class RetryBudget:
    """The time one operation may take, shared by its nested loops.

    ``attempts``: requests of the operation's main loop so far; ``waited``: seconds slept
    (by any loop of the operation); ``label``: what the operation is about, for log lines
    written by nested code (e.g. ``NO-2030100 2026-11-20``).
    """

    policy: RetryPolicy
    sleep: Callable[[float], None] = time.sleep
    started: float = field(default_factory=time.monotonic)
    attempts: int = 0
    waited: float = 0.0
    label: str | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.policy.max_total_seconds - self.elapsed()

    def can_wait(self, seconds: float) -> bool:
        return seconds <= self.remaining()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` if the budget allows it; False if it does not (the caller gives up)."""
        if not self.can_wait(seconds):
            return False
        if seconds > 0:
            self.sleep(seconds)
            self.waited += seconds
        return True

    @contextmanager
    def active(self) -> Iterator[RetryBudget]:
        """Make this the :func:`current_budget` while the block runs."""
        token = _current_budget.set(self)
        try:
            yield self
        finally:
            _current_budget.reset(token)


@dataclass(frozen=True)
class Retry:
    """``classify``'s answer for a transient outcome: wait (Retry-After or backoff) and try again.

    ``problem`` is what the log says went wrong, e.g. ``HTTP 503 (Service unavailable)``.
    """

    problem: str
    status_code: int | None = None
    retry_after: float | None = None
    api_message: str | None = None

    @classmethod
    def for_response(cls, response: requests.Response, problem: str, api_message: str | None = None) -> Retry:
        """A retry for ``response``, with its ``Retry-After`` when the status is 429 or 503."""
        status = response.status_code
        retry_after = (
            parse_retry_after(response.headers.get("Retry-After")) if status in RETRY_AFTER_STATUSES else None
        )
        return cls(problem, status, retry_after, api_message)


@dataclass(frozen=True)
class Resend:
    """``classify``'s answer when the request must be changed and sent again at once (no wait)."""

    reason: str


@dataclass(frozen=True)
class RetryNotice:
    """What the loop knows when it is about to wait, or to give up."""

    retry: Retry
    attempt: int
    max_attempts: int
    wait: float
    budget: RetryBudget
    exception: BaseException | None = None

    @property
    def how(self) -> str:
        """``Retry-After 30 s; waiting 30.0 s`` or ``backing off 4.1 s``."""
        if self.retry.retry_after is not None:
            return f"Retry-After {self.retry.retry_after:g} s; waiting {self.wait:.1f} s"
        return f"backing off {self.wait:.1f} s"

    @property
    def elapsed(self) -> float:
        return self.budget.elapsed()


def log_retry(notice: RetryNotice) -> None:
    """The default ``on_retry``: one warning line."""
    log.warning(
        "%s (attempt %d/%d); %s", notice.retry.problem, notice.attempt, notice.max_attempts, notice.how
    )


DEFAULT_ERRORS = ErrorTypes()


def retryable_error(errors: ErrorTypes = DEFAULT_ERRORS) -> Callable[[RetryNotice], ApiError]:
    """The default ``on_give_up``: ``errors.retryable`` saying what kept failing."""

    def give_up(notice: RetryNotice) -> ApiError:
        return errors.retryable(
            f"{notice.retry.problem}: gave up after {notice.attempt} attempt(s) in {notice.elapsed:.0f} s. "
            "Transient: retry later.",
            status_code=notice.retry.status_code,
            attempts=notice.attempt,
            api_message=notice.retry.api_message,
        )

    return give_up


def send_with_retries(
    send_once: Callable[[int], requests.Response],
    classify: Callable[[requests.Response, int], T | Retry | Resend],
    policy: RetryPolicy,
    *,
    budget: RetryBudget | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[RetryNotice], None] = log_retry,
    on_give_up: Callable[[RetryNotice], BaseException] | None = None,
    describe: Callable[[BaseException], str] = describe_exception,
    main: bool = True,
) -> T:
    """Send until ``classify`` returns a result or raises, or the policy/budget gives up.

    ``send_once(attempt)`` sends one request (``attempt`` counts from 1) and returns the
    response; ``classify(response, attempt)`` returns the result, :class:`Retry`,
    :class:`Resend`, or raises. ``budget``: the operation's budget (a new one by default,
    using ``sleep``); it is the :func:`current_budget` while the loop runs. ``main``: this
    loop's attempts are the operation's (``budget.attempts``); a nested loop such as a token
    request passes False. ``on_give_up(notice)`` returns the exception to raise (default:
    :class:`~library_integrations.http.errors.RetryableApiError`).
    """
    budget = budget or RetryBudget(policy, sleep)
    give_up = on_give_up or retryable_error()
    attempt = 0
    resends = 0
    with budget.active():
        while True:
            attempt += 1
            exception: BaseException | None = None
            try:
                response = send_once(attempt)
            except TRANSIENT_EXCEPTIONS as exc:
                exception = exc
                outcome: Any = Retry(describe(exc))
            else:
                attempt += len(response.history or ())  # re-sent by the auth object after a 401
                if main:
                    budget.attempts = attempt
                outcome = classify(response, attempt)
            if main:
                budget.attempts = attempt
            if isinstance(outcome, Resend):
                resends += 1
                if resends <= policy.max_attempts:  # a guard against a classify that always resends
                    log.debug("Sending again at once: %s", outcome.reason)
                    continue
                outcome = Retry(f"still {outcome.reason} after {resends - 1} resend(s)")
            if not isinstance(outcome, Retry):
                return outcome
            wait = policy.wait_before_retry(attempt, outcome.retry_after)
            notice = RetryNotice(outcome, attempt, policy.max_attempts, wait, budget, exception)
            if attempt >= policy.max_attempts or not budget.can_wait(wait):
                raise give_up(notice) from None
            on_retry(notice)
            budget.wait(wait)
