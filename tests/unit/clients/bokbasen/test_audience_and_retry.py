"""Pure helpers of the Bokbasen client: audience derivation, Retry-After, backoff, token lifetime."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest

from library_integrations.clients.bokbasen.config import derive_audience
from library_integrations.clients.bokbasen.errors import BokbasenConfigError
from library_integrations.http.auth import BearerToken
from library_integrations.http.retry import RetryPolicy, http_date, parse_retry_after


@pytest.mark.parametrize(
    ("endpoint", "audience"),
    [
        ("https://api.bokbasen.io/reporting/v1/library-loans", "https://api.bokbasen.io/reporting/"),
        ("https://api.bokbasen.io/reporting/", "https://api.bokbasen.io/reporting/"),
        ("https://api.bokbasen.io/reporting", "https://api.bokbasen.io/reporting/"),
        ("https://API.Bokbasen.IO/reporting/x?y=1#z", "https://api.bokbasen.io/reporting/"),
        ("HTTPS://api.bokbasen.io//reporting/loans", "https://api.bokbasen.io/reporting/"),
        ("http://127.0.0.1:8089/reporting/v1/library-loans", "http://127.0.0.1:8089/reporting/"),
        ("https://user:pw@api.stage.bokbasen.io/loans/v2", "https://api.stage.bokbasen.io/loans/"),
    ],
)
def test_audience_is_scheme_host_and_first_path_segment(endpoint, audience):
    assert derive_audience(endpoint) == audience


@pytest.mark.parametrize(
    "endpoint", ["https://api.bokbasen.io", "https://api.bokbasen.io/", "ftp://x/y", "api/x"]
)
def test_audience_cannot_be_derived_from_unusable_endpoints(endpoint):
    with pytest.raises(BokbasenConfigError):
        derive_audience(endpoint)


def test_retry_after_seconds_and_http_date():
    now = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("1.5") == 1.5
    assert (
        parse_retry_after(email.utils.format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    )
    assert (
        parse_retry_after(email.utils.format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    )
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_date_header_is_rfc_1123():
    value = http_date(0)
    assert value == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert email.utils.parsedate_to_datetime(http_date()).tzinfo is not None


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0)
    for n, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        waits = [policy.backoff(n) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jitter


def test_token_is_refreshed_shortly_before_it_expires():
    fetched = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    token = BearerToken("tok", fetched, fetched + timedelta(seconds=3600))
    assert token.usable(60, fetched + timedelta(seconds=3500))
    assert not token.usable(60, fetched + timedelta(seconds=3541))  # margin 60 s
    short = BearerToken("tok", fetched, fetched + timedelta(seconds=10))
    assert short.usable(60, fetched + timedelta(seconds=8.9))  # margin capped at 10 % of lifetime
    assert not short.usable(60, fetched + timedelta(seconds=9.1))


def test_token_repr_hides_the_token():
    fetched = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    token = BearerToken("very-secret-token-value", fetched, fetched + timedelta(seconds=10))
    assert "very-secret-token-value" not in repr(token)
    assert "very-secret-token-value" not in str(token)
