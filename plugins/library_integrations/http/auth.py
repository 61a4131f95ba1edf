"""OAuth2 client credentials as a ``requests`` auth object, with a pluggable token store.

:class:`OAuth2ClientCredentials` is a :class:`requests.auth.AuthBase`: pass it as
``auth=`` to any request (or set it as a session's auth) and the request carries
``Authorization: Bearer <token>``. It

* gets the token from its :class:`TokenStore` (``get(fetch)``, ``invalidate(token)``,
  ``forget()``), which calls back to fetch one only when it holds no usable token. The
  store is anything with that interface: :class:`MemoryTokenStore` (this process), or the
  encrypted database cache that the Bokbasen client wires in from the ``state`` package,
  shared by every worker process;
* fetches a token with one POST to the token endpoint, JSON body ``{"grant_type":
  "client_credentials", "client_id", "client_secret", "audience"}`` (the client secret
  goes only there, never into a header), through the shared retry loop of
  :mod:`~library_integrations.http.retry` (and within the budget of the operation that
  needed the token, see :func:`~library_integrations.http.retry.current_budget`);
* registers every token with Airflow's secret masker and the client's
  :class:`~library_integrations.http.redaction.Redactor`;
* on a 401 answer invalidates the token it sent, fetches a new one and re-sends the
  request **once** (a response hook, like ``requests``' digest auth); the re-sent
  request's response carries the 401 in ``response.history``. A second 401 is returned
  as is, for the client to raise its :class:`~library_integrations.http.errors.AuthError`.

Token endpoint answers: 2xx with ``access_token`` -> the token (``expires_in`` defaults to
300 s); 401 -> ``errors.auth`` (wrong client id/secret); 403 -> ``errors.forbidden`` naming
the audience; 408/429/5xx, timeouts and dropped connections -> retried, then
``errors.retryable``; anything else -> ``errors.config``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import requests
from requests import PreparedRequest, Response, Session
from requests.auth import AuthBase
from requests.utils import rewind_body

from library_integrations.http.errors import ErrorTypes
from library_integrations.http.messages import api_message
from library_integrations.http.redaction import Redactor
from library_integrations.http.retry import (
    Retry,
    RetryBudget,
    RetryNotice,
    RetryPolicy,
    current_budget,
    http_date,
    is_transient_status,
    send_with_retries,
)
from library_integrations.http.session import clean_session, no_auth

log = logging.getLogger(__name__)

DEFAULT_EXPIRES_IN = 300.0
_TOKEN_ATTR = "_library_integrations_token"  # the token a prepared request carries
_RESENT_ATTR = "_library_integrations_resent_after_401"


@runtime_checkable
class Token(Protocol):
    """A bearer token as a store hands it out (its ``repr`` must not show the token)."""

    @property
    def access_token(self) -> str: ...


class TokenStore(Protocol):
    """Where tokens are kept between requests (and possibly between processes)."""

    def get(self, fetch: Callable[[], tuple[str, float]]) -> tuple[Any, bool]:
        """A usable token and whether it was fetched now; ``fetch()`` returns ``(token, expires_in)``."""
        ...

    def invalidate(self, token: Any) -> None:
        """The API refused ``token``: drop it (if it is still the stored one)."""
        ...

    def forget(self) -> None:
        """Drop whatever token is stored: the next ``get`` fetches one."""
        ...


@dataclass(frozen=True)
class BearerToken:
    """A bearer token and its lifetime. ``repr`` never shows the token."""

    access_token: str
    fetched_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:
        return (
            f"BearerToken(fetched_at={self.fetched_at.isoformat()}, expires_at={self.expires_at.isoformat()})"
        )

    __str__ = __repr__

    def usable(self, refresh_margin: float, now: datetime | None = None) -> bool:
        """Still good ``min(refresh_margin, 10 % of its lifetime)`` before it expires."""
        now = now or datetime.now(UTC)
        lifetime = (self.expires_at - self.fetched_at).total_seconds()
        margin = min(refresh_margin, max(lifetime, 0) * 0.1)
        return now < self.expires_at - timedelta(seconds=margin)


class MemoryTokenStore:
    """A :class:`TokenStore` in this object's memory (one process, thread-safe)."""

    def __init__(self, refresh_margin: float = 60.0) -> None:
        self.refresh_margin = refresh_margin
        self._token: BearerToken | None = None
        self._lock = threading.Lock()

    def get(self, fetch: Callable[[], tuple[str, float]]) -> tuple[BearerToken, bool]:
        with self._lock:
            if self._token is not None and self._token.usable(self.refresh_margin):
                return self._token, False
            fetched_at = datetime.now(UTC)
            access_token, expires_in = fetch()
            self._token = BearerToken(
                access_token, fetched_at, fetched_at + timedelta(seconds=float(expires_in))
            )
            return self._token, True

    def invalidate(self, token: Any) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def forget(self) -> None:
        with self._lock:
            self._token = None


