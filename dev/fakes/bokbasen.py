"""A local stand-in for Bokbasen's token endpoint and Library Loans API, with fault injection.

Faithful where it matters to the client: OAuth2 client credentials with audience checks and
expiring tokens, bearer-token and ``Date``-header checks, gzip request bodies, payload
validation, ``204`` on success, and scripted failures (429/503 with ``Retry-After``, 5xx,
slow answers, dropped connections, revoked tokens, 400 with a message), optionally only
for one library's ISIL.

Payload validation is strict: by default the report model itself
(``LoanReport.model_validate_json``); if the model cannot be imported the server does not
start. Invalid JSON is a 400, a contract violation a 422, and a validator that fails in an
unexpected way a 500 naming the exception: never an acceptance. The built-in
:func:`structural_validator` is used only where chosen explicitly (``validator=`` or
``--validator structural``), by tests of client mechanics that must not depend on the model.

Run it::

    python -m dev.fakes.bokbasen --port 8089 --reports-dir var/fake-bokbasen
    python -m dev.fakes.bokbasen --port 0 --fault "503" --fault "429 Retry-After: 2"

It prints its URLs (``LOANS_URL=...``, ``TOKEN_URL=...``, ``AUDIENCE=...``) and one line per
request. In-process (tests)::

    with FakeBokbasen().start() as server:
        server.add_faults("503", "429 Retry-After: 1", {"status": 400, "message": "bad", "isil": "NO-1"})
        ...; server.reports(); server.token_request_count

Admin endpoints (JSON), for a test driving another process such as a scheduler:

=========================  ===================================================================
``GET  /_admin/reports``   accepted reports (``?isil=NO-...`` to filter), with their payloads
``GET  /_admin/stats``     counts: token requests, loan requests by status, reports, faults left
``GET  /_admin/requests``  recorded requests (headers; bearer tokens shown as ``Bearer ***``)
``GET  /_admin/faults``    faults not yet used up
``POST /_admin/faults``    ``[spec, ...]`` or ``{"faults": [...], "replace": true}``: script faults
``POST /_admin/reset``     forget faults, records and counters (``{"tokens": true}``: tokens too)
``POST /_admin/config``    change ``expires_in``, ``accept_gzip``, ``max_date_skew``
``POST /_admin/revoke``    revoke every issued token
=========================  ===================================================================

Fault specs (string or dict; applied in order to the next matching request, ``repeat``
times, ``-1`` = for ever): ``"503"``, ``"500"``, ``"429 Retry-After: 2"``, ``"503
retry-after=Wed, 21 Oct 2026 07:28:00 GMT"``, ``"400 the message"``, ``"200"`` (process
normally), ``"slow 3"`` (sleep 3 s, then process normally), ``"drop"`` (close the socket
without answering), ``"revoke"`` (invalidate the presented token and answer 401). Prefix
``token:`` to target the token endpoint; suffix ``isil=NO-123`` or ``repeat=N``. Dict
form: ``{"action": "status", "status": 429, "retry_after": "2", "message": ...,
"seconds": ..., "isil": ..., "endpoint": "loans"|"token", "repeat": 1}``.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import json
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from dev.fakes._server import LocalHttpServer

# The demo credentials (the same values as dev.airflow_env's demo connection).
DEFAULT_CLIENT_ID = "demo-client"
DEFAULT_CLIENT_SECRET = "demo-secret-not-for-production"  # noqa: S105 - local fake only
DEFAULT_TOKEN_PATH = "/oauth/token"
DEFAULT_LOANS_PATH = "/reporting/v1/library-loans"
OSLO = ZoneInfo("Europe/Oslo")
FORMATS = {"AUDIO", "EBOOK", "PAPER"}
GENDERS = {"MALE", "FEMALE", "UNKNOWN"}
_ISIL = re.compile(r"^[A-Za-z]{1,4}-[A-Za-z0-9:/\-]{1,11}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


# -- payload validation -------------------------------------------------------------------


class PayloadInvalid(Exception):
    """The report is not acceptable: ``status`` 400 (not JSON) or 422 (wrong content)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Validator = Callable[[bytes], dict]


