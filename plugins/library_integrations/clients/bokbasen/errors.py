"""Typed errors of the Bokbasen clients: the shared :mod:`library_integrations.http.errors`
under Bokbasen's name, so a log says which API failed and handlers can catch either.

==============================  ======================================================
``BokbasenRetryableError``      429/503/5xx/timeouts that outlasted the retry budget
``BokbasenReportRejected``      400/422: the report itself is wrong; fix the data
``BokbasenAuthError``           401 after one token refresh, or refused credentials
``BokbasenForbidden``           403: no access to the audience (named in the message)
``BokbasenConfigError``         the connection or endpoint is unusable
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
