"""A tiny local OAuth2-protected API for the auth tests: real HTTP on 127.0.0.1, no database."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CLIENT_ID = "unit-client"
CLIENT_SECRET = "unit-secret-never-logged"  # noqa: S105 - test value


@dataclass
class LocalApi:
    """Token endpoint ``/token`` and a protected resource ``/api``; scripted answers first."""

    base_url: str = ""
    token_answers: list[tuple[int, dict, object]] = field(default_factory=list)  # (status, headers, body)
    api_answers: list[tuple[int, dict, object]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    token_requests: list[dict] = field(default_factory=list)  # {"headers": ..., "body": ...}
    api_requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api"


def _handler(api: LocalApi):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, headers: dict, body: object) -> None:
            data = (
                body.encode()
                if isinstance(body, str)
                else (b"" if body is None else json.dumps(body).encode())
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_POST(self) -> None:
            raw = self._body()
            if self.path == "/token":
                with api.lock:
                    api.token_requests.append(
                        {"headers": dict(self.headers), "body": json.loads(raw or b"{}")}
                    )
                    scripted = api.token_answers.pop(0) if api.token_answers else None
                    if scripted is None:
                        token = f"token-{len(api.issued) + 1}-abcdef"
                        api.issued.append(token)
                if scripted is not None:
                    return self._answer(*scripted)
                return self._answer(
                    200, {"Content-Type": "application/json"}, {"access_token": token, "expires_in": 3600}
                )
            self._api(raw)

        def do_GET(self) -> None:
            self._api(b"")

        def _api(self, raw: bytes) -> None:
            auth = self.headers.get("Authorization") or ""
            token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            with api.lock:
                api.api_requests.append({"headers": dict(self.headers), "body": raw, "token": token})
                scripted = api.api_answers.pop(0) if api.api_answers else None
                valid = token in api.issued and token not in api.revoked
            if scripted is not None:
                return self._answer(*scripted)
            if not valid:
                return self._answer(401, {"Content-Type": "application/json"}, {"message": "Invalid token"})
            return self._answer(200, {"Content-Type": "application/json"}, {"ok": True, "token_seen": token})

    return Handler


@pytest.fixture()
def local_api():
    api = LocalApi()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    httpd.daemon_threads = True
    api.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield api
    httpd.shutdown()
    thread.join(timeout=5)
    httpd.server_close()