def _ean_ok(ean: str) -> bool:
    if len(ean) != 13 or not ean.isdigit():
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(ean[:12]))
    return (10 - total % 10) % 10 == int(ean[12])


def structural_validator(body: bytes) -> dict:
    """A minimal check of the report contract (docs/contracts.md section 3), independent of the report model.

    Never a fallback: only used when chosen explicitly (tests of client mechanics, ``--validator
    structural``).
    """
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise PayloadInvalid(400, f"Request body is not valid JSON: {exc}") from None
    errors: list[str] = []
    if not isinstance(doc, dict):
        raise PayloadInvalid(422, "Report must be a JSON object")
    report_day = None
    try:
        report_day = date.fromisoformat(str(doc.get("reportDate")))
    except ValueError:
        errors.append("reportDate: missing or not YYYY-MM-DD")
    library = doc.get("library")
    if not isinstance(library, dict):
        errors.append("library: missing")
    else:
        if not isinstance(library.get("isil"), str) or not _ISIL.match(library["isil"]):
            errors.append(f"library.isil: not an ISIL: {library.get('isil')!r}")
        if not isinstance(library.get("name"), str) or not library["name"].strip():
            errors.append("library.name: missing")
        location = library.get("location")
        if location is not None:
            if not isinstance(location, dict) or not re.fullmatch(
                r"\d{4}", str(location.get("postalCode", ""))
            ):
                errors.append("library.location.postalCode: must be 4 digits")
    loans = doc.get("loans")
    if not isinstance(loans, list):
        errors.append("loans: missing or not a list")
        loans = []
    seen: set[str] = set()
    for i, loan in enumerate(loans):
        where = f"loans[{i}]"
        if not isinstance(loan, dict):
            errors.append(f"{where}: not an object")
            continue
        tid = loan.get("transactionId")
        if not isinstance(tid, str) or not tid:
            errors.append(f"{where}.transactionId: missing")
        elif tid in seen:
            errors.append(f"{where}.transactionId: duplicate {tid}")
        else:
            seen.add(tid)
        ts = loan.get("timestamp")
        if not isinstance(ts, str) or not _TIMESTAMP.match(ts):
            errors.append(f"{where}.timestamp: not a UTC timestamp ending in Z: {ts!r}")
        elif report_day is not None:
            local_day = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(OSLO).date()
            if local_day != report_day:
                errors.append(
                    f"{where}.timestamp: {ts} is on {local_day} in Oslo, not on reportDate {report_day}"
                )
        if not isinstance(loan.get("ean"), str) or not _ean_ok(loan["ean"]):
            errors.append(f"{where}.ean: not a valid EAN-13: {loan.get('ean')!r}")
        if loan.get("format") not in FORMATS:
            errors.append(f"{where}.format: {loan.get('format')!r} not one of {sorted(FORMATS)}")
        authors = loan.get("authors")
        if authors is not None and not (
            isinstance(authors, list) and all(isinstance(a, str) for a in authors)
        ):
            errors.append(f"{where}.authors: not a list of strings")
        borrower = loan.get("borrower")
        if not isinstance(borrower, dict):
            errors.append(f"{where}.borrower: missing")
        else:
            if not isinstance(borrower.get("isPerson"), bool):
                errors.append(f"{where}.borrower.isPerson: missing or not boolean")
            if borrower.get("gender") not in GENDERS:
                errors.append(
                    f"{where}.borrower.gender: {borrower.get('gender')!r} not one of {sorted(GENDERS)}"
                )
            age = borrower.get("age")
            if age is not None and (not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 130):
                errors.append(f"{where}.borrower.age: implausible {age!r}")
            extra = set(borrower) - {"isPerson", "age", "gender"}
            if extra:
                errors.append(
                    f"{where}.borrower: unexpected fields {sorted(extra)} (no patron data may be sent)"
                )
        if len(errors) >= 20:
            break
    if errors:
        more = " ..." if len(errors) >= 20 else ""
        raise PayloadInvalid(422, "Invalid report: " + "; ".join(errors[:20]) + more)
    return doc


