"""``BokbasenHook``: POST one loan report to Bokbasen's Library Loans API, safely and patiently.

Configuration (Airflow connection ``bokbasen_default``, conn_type ``http``):

* ``host``: the full loans endpoint URL, e.g. ``https://api.bokbasen.io/reporting/...``
* ``login`` / ``password``: the OAuth2 client id / client secret
* extra ``token_url``: the OAuth2 token endpoint (required)
* extra ``audience``: overrides the audience derived from the endpoint (optional)
* extra ``gzip``: ``true`` sends bodies gzip-compressed with ``Content-Encoding: gzip``
  (default false; if the API answers 415 the client resends uncompressed)

Tokens are cached in the ledger database (connection ``loan_reporting_db``), encrypted with
the deployment's Fernet key, and shared by every task process: see ``token_cache``.

Any other extra is ignored (its *name* is logged once). Nothing from the connection except
the bearer token ever reaches a request header; the client id and secret go only into the
token request's body.

What a log reader sees, and what it means:

* ``Bokbasen accepted report for NO-... 2026-11-20: HTTP 204 after 1 attempt(s)``: done.
* ``HTTP 429/503 ... Retry-After 30 s; waiting 30.0 s``: Bokbasen asked us to slow down;
  the client waits exactly as long as asked (bounded by the retry budget).
* ``HTTP 502 ... / connection dropped / timed out ... backing off 4.1 s``: transient
  failure; exponential backoff with jitter, bounded in attempts and total time. When the
  budget runs out: :class:`BokbasenRetryableError` (an Airflow task retry is appropriate).
* ``Bokbasen rejected the report ... (HTTP 400): <the API's message>``: the report is wrong,
  nothing is retried: :class:`BokbasenReportRejected`.
* ``HTTP 401 ... fetching a new token once``: the token was refused (revoked/expired early);
  a second 401 raises :class:`BokbasenAuthError`.
* ``HTTP 403 ... audience https://.../reporting/``: the client lacks access to that
  audience: :class:`BokbasenForbidden`.

Why ``HttpHook`` is subclassed but its session building is not used: ``HttpHook.get_conn``
turns the connection's login/password into HTTP Basic auth and copies every unknown extra
(``token_url``, ``audience``, ...) into request headers. Both would leak configuration (the
client secret!) to the API. :meth:`BokbasenHook.get_conn` is therefore overridden to build a
clean session whose only credential is the bearer token; inherited helpers that call
``get_conn`` (``run``) are safe too. What is reused from ``HttpHook``: the connection
type and UI form, connection lookup, base-URL resolution (``_set_base_url``: host with or
without scheme, ``schema``, ``port``), the TCP keep-alive adapter and ``run`` (request
preparation). Retries are this hook's own (``Retry-After`` needs more than tenacity's
exception-based retry), so ``run_and_check`` is overridden to send once without raising.
"""

from __future__ import annotations

import email.utils
import gzip as gzip_module
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from airflow.providers.http.hooks.http import HttpHook
from requests import Session

from library_integrations.clients.bokbasen.errors import (
    BokbasenAuthError,
    BokbasenConfigError,
    BokbasenForbidden,
    BokbasenReportRejected,
    BokbasenRetryableError,
)
from library_integrations.http.results import SendResult
from library_integrations.state.token_cache import CachedToken, TokenCache

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "bokbasen_default"
DEFAULT_STATE_CONN_ID = "loan_reporting_db"
KNOWN_EXTRAS = frozenset({"token_url", "audience", "gzip"})
USER_AGENT = "loan-reporting-bokbasen/0.1 (+Apache Airflow)"
_MESSAGE_LIMIT = 2000


