"""``BokbasenExportHook``: read ONIX pages from Bokbasen's Export Service, page by page, patiently.

Configuration (Airflow connection ``bokbasen_export``, conn_type ``http``):

* ``host``: the export endpoint's URL, e.g. ``https://api.bokbasen.io/metadata/export/onix/...``;
* ``login`` / ``password``: the OAuth2 client id / secret (the same client-credentials flow,
  shared token cache and audience rule as the loans API: the audience is scheme + host +
  first path segment, ``https://api.bokbasen.io/metadata/``, unless extra ``audience`` says
  otherwise);
* extras ``token_url`` (required), ``subscription`` (required: ``basic``, ``extended`` or
  ``school``, as agreed with Bokbasen), ``pagesize`` (1..1000, default 1000),
  ``notification_type`` (optional: ``updated`` or ``deleted`` only), ``audience`` and the
  transport settings of :mod:`library_integrations.http.options` (``connect_timeout``,
  ``read_timeout``, ``max_attempts``, ``max_total_seconds``: per page).

Any other extra is ignored and never becomes a header. Nothing from the connection except
the bearer token reaches a request header.

The protocol, as the service documents it and this client follows it:

* every request carries ``subscription``, ``pagesize`` and exactly one of ``next=<cursor>``
  (the recommended, incremental way) or ``after=yyyyMMddHHmmss`` (when there is no usable
  cursor; written in UTC), and the headers ``Authorization: Bearer ...`` and an RFC 1123
  ``Date`` (the service refuses more than 15 minutes of clock skew);
* every answer carries ``Next``: the cursor to store, unchanged when the page is empty;
  ``Link`` (``<url>; rel="next"``) only while more pages remain. :meth:`pages` follows
  ``Link`` **as given** until it is absent (refusing a link to another host, which would
  receive the bearer token), and hands each page with its ``Next`` to the caller, who
  stores the cursor with the page's data. (``http.pagination.next_page_url`` is not used:
  it would read Bokbasen's ``Next`` cursor as a URL.)

What a log reader sees, and what it means:

* ``HTTP 502/503 ... / connection dropped / timed out ... backing off 2.1 s``: transient;
  the page is fetched again (the same URL, so nothing is lost or doubled), within the
  per-page retry budget; then :class:`BokbasenRetryableError`.
* ``HTTP 413 ... halving the page size to 500``: the service asked for smaller pages.
* ``HTTP 401 ... fetching a new token once``: a second 401 is :class:`BokbasenAuthError`.
* ``Bokbasen refused the Date header ... the worker's clock is off by about 1250 s``:
  :class:`BokbasenClockSkewError`; fix the worker's clock (NTP), nothing else helps.
* ``Bokbasen refused the request (HTTP 400) ...: <the service's message>``: a parameter
  error (:class:`BokbasenExportParameterError`) or a cursor older than the service's limit
  (:class:`BokbasenCursorTooOld`); permanent.

Error bodies are XML (``<errors><error><code/><message/>...</error></errors>``, possibly with
more elements) or plain text; :func:`parse_error_body` reads either and
:func:`classify_rejection` picks the typed error by the error code, else by the message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from xml.etree import ElementTree

from airflow.providers.http.hooks.http import HttpHook
from requests import Response, Session

from library_integrations.clients.bokbasen.auth import bokbasen_auth, shared_cache_dsn, token_cache
from library_integrations.clients.bokbasen.config import KNOWN_EXTRAS as LOANS_EXTRAS
from library_integrations.clients.bokbasen.config import BokbasenConfig, resolve_config
from library_integrations.clients.bokbasen.errors import (
    BokbasenAuthError,
    BokbasenClockSkewError,
    BokbasenConfigError,
    BokbasenCursorTooOld,
    BokbasenExportParameterError,
    BokbasenExportRejected,
    BokbasenForbidden,
    BokbasenRetryableError,
)
from library_integrations.http.auth import OAuth2ClientCredentials
from library_integrations.http.messages import api_message
from library_integrations.http.redaction import Redactor
from library_integrations.http.retry import (
    Resend,
    Retry,
    RetryBudget,
    RetryNotice,
    RetryPolicy,
    http_date,
    is_transient_status,
    send_with_retries,
)
from library_integrations.http.session import clean_session

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "bokbasen_export"
DEFAULT_STATE_CONN_ID = "loan_reporting_db"
USER_AGENT = "library-integrations-metadata-sync/0.1 (+Apache Airflow)"
SUBSCRIPTIONS = ("basic", "extended", "school")
NOTIFICATION_TYPES = ("updated", "deleted")
MAX_PAGESIZE = 1000  # the service's default and maximum for ONIX
AFTER_FORMAT = "%Y%m%d%H%M%S"
EXPORT_EXTRAS = frozenset({"subscription", "pagesize", "notification_type"})
KNOWN_EXTRAS = LOANS_EXTRAS | EXPORT_EXTRAS
MAX_SKEW_SECONDS = 15 * 60

# How a refusal is recognised: an error code (as the service names it), else words of its message.
CLOCK_CODES = frozenset({"DATE_SKEW", "INVALID_DATE", "DATE_HEADER", "CLOCK_SKEW"})
TOO_OLD_CODES = frozenset({"PARAMETER_TOO_OLD", "NEXT_TOO_OLD", "AFTER_TOO_OLD", "CURSOR_TOO_OLD"})


def after_parameter(when: datetime) -> str:
    """``after`` as the service reads it: ``yyyyMMddHHmmss`` (UTC here).

    >>> after_parameter(datetime(2026, 5, 1, 13, 4, 5, tzinfo=UTC))
    '20260501130405'
    """
    if when.tzinfo is None:
        raise ValueError("after needs an aware datetime")
    return when.astimezone(UTC).strftime(AFTER_FORMAT)


# -- error bodies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerError:
    """One ``<error>`` of an error body: ``code``, ``message`` and any further elements."""

    code: str | None
    message: str
    details: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = "".join(f"; {k}={v}" for k, v in self.details.items())
        return f"{self.code}: {self.message}{extra}" if self.code else f"{self.message}{extra}"


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def parse_error_body(text: str) -> list[ServerError]:
    """The errors of an Export Service error body: XML ``<errors><error>...`` or plain text.

    Parsed with the standard library's expat parser (no external entities, no entity
    expansion bombs); a body that is not XML is one error with its text as the message.

    >>> parse_error_body("<errors><error><code>MISSING_PARAMETER</code>"
    ...                  "<message>Mandatory parameter subscription is missing</message>"
    ...                  "<parameter>subscription</parameter></error></errors>")
    [ServerError(code='MISSING_PARAMETER', message='Mandatory parameter subscription is missing', details={'parameter': 'subscription'})]
    >>> parse_error_body("Date header is not within the boundary of 15 minutes skew")
    [ServerError(code=None, message='Date header is not within the boundary of 15 minutes skew', details={})]
    """
    stripped = (text or "").strip()
    if not stripped:
        return []
    if stripped.startswith("<") and len(stripped) <= 256 * 1024:
        try:
            root = ElementTree.fromstring(stripped)
        except (ElementTree.ParseError, ValueError):
            root = None
        if root is not None:
            entries = [e for e in root.iter() if _local(e.tag).lower() == "error" and len(e)]
            if not entries and len(root):
                entries = [root]
            errors = []
            for entry in entries:
                values = {_local(child.tag): _squash("".join(child.itertext())) for child in entry}
                code = values.pop("code", None) or values.pop("Code", None) or None
                message = values.pop("message", None) or values.pop("Message", None)
                if not message:
                    message = "; ".join(v for v in values.values() if v) or code or "(no message)"
                errors.append(ServerError(code, message, {k: v for k, v in values.items() if v}))
            if errors:
                return errors
            if _squash(root.text):
                return [ServerError(None, _squash(root.text))]
    return [ServerError(None, _squash(stripped)[:2000])]


def classify_rejection(status: int, errors: list[ServerError]) -> type[BokbasenExportRejected]:
    """The typed error of a refusal: by error code first, then by the words of the messages.

    >>> classify_rejection(400, [ServerError("DATE_SKEW", "Date is outside the allowed skew")]).__name__
    'BokbasenClockSkewError'
    >>> classify_rejection(400, [ServerError(None, "The next parameter is older than 180 days")]).__name__
    'BokbasenCursorTooOld'
    >>> classify_rejection(400, [ServerError(None, "Mandatory parameter subscription is missing")]).__name__
    'BokbasenExportParameterError'
    """
    codes = {(e.code or "").upper() for e in errors}
    if codes & CLOCK_CODES:
        return BokbasenClockSkewError
    if codes & TOO_OLD_CODES:
        return BokbasenCursorTooOld
    text = " ".join(e.message for e in errors).lower()
    if "date" in text and any(w in text for w in ("skew", "boundar", "clock", "format", "within")):
        return BokbasenClockSkewError
    if any(p in text for p in ("next", "after", "cursor", "token")) and any(
        w in text for w in ("too old", "older than", "max age", "maximum age", "expired", "180 days")
    ):
        return BokbasenCursorTooOld
    if status in (400, 422):
        return BokbasenExportParameterError
    return BokbasenExportRejected


# -- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportConfig:
    """The resolved connection: the shared Bokbasen settings plus subscription and page size."""

    base: BokbasenConfig
    subscription: str
    pagesize: int = MAX_PAGESIZE
    notification_type: str | None = None

    @property
    def endpoint(self) -> str:
        return self.base.endpoint

    @property
    def audience(self) -> str:
        return self.base.audience

    @property
    def retry(self) -> RetryPolicy:
        return self.base.retry

    @property
    def timeout(self) -> tuple[float, float]:
        return self.base.timeout

    def __repr__(self) -> str:
        return (
            f"ExportConfig(base={self.base!r}, subscription={self.subscription!r}, pagesize={self.pagesize}, "
            f"notification_type={self.notification_type!r})"
        )


def _pagesize(value: Any, where: str) -> int:
    if value is None or value == "":
        return MAX_PAGESIZE
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BokbasenConfigError(f"Bokbasen {where}: pagesize must be a whole number, not {value!r}") from None
    if number < 1:
        raise BokbasenConfigError(f"Bokbasen {where}: pagesize must be 1..{MAX_PAGESIZE}, not {number}")
    if number > MAX_PAGESIZE:
        log.warning("Bokbasen %s: pagesize %d is above the service's maximum; using %d", where, number, MAX_PAGESIZE)
        number = MAX_PAGESIZE
    return number


def resolve_export_config(
    params: Mapping[str, Any],
    *,
    extra: Mapping[str, Any] | None = None,
    connection: Mapping[str, Any] | None = None,
    where: str,
    retry: RetryPolicy | None = None,
    option_overrides: Mapping[str, Any] | None = None,
) -> ExportConfig:
    """As :func:`~library_integrations.clients.bokbasen.config.resolve_config`, plus the export
    extras: ``subscription`` (required), ``pagesize``, ``notification_type``."""
    extra = dict(extra or {})
    own = {k: extra.pop(k) for k in list(extra) if k in EXPORT_EXTRAS}
    if connection is not None:
        ignored = sorted(set(extra) - KNOWN_EXTRAS)
        for name in ignored:  # resolve_config would log them as ignored too: log once, here
            extra.pop(name)
        if ignored:
            log.info("Connection %s: ignoring extras %s (never sent as headers)", connection.get("conn_id"), ignored)
    base = resolve_config(
        {k: v for k, v in params.items() if k not in EXPORT_EXTRAS},
        extra=extra,
        connection=connection,
        where=where,
        retry=retry,
        option_overrides=option_overrides,
    )
    subscription = (params.get("subscription") or own.get("subscription") or "").strip().lower()
    if not subscription:
        label = "extra 'subscription'" if connection is not None else "subscription"
        raise BokbasenConfigError(
            f"Bokbasen {where} is missing: {label} (one of {', '.join(SUBSCRIPTIONS)}, as agreed with Bokbasen)"
        )
    if subscription not in SUBSCRIPTIONS:
        raise BokbasenConfigError(
            f"Bokbasen {where}: subscription {subscription!r} is not one of {', '.join(SUBSCRIPTIONS)}"
        )
    notification_type = (params.get("notification_type") or own.get("notification_type") or "").strip() or None
    if notification_type is not None and notification_type not in NOTIFICATION_TYPES:
        raise BokbasenConfigError(
            f"Bokbasen {where}: notification_type {notification_type!r} is not one of {', '.join(NOTIFICATION_TYPES)}"
        )
    pagesize = params.get("pagesize") if params.get("pagesize") is not None else own.get("pagesize")
    return ExportConfig(base, subscription, _pagesize(pagesize, where), notification_type)


# -- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPage:
    """One page as received: the ONIX ``body`` and the headers that drive the sync.

    ``next_cursor``: the ``Next`` header (None if the service sent none); ``link``: the next
    page's absolute URL from ``Link`` (None on the last page). ``attempts`` counts the HTTP
    requests for this page (retries and the re-send after a 401 included).
    """

    number: int
    url: str
    status_code: int
    body: bytes
    next_cursor: str | None
    link: str | None
    pagesize: int
    attempts: int = 1
    waited_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    token_refreshes: int = 0
    server_date: str | None = None

    def __repr__(self) -> str:
        return (
            f"ExportPage(number={self.number}, status_code={self.status_code}, bytes={len(self.body)}, "
            f"next_cursor=<{len(self.next_cursor or '')} chars>, link={'yes' if self.link else 'no'}, "
            f"attempts={self.attempts})"
        )


def _with_query(url: str, **changes: Any) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in changes]
    query += [(k, str(v)) for k, v in changes.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def link_url(response: Response, request_url: str) -> str | None:
    """The next page's absolute URL from the ``Link`` header (``rel="next"``, or a lone link)."""
    if not response.headers.get("Link", "").strip():
        return None
    links = response.links or {}
    target = (links.get("next") or {}).get("url")
    if target is None and len(links) == 1:
        (only,) = links.values()
        target = only.get("url") if not only.get("rel") else None
    if not target:
        return None
    return urljoin(request_url, target)