def model_validator(model) -> Validator:
    """Validate with a pydantic model (``model.model_validate_json``).

    Not JSON: 400. A ``pydantic.ValidationError``: 422 with pydantic's explanation. Any
    other exception (a bug in the model or its validators): 500 naming it, so the report is
    never accepted unchecked.
    """
    from pydantic import ValidationError

    def validate(body: bytes) -> dict:
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise PayloadInvalid(400, f"Request body is not valid JSON: {exc}") from None
        try:
            model.model_validate_json(body)
        except ValidationError as exc:
            raise PayloadInvalid(422, f"Invalid report: {str(exc)[:3000]}") from None
        except Exception as exc:
            raise PayloadInvalid(
                500, f"Report validation failed unexpectedly: {type(exc).__name__}: {str(exc)[:2000]}"
            ) from None
        return doc

    validate.__name__ = f"validate_{getattr(model, '__name__', 'model')}"
    return validate


def default_validator() -> Validator:
    """``LoanReport.model_validate_json``: the report model is the contract.

    No fallback: when ``library_integrations.pipelines.loan_report.report.models`` cannot be
    imported, the error propagates and the fake does not start (a weaker check would accept
    reports the real API may refuse).
    """
    from library_integrations.pipelines.loan_report.report.models import LoanReport

    return model_validator(LoanReport)


def run_validator(validator: Validator | None, body: bytes) -> dict:
    """``validator(body)`` (or a JSON parse when validation is switched off), strictly.

    Returns the report as a dict, or raises :class:`PayloadInvalid`: 400 (not JSON / not an
    object), 422 (the validator's verdict), 500 (the validator failed unexpectedly).
    """
    try:
        doc = validator(body) if validator is not None else json.loads(body)
    except PayloadInvalid:
        raise
    except ValueError as exc:
        if validator is None:
            raise PayloadInvalid(400, f"Request body is not valid JSON: {exc}") from None
        raise PayloadInvalid(
            500, f"Report validation failed unexpectedly: {type(exc).__name__}: {str(exc)[:2000]}"
        ) from None
    except Exception as exc:
        raise PayloadInvalid(
            500, f"Report validation failed unexpectedly: {type(exc).__name__}: {str(exc)[:2000]}"
        ) from None
    if not isinstance(doc, dict):
        raise PayloadInvalid(422, "Report must be a JSON object")
    return doc


# -- faults -------------------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted misbehaviour. ``action``: status | slow | drop | revoke | pass."""

    action: str = "status"
    status: int | None = None
    retry_after: str | None = None
    message: str | None = None
    seconds: float = 0.0
    isil: str | None = None
    endpoint: str = "loans"
    repeat: int = 1

    def matches(self, endpoint: str, isil: str | None) -> bool:
        return self.endpoint == endpoint and (self.isil is None or self.isil == isil)


