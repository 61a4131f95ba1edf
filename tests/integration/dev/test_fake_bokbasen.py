"""The fake Bokbasen over real HTTP: OAuth2 checks, request checks, admin endpoints, CLI."""

from __future__ import annotations

import email.utils
import gzip
import json
import os
import subprocess
import sys
import time

import requests

from dev import PROJECT_ROOT
from tests.fixtures.fake_bokbasen import make_report


def _token(server, **overrides):
    body = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "audience": server.audience,
        **overrides,
    }
    return requests.post(server.token_url, json=body, timeout=5)


def _post(server, body: bytes, token: str | None, **headers):
    base = {"Content-Type": "application/json", "Date": email.utils.formatdate(usegmt=True)}
    if token:
        base["Authorization"] = f"Bearer {token}"
    base.update(headers)
    return requests.post(server.loans_url, data=body, headers={k: v for k, v in base.items() if v}, timeout=5)


def test_token_endpoint_checks_credentials_and_audience(fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    ok = _token(server)
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "Bearer" and ok.json()["expires_in"] == 3600
    assert _token(server, client_secret="wrong").status_code == 401
    assert _token(server, audience="http://elsewhere/reporting/").status_code == 403
    assert _token(server, grant_type="password").status_code == 400
    form = requests.post(
        server.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "audience": server.audience,
        },
        timeout=5,
    )
    assert form.status_code == 200
    assert server.token_request_count == 5