def clock_offset(response: Response, sent_at: float) -> float | None:
    """Seconds the server's clock is ahead of ours (its ``Date`` minus our send time), if it said."""
    value = response.headers.get("Date")
    if not value:
        return None
    import email.utils

    try:
        server = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if server.tzinfo is None:
        server = server.replace(tzinfo=UTC)
    return server.timestamp() - sent_at


class BokbasenExportHook(HttpHook):
    """Client of Bokbasen's Export Service (ONIX): OAuth2, shared token cache, retries, typed errors.

    * ``BokbasenExportHook()``: from the Airflow connection ``bokbasen_export``; the token
      cache lives in the database of ``state_conn_id`` (``loan_reporting_db``) unless
      ``state_dsn`` is given.
    * ``BokbasenExportHook(endpoint=..., client_id=..., client_secret=..., token_url=...,
      subscription=..., state_dsn=...)``: explicit parameters, no Airflow connection used.

    Main methods: :meth:`pages` (follow ``Link`` from a cursor or an ``after`` time) and
    :meth:`fetch_page` (one page, retried).
    """

    conn_name_attr = "bokbasen_export_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "http"
    hook_name = "Bokbasen Export Service"

    def __init__(
        self,
        bokbasen_export_conn_id: str = DEFAULT_CONN_ID,
        *,
        endpoint: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        audience: str | None = None,
        subscription: str | None = None,
        pagesize: int | None = None,
        notification_type: str | None = None,
        state_dsn: str | None = None,
        state_conn_id: str | None = DEFAULT_STATE_CONN_ID,
        retry: RetryPolicy | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        token_refresh_margin: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(method="GET", http_conn_id=bokbasen_export_conn_id)
        self.bokbasen_export_conn_id = bokbasen_export_conn_id
        self._explicit = endpoint is not None
        self._params = {
            "endpoint": endpoint,
            "client_id": client_id,
            "client_secret": client_secret,
            "token_url": token_url,
            "audience": audience,
            "subscription": subscription,
            "pagesize": pagesize,
            "notification_type": notification_type,
        }
        self._redactor = Redactor(client_secret)
        self._state_dsn = state_dsn
        self._state_conn_id = None if self._explicit else state_conn_id
        self._retry = retry
        self._timeouts = {"connect_timeout": connect_timeout, "read_timeout": read_timeout}
        self.token_refresh_margin = token_refresh_margin
        self._sleep = sleep
        self._config: ExportConfig | None = None
        self._auth: OAuth2ClientCredentials | None = None
        self._session: Session | None = None
        self._pagesize: int | None = None  # lowered after a 413, for the rest of this hook's life
        self.requests_sent = 0
        self.token_refreshes = 0

    # -- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> ExportConfig:
        if self._config is None:
            self._config = self._resolve_config()
        return self._config

    def _resolve_config(self) -> ExportConfig:
        settings: dict[str, Any] = {"retry": self._retry, "option_overrides": self._timeouts}
        if self._explicit:
            self.base_url = self._params["endpoint"]
            self._base_url_initialized = True
            return resolve_export_config(self._params, where="BokbasenExportHook parameters", **settings)
        conn = self.get_connection(self.bokbasen_export_conn_id)
        self._redactor.add_secret(conn.password)
        self._set_base_url(conn)
        config = resolve_export_config(
            {k: v for k, v in self._params.items() if k != "endpoint"},
            extra=conn.extra_dejson or {},
            connection={
                "conn_id": self.bokbasen_export_conn_id,
                "endpoint": self.base_url,
                "login": conn.login,
                "password": conn.password,
            },
            where=f"connection {self.bokbasen_export_conn_id!r}",
            **settings,
        )
        self._redactor.add_secret(config.base.client_secret)
        return config

    @property
    def pagesize(self) -> int:
        return self._pagesize or self.config.pagesize

    def _state_dsn_resolved(self) -> str | None:
        if self._state_dsn is None and self._state_conn_id:
            self._state_dsn = shared_cache_dsn(self._state_conn_id)
            self._state_conn_id = None  # resolved once, usable or not
        return self._state_dsn

    @property
    def auth(self) -> OAuth2ClientCredentials:
        """The bearer-token auth of every export request, tokens kept in the shared cache."""
        if self._auth is None:
            store = token_cache(self.config.base, self._state_dsn_resolved(), self.token_refresh_margin)
            self._auth = bokbasen_auth(self.config.base, store, session=self.get_conn, sleep=self._sleep,
                                       redactor=self._redactor, unlabelled="an export request")
        return self._auth

    @property
    def token_requests(self) -> int:
        return self._auth.token_requests if self._auth is not None else 0

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> Session:
        """A clean ``requests`` session: no Basic auth, no connection extras as headers."""
        if self._session is None:
            self._session = clean_session(
                user_agent=USER_AGENT, accept="application/xml", adapter=self.keep_alive_adapter
            )
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def test_connection(self) -> tuple[bool, str]:
        """The Airflow UI's "Test" button: fetch a token (no export request is made)."""
        try:
            self.auth.forget()
            with RetryBudget(self.config.retry, self._sleep).active():
                self.auth.token()
        except Exception as exc:
            return False, f"{type(exc).__name__}: {self._redactor(str(exc))}"
        return True, f"Got an access token for audience {self.config.audience}"

    # -- requests --------------------------------------------------------------------------

    def start_url(self, *, next_cursor: str | None = None, after: str | None = None) -> str:
        """The first page's URL: ``subscription``, ``pagesize`` and exactly one of ``next``/``after``."""
        if (next_cursor is None) == (after is None):
            raise ValueError("give exactly one of next_cursor and after")
        cfg = self.config
        params: dict[str, Any] = {"subscription": cfg.subscription, "pagesize": self.pagesize}
        if next_cursor is not None:
            params["next"] = next_cursor
        else:
            params["after"] = after
        if cfg.notification_type:
            params["notificationType"] = cfg.notification_type
        return _with_query(cfg.endpoint, **params)

    def _check_same_origin(self, url: str) -> None:
        if _origin(url) != _origin(self.config.endpoint):
            raise BokbasenConfigError(
                f"Bokbasen's Link header points to {urlunsplit(urlsplit(url)[:3] + ('', ''))}, another origin than "
                f"the endpoint {self.config.endpoint}: not following it (it would receive the bearer token)"
            )

    def fetch_page(self, url: str, *, number: int = 1) -> ExportPage:
        """GET one page (retrying transient failures) and return it with its ``Next`` and ``Link``.

        Raises :class:`BokbasenClockSkewError`, :class:`BokbasenCursorTooOld`,
        :class:`BokbasenExportParameterError` / :class:`BokbasenExportRejected` (permanent),
        :class:`BokbasenAuthError`, :class:`BokbasenForbidden`, :class:`BokbasenConfigError`,
        or :class:`BokbasenRetryableError` when transient failures outlast the retry policy.
        """
        cfg = self.config
        what = f"page {number}"
        budget = RetryBudget(cfg.retry, self._sleep, label=f"Export Service {what}")
        state = {"url": url, "refreshes": 0, "sent_at": 0.0}

        def send_once(attempt: int) -> Response:
            state["sent_at"] = time.time()
            self.requests_sent += 1
            response = self.get_conn().get(
                state["url"],
                headers={"Date": http_date(), "Accept": "application/xml"},
                auth=self.auth,
                timeout=cfg.timeout,
                allow_redirects=False,
            )
            response.content  # noqa: B018 - the whole body now: one cut off mid-way is retried
            refreshes = sum(1 for earlier in response.history if earlier.status_code == 401)
            state["refreshes"] += refreshes
            self.requests_sent += refreshes
            return response

        def classify(response: Response, attempt: int) -> ExportPage | Retry | Resend:
            status = response.status_code
            if 200 <= status < 300:
                link = link_url(response, state["url"])
                if link is not None:
                    self._check_same_origin(link)
                next_cursor = (response.headers.get("Next") or "").strip() or None
                return ExportPage(
                    number=number,
                    url=state["url"],
                    status_code=status,
                    body=response.content or b"",
                    next_cursor=next_cursor,
                    link=link,
                    pagesize=self.pagesize,
                    attempts=attempt,
                    waited_seconds=budget.waited,
                    elapsed_seconds=budget.elapsed(),
                    token_refreshes=state["refreshes"],
                    server_date=response.headers.get("Date"),
                )
            message = api_message(response, redact=self._redactor)
            details = {"status_code": status, "attempts": attempt, "api_message": message}
            if status == 413 and self.pagesize > 1:
                self._pagesize = max(1, self.pagesize // 2)
                log.warning(
                    "Bokbasen answered HTTP 413 for %s (%s): halving the page size to %d", what, message, self.pagesize
                )
                state["url"] = _with_query(state["url"], pagesize=self.pagesize)
                return Resend("page size halved after HTTP 413")
            if status == 401:  # the auth object already fetched a new token and re-sent once
                raise BokbasenAuthError(
                    f"Bokbasen refused a freshly fetched access token for the Export Service (HTTP 401): {message}. "
                    f"Check that client id {cfg.base.client_id!r} may use audience {cfg.audience}.",
                    **details,
                )
            if status == 403:
                raise BokbasenForbidden(
                    f"Bokbasen refused access (HTTP 403) to {cfg.endpoint} for client id {cfg.base.client_id!r} "
                    f"with audience {cfg.audience}: {message}. Ask Bokbasen to grant this client the "
                    f"{cfg.subscription!r} subscription, or set the connection extra 'audience'.",
                    audience=cfg.audience,
                    **details,
                )
            if 300 <= status < 400 or status in (404, 405):
                raise BokbasenConfigError(
                    f"Bokbasen export endpoint {cfg.endpoint} answered HTTP {status} ({message}); "
                    "check the connection host",
                    **details,
                )
            if is_transient_status(status):  # 408, 429, 5xx (Retry-After honoured on 429/503)
                return Retry.for_response(response, f"HTTP {status} ({message})", message)
            raise self._rejection(response, status, message, details, state["sent_at"], state["url"])

        def on_retry(notice: RetryNotice) -> None:
            log.warning(
                "Bokbasen Export Service %s for %s (attempt %d/%d); %s",
                notice.retry.problem,
                what,
                notice.attempt,
                notice.max_attempts,
                notice.how,
            )

        def on_give_up(notice: RetryNotice) -> BokbasenRetryableError:
            log.error(
                "Bokbasen Export Service: giving up on %s after %d attempt(s) in %.1f s; last problem: %s",
                what,
                notice.attempt,
                notice.elapsed,
                notice.retry.problem,
            )
            return BokbasenRetryableError(
                f"Bokbasen's Export Service did not deliver {what} after {notice.attempt} attempt(s) in "
                f"{notice.elapsed:.0f} s; last problem: {notice.retry.problem}. Transient: the next run "
                "resumes from the last stored cursor.",
                status_code=notice.retry.status_code,
                attempts=notice.attempt,
                api_message=notice.retry.api_message,
            )

        page = send_with_retries(send_once, classify, cfg.retry, budget=budget, on_retry=on_retry, on_give_up=on_give_up)
        self.token_refreshes += page.token_refreshes
        return page

    def _rejection(
        self, response: Response, status: int, message: str, details: dict, sent_at: float, url: str
    ) -> BokbasenExportRejected:
        errors = parse_error_body(response.text or "")
        kind = classify_rejection(status, errors)
        server_words = "; ".join(str(e) for e in errors) or message
        server_words = self._redactor(server_words) or message
        pairs = [(e.code, e.message) for e in errors]
        if kind is BokbasenClockSkewError:
            offset = clock_offset(response, sent_at)
            clock = (
                f"the worker's clock is off by about {abs(offset):.0f} s "
                f"({'behind' if offset > 0 else 'ahead of'} Bokbasen's: server Date {response.headers.get('Date')})"
                if offset is not None and abs(offset) > 60
                else "the worker's clock is probably off"
            )
            text = (
                f"Bokbasen refused the request's Date header (HTTP {status}): {server_words}. This means {clock}; "
                f"the service allows {MAX_SKEW_SECONDS // 60} minutes. Synchronise the worker's clock (NTP); "
                "retrying does not help."
            )
        elif kind is BokbasenCursorTooOld and "next" in dict(parse_qsl(urlsplit(url).query)):
            text = (
                f"Bokbasen refused the cursor as too old (HTTP {status}): {server_words}. Start again from "
                "'after' (changes older than the service's limit need a full reload agreed with Bokbasen)."
            )
        elif kind is BokbasenCursorTooOld:
            text = (
                f"Bokbasen refused the 'after' time as too old (HTTP {status}): {server_words}. Choose a later "
                "'after'; older changes need a full reload agreed with Bokbasen."
            )
        elif kind is BokbasenExportParameterError:
            text = f"Bokbasen refused the request's parameters (HTTP {status}): {server_words}"
        else:
            text = f"Bokbasen refused the export request (HTTP {status}): {server_words}"
        log.error("%s", text)
        return kind(text, errors=pairs, **details)

    def pages(
        self,
        *,
        next_cursor: str | None = None,
        after: str | None = None,
        max_pages: int = 100_000,
    ) -> Iterator[ExportPage]:
        """Every page from a cursor (``next``) or a time (``after``), following ``Link`` as given.

        Stops when a page has no ``Link``. A ``Link`` back to a page already read, or more
        than ``max_pages`` pages, is an error (a loop, not data).
        """
        url: str | None = self.start_url(next_cursor=next_cursor, after=after)
        seen: set[str] = set()
        number = 0
        while url is not None:
            if url in seen:
                raise BokbasenExportRejected(f"Bokbasen's Link header loops back to a page already read: {url}")
            if number >= max_pages:
                raise BokbasenExportRejected(f"More than {max_pages} pages in one run; stopping (raise the limit?)")
            seen.add(url)
            number += 1
            page = self.fetch_page(url, number=number)
            yield page
            url = page.link


__all__ = [
    "DEFAULT_CONN_ID",
    "KNOWN_EXTRAS",
    "MAX_PAGESIZE",
    "SUBSCRIPTIONS",
    "BokbasenExportHook",
    "ExportConfig",
    "ExportPage",
    "ServerError",
    "after_parameter",
    "classify_rejection",
    "parse_error_body",
    "resolve_export_config",
]