def parse_fault(spec: str | dict | Fault) -> Fault:
    """A :class:`Fault` from a string spec (see the module docstring), a dict or a Fault."""
    if isinstance(spec, Fault):
        return spec
    if isinstance(spec, dict):
        data = dict(spec)
        if "retry_after" in data and data["retry_after"] is not None:
            data["retry_after"] = str(data["retry_after"])
        if "action" not in data:
            data["action"] = "status" if data.get("status") else "pass"
        fault = Fault(**data)
    else:
        text = spec.strip()
        endpoint = "loans"
        if text.lower().startswith("token:"):
            endpoint, text = "token", text[len("token:") :].strip()
        elif text.lower().startswith("loans:"):
            text = text[len("loans:") :].strip()
        kwargs: dict[str, Any] = {"endpoint": endpoint}
        for key in ("isil", "repeat"):
            match = re.search(rf"(?:^|\s){key}=(\S+)", text, flags=re.I)
            if match:
                kwargs[key] = match.group(1) if key == "isil" else int(match.group(1))
                text = (text[: match.start()] + text[match.end() :]).strip()
        match = re.search(r"retry-after(?::\s*|=)(.+)$", text, flags=re.I)
        if match:
            kwargs["retry_after"] = match.group(1).strip()
            text = text[: match.start()].strip()
        head, _, rest = text.partition(" ")
        head = head.lower()
        if head in ("drop", "revoke"):
            fault = Fault(action=head, **kwargs)
        elif head == "slow":
            fault = Fault(action="slow", seconds=float(rest or 1), **kwargs)
        elif head in ("ok", "pass"):
            fault = Fault(action="pass", **kwargs)
        elif head.isdigit():
            status = int(head)
            message = rest.strip() or None
            if message and message.startswith("{"):
                try:
                    message = json.loads(message).get("message", message)
                except ValueError:
                    pass
            fault = Fault(
                action="pass" if 200 <= status < 300 else "status", status=status, message=message, **kwargs
            )
        else:
            raise ValueError(f"Unknown fault spec {spec!r}")
    if fault.action not in ("status", "slow", "drop", "revoke", "pass"):
        raise ValueError(f"Unknown fault action {fault.action!r}")
    if fault.endpoint not in ("loans", "token"):
        raise ValueError(f"Unknown fault endpoint {fault.endpoint!r}")
    return fault


# -- records ------------------------------------------------------------------------------


@dataclass
class IssuedToken:
    client_id: str
    audience: str
    expires_at: float
    revoked: bool = False


@dataclass
class RecordedRequest:
    """A request the server saw: ``headers`` as received, ``status`` as answered (None if dropped)."""

    at: float
    method: str
    path: str
    endpoint: str
    headers: list[tuple[str, str]]
    isil: str | None = None
    status: int | None = None
    fault: str | None = None
    note: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def public(self) -> dict:
        data = asdict(self)
        data["headers"] = [
            [k, "Bearer ***" if k.lower() == "authorization" and v.lower().startswith("bearer ") else v]
            for k, v in self.headers
        ]
        return data


@dataclass
class _Config:
    expires_in: float
    accept_gzip: bool
    max_date_skew: float


@dataclass
class _State:
    config: _Config
    tokens: dict[str, IssuedToken] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)
    token_requests: int = 0
    issued: list[str] = field(default_factory=list)  # tokens issued since the last reset, in order


