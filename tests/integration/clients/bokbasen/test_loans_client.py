"""BokbasenHook against the fake Bokbasen over real HTTP, with the token cache in PostgreSQL."""

from __future__ import annotations

import json
import logging
import time

import psycopg
import pytest

from library_integrations.clients.bokbasen.errors import (
    BokbasenAuthError,
    BokbasenConfigError,
    BokbasenForbidden,
    BokbasenReportRejected,
    BokbasenRetryableError,
)
from library_integrations.clients.bokbasen.loans import BokbasenHook
from library_integrations.state.token_cache import deployment_fernet
from tests.fixtures.fake_bokbasen import make_report

ISIL = "NO-2030100"
DAY = "2026-11-20"


@pytest.fixture()
def server(fresh_fake_bokbasen, clean_bokbasen_ledger):
    """The fake with an empty token cache, so token-request counts start from zero."""
    return fresh_fake_bokbasen


def test_token_fetched_once_and_reused_across_calls_and_hooks(server, bokbasen_hook_factory):
    hook = bokbasen_hook_factory()
    for _ in range(5):
        assert hook.send_report(make_report(), isil=ISIL, report_date=DAY).status_code == 204
    other_hook = bokbasen_hook_factory()  # e.g. the next agency's task in this process
    other_hook.send_report(make_report("NO-1000001"), isil="NO-1000001", report_date=DAY)
    assert server.token_request_count == 1
    assert server.loan_request_count == 6
    tokens = {r.header("Authorization") for r in server.requests("loans")}
    assert tokens == {f"Bearer {server.issued_tokens()[0]}"}


def test_cached_token_is_stored_encrypted_in_the_ledger_database(
    server, bokbasen_hook_factory, bokbasen_ledger_dsn
):
    bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    token = server.issued_tokens()[0]
    with psycopg.connect(bokbasen_ledger_dsn) as conn:
        rows = conn.execute(
            "SELECT audience, token_ciphertext FROM pipeline_state.oauth_token"
        ).fetchall()
    assert len(rows) == 1
    audience, ciphertext = rows[0]
    assert audience == server.audience
    assert token not in ciphertext
    assert deployment_fernet().decrypt(ciphertext.encode()).decode() == token


def test_token_refreshed_after_expiry(server, bokbasen_hook_factory):
    server.configure(expires_in=1)
    hook = bokbasen_hook_factory()
    hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert server.token_request_count == 1
    time.sleep(1.0)  # refreshed 10 % of the lifetime before expiry: no 401 needed
    hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert server.token_request_count == 2
    assert [r.status for r in server.requests("loans")] == [204, 204, 204]


def test_revoked_token_is_dropped_and_refetched_once(server, bokbasen_hook_factory, caplog):
    caplog.set_level(logging.INFO)
    hook = bokbasen_hook_factory()
    hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    server.add_faults("revoke")
    result = hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert result.status_code == 204 and result.token_refreshes == 1 and result.attempts == 2
    assert server.token_request_count == 2
    assert "fetching a new token once" in caplog.text
    # A second hook (another task) does not reuse the revoked token: the cache holds the new one.
    bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    assert server.token_request_count == 2


def test_second_401_after_refresh_fails_with_auth_error(server, bokbasen_hook_factory):
    server.add_faults({"status": 401, "message": "Invalid token", "repeat": 2})
    with pytest.raises(BokbasenAuthError) as info:
        bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    assert info.value.status_code == 401 and info.value.attempts == 2
    assert server.token_request_count == 2


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(server, bokbasen_hook_factory, status):
    server.add_faults(f"{status} Retry-After: 1")
    started = time.monotonic()
    result = bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    elapsed = time.monotonic() - started
    assert result.status_code == 204 and result.attempts == 2
    assert result.waited_seconds >= 1.0 and elapsed >= 1.0
    assert elapsed < 3.0


def test_retry_after_http_date_is_honoured(server, bokbasen_hook_factory):
    import email.utils

    server.add_faults({"status": 429, "retry_after": email.utils.formatdate(time.time() + 2, usegmt=True)})
    started = time.monotonic()
    result = bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    assert result.attempts == 2
    assert time.monotonic() - started >= 1.0  # an HTTP date has whole-second precision


