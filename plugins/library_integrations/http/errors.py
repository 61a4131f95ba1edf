"""Typed errors of every API client, so a task can tell "try again later" from "fix the request".

Each client (Bokbasen's loans API, its Export Service, NB's delivery, the patron registry)
subclasses these with its own name; the ledger and the tasks only need these bases.
Every error carries what the log reader needs (HTTP status, attempts, the API's message)
and nothing secret: messages are built from status codes, identifiers, URLs and the API's
own error text, redacted of client secrets and tokens before it gets here.

==========================  ==========================================================
``RetryableApiError``       429/503/5xx/timeouts/dropped connections that did not recover
                            within the retry budget. An Airflow task retry may succeed.
``RequestRejected``         400/422 (or another 4xx saying the request is wrong):
                            resending the same bytes gets the same answer.
``AuthError``               401 after one token refresh, or refused client credentials.
``Forbidden``               403: the credentials have no access to the audience.
``ApiConfigError``          the connection or endpoint is unusable (missing settings,
                            404, a redirect, ...).
==========================  ==========================================================

:class:`ErrorTypes` names the subclasses a client raises, so that shared code (the retry
loop, the OAuth2 token request) raises the client's own errors.
"""

from __future__ import annotations

from dataclasses import dataclass


class ApiError(Exception):
    """Base class of every error raised by the API clients.

    ``status_code`` is the last HTTP status seen (None when no response came back),
    ``attempts`` the number of HTTP requests made for this call,
    ``api_message`` the API's own error text when it gave one.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        attempts: int = 0,
        api_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.attempts = attempts
        self.api_message = api_message

    def __str__(self) -> str:
        return self.message


class RetryableApiError(ApiError):
    """The API or the network failed in a way that may clear up; the retry budget ran out."""

    retryable = True


class RequestRejected(ApiError):
    """The API said the request itself is wrong (400/422): do not resend it as is."""


class AuthError(ApiError):
    """Credentials were refused: the token endpoint said 401, or the API said 401 twice."""


class Forbidden(ApiError):
    """The API or token endpoint said 403: these credentials have no access to the audience."""

    def __init__(self, message: str, *, audience: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.audience = audience


class ApiConfigError(ApiError):
    """The connection or endpoint configuration is unusable; nothing was (successfully) sent."""


@dataclass(frozen=True)
class ErrorTypes:
    """The error classes one client raises: the bases here, or a client's own subclasses.

    Shared code (the retry loop's give-up, the OAuth2 token request) raises through this, so
    a Bokbasen token failure is a ``BokbasenAuthError`` and an NB one an NB error.
    """

    retryable: type[RetryableApiError] = RetryableApiError
    rejected: type[RequestRejected] = RequestRejected
    auth: type[AuthError] = AuthError
    forbidden: type[Forbidden] = Forbidden
    config: type[ApiConfigError] = ApiConfigError