class _Answer(Exception):
    def __init__(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


# -- the server ---------------------------------------------------------------------------


class FakeBokbasen(LocalHttpServer):
    """The fake server. ``start()`` runs it in a background thread; ``stop()`` ends it."""

    thread_name = "fake-bokbasen"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        expires_in: float = 3600,
        audience: str | None = None,
        accept_gzip: bool = True,
        max_date_skew: float = 900,
        reports_dir: str | Path | None = None,
        store_dir: str | Path | None = None,
        validator: Validator | str | None = "auto",  # "auto" = the report model; None = no validation
        token_path: str = DEFAULT_TOKEN_PATH,
        loans_path: str = DEFAULT_LOANS_PATH,
        verbose: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_path = token_path
        self.loans_path = loans_path
        reports_dir = reports_dir or store_dir  # store_dir: an alias
        self.reports_dir = Path(reports_dir) if reports_dir else None
        if isinstance(validator, str) and validator != "auto":
            raise ValueError(f"Unknown validator {validator!r}: 'auto', a callable or None")
        self.validator: Validator | None = default_validator() if validator == "auto" else validator
        self.verbose = verbose
        self._initial = _Config(expires_in, accept_gzip, max_date_skew)
        self._lock = threading.Lock()
        self._state = _State(config=_Config(**asdict(self._initial)))
        self._bind(host, port, _make_handler(self))
        first_segment = [s for s in loans_path.split("/") if s][0]
        self.audience = audience or f"{self.base_url}/{first_segment}/"

    # URLs
    @property
    def token_url(self) -> str:
        return self.base_url + self.token_path

    @property
    def loans_url(self) -> str:
        return self.base_url + self.loans_path

    @property
    def admin_url(self) -> str:
        return self.base_url + "/_admin"

    def connection(self, **extra: Any) -> dict:
        """An Airflow connection (dict for ``AIRFLOW_CONN_...`` JSON) pointing at this server."""
        return {
            "conn_type": "http",
            "host": self.loans_url,
            "login": self.client_id,
            "password": self.client_secret,
            "extra": {"token_url": self.token_url, **extra},
        }

    # lifecycle

    # scripting
    def add_faults(self, *specs: str | dict | Fault) -> list[Fault]:
        faults = [parse_fault(spec) for spec in specs]
        with self._lock:
            self._state.faults.extend(faults)
        return faults

    def set_faults(self, specs: Iterable[str | dict | Fault]) -> list[Fault]:
        faults = [parse_fault(spec) for spec in specs]
        with self._lock:
            self._state.faults = faults
        return faults

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults = []

    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._state.faults)

    def configure(self, **changes: Any) -> None:
        """Change ``expires_in``, ``accept_gzip`` or ``max_date_skew`` (until :meth:`reset`)."""
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self._state.config, key):
                    raise ValueError(f"Unknown setting {key!r}")
                setattr(self._state.config, key, type(getattr(self._initial, key))(value))

    def revoke_all_tokens(self) -> int:
        with self._lock:
            for token in self._state.tokens.values():
                token.revoked = True
            return len(self._state.tokens)

    def reset(self, *, tokens: bool = False) -> None:
        """Forget faults, recorded requests, reports, counters and config changes.

        Issued tokens stay valid (as on a real server), so clients holding a cached token are
        not surprised by a 401; ``tokens=True`` forgets them too.
        """
        with self._lock:
            kept = {} if tokens else self._state.tokens
            self._state = _State(config=_Config(**asdict(self._initial)), tokens=kept)

    # reading
    @property
    def token_request_count(self) -> int:
        with self._lock:
            return self._state.token_requests

    @property
    def loan_request_count(self) -> int:
        with self._lock:
            return sum(1 for r in self._state.requests if r.endpoint == "loans")

    def reports(self, isil: str | None = None) -> list[dict]:
        """Accepted reports: ``isil``, ``report_date``, ``loan_count``, ``sha256``, ``gzip``, ``payload``."""
        with self._lock:
            return [dict(r) for r in self._state.reports if isil is None or r["isil"] == isil]

    def requests(self, endpoint: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._state.requests if endpoint is None or r.endpoint == endpoint]

    def issued_tokens(self) -> list[str]:
        """Tokens issued since the last reset, oldest first (tests use them to prove tokens never leak)."""
        with self._lock:
            return list(self._state.issued)

    def stats(self) -> dict:
        with self._lock:
            by_status: dict[str, int] = {}
            for r in self._state.requests:
                if r.endpoint == "loans":
                    key = str(r.status) if r.status is not None else "dropped"
                    by_status[key] = by_status.get(key, 0) + 1
            return {
                "token_requests": self._state.token_requests,
                "tokens_issued": len(self._state.issued),
                "loan_requests": sum(by_status.values()),
                "loan_requests_by_status": by_status,
                "reports": len(self._state.reports),
                "loans": sum(r["loan_count"] for r in self._state.reports),
                "faults_pending": len(self._state.faults),
                "config": asdict(self._state.config),
            }

    # internals used by the handler
    def _take_fault(self, endpoint: str, isil: str | None) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._state.faults):
                if fault.matches(endpoint, isil):
                    if fault.repeat > 0:
                        fault.repeat -= 1
                        if fault.repeat == 0:
                            del self._state.faults[i]
                    return fault
        return None

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self._state.requests.append(record)

    def _issue_token(self, client_id: str, audience: str) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            expires_in = self._state.config.expires_in
            self._state.tokens[token] = IssuedToken(client_id, audience, time.time() + expires_in)
            self._state.issued.append(token)
        return token, expires_in

    def _count_token_request(self) -> None:
        with self._lock:
            self._state.token_requests += 1

    def _token_info(self, token: str) -> IssuedToken | None:
        with self._lock:
            return self._state.tokens.get(token)

    def _revoke(self, token: str) -> None:
        with self._lock:
            if token in self._state.tokens:
                self._state.tokens[token].revoked = True

    def _store_report(self, doc: dict, raw: bytes, gzipped: bool, state: _State | None = None) -> dict | None:
        """Keep an accepted report. ``state``: the state when the request arrived; a request that
        straddled a :meth:`reset` (e.g. a slow answer the client gave up on) is not kept."""
        library = doc.get("library") or {}
        report = {
            "received_at": datetime.now(UTC).isoformat(),
            "isil": library.get("isil"),
            "report_date": doc.get("reportDate"),
            "loan_count": len(doc.get("loans") or []),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "gzip": gzipped,
            "payload": doc,
        }
        with self._lock:
            if state is not None and state is not self._state:
                return None
            self._state.reports.append(report)
            seq = len(self._state.reports)
        if self.reports_dir is not None:
            folder = self.reports_dir / str(report["isil"]).replace("/", "_")
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{report['report_date']}-{seq:05d}.json"
            path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        return report