def test_server_errors_and_dropped_connections_are_retried(server, bokbasen_hook_factory, caplog):
    caplog.set_level(logging.WARNING)
    server.add_faults("500", "502", "drop", "503")  # 503 without Retry-After: exponential backoff
    result = bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    assert result.status_code == 204 and result.attempts == 5
    assert [r.status for r in server.requests("loans")] == [500, 502, None, 503, 204]
    assert "dropped" in caplog.text and "backing off" in caplog.text
    assert len(server.reports()) == 1


def test_timeouts_are_retried(server, bokbasen_hook_factory):
    server.add_faults("slow 1.5")
    result = bokbasen_hook_factory(read_timeout=0.5).send_report(make_report(), isil=ISIL, report_date=DAY)
    assert result.status_code == 204 and result.attempts == 2
    # Like a real API, the server still processes the request the client gave up on: the same
    # report arrives twice. Deterministic transaction ids let Bokbasen de-duplicate it.
    time.sleep(1.2)
    assert [r["sha256"] for r in server.reports()] == [server.reports()[0]["sha256"]] * 2


def test_retries_are_bounded_in_count(server, bokbasen_hook_factory):
    server.add_faults({"status": 500, "repeat": -1})
    hook = bokbasen_hook_factory(retry_overrides={"max_attempts": 3})
    with pytest.raises(BokbasenRetryableError) as info:
        hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert info.value.retryable and info.value.attempts == 3 and info.value.status_code == 500
    assert server.loan_request_count == 3


def test_retries_are_bounded_in_time(server, bokbasen_hook_factory):
    server.add_faults({"status": 503, "retry_after": "30", "repeat": -1})
    hook = bokbasen_hook_factory(retry_overrides={"max_total_seconds": 2})
    started = time.monotonic()
    with pytest.raises(BokbasenRetryableError):
        hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert time.monotonic() - started < 2  # gives up at once instead of waiting past the budget
    assert server.loan_request_count == 1


@pytest.mark.parametrize("status", [400, 422])
def test_rejected_report_fails_at_once_and_logs_the_api_message(
    server, bokbasen_hook_factory, caplog, status
):
    caplog.set_level(logging.INFO)
    server.add_faults({"status": status, "message": "loans[3].ean: not a valid EAN-13"})
    with pytest.raises(BokbasenReportRejected) as info:
        bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    assert info.value.status_code == status and info.value.attempts == 1
    assert "loans[3].ean: not a valid EAN-13" in str(info.value)
    assert "loans[3].ean: not a valid EAN-13" in caplog.text
    assert server.loan_request_count == 1


def test_real_validation_error_from_the_fake_is_reported(server, bokbasen_hook_factory):
    doc = json.loads(make_report())
    doc["loans"][0]["format"] = "DVD"
    with pytest.raises(BokbasenReportRejected) as info:
        bokbasen_hook_factory().send_report(json.dumps(doc).encode(), isil=ISIL, report_date=DAY)
    assert info.value.status_code in (400, 422)
    assert "format" in str(info.value)


def test_403_from_the_api_names_the_audience(server, bokbasen_hook_factory):
    server.add_faults({"status": 403, "message": "Forbidden"})
    with pytest.raises(BokbasenForbidden) as info:
        bokbasen_hook_factory().send_report(make_report(), isil=ISIL, report_date=DAY)
    assert server.audience in str(info.value)
    assert info.value.audience == server.audience


def test_403_from_the_token_endpoint_names_the_audience(server, bokbasen_hook_factory):
    wrong = server.base_url + "/other/"
    with pytest.raises(BokbasenForbidden) as info:
        bokbasen_hook_factory(audience=wrong).send_report(make_report(), isil=ISIL, report_date=DAY)
    assert wrong in str(info.value)
    assert server.loan_request_count == 0


def test_bad_credentials_fail_with_auth_error_without_the_secret(server, bokbasen_hook_factory):
    with pytest.raises(BokbasenAuthError) as info:
        bokbasen_hook_factory(client_secret="wrong-secret-123").send_report(
            make_report(), isil=ISIL, report_date=DAY
        )
    assert "wrong-secret-123" not in str(info.value)
    assert info.value.status_code == 401


def test_gzip_bodies_and_fallback_when_refused(server, bokbasen_hook_factory, caplog):
    caplog.set_level(logging.WARNING)
    hook = bokbasen_hook_factory(gzip=True)
    assert hook.send_report(make_report(), isil=ISIL, report_date=DAY).gzip
    assert server.requests("loans")[0].header("Content-Encoding") == "gzip"
    server.configure(accept_gzip=False)
    result = hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    assert not result.gzip and result.attempts == 2
    assert "resending uncompressed" in caplog.text
    assert [r["gzip"] for r in server.reports()] == [True, False]


