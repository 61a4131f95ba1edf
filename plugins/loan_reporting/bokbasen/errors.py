"""Typed errors of the Bokbasen client, so a task can tell "try again later" from "fix the report".

Every error carries what the log reader needs (HTTP status, attempts, the API's message)
and nothing secret: messages are built from status codes, ISILs, URLs and the API's own
error text (which is redacted of the client secret and tokens before it gets here).

==============================  ======================================================
``BokbasenRetryableError``      429/503/5xx/timeouts/dropped connections that did not
                                recover within the retry budget. Safe to retry later
                                (an Airflow task retry is the right response).
``BokbasenReportRejected``      400/422: the report itself is wrong. Retrying sends
                                the same bytes and gets the same answer: fix the data.
``BokbasenAuthError``           401 after one token refresh, or the token endpoint
                                refused the client id/secret. Check the connection.
``BokbasenForbidden``           403: the credentials have no access to the audience
                                (named in the message). Ask Bokbasen for access.
``BokbasenConfigError``         the connection or endpoint is unusable (missing
                                token_url, a 404 from the endpoint, a redirect, ...).
==============================  ======================================================
"""

from __future__ import annotations


class BokbasenError(Exception):
    """Base class of every error raised by the Bokbasen client.

    ``status_code`` is the last HTTP status seen (None when no response came back),
    ``attempts`` the number of HTTP requests made to the loans endpoint for this report,
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


class BokbasenRetryableError(BokbasenError):
    """The API or the network failed in a way that may clear up; the retry budget ran out."""

    retryable = True


class BokbasenReportRejected(BokbasenError):
    """The API answered 400/422 (or another 4xx that says the request is wrong): do not resend as is."""


class BokbasenAuthError(BokbasenError):
    """Credentials were refused: the token endpoint said 401, or the API said 401 twice."""


class BokbasenForbidden(BokbasenError):
    """The API or token endpoint said 403: these credentials have no access to the audience."""

    def __init__(self, message: str, *, audience: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.audience = audience


class BokbasenConfigError(BokbasenError):
    """The connection or endpoint configuration is unusable; nothing was (successfully) sent."""