def test_loans_endpoint_checks_token_date_encoding_and_payload(fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    token = _token(server).json()["access_token"]
    body = make_report("NO-1000001", loans=2)
    assert _post(server, body, None).status_code == 401
    assert _post(server, body, "not-a-token").status_code == 401
    assert _post(server, body, token, Date=None).status_code == 400
    assert _post(server, body, token, Date="2026-11-20 12:00").status_code == 400
    stale = _post(server, body, token, Date=email.utils.formatdate(time.time() - 3600, usegmt=True))
    assert stale.status_code == 400 and "off the server clock" in stale.json()["message"]
    assert _post(server, body, token, **{"Content-Type": "text/plain"}).status_code == 415
    assert _post(server, b"{nope", token).status_code == 400
    assert _post(server, b'{"reportDate": "2026-11-20"}', token).status_code == 422
    assert _post(server, body, token).status_code == 204
    assert _post(server, gzip.compress(body), token, **{"Content-Encoding": "gzip"}).status_code == 204
    server.configure(accept_gzip=False)
    assert _post(server, gzip.compress(body), token, **{"Content-Encoding": "gzip"}).status_code == 415
    reports = server.reports("NO-1000001")
    assert [r["gzip"] for r in reports] == [False, True]
    assert reports[0]["loan_count"] == 2 and reports[0]["report_date"] == "2026-11-20"
    server.configure(expires_in=0)
    expired = _token(server).json()["access_token"]
    assert _post(server, body, expired).json()["message"] == "Token expired"


def test_faults_in_order_scoped_by_isil_and_scripted_over_http(fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    token = _token(server).json()["access_token"]
    added = requests.post(
        server.admin_url + "/faults",
        json={"faults": ["500 isil=NO-1000002", "429 Retry-After: 7", {"status": 400, "message": "bad ean"}]},
        timeout=5,
    )
    assert added.status_code == 200 and added.json()["pending"] == 3
    one, two = make_report("NO-1000001"), make_report("NO-1000002")
    first = _post(server, one, token)  # NO-1000001 skips the NO-1000002 fault, takes the 429
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert _post(server, two, token).status_code == 500
    rejected = _post(server, one, token)
    assert rejected.status_code == 400 and rejected.json()["message"] == "bad ean"
    assert _post(server, one, token).status_code == 204
    server.add_faults("revoke")
    assert _post(server, one, token).json()["message"] == "Token revoked"
    assert _post(server, one, token).status_code == 401  # stays revoked
    stats = requests.get(server.admin_url + "/stats", timeout=5).json()
    assert stats["loan_requests_by_status"] == {"429": 1, "500": 1, "400": 1, "204": 1, "401": 2}
    assert stats["reports"] == 1 and stats["faults_pending"] == 0
    listed = requests.get(server.admin_url + "/reports", params={"isil": "NO-1000001"}, timeout=5).json()
    assert len(listed) == 1 and listed[0]["payload"]["library"]["isil"] == "NO-1000001"
    recorded = requests.get(server.admin_url + "/requests", timeout=5).json()
    assert all(token not in json.dumps(r) for r in recorded)  # tokens are masked in the admin view
    assert requests.post(server.admin_url + "/reset", json={}, timeout=5).json() == {"reset": True}
    assert server.stats()["loan_requests"] == 0 and server.reports() == []


def test_dropped_connection_and_slow_answer(fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    token = _token(server).json()["access_token"]
    server.add_faults("drop", "slow 1")
    try:
        _post(server, make_report(), token)
        raise AssertionError("expected a dropped connection")
    except requests.ConnectionError:
        pass
    started = time.monotonic()
    assert _post(server, make_report(), token).status_code == 204
    assert time.monotonic() - started >= 1.0


def test_cli_prints_urls_and_serves(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dev.fakes.bokbasen",
            "--port",
            "0",
            "--quiet",
            "--reports-dir",
            str(tmp_path),
            "--expires-in",
            "60",
            "--validator",
            "structural",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        urls = {}
        while "ADMIN_URL" not in urls:
            line = proc.stdout.readline()
            assert line, "fake server exited early"
            if "=" in line:
                key, _, value = line.strip().partition("=")
                urls[key] = value
        assert urls["LOANS_URL"].endswith("/reporting/v1/library-loans")
        assert urls["AUDIENCE"] == urls["BASE_URL"] + "/reporting/"
        token = requests.post(
            urls["TOKEN_URL"],
            json={
                "grant_type": "client_credentials",
                "client_id": "demo-client",
                "client_secret": "demo-secret-not-for-production",
                "audience": urls["AUDIENCE"],
            },
            timeout=5,
        ).json()["access_token"]
        answer = requests.post(
            urls["LOANS_URL"],
            data=make_report("NO-1000003"),
            headers={
                "Authorization": f"Bearer {token}",
                "Date": email.utils.formatdate(usegmt=True),
                "Content-Type": "application/json",
            },
            timeout=5,
        )
        assert answer.status_code == 204
        assert len(list(tmp_path.glob("NO-1000003/2026-11-20-*.json"))) == 1
        assert requests.get(urls["ADMIN_URL"] + "/stats", timeout=5).json()["token_requests"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_validator_that_fails_unexpectedly_answers_500_and_accepts_nothing(fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    token = _token(server).json()["access_token"]

    def crashing(body: bytes) -> dict:
        raise KeyError("library")

    previous = server.validator
    server.validator = crashing
    try:
        answer = _post(server, make_report(), token)
    finally:
        server.validator = previous
    assert answer.status_code == 500
    assert "Report validation failed unexpectedly: KeyError" in answer.json()["message"]
    assert server.reports() == []
    assert server.stats()["loan_requests_by_status"] == {"500": 1}


def test_the_default_validator_is_the_report_model(fresh_fake_bokbasen):
    server = fresh_fake_bokbasen
    assert getattr(server.validator, "__name__", None) == "validate_LoanReport"
    token = _token(server).json()["access_token"]
    doc = json.loads(make_report())
    doc["loans"][0]["borrower"]["birthDate"] = "1980-01-01"  # patron data: refused by the model
    refused = _post(server, json.dumps(doc).encode(), token)
    assert refused.status_code == 422 and "birthDate" in refused.json()["message"]
    assert _post(server, b"[1, 2]", token).status_code in (400, 422)
    assert server.reports() == []
