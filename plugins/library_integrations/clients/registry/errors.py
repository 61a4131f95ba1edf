"""Typed errors of the patron registry client, on the shared :mod:`library_integrations.http.errors`.

==============================  ======================================================
``RegistryRetryableError``      5xx, SOAP server faults, timeouts, dropped connections
                                that outlasted the retry budget (try again later)
``RegistryRejected``            a SOAP client fault or another 4xx: the request is wrong
``RegistryAuthError``           HTTP 401: the library's Basic-auth credentials were refused
``RegistryConfigError``         the connection is unusable (missing settings, 404, ...)
==============================  ======================================================

A ``status`` false answer is not an error: it is a per-patron outcome
(:class:`~.models.WriteReply`, :class:`~.models.Lookup`). Messages never carry personal
data: they name the library, the operation and the registry's scrubbed words.
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


class RegistryError(ApiError):
    """Base class of every error raised by the patron registry client."""


class RegistryRetryableError(RegistryError, RetryableApiError):
    """The registry or the network failed in a way that may clear up; the retry budget ran out."""


class RegistryRejected(RegistryError, RequestRejected):
    """The registry said the request itself is wrong (SOAP client fault, 4xx)."""


class RegistryAuthError(RegistryError, AuthError):
    """The registry refused the library's credentials (HTTP 401)."""


class RegistryForbidden(RegistryError, Forbidden):
    """The registry said 403."""


class RegistryConfigError(RegistryError, ApiConfigError):
    """The registry connection or endpoint configuration is unusable."""


REGISTRY_ERRORS = ErrorTypes(
    retryable=RegistryRetryableError,
    rejected=RegistryRejected,
    auth=RegistryAuthError,
    forbidden=RegistryForbidden,
    config=RegistryConfigError,
)
