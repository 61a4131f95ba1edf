"""OAuth2 client credentials as a requests auth object, against a local HTTP server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests

from library_integrations.http.auth import BearerToken, MemoryTokenStore, OAuth2ClientCredentials, Token
from library_integrations.http.errors import (
    ApiConfigError,
    AuthError,
    ErrorTypes,
    Forbidden,
    RetryableApiError,
)
from library_integrations.http.retry import RetryBudget, RetryPolicy
from library_integrations.http.session import clean_session
from tests.unit.http.conftest import CLIENT_ID, CLIENT_SECRET

AUDIENCE = "https://api.example.test/reporting/"
JSON = {"Content-Type": "application/json"}


class Clock:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class RecordingStore(MemoryTokenStore):
    """A token store that records what the auth object asks of it (any TokenStore works)."""

    def __init__(self) -> None:
        super().__init__()
        self.invalidated: list[str] = []

    def invalidate(self, token) -> None:
        self.invalidated.append(token.access_token)
        super().invalidate(token)


def make_auth(api, **overrides) -> OAuth2ClientCredentials:
    params = {
        "token_url": api.token_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": AUDIENCE,
        "policy": RetryPolicy(max_attempts=3, backoff_base=0.01),
        "sleep": Clock(),
        "timeout": (2.0, 5.0),
        **overrides,
    }
    return OAuth2ClientCredentials(**params)


@pytest.fixture()
def session():
    with clean_session() as s:
        yield s


def test_token_is_fetched_once_and_reused(local_api, session):
    auth = make_auth(local_api)
    for _ in range(3):
        answer = session.get(local_api.api_url, auth=auth, timeout=5)
        assert answer.status_code == 200
    assert len(local_api.token_requests) == 1 and auth.token_requests == 1
    assert {r["token"] for r in local_api.api_requests} == {local_api.issued[0]}


def test_token_request_is_json_client_credentials_without_credentials_in_headers(local_api, session):
    session.get(local_api.api_url, auth=make_auth(local_api), timeout=5)
    (request,) = local_api.token_requests
    assert request["body"] == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "audience": AUDIENCE,
    }
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert "authorization" not in headers
    assert headers["content-type"] == "application/json" and "date" in headers
    assert all(CLIENT_SECRET not in v for v in headers.values())
    api_headers = local_api.api_requests[0]["headers"]
    assert api_headers["Authorization"] == f"Bearer {local_api.issued[0]}"
    assert all(CLIENT_SECRET not in v for v in api_headers.values())


def test_a_401_invalidates_the_token_and_refreshes_once(local_api, session, caplog):
    caplog.set_level(logging.INFO)
    store = RecordingStore()
    auth = make_auth(local_api, store=store, api_name="Example")
    session.get(local_api.api_url, auth=auth, timeout=5)
    first = local_api.issued[0]
    local_api.revoked.add(first)
    answer = session.post(
        local_api.api_url,
        data=b"the payload",
        headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"},
        auth=auth,
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["token_seen"] == local_api.issued[1]
    assert [r.status_code for r in answer.history] == [401]
    assert store.invalidated == [first] and auth.refreshes == 1 and auth.token_requests == 2
    refused, resent = local_api.api_requests[1:]
    assert refused["body"] == resent["body"] == b"the payload"  # the same request, re-sent
    assert resent["headers"]["Date"] != "Thu, 01 Jan 1970 00:00:00 GMT"  # re-stamped
    assert (
        "Example refused the access token (HTTP 401: Invalid token); fetching a new token once" in caplog.text
    )
    session.get(local_api.api_url, auth=auth, timeout=5)  # the new token is kept
    assert auth.token_requests == 2


def test_a_second_401_is_returned_not_refreshed_again(local_api, session):
    store = RecordingStore()
    auth = make_auth(local_api, store=store)
    local_api.api_answers += [(401, JSON, {"message": "no"}), (401, JSON, {"message": "still no"})]
    answer = session.get(local_api.api_url, auth=auth, timeout=5)
    assert answer.status_code == 401 and len(answer.history) == 1
    assert auth.token_requests == 2 and auth.refreshes == 1
    assert store.invalidated == local_api.issued  # both refused tokens are dropped
    session.get(local_api.api_url, auth=auth, timeout=5)
    assert auth.token_requests == 3


def test_on_refresh_callback_replaces_the_default_log(local_api, session):
    seen = []
    auth = make_auth(local_api, on_refresh=lambda response: seen.append(response.status_code))
    local_api.api_answers.append((401, JSON, {"message": "expired"}))
    assert session.get(local_api.api_url, auth=auth, timeout=5).status_code == 200
    assert seen == [401]


def test_token_endpoint_transient_failures_are_retried_with_retry_after(local_api, session):
    clock = Clock()
    auth = make_auth(local_api, sleep=clock)
    local_api.token_answers += [(503, {"Retry-After": "2", **JSON}, {"message": "busy"}), (500, JSON, {})]
    assert session.get(local_api.api_url, auth=auth, timeout=5).status_code == 200
    assert auth.token_requests == 3
    assert clock.waits[0] == 2.0 and len(clock.waits) == 2


def test_token_waits_count_in_the_operations_budget(local_api):
    clock = Clock()
    auth = make_auth(local_api)
    local_api.token_answers.append((429, {"Retry-After": "3"}, {}))
    budget = RetryBudget(RetryPolicy(), clock)
    with budget.active():
        auth.token()
    assert budget.waited == 3.0 and clock.waits == [3.0]


def test_token_endpoint_giving_up_raises_the_clients_retryable_error(local_api):
    class MyRetryable(RetryableApiError):
        pass

    auth = make_auth(local_api, errors=ErrorTypes(retryable=MyRetryable))
    local_api.token_answers += [(503, {}, "down")] * 3
    with pytest.raises(MyRetryable) as info:
        auth.token()
    assert info.value.status_code == 503 and "kept failing (HTTP 503) after 3 attempt(s)" in str(info.value)
    assert info.value.api_message == "down"


def test_unreachable_token_endpoint(session):
    auth = OAuth2ClientCredentials(
        token_url="http://127.0.0.1:9/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        policy=RetryPolicy(max_attempts=2, backoff_base=0.01),
        sleep=Clock(),
        timeout=(1.0, 1.0),
        api_name="Example",
    )
    with pytest.raises(RetryableApiError, match=r"Example token endpoint unreachable \(ConnectionError\)"):
        auth.token()
    assert auth.token_requests == 2


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        ((401, JSON, {"error": "invalid_client", "error_description": "Unauthorized"}), AuthError, "refused client id"),
        ((403, JSON, {"error_description": "not for you"}), Forbidden, f"refused access to audience {AUDIENCE}"),
        ((400, JSON, {"error": "unsupported_grant_type"}), ApiConfigError, "answered HTTP 400"),
        ((200, JSON, {"token_type": "Bearer"}), ApiConfigError, "without an access_token"),
        ((200, {}, "not json"), ApiConfigError, "without an access_token"),
    ],
)  # fmt: skip
def test_token_endpoint_refusals_are_typed_errors_without_the_secret(local_api, answer, error, words):
    local_api.token_answers.append(answer)
    auth = make_auth(local_api)
    with pytest.raises(error) as info:
        auth.token()
    assert words in str(info.value)
    assert CLIENT_SECRET not in f"{info.value!s} {info.value!r} {info.value.api_message}"
    if error is Forbidden:
        assert info.value.audience == AUDIENCE
    assert auth.token_requests == 1


def test_secret_echoed_by_the_token_endpoint_is_redacted(local_api):
    local_api.token_answers.append((400, JSON, {"message": f"bad client_secret {CLIENT_SECRET}"}))
    with pytest.raises(ApiConfigError) as info:
        make_auth(local_api).token()
    assert CLIENT_SECRET not in str(info.value) and "bad client_secret ***" in str(info.value)


def test_tokens_and_secret_never_logged_and_repr_hides_the_secret(local_api, session, caplog):
    caplog.set_level(logging.DEBUG)
    auth = make_auth(local_api)
    local_api.api_answers.append((401, JSON, {"message": "expired"}))
    session.get(local_api.api_url, auth=auth, timeout=5)
    session.get(local_api.api_url, auth=auth, timeout=5)
    assert CLIENT_SECRET not in repr(auth)
    for secret in [CLIENT_SECRET, *local_api.issued]:
        assert secret not in caplog.text
    assert auth.redactor(f"x {local_api.issued[0]} {CLIENT_SECRET}") == "x *** ***"


def test_missing_or_bad_expires_in_is_assumed_300_seconds(local_api):
    local_api.token_answers.append((200, JSON, {"access_token": "tok-without-expiry"}))
    store = MemoryTokenStore()
    token = make_auth(local_api, store=store).token()
    assert token.access_token == "tok-without-expiry"
    assert 299 <= (token.expires_at - token.fetched_at).total_seconds() <= 301


def test_memory_token_store():
    store = MemoryTokenStore(refresh_margin=60)
    fetches = []

    def fetch():
        fetches.append(1)
        return f"token-{len(fetches)}", 3600

    first, fetched = store.get(fetch)
    assert fetched and isinstance(first, Token) and first.access_token == "token-1"
    assert store.get(fetch) == (first, False)
    store.invalidate(BearerToken("other", first.fetched_at, first.expires_at))  # not the stored one
    assert store.get(fetch) == (first, False)
    store.invalidate(first)
    second, fetched = store.get(fetch)
    assert fetched and second.access_token == "token-2"
    store.forget()
    assert store.get(fetch)[0].access_token == "token-3"
    assert "token-3" not in repr(store.get(fetch)[0])


def test_bearer_token_is_refreshed_shortly_before_it_expires():
    fetched = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    token = BearerToken("tok", fetched, fetched + timedelta(seconds=3600))
    assert token.usable(60, fetched + timedelta(seconds=3500))
    assert not token.usable(60, fetched + timedelta(seconds=3541))
    short = BearerToken("tok", fetched, fetched + timedelta(seconds=10))
    assert short.usable(60, fetched + timedelta(seconds=8.9))  # margin capped at 10 % of lifetime
    assert not short.usable(60, fetched + timedelta(seconds=9.1))


def test_clean_session_sends_no_netrc_credentials(local_api, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password-123\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with requests.Session() as plain:
        plain.get(local_api.api_url, timeout=5)
    assert local_api.api_requests[-1]["headers"].get("Authorization", "").startswith("Basic ")  # the risk
    with clean_session(user_agent="ua-test/1") as clean:
        clean.get(local_api.api_url, timeout=5)
    headers = local_api.api_requests[-1]["headers"]
    assert "Authorization" not in headers
    assert headers["User-Agent"] == "ua-test/1" and headers["Accept"] == "application/json"