class OAuth2ClientCredentials(AuthBase):
    """Bearer tokens from an OAuth2 client-credentials grant (see the module docstring).

    ``session``: the session for token requests (or a callable returning it; default: a
    :func:`~library_integrations.http.session.clean_session`). ``timeout``: (connect, read)
    seconds per token request. ``policy``/``sleep``: retries of the token request when no
    operation's budget is active. ``errors``: the client's error classes. ``api_name``
    names the API in log lines and errors (``Requesting a Bokbasen access token ...``).
    ``on_refresh(response)`` is called (to log) when a 401 makes it fetch a new token.
    """

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str | None = None,
        scope: str | None = None,
        store: TokenStore | None = None,
        session: Session | Callable[[], Session] | None = None,
        timeout: tuple[float, float] = (10.0, 120.0),
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        errors: ErrorTypes | None = None,
        api_name: str = "API",
        redactor: Redactor | None = None,
        on_refresh: Callable[[Response], None] | None = None,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.audience = audience
        self.scope = scope
        self.store: TokenStore = store if store is not None else MemoryTokenStore()
        self._session_source = session
        self._own_session: Session | None = None
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.errors = errors or ErrorTypes()
        self.api_name = api_name
        self.redactor = redactor if redactor is not None else Redactor()
        self.redactor.add_secret(client_secret)
        self.on_refresh = on_refresh or self._log_refresh
        self.token_requests = 0  # requests to the token endpoint made through this object
        self.refreshes = 0  # 401 answers that made it fetch a new token

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials(token_url={self.token_url!r}, client_id={self.client_id!r}, "
            f"client_secret='***', audience={self.audience!r})"
        )

    # -- requests' auth protocol -----------------------------------------------------------

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        self._authorize(request, self.token())
        request.register_hook("response", self._handle_401)
        return request

    def _authorize(self, request: PreparedRequest, token: Any) -> None:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        setattr(request, _TOKEN_ATTR, token)

    def _handle_401(self, response: Response, **send_kwargs: Any) -> Response:
        """Response hook: on 401, drop the token, fetch a new one and re-send the request once."""
        if response.status_code != 401:
            return response
        request = response.request
        used = getattr(request, _TOKEN_ATTR, None)
        if used is not None:
            self.store.invalidate(used)
        if getattr(request, _RESENT_ATTR, False):
            return response
        self.refreshes += 1
        self.on_refresh(response)
        response.content  # noqa: B018 - read the body (kept for the history), free the connection
        response.close()
        resend = request.copy()
        if getattr(request, "_body_position", None) is not None:
            resend._body_position = request._body_position
            rewind_body(resend)
        token = self.token()
        self._authorize(resend, token)
        setattr(resend, _RESENT_ATTR, True)
        if "Date" in resend.headers:
            resend.headers["Date"] = http_date()
        retried = response.connection.send(resend, **send_kwargs)
        retried.history.append(response)
        retried.request = resend
        if retried.status_code == 401:
            self.store.invalidate(token)
        return retried

    def _log_refresh(self, response: Response) -> None:
        log.warning(
            "%s refused the access token (HTTP 401: %s); fetching a new token once",
            self.api_name,
            api_message(response, redact=self.redactor),
        )

    # -- tokens ----------------------------------------------------------------------------

    def token(self) -> Any:
        """A usable token: from the store, or fetched from the token endpoint."""
        token, fetched = self.store.get(self.fetch_token)
        self.redactor.add_token(token.access_token)
        if not fetched:
            expires = getattr(token, "expires_at", None)
            log.debug(
                "Reusing the cached %s token (expires %s)",
                self.api_name,
                expires.isoformat() if isinstance(expires, datetime) else "?",
            )
        return token

    def forget(self) -> None:
        """Drop the stored token: the next request fetches a new one."""
        self.store.forget()

    def token_request_body(self) -> dict[str, str]:
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if self.audience:
            body["audience"] = self.audience
        if self.scope:
            body["scope"] = self.scope
        return body

    def _session(self) -> Session:
        if isinstance(self._session_source, Session):
            return self._session_source
        if callable(self._session_source):
            return self._session_source()
        if self._own_session is None:
            self._own_session = clean_session()
        return self._own_session

    def fetch_token(self) -> tuple[str, float]:
        """POST the client credentials (retrying transient failures): ``(access_token, expires_in)``."""
        budget = current_budget() or RetryBudget(self.policy, self.sleep)
        return send_with_retries(
            self._send_token_request,
            self._classify_token_response,
            self.policy,
            budget=budget,
            on_retry=self._log_token_retry,
            on_give_up=self._token_give_up,
            describe=lambda exc: f"token endpoint unreachable ({type(exc).__name__})",
            main=False,
        )

    def _send_token_request(self, attempt: int) -> Response:
        self.token_requests += 1
        log.info(
            "Requesting a %s access token%s from %s",
            self.api_name,
            f" for audience {self.audience}" if self.audience else "",
            self.token_url,
        )
        return self._session().post(
            self.token_url,
            json=self.token_request_body(),
            headers={"Date": http_date()},
            timeout=self.timeout,
            allow_redirects=False,
            auth=no_auth,
        )

    def _classify_token_response(self, response: Response, attempt: int) -> tuple[str, float] | Retry:
        status = response.status_code
        if 200 <= status < 300:
            return self._parse_token(response)
        message = api_message(response, redact=self.redactor)
        if status == 401:
            raise self.errors.auth(
                f"Token endpoint {self.token_url} refused client id {self.client_id!r} (HTTP 401): {message}. "
                f"Check the client id and secret of the {self.api_name} connection.",
                status_code=status,
                api_message=message,
            )
        if status == 403:
            raise self.errors.forbidden(
                f"Token endpoint {self.token_url} refused access to audience {self.audience} for client id "
                f"{self.client_id!r} (HTTP 403): {message}",
                audience=self.audience,
                status_code=status,
                api_message=message,
            )
        if is_transient_status(status):
            return Retry.for_response(response, f"HTTP {status}", message)
        raise self.errors.config(
            f"Token endpoint {self.token_url} answered HTTP {status} for client id {self.client_id!r}, "
            f"audience {self.audience}: {message}",
            status_code=status,
            api_message=message,
        )

    def _parse_token(self, response: Response) -> tuple[str, float]:
        status = response.status_code
        try:
            data = response.json()
            access_token = data["access_token"]
        except (ValueError, KeyError, TypeError, requests.RequestException):
            access_token = None
        if not isinstance(access_token, str) or not access_token:
            raise self.errors.config(
                f"Token endpoint {self.token_url} answered HTTP {status} without an access_token",
                status_code=status,
            )
        self.redactor.add_token(access_token)  # also registers it with Airflow's secret masker
        token_type = str(data.get("token_type", "Bearer"))
        if token_type.lower() != "bearer":
            log.warning("Token endpoint returned token_type %r; using it as a Bearer token", token_type)
        expires_in = data.get("expires_in")
        try:
            lifetime = float(expires_in)
        except (TypeError, ValueError):
            log.warning("Token endpoint gave no usable expires_in (%r); assuming 300 s", expires_in)
            lifetime = DEFAULT_EXPIRES_IN
        log.info("Got a %s access token valid for %g s", self.api_name, lifetime)
        return access_token, lifetime

    def _log_token_retry(self, notice: RetryNotice) -> None:
        if notice.retry.status_code is not None:
            log.warning(
                "%s token endpoint answered HTTP %s; waiting %.1f s",
                self.api_name,
                notice.retry.status_code,
                notice.wait,
            )
        else:
            log.warning("%s %s; backing off %.1f s", self.api_name, notice.retry.problem, notice.wait)

    def _token_give_up(self, notice: RetryNotice) -> Exception:
        retry = notice.retry
        if retry.status_code is None:
            return self.errors.retryable(
                f"{self.api_name} {retry.problem} at {self.token_url} after {notice.attempt} attempt(s)",
                attempts=notice.budget.attempts,
            )
        return self.errors.retryable(
            f"{self.api_name} token endpoint {self.token_url} kept failing (HTTP {retry.status_code}) "
            f"after {notice.attempt} attempt(s)",
            status_code=retry.status_code,
            api_message=retry.api_message,
            attempts=notice.budget.attempts,
        )
