"""``BokbasenHook``: POST one loan report to Bokbasen's Library Loans API, safely and patiently.

Configuration (Airflow connection ``bokbasen_default``, conn_type ``http``):

* ``host``: the full loans endpoint URL, e.g. ``https://api.bokbasen.io/reporting/...``
* ``login`` / ``password``: the OAuth2 client id / client secret
* extra ``token_url``: the OAuth2 token endpoint (required)
* extra ``audience``: overrides the audience derived from the endpoint (optional)
* extra ``gzip``: ``true`` sends bodies gzip-compressed with ``Content-Encoding: gzip``
  (default false; if the API answers 415 the client resends uncompressed)
* extras ``connect_timeout`` (default 10 s), ``read_timeout`` (120 s: Bokbasen may take
  long to answer a large report), ``max_attempts`` (6 HTTP requests per report, retries
  included) and ``max_total_seconds`` (900: the retry budget of one report; no wait ends
  later than this after the first attempt began). Explicit hook arguments win over them.

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

The mechanics are the shared HTTP layer's (:mod:`library_integrations.http`): the retry
loop (``retry``), OAuth2 client credentials as a ``requests`` auth object with the 401
refresh (``auth``), redaction of secrets and tokens (``redaction``) and the API's message
from an error body (``messages``). This hook supplies what is Bokbasen's: the configuration
(:mod:`.config`), the meaning of each status for a report, gzip, and the log lines above.

Why ``HttpHook`` is subclassed but its session building is not used: ``HttpHook.get_conn``
turns the connection's login/password into HTTP Basic auth and copies every unknown extra
(``token_url``, ``audience``, ...) into request headers. Both would leak configuration (the
client secret!) to the API. :meth:`BokbasenHook.get_conn` is therefore overridden to build a
clean session whose only credential is the bearer token; inherited helpers that call
``get_conn`` (``run``) are safe too. What is reused from ``HttpHook``: the connection
type and UI form, connection lookup, base-URL resolution (``_set_base_url``: host with or
without scheme, ``schema``, ``port``), the TCP keep-alive adapter and ``run`` (request
preparation). Retries are the shared loop's (``Retry-After`` needs more than tenacity's
exception-based retry), so ``run_and_check`` is overridden to send once without raising.
"""

from __future__ import annotations

import gzip as gzip_module
import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from airflow.providers.http.hooks.http import HttpHook
from requests import Response, Session

from library_integrations.clients.bokbasen.auth import bokbasen_auth, shared_cache_dsn, token_cache
from library_integrations.clients.bokbasen.config import (
    KNOWN_EXTRAS,
    BokbasenConfig,
    derive_audience,
    resolve_config,
)
from library_integrations.clients.bokbasen.errors import (
    BokbasenAuthError,
    BokbasenConfigError,
    BokbasenForbidden,
    BokbasenReportRejected,
    BokbasenRetryableError,
)
from library_integrations.http.auth import BearerToken, OAuth2ClientCredentials
from library_integrations.http.messages import api_message
from library_integrations.http.redaction import Redactor
from library_integrations.http.results import SendResult
from library_integrations.http.retry import (
    Resend,
    Retry,
    RetryBudget,
    RetryNotice,
    RetryPolicy,
    http_date,
    is_transient_status,
    parse_retry_after,
    send_with_retries,
)
from library_integrations.http.session import clean_session
from library_integrations.state.token_cache import TokenCache