def test_missing_configuration_is_a_config_error():
    hook = BokbasenHook(
        endpoint="http://127.0.0.1:1/reporting/x", client_id="c", client_secret="s", token_url=None
    )
    with pytest.raises(BokbasenConfigError) as info:
        hook.send_report(b"{}", isil=ISIL, report_date=DAY)
    assert "token_url" in str(info.value)


def test_connection_extras_never_reach_request_headers(server, bokbasen_airflow_env, monkeypatch):
    conn = server.connection(
        **{
            "X-Api-Key": "extra-value-must-not-leak",
            "Authorization": "Basic extra-auth-must-not-leak",
            "headers": {"X-Other": "nested-extra-must-not-leak"},
            "timeout": "7",
            "gzip": "false",
        }
    )
    monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_LEAKTEST", json.dumps(conn))
    hook = BokbasenHook(bokbasen_conn_id="bokbasen_leaktest")
    assert hook.send_report(make_report(), isil=ISIL, report_date=DAY).status_code == 204
    allowed = {
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "date",
        "authorization",
        "content-encoding",
    }
    forbidden_values = [
        "extra-value-must-not-leak",
        "extra-auth-must-not-leak",
        "nested-extra-must-not-leak",
        server.token_url,
        server.client_id,
        server.client_secret,
    ]
    seen = server.requests()
    assert {r.endpoint for r in seen} == {"token", "loans"}
    for request in seen:
        names = {k.lower() for k, _ in request.headers}
        assert names <= allowed, (request.endpoint, names - allowed)
        for _, value in request.headers:
            assert not any(bad in value for bad in forbidden_values), (request.endpoint, value)
    (token_request,) = server.requests("token")
    assert token_request.header("Authorization") is None  # credentials go in the body, never Basic auth
    (loans_request,) = server.requests("loans")
    assert loans_request.header("Authorization") == f"Bearer {server.issued_tokens()[0]}"


def test_hook_from_the_default_airflow_connection(server, bokbasen_airflow_env):
    hook = BokbasenHook()
    assert hook.config.audience == server.audience
    assert "demo-secret" not in repr(hook.config)
    assert hook.send_report(make_report(), isil=ISIL, report_date=DAY).status_code == 204
    # the token cache went to the database of connection loan_reporting_db
    assert hook.token_cache.shared


def test_secrets_and_tokens_never_in_logs_output_or_errors(server, bokbasen_hook_factory, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    errors = []
    hook = bokbasen_hook_factory()
    server.add_faults("revoke", "500", "503 Retry-After: 0")
    hook.send_report(make_report(), isil=ISIL, report_date=DAY)
    for faults, error in [
        ([{"status": 400, "message": "rejected"}], BokbasenReportRejected),
        ([{"status": 401, "repeat": 2}], BokbasenAuthError),
        (["403"], BokbasenForbidden),
        ([{"status": 503, "retry_after": "0", "repeat": -1}], BokbasenRetryableError),
    ]:
        server.clear_faults()
        server.add_faults(*faults)
        with pytest.raises(error) as info:
            hook.send_report(make_report(), isil=ISIL, report_date=DAY)
        errors.append(f"{info.value!s} {info.value!r} {info.value.api_message}")
    server.clear_faults()
    hook.token_cache.forget()  # a cached token would be reused whatever the secret
    with pytest.raises(BokbasenAuthError) as info:
        bokbasen_hook_factory(client_secret="another-wrong-secret").send_report(
            make_report(), isil=ISIL, report_date=DAY
        )
    errors.append(f"{info.value!s} {info.value!r}")
    captured = capsys.readouterr()
    everything = "\n".join(
        [caplog.text, *(r.getMessage() for r in caplog.records), captured.out, captured.err, *errors]
    )
    secrets = [server.client_secret, "another-wrong-secret", *server.issued_tokens()]
    assert len(server.issued_tokens()) >= 3
    assert "Bokbasen" in caplog.text  # the logs were captured at all
    for secret in secrets:
        assert secret not in everything


def test_connection_test_fetches_a_token(server, bokbasen_hook_factory):
    assert bokbasen_hook_factory().test_connection() == (
        True,
        f"Got an access token for audience {server.audience}",
    )
    ok, message = bokbasen_hook_factory(client_secret="nope-nope").test_connection()
    assert not ok and "BokbasenAuthError" in message and "nope-nope" not in message
    assert server.loan_request_count == 0