def derive_audience(endpoint: str) -> str:
    """The OAuth2 audience of an endpoint: scheme + host + first path segment + ``/``.

    ``https://api.bokbasen.io/reporting/v1/library-loans`` -> ``https://api.bokbasen.io/reporting/``.
    A port is kept, user info is dropped, scheme and host are lower-cased.
    """
    parts = urlsplit(endpoint.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BokbasenConfigError(f"Bokbasen endpoint {endpoint!r} is not an http(s) URL")
    segments = [segment for segment in parts.path.split("/") if segment]
    if not segments:
        raise BokbasenConfigError(
            f"Bokbasen endpoint {endpoint!r} has no path to derive the OAuth2 audience from; "
            "set the connection extra 'audience'"
        )
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    return f"{parts.scheme.lower()}://{host}/{segments[0]}/"


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


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class RetryPolicy:
    """Retry bounds of one report: attempts (HTTP requests), total time, backoff shape.

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

    def backoff(self, retry_number: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** max(0, retry_number - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography


@dataclass
class _Budget:
    policy: RetryPolicy
    sleep: Callable[[float], None]
    started: float
    attempts: int = 0
    waited: float = 0.0

    def remaining(self) -> float:
        return self.policy.max_total_seconds - (time.monotonic() - self.started)

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


@dataclass(frozen=True)
class BokbasenConfig:
    """Resolved configuration (the secret is held here and never put in ``repr``)."""

    endpoint: str
    client_id: str
    client_secret: str
    token_url: str
    audience: str
    gzip: bool

    def __repr__(self) -> str:
        return (
            f"BokbasenConfig(endpoint={self.endpoint!r}, client_id={self.client_id!r}, client_secret='***', "
            f"token_url={self.token_url!r}, audience={self.audience!r}, gzip={self.gzip})"
        )


def _mask(secret: str) -> None:
    """Register ``secret`` with Airflow's secret masker (task logs show ``***`` instead)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older/newer layouts
        try:
            from airflow.sdk.execution_time.secrets_masker import mask_secret
        except ImportError:
            return
    mask_secret(secret)


def _no_auth(request):
    return request


class BokbasenHook(HttpHook):
    """Client of Bokbasen's Library Loans API: OAuth2, shared token cache, retries, typed errors.

    Two ways to build it:

    * ``BokbasenHook()`` / ``BokbasenHook(bokbasen_conn_id="bokbasen_default")``: from the
      Airflow connection; the token cache lives in the database of connection
      ``state_conn_id`` (``loan_reporting_db``) unless ``ledger_dsn`` is given.
    * ``BokbasenHook(endpoint=..., client_id=..., client_secret=..., token_url=...,
      audience=None, ledger_dsn=...)``: explicit parameters, no Airflow connection used.

    The main method is :meth:`send_report`.
    """

    conn_name_attr = "bokbasen_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "http"
    hook_name = "Bokbasen Library Loans API"

    def __init__(
        self,
        bokbasen_conn_id: str = DEFAULT_CONN_ID,
        *,
        endpoint: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        audience: str | None = None,
        gzip: bool | None = None,
        ledger_dsn: str | None = None,
        state_conn_id: str | None = DEFAULT_STATE_CONN_ID,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        token_refresh_margin: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(method="POST", http_conn_id=bokbasen_conn_id)
        self.bokbasen_conn_id = bokbasen_conn_id
        self._explicit = endpoint is not None
        self._params = {
            "endpoint": endpoint,
            "client_id": client_id,
            "client_secret": client_secret,
            "token_url": token_url,
            "audience": audience,
            "gzip": gzip,
        }
        if client_secret:
            _mask(client_secret)
        self._ledger_dsn = ledger_dsn
        self._state_conn_id = None if self._explicit else state_conn_id
        self.retry = retry or RetryPolicy()
        self.timeout = (connect_timeout, read_timeout)
        self.token_refresh_margin = token_refresh_margin
        self._sleep = sleep
        self._config: BokbasenConfig | None = None
        self._token_cache: TokenCache | None = None
        self._session: Session | None = None
        self._gzip_refused = False
        self.token_requests = 0  # token endpoint requests made by this hook instance

    # -- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> BokbasenConfig:
        if self._config is None:
            self._config = self._resolve_config()
        return self._config

    def _resolve_config(self) -> BokbasenConfig:
        p = dict(self._params)
        if not self._explicit:
            conn = self.get_connection(self.bokbasen_conn_id)
            self._set_base_url(conn)  # HttpHook's host/schema/port -> base URL rules
            extra = conn.extra_dejson or {}
            ignored = sorted(set(extra) - KNOWN_EXTRAS)
            if ignored:
                log.info(
                    "Connection %s: ignoring extras %s (never sent as headers)",
                    self.bokbasen_conn_id,
                    ignored,
                )
            p["endpoint"] = self.base_url
            p["client_id"] = p["client_id"] or conn.login
            p["client_secret"] = p["client_secret"] or conn.password
            p["token_url"] = p["token_url"] or extra.get("token_url")
            p["audience"] = p["audience"] or extra.get("audience")
            if p["gzip"] is None and "gzip" in extra:
                p["gzip"] = _to_bool(extra["gzip"])
            where = f"connection {self.bokbasen_conn_id!r}"
        else:
            self.base_url = p["endpoint"]
            self._base_url_initialized = True
            where = "BokbasenHook parameters"
        missing = [
            name for name in ("endpoint", "client_id", "client_secret", "token_url") if not p.get(name)
        ]
        if missing:
            labels = {
                "endpoint": "host",
                "client_id": "login",
                "client_secret": "password",
                "token_url": "extra token_url",
            }
            raise BokbasenConfigError(
                f"Bokbasen {where} is missing: {', '.join(labels[m] if not self._explicit else m for m in missing)}"
            )
        _mask(p["client_secret"])
        audience = p["audience"] or derive_audience(p["endpoint"])
        for name in ("endpoint", "token_url"):
            parts = urlsplit(p[name])
            if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                log.warning(
                    "Bokbasen %s %s is plain http: credentials and tokens travel unencrypted", name, p[name]
                )
        return BokbasenConfig(
            endpoint=p["endpoint"],
            client_id=p["client_id"],
            client_secret=p["client_secret"],
            token_url=p["token_url"],
            audience=audience,
            gzip=bool(p["gzip"]),
        )

    def _ledger_dsn_resolved(self) -> str | None:
        if self._ledger_dsn is None and self._state_conn_id:
            from library_integrations.state.ledger import dsn_from_connection

            try:
                self._ledger_dsn = dsn_from_connection(self._state_conn_id)
            except Exception as exc:
                log.warning(
                    "No usable connection %r for the shared Bokbasen token cache (%s); caching in this process only",
                    self._state_conn_id,
                    type(exc).__name__,
                )
                self._state_conn_id = None
        return self._ledger_dsn

    @property
    def token_cache(self) -> TokenCache:
        if self._token_cache is None:
            cfg = self.config
            self._token_cache = TokenCache(
                token_url=cfg.token_url,
                client_id=cfg.client_id,
                audience=cfg.audience,
                dsn=self._ledger_dsn_resolved(),
                refresh_margin=self.token_refresh_margin,
            )
        return self._token_cache

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> Session:
        """A clean ``requests`` session: no Basic auth, no connection extras as headers.

        ``headers`` passed explicitly by the caller are applied per request, not stored.
        """
        if self._session is None:
            session = Session()
            session.headers.clear()
            session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
            # A no-op auth: keeps requests from adding ~/.netrc credentials (trust_env stays on
            # so HTTPS_PROXY/NO_PROXY and CA bundle settings still apply).
            session.auth = _no_auth
            if self.keep_alive_adapter is not None:
                session.mount("http://", self.keep_alive_adapter)
                session.mount("https://", self.keep_alive_adapter)
            self._session = session
        self.merged_extra = {"timeout": self.timeout, "allow_redirects": False, "check_response": False}
        return self._session

    def run_and_check(self, session: Session, prepped_request, extra_options: dict[Any, Any]) -> Any:
        """Send one prepared request (HttpHook's proxy/TLS environment merge, no retry, no raise).

        Overridden only to drop HttpHook's "Tenacity will retry" warning: retries are
        :meth:`send_report`'s business and are logged there.
        """
        settings = session.merge_environment_settings(
            prepped_request.url,
            proxies=session.proxies,
            stream=session.stream,
            verify=session.verify,
            cert=session.cert,
        )
        return session.send(
            prepped_request,
            timeout=extra_options.get("timeout", self.timeout),
            allow_redirects=extra_options.get("allow_redirects", False),
            **settings,
        )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- tokens ----------------------------------------------------------------------------

    def _redact(self, text: str | None, *tokens: str | None) -> str | None:
        if text is None:
            return None
        secrets = [self._config.client_secret if self._config else self._params.get("client_secret"), *tokens]
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."

    def _api_message(self, response: requests.Response, *tokens: str | None) -> str:
        """The API's own explanation from a response body (JSON message fields or text), redacted."""
        text = response.text or ""
        message = text.strip()
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            parts = [
                str(body[key])
                for key in ("message", "error_description", "detail", "title", "error")
                if body.get(key) and not isinstance(body[key], dict | list)
            ]
            errors = body.get("errors")
            if errors:
                parts.append(json.dumps(errors, ensure_ascii=False))
            if parts:
                message = "; ".join(dict.fromkeys(parts))
        return self._redact(message or response.reason or "(no message)", *tokens) or ""

    def _fetch_token(self, budget: _Budget) -> tuple[str, float]:
        """POST client credentials to the token endpoint (retrying transient failures)."""
        cfg = self.config
        session = self.get_conn()
        body = {
            "grant_type": "client_credentials",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "audience": cfg.audience,
        }
        tries = 0
        while True:
            tries += 1
            self.token_requests += 1
            log.info(
                "Requesting a Bokbasen access token for audience %s from %s", cfg.audience, cfg.token_url
            )
            try:
                response = session.post(
                    cfg.token_url,
                    json=body,
                    headers={"Date": http_date()},
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                wait = self.retry.backoff(tries)
                reason = f"token endpoint unreachable ({type(exc).__name__})"
                if tries < self.retry.max_attempts and budget.wait(wait):
                    log.warning("Bokbasen %s; backing off %.1f s", reason, wait)
                    continue
                raise BokbasenRetryableError(
                    f"Bokbasen {reason} at {cfg.token_url} after {tries} attempt(s)", attempts=budget.attempts
                ) from None
            status = response.status_code
            if 200 <= status < 300:
                try:
                    data = response.json()
                    access_token = data["access_token"]
                except (ValueError, KeyError, TypeError):
                    raise BokbasenConfigError(
                        f"Token endpoint {cfg.token_url} answered HTTP {status} without an access_token"
                    ) from None
                _mask(access_token)
                token_type = str(data.get("token_type", "Bearer"))
                if token_type.lower() != "bearer":
                    log.warning(
                        "Token endpoint returned token_type %r; using it as a Bearer token", token_type
                    )
                expires_in = data.get("expires_in")
                if expires_in is None:
                    log.warning("Token endpoint gave no expires_in; assuming 300 s")
                    expires_in = 300
                log.info("Got a Bokbasen access token valid for %s s", expires_in)
                return access_token, float(expires_in)
            message = self._api_message(response)
            if status == 401:
                raise BokbasenAuthError(
                    f"Token endpoint {cfg.token_url} refused client id {cfg.client_id!r} (HTTP 401): {message}. "
                    "Check the client id and secret of the Bokbasen connection.",
                    status_code=status,
                    api_message=message,
                )
            if status == 403:
                raise BokbasenForbidden(
                    f"Token endpoint {cfg.token_url} refused access to audience {cfg.audience} for client id "
                    f"{cfg.client_id!r} (HTTP 403): {message}",
                    audience=cfg.audience,
                    status_code=status,
                    api_message=message,
                )
            if status in (429, 503) or status >= 500:
                retry_after = (
                    parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
                )
                wait = (
                    min(retry_after, self.retry.max_retry_after)
                    if retry_after is not None
                    else self.retry.backoff(tries)
                )
                if tries < self.retry.max_attempts and budget.wait(wait):
                    log.warning("Bokbasen token endpoint answered HTTP %s; waiting %.1f s", status, wait)
                    continue
                raise BokbasenRetryableError(
                    f"Bokbasen token endpoint {cfg.token_url} kept failing (HTTP {status}) after {tries} attempt(s)",
                    status_code=status,
                    api_message=message,
                    attempts=budget.attempts,
                )
            raise BokbasenConfigError(
                f"Token endpoint {cfg.token_url} answered HTTP {status} for client id {cfg.client_id!r}, "
                f"audience {cfg.audience}: {message}",
                status_code=status,
                api_message=message,
            )

    def get_token(self, budget: _Budget | None = None) -> CachedToken:
        """A usable bearer token: from this process, the shared cache, or the token endpoint."""
        budget = budget or _Budget(self.retry, self._sleep, time.monotonic())
        token, fetched = self.token_cache.get(lambda: self._fetch_token(budget))
        _mask(token.access_token)
        if not fetched:
            log.debug("Reusing the cached Bokbasen token (expires %s)", token.expires_at.isoformat())
        return token

    def test_connection(self) -> tuple[bool, str]:
        """The Airflow UI's "Test" button: fetch a token (nothing is sent to the loans endpoint)."""
        try:
            self.token_cache.forget()
            self.get_token()
        except Exception as exc:
            return False, f"{type(exc).__name__}: {self._redact(str(exc))}"
        return True, f"Got an access token for audience {self.config.audience}"

    # -- sending ---------------------------------------------------------------------------

    def send_report(self, payload_bytes: bytes, *, isil: str, report_date: date | str) -> SendResult:
        """POST one agency-day's report (JSON bytes) and return once Bokbasen accepted it.

        Raises :class:`BokbasenReportRejected` (400/422, no retry), :class:`BokbasenAuthError`,
        :class:`BokbasenForbidden`, :class:`BokbasenConfigError` or, when transient failures
        outlast the :class:`RetryPolicy`, :class:`BokbasenRetryableError`.
        """
        cfg = self.config
        what = f"{isil} {report_date}"
        started = time.monotonic()
        budget = _Budget(self.retry, self._sleep, started)
        refreshes = 0
        use_gzip = cfg.gzip and not self._gzip_refused
        body = gzip_module.compress(payload_bytes, mtime=0) if use_gzip else payload_bytes
        log.info(
            "Sending Bokbasen report for %s: %d bytes%s to %s",
            what,
            len(payload_bytes),
            f" (gzip {len(body)} bytes)" if use_gzip else "",
            cfg.endpoint,
        )
        last_status: int | None = None
        while True:
            token = self.get_token(budget)
            headers = {
                "Authorization": f"Bearer {token.access_token}",
                "Date": http_date(),
                "Content-Type": "application/json; charset=utf-8",
            }
            if use_gzip:
                headers["Content-Encoding"] = "gzip"
            budget.attempts += 1
            attempt = budget.attempts
            problem: str
            retry_after: float | None = None
            try:
                response = self.run(data=body, headers=headers, extra_options=self.merged_extra)
            except (
                requests.Timeout,
                requests.ConnectionError,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                kind = (
                    "timed out" if isinstance(exc, requests.Timeout) else "connection failed or was dropped"
                )
                problem = f"request {kind} ({type(exc).__name__})"
                last_status = None
            else:
                status = response.status_code
                last_status = status
                if 200 <= status < 300:
                    elapsed = time.monotonic() - started
                    log.info(
                        "Bokbasen accepted report for %s: HTTP %s after %d attempt(s), waited %.1f s, %.1f s in total",
                        what,
                        status,
                        attempt,
                        budget.waited,
                        elapsed,
                    )
                    return SendResult(
                        status_code=status,
                        attempts=attempt,
                        waited_seconds=budget.waited,
                        elapsed_seconds=elapsed,
                        token_refreshes=refreshes,
                        gzip=use_gzip,
                        message=self._redact(response.text.strip() or None, token.access_token),
                    )
                message = self._api_message(response, token.access_token)
                if status in (400, 422):
                    log.error("Bokbasen rejected the report for %s (HTTP %s): %s", what, status, message)
                    raise BokbasenReportRejected(
                        f"Bokbasen rejected the report for {what} (HTTP {status}): {message}",
                        status_code=status,
                        attempts=attempt,
                        api_message=message,
                    )
                if status == 401:
                    self.token_cache.invalidate(token)
                    if refreshes == 0:
                        refreshes += 1
                        log.warning(
                            "Bokbasen refused the access token for %s (HTTP 401: %s); fetching a new token once",
                            what,
                            message,
                        )
                        continue
                    raise BokbasenAuthError(
                        f"Bokbasen refused a freshly fetched access token for {what} (HTTP 401): {message}. "
                        f"Check that client id {cfg.client_id!r} may use audience {cfg.audience}.",
                        status_code=status,
                        attempts=attempt,
                        api_message=message,
                    )
                if status == 403:
                    log.error(
                        "Bokbasen refused access for %s (HTTP 403) to audience %s: %s",
                        what,
                        cfg.audience,
                        message,
                    )
                    raise BokbasenForbidden(
                        f"Bokbasen refused access (HTTP 403) to {cfg.endpoint} for client id {cfg.client_id!r} "
                        f"with audience {cfg.audience}: {message}. Ask Bokbasen to grant this client access to "
                        "that audience, or set the connection extra 'audience'.",
                        audience=cfg.audience,
                        status_code=status,
                        attempts=attempt,
                        api_message=message,
                    )
                if status == 415 and use_gzip:
                    log.warning(
                        "Bokbasen does not accept gzip bodies (HTTP 415: %s); resending uncompressed", message
                    )
                    self._gzip_refused = True
                    use_gzip = False
                    body = payload_bytes
                    continue
                if 300 <= status < 400 or status in (404, 405):
                    raise BokbasenConfigError(
                        f"Bokbasen endpoint {cfg.endpoint} answered HTTP {status} for {what} "
                        f"({message}); check the connection host",
                        status_code=status,
                        attempts=attempt,
                        api_message=message,
                    )
                if status in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    problem = f"HTTP {status} ({message})"
                elif status >= 500 or status == 408:
                    problem = f"HTTP {status} ({message})"
                else:
                    log.error("Bokbasen refused the report for %s (HTTP %s): %s", what, status, message)
                    raise BokbasenReportRejected(
                        f"Bokbasen refused the report for {what} (HTTP {status}): {message}",
                        status_code=status,
                        attempts=attempt,
                        api_message=message,
                    )
            # A transient failure: wait and retry, within the budget.
            if retry_after is not None:
                wait = min(retry_after, self.retry.max_retry_after)
                how = f"Retry-After {retry_after:g} s; waiting {wait:.1f} s"
            else:
                wait = self.retry.backoff(attempt)
                how = f"backing off {wait:.1f} s"
            if attempt >= self.retry.max_attempts or not budget.can_wait(wait):
                elapsed = time.monotonic() - started
                log.error(
                    "Bokbasen: giving up on %s after %d attempt(s) in %.1f s; last problem: %s",
                    what,
                    attempt,
                    elapsed,
                    problem,
                )
                raise BokbasenRetryableError(
                    f"Bokbasen did not accept the report for {what} after {attempt} attempt(s) in {elapsed:.0f} s; "
                    f"last problem: {problem}. Transient: retry later.",
                    status_code=last_status,
                    attempts=attempt,
                )
            log.warning(
                "Bokbasen %s for %s (attempt %d/%d); %s", problem, what, attempt, self.retry.max_attempts, how
            )
            budget.wait(wait)