__all__ = [  # RetryPolicy, derive_audience, parse_retry_after, http_date: kept importable from here
    "DEFAULT_CONN_ID",
    "KNOWN_EXTRAS",
    "BokbasenConfig",
    "BokbasenHook",
    "RetryPolicy",
    "derive_audience",
    "http_date",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "bokbasen_default"
DEFAULT_STATE_CONN_ID = "loan_reporting_db"
USER_AGENT = "loan-reporting-bokbasen/0.1 (+Apache Airflow)"


class BokbasenHook(HttpHook):
    """Client of Bokbasen's Library Loans API: OAuth2, shared token cache, retries, typed errors.

    Two ways to build it:

    * ``BokbasenHook()`` / ``BokbasenHook(bokbasen_conn_id="bokbasen_default")``: from the
      Airflow connection; the token cache lives in the database of connection
      ``state_conn_id`` (``loan_reporting_db``) unless ``ledger_dsn`` is given.
    * ``BokbasenHook(endpoint=..., client_id=..., client_secret=..., token_url=...,
      audience=None, ledger_dsn=...)``: explicit parameters, no Airflow connection used.

    ``retry``, ``connect_timeout`` and ``read_timeout`` override the connection extras
    (default: extras, else 10 s / 120 s and :class:`RetryPolicy`'s bounds).
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
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
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
        self._redactor = Redactor(client_secret)  # also registers it with Airflow's secret masker
        self._ledger_dsn = ledger_dsn
        self._state_conn_id = None if self._explicit else state_conn_id
        self._retry = retry
        self._timeouts = {"connect_timeout": connect_timeout, "read_timeout": read_timeout}
        self.token_refresh_margin = token_refresh_margin
        self._sleep = sleep
        self._config: BokbasenConfig | None = None
        self._token_cache: TokenCache | None = None
        self._auth: OAuth2ClientCredentials | None = None
        self._session: Session | None = None
        self._gzip_refused = False

    # -- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> BokbasenConfig:
        if self._config is None:
            self._config = self._resolve_config()
        return self._config

    def _resolve_config(self) -> BokbasenConfig:
        settings: dict[str, Any] = {"retry": self._retry, "option_overrides": self._timeouts}
        if self._explicit:
            self.base_url = self._params["endpoint"]
            self._base_url_initialized = True
            return resolve_config(self._params, where="BokbasenHook parameters", **settings)
        conn = self.get_connection(self.bokbasen_conn_id)
        self._redactor.add_secret(conn.password)
        self._set_base_url(conn)  # HttpHook's host/schema/port -> base URL rules
        config = resolve_config(
            self._params,
            extra=conn.extra_dejson or {},
            connection={
                "conn_id": self.bokbasen_conn_id,
                "endpoint": self.base_url,
                "login": conn.login,
                "password": conn.password,
            },
            where=f"connection {self.bokbasen_conn_id!r}",
            **settings,
        )
        self._redactor.add_secret(config.client_secret)
        return config

    @property
    def retry(self) -> RetryPolicy:
        return self.config.retry

    @property
    def timeout(self) -> tuple[float, float]:
        return self.config.timeout

    def _ledger_dsn_resolved(self) -> str | None:
        if self._ledger_dsn is None and self._state_conn_id:
            self._ledger_dsn = shared_cache_dsn(self._state_conn_id)
            self._state_conn_id = None  # resolved once, usable or not
        return self._ledger_dsn

    @property
    def token_cache(self) -> TokenCache:
        if self._token_cache is None:
            self._token_cache = token_cache(self.config, self._ledger_dsn_resolved(), self.token_refresh_margin)
        return self._token_cache

    @property
    def auth(self) -> OAuth2ClientCredentials:
        """The bearer-token auth of every loans request, its tokens kept in :attr:`token_cache`."""
        if self._auth is None:
            self._auth = bokbasen_auth(self.config, self.token_cache, session=self.get_conn, sleep=self._sleep,
                                       redactor=self._redactor, unlabelled="a request")
        return self._auth

    @property
    def token_requests(self) -> int:
        """Token endpoint requests made by this hook instance."""
        return self._auth.token_requests if self._auth is not None else 0

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> Session:
        """A clean ``requests`` session: no Basic auth, no connection extras as headers.

        ``headers`` passed explicitly by the caller are applied per request, not stored.
        """
        if self._session is None:
            self._session = clean_session(
                user_agent=USER_AGENT, accept="application/json", adapter=self.keep_alive_adapter
            )
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

    def _redact(self, text: str | None, *more: str | None) -> str | None:
        return self._redactor(text, *more)

    def _message(self, response: Response) -> str:
        return api_message(response, redact=self._redactor)

    def get_token(self, budget: RetryBudget | None = None) -> BearerToken:
        """A usable bearer token: from this process, the shared cache, or the token endpoint."""
        with (budget or RetryBudget(self.retry, self._sleep)).active():
            return self.auth.token()

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
        budget = RetryBudget(cfg.retry, self._sleep, label=what)
        use_gzip = cfg.gzip and not self._gzip_refused
        body = gzip_module.compress(payload_bytes, mtime=0) if use_gzip else payload_bytes
        refreshes = 0
        log.info(
            "Sending Bokbasen report for %s: %d bytes%s to %s",
            what,
            len(payload_bytes),
            f" (gzip {len(body)} bytes)" if use_gzip else "",
            cfg.endpoint,
        )

        def send_once(attempt: int) -> Response:
            nonlocal refreshes
            headers = {"Date": http_date(), "Content-Type": "application/json; charset=utf-8"}
            if use_gzip:
                headers["Content-Encoding"] = "gzip"
            response = self.run(data=body, headers=headers, extra_options=self.merged_extra, auth=self.auth)
            refreshes += sum(1 for earlier in response.history if earlier.status_code == 401)
            return response

        def classify(response: Response, attempt: int) -> SendResult | Retry | Resend:
            nonlocal use_gzip, body
            status = response.status_code
            if 200 <= status < 300:
                elapsed = budget.elapsed()
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
                    message=self._redact(response.text.strip() or None),
                )
            message = self._message(response)
            details = {"status_code": status, "attempts": attempt, "api_message": message}
            if status in (400, 422):
                log.error("Bokbasen rejected the report for %s (HTTP %s): %s", what, status, message)
                raise BokbasenReportRejected(
                    f"Bokbasen rejected the report for {what} (HTTP {status}): {message}", **details
                )
            if status == 401:  # the auth object already fetched a new token and re-sent once
                raise BokbasenAuthError(
                    f"Bokbasen refused a freshly fetched access token for {what} (HTTP 401): {message}. "
                    f"Check that client id {cfg.client_id!r} may use audience {cfg.audience}.",
                    **details,
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
                    **details,
                )
            if status == 415 and use_gzip:
                log.warning(
                    "Bokbasen does not accept gzip bodies (HTTP 415: %s); resending uncompressed", message
                )
                self._gzip_refused = True
                use_gzip = False
                body = payload_bytes
                return Resend("gzip refused")
            if 300 <= status < 400 or status in (404, 405):
                raise BokbasenConfigError(
                    f"Bokbasen endpoint {cfg.endpoint} answered HTTP {status} for {what} "
                    f"({message}); check the connection host",
                    **details,
                )
            if is_transient_status(status):  # 408, 429, 5xx (Retry-After honoured on 429/503)
                return Retry.for_response(response, f"HTTP {status} ({message})", message)
            log.error("Bokbasen refused the report for %s (HTTP %s): %s", what, status, message)
            raise BokbasenReportRejected(
                f"Bokbasen refused the report for {what} (HTTP {status}): {message}", **details
            )

        def on_retry(notice: RetryNotice) -> None:
            log.warning(
                "Bokbasen %s for %s (attempt %d/%d); %s",
                notice.retry.problem,
                what,
                notice.attempt,
                notice.max_attempts,
                notice.how,
            )

        def on_give_up(notice: RetryNotice) -> BokbasenRetryableError:
            attempt, elapsed, problem = notice.attempt, notice.elapsed, notice.retry.problem
            log.error(
                "Bokbasen: giving up on %s after %d attempt(s) in %.1f s; last problem: %s",
                what,
                attempt,
                elapsed,
                problem,
            )
            return BokbasenRetryableError(
                f"Bokbasen did not accept the report for {what} after {attempt} attempt(s) in {elapsed:.0f} s; "
                f"last problem: {problem}. Transient: retry later.",
                status_code=notice.retry.status_code,
                attempts=attempt,
            )

        return send_with_retries(
            send_once, classify, cfg.retry, budget=budget, on_retry=on_retry, on_give_up=on_give_up
        )