def _make_handler(server: FakeBokbasen):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeBokbasen/1.0"
        wbufsize = 64 * 1024  # headers and body in one write (flushed per request)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            if server.verbose:
                sys.stderr.write(f"fake-bokbasen: {self.address_string()} {format % args}\n")

        # -- plumbing
        def _send(self, status: int, body: dict | list | None = None, headers: dict | None = None) -> None:
            data = b"" if body is None or status == 204 else json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                if data:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data:
                    self.wfile.write(data)
                self.wfile.flush()
            except OSError:  # the client gave up (timeout) and closed the connection
                self.close_connection = True

        def _drop(self) -> None:
            self.close_connection = True
            try:
                self.wfile.flush()
            except OSError:
                pass
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _record(self, endpoint: str, **kwargs: Any) -> RecordedRequest:
            record = RecordedRequest(
                at=time.time(),
                method=self.command,
                path=self.path,
                endpoint=endpoint,
                headers=list(self.headers.items()),
                **kwargs,
            )
            server._record(record)
            return record

        def _apply_fault(self, fault: Fault | None, record: RecordedRequest) -> bool:
            """Apply a fault; True if the request has been answered (or dropped)."""
            if fault is None:
                return False
            record.fault = fault.action if fault.action != "status" else f"status {fault.status}"
            if fault.action == "slow":
                time.sleep(fault.seconds)
                if fault.status and not 200 <= fault.status < 300:
                    record.status = fault.status
                    self._send(fault.status, {"message": fault.message or "scripted slow failure"})
                    return True
                return False
            if fault.action == "drop":
                self._drop()
                return True
            if fault.action == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                message = fault.message or {
                    429: "Too many requests",
                    503: "Service unavailable",
                    500: "Internal server error",
                }.get(fault.status, f"Scripted HTTP {fault.status}")
                record.status = fault.status
                self._send(fault.status, {"message": message}, headers)
                return True
            return False  # pass, revoke (handled by the caller)

        # -- routes
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/_admin/reports":
                isil = (query.get("isil") or [None])[0]
                self._send(200, server.reports(isil))
            elif parts.path == "/_admin/stats":
                self._send(200, server.stats())
            elif parts.path == "/_admin/requests":
                self._send(200, [r.public() for r in server.requests((query.get("endpoint") or [None])[0])])
            elif parts.path == "/_admin/faults":
                self._send(200, [asdict(f) for f in server.pending_faults()])
            elif parts.path in ("/", "/_admin", "/_admin/"):
                self._send(
                    200,
                    {
                        "token_url": server.token_url,
                        "loans_url": server.loans_url,
                        "audience": server.audience,
                    },
                )
            else:
                self._send(404, {"message": f"No such resource: {parts.path}"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            try:
                if path == server.token_path:
                    self._token()
                elif path == server.loans_path:
                    self._loans()
                elif path.startswith("/_admin/"):
                    self._admin(path)
                else:
                    self._read_body()
                    self._send(404, {"message": f"No such resource: {path}"})
            except _Answer as answer:
                self._send(answer.status, answer.body, answer.headers)

        def _admin(self, path: str) -> None:
            raw = self._read_body()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise _Answer(400, {"message": "admin body must be JSON"}) from None
            try:
                if path == "/_admin/faults":
                    specs = body if isinstance(body, list) else body.get("faults", [])
                    if isinstance(body, dict) and body.get("replace"):
                        faults = server.set_faults(specs)
                    else:
                        faults = server.add_faults(*specs)
                    self._send(
                        200, {"added": [asdict(f) for f in faults], "pending": len(server.pending_faults())}
                    )
                elif path == "/_admin/reset":
                    server.reset(tokens=bool(body.get("tokens")))
                    self._send(200, {"reset": True})
                elif path == "/_admin/config":
                    server.configure(**body)
                    self._send(200, server.stats()["config"])
                elif path == "/_admin/revoke":
                    self._send(200, {"revoked": server.revoke_all_tokens()})
                else:
                    self._send(404, {"message": f"No such admin resource: {path}"})
            except (ValueError, TypeError) as exc:
                raise _Answer(400, {"message": str(exc)}) from None

        def _token(self) -> None:
            raw = self._read_body()
            server._count_token_request()
            record = self._record("token")
            if self._apply_fault(server._take_fault("token", None), record):
                return
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type == "application/x-www-form-urlencoded":
                params = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            else:
                try:
                    params = json.loads(raw or b"{}")
                except ValueError:
                    params = None
                if not isinstance(params, dict):
                    record.status = 400
                    raise _Answer(
                        400, {"error": "invalid_request", "error_description": "Body must be JSON or form"}
                    )
            auth = self.headers.get("Authorization") or ""
            if auth.lower().startswith("basic "):  # client_secret_basic
                import base64

                try:
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    params.setdefault("client_id", user)
                    params.setdefault("client_secret", password)
                except ValueError:
                    pass
            if params.get("grant_type") != "client_credentials":
                record.status = 400
                raise _Answer(
                    400,
                    {
                        "error": "unsupported_grant_type",
                        "error_description": "grant_type must be client_credentials",
                    },
                )
            if (
                params.get("client_id") != server.client_id
                or params.get("client_secret") != server.client_secret
            ):
                record.status = 401
                raise _Answer(401, {"error": "access_denied", "error_description": "Unauthorized"})
            audience = params.get("audience")
            if audience != server.audience:
                record.status = 403
                raise _Answer(
                    403,
                    {
                        "error": "access_denied",
                        "error_description": f"Client is not authorized to access audience {audience!r}",
                    },
                )
            token, expires_in = server._issue_token(params["client_id"], audience)
            record.status = 200
            self._send(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})

        def _loans(self) -> None:
            raw = self._read_body()
            with server._lock:
                state = server._state
            record = self._record("loans")
            encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
            body = raw
            decode_error = None
            if encoding == "gzip":
                try:
                    body = gzip.decompress(raw)
                except (OSError, EOFError) as exc:
                    decode_error = f"Body is not valid gzip: {exc}"
            isil = None
            if decode_error is None:
                try:
                    isil = (json.loads(body).get("library") or {}).get("isil")
                except (ValueError, AttributeError):
                    isil = None
            record.isil = isil
            fault = server._take_fault("loans", isil)
            if self._apply_fault(fault, record):
                return
            try:
                self._check_loans(
                    record, encoding, decode_error, revoke=fault is not None and fault.action == "revoke"
                )
                doc = run_validator(server.validator, body)
            except PayloadInvalid as exc:
                record.status = exc.status
                record.note = exc.message[:500]
                raise _Answer(exc.status, {"message": exc.message}) from None
            except _Answer as answer:
                record.status = answer.status
                record.note = (answer.body or {}).get("message")
                raise
            server._store_report(doc, body, encoding == "gzip", state)
            record.status = fault.status if fault is not None and fault.status else 204
            self._send(record.status)

        def _check_loans(
            self, record: RecordedRequest, encoding: str, decode_error: str | None, revoke: bool
        ) -> None:
            auth = self.headers.get("Authorization") or ""
            if not auth.startswith("Bearer "):
                raise _Answer(401, {"message": "Missing bearer token"}, {"WWW-Authenticate": "Bearer"})
            token = auth[len("Bearer ") :].strip()
            if revoke:
                server._revoke(token)
            info = server._token_info(token)
            if info is None:
                raise _Answer(
                    401, {"message": "Invalid token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                )
            if info.revoked:
                raise _Answer(
                    401, {"message": "Token revoked"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                )
            if info.expires_at <= time.time():
                raise _Answer(
                    401, {"message": "Token expired"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                )
            if info.audience != server.audience:
                raise _Answer(
                    403,
                    {"message": f"Token audience {info.audience} does not grant access to {server.audience}"},
                )
            date_header = self.headers.get("Date")
            if not date_header:
                raise _Answer(400, {"message": "Missing required header: Date"})
            try:
                sent = email.utils.parsedate_to_datetime(date_header)
            except (TypeError, ValueError):
                sent = None
            if sent is None or not date_header.rstrip().endswith("GMT"):
                raise _Answer(400, {"message": f"Date header is not an RFC 1123 date: {date_header!r}"})
            with server._lock:
                skew_limit = server._state.config.max_date_skew
                accept_gzip = server._state.config.accept_gzip
            skew = abs((datetime.now(UTC) - sent).total_seconds())
            if skew > skew_limit:
                raise _Answer(
                    400,
                    {"message": f"Date header is {skew:.0f} s off the server clock (max {skew_limit:.0f} s)"},
                )
            if encoding not in ("identity", "gzip") or (encoding == "gzip" and not accept_gzip):
                raise _Answer(415, {"message": f"Unsupported Content-Encoding: {encoding}"})
            if decode_error:
                raise _Answer(400, {"message": decode_error})
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise _Answer(
                    415, {"message": f"Content-Type must be application/json, not {content_type!r}"}
                )

    return Handler


# -- command line -------------------------------------------------------------------------


def _cli_validator(choice: str) -> Validator | None:
    if choice in ("auto", "model"):
        return default_validator()  # fails loudly if the report model cannot be imported
    return {"structural": structural_validator, "none": None}[choice]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dev.fakes.bokbasen",
        description="Run a local fake of Bokbasen's token endpoint and Library Loans API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="0 = any free port (default 8089)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--expires-in", type=float, default=3600, help="token lifetime in seconds")
    parser.add_argument("--audience", help="expected audience (default: derived from the loans URL)")
    parser.add_argument("--no-gzip", action="store_true", help="answer 415 to gzip-encoded bodies")
    parser.add_argument(
        "--reports-dir",
        "--store-dir",
        dest="reports_dir",
        help="also write every accepted report here as JSON",
    )
    parser.add_argument(
        "--fault", action="append", default=[], help='scripted fault, e.g. "503" (repeatable)'
    )
    parser.add_argument(
        "--validator",
        choices=["auto", "model", "structural", "none"],
        default="auto",
        help="payload check: the LoanReport model (auto = model; the server does not start without it), "
        "a built-in structural check (explicitly weaker), or none",
    )
    parser.add_argument(
        "--no-validate", dest="validator", action="store_const", const="none", help="= --validator none"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print one line per request")
    args = parser.parse_args(argv)
    server = FakeBokbasen(
        args.host,
        args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        expires_in=args.expires_in,
        audience=args.audience,
        accept_gzip=not args.no_gzip,
        reports_dir=args.reports_dir,
        validator=_cli_validator(args.validator),
        verbose=not args.quiet,
    )
    server.add_faults(*args.fault)
    validator = getattr(server.validator, "__name__", "none")
    print(f"Fake Bokbasen listening on {server.base_url} (validator: {validator})", flush=True)
    print(f"BASE_URL={server.base_url}", flush=True)
    print(f"LOANS_URL={server.loans_url}", flush=True)
    print(f"TOKEN_URL={server.token_url}", flush=True)
    print(f"AUDIENCE={server.audience}", flush=True)
    print(f"ADMIN_URL={server.admin_url}", flush=True)
    server.serve_until_interrupted()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
