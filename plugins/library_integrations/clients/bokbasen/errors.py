"""Typed errors of the Bokbasen clients: the shared :mod:`library_integrations.http.errors`
under Bokbasen's name, so a log says which API failed and handlers can catch either.

==============================  ======================================================
``BokbasenRetryableError``      429/503/5xx/timeouts that outlasted the retry budget
``BokbasenReportRejected``      400/422: the report itself is wrong; fix the data
``BokbasenAuthError``           401 after one token refresh, or refused credentials
``BokbasenForbidden``           403: no access to the audience (named in the message)
``BokbasenConfigError``         the connection or endpoint is unusable
``BokbasenExportRejected``      Export Service: a 4xx with an error body (``errors``)
``BokbasenExportParameterError``  a missing or invalid parameter (permanent)
``BokbasenCursorTooOld``        ``next``/``after`` older than the service's limit
``BokbasenClockSkewError``      the ``Date`` header refused: the worker's clock is off
``BokbasenExportPageError``     a 200 page that is not a readable ONIX message
==============================  ======================================================

:data:`BOKBASEN_ERRORS` hands these classes to the shared HTTP layer (token requests,
retry give-ups), so what it raises for Bokbasen is a Bokbasen error.
"""

from __future__ import annotations

from library_integrations.http.errors import (
    ApiConfigError,
    ApiError,
    AuthError,
    ErrorTypes,
    Forbidden,
    RequestRejected,
    RetryableApiError,
)


class BokbasenError(ApiError):
    """Base class of every error raised by the Bokbasen clients."""


class BokbasenRetryableError(BokbasenError, RetryableApiError):
    """Bokbasen or the network failed in a way that may clear up; the retry budget ran out."""


class BokbasenReportRejected(BokbasenError, RequestRejected):
    """Bokbasen answered 400/422 (or another 4xx that says the request is wrong)."""


class BokbasenAuthError(BokbasenError, AuthError):
    """Bokbasen refused the credentials."""


class BokbasenForbidden(BokbasenError, Forbidden):
    """Bokbasen said 403: these credentials have no access to the audience."""


class BokbasenConfigError(BokbasenError, ApiConfigError):
    """The Bokbasen connection or endpoint configuration is unusable."""


BOKBASEN_ERRORS = ErrorTypes(
    retryable=BokbasenRetryableError,
    rejected=BokbasenReportRejected,
    auth=BokbasenAuthError,
    forbidden=BokbasenForbidden,
    config=BokbasenConfigError,
)


# -- the Export Service (metadata sync) -----------------------------------------------------


class BokbasenExportRejected(BokbasenError, RequestRejected):
    """The Export Service refused the request (4xx with an error body): resending it as is fails again.

    ``errors`` holds the body's ``<error>`` entries as ``(code, message)`` pairs, in order.
    """

    def __init__(self, message: str, *, errors: list[tuple[str | None, str]] | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.errors = list(errors or [])


class BokbasenExportParameterError(BokbasenExportRejected):
    """A missing or invalid request parameter (``subscription``, ``next``/``after``, ``pagesize``)."""


class BokbasenCursorTooOld(BokbasenExportParameterError):
    """The ``next`` cursor or ``after`` time is older than the service accepts (180 days today)."""


class BokbasenClockSkewError(BokbasenExportRejected):
    """The request's ``Date`` header was refused: the worker's clock is off (or the header malformed)."""


class BokbasenExportPageError(BokbasenError):
    """A page the Export Service answered with 200 is not a readable ONIX message."""
