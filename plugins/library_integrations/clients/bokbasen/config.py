"""The Bokbasen connection's settings, resolved and checked: endpoint, credentials, audience, extras.

Connection ``bokbasen_default`` (conn_type ``http``):

* ``host``: the full loans endpoint URL; ``login`` / ``password``: client id / secret;
* extras ``token_url`` (required), ``audience`` (optional, else :func:`derive_audience`),
  ``gzip`` (``true``/``false``), and the transport settings of
  :mod:`library_integrations.http.options`: ``connect_timeout`` (10), ``read_timeout``
  (120), ``max_attempts`` (6), ``max_total_seconds`` (900).

Any other extra is ignored and never becomes a header (:data:`KNOWN_EXTRAS`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from library_integrations.clients.bokbasen.errors import BokbasenConfigError
from library_integrations.http.options import OPTION_EXTRAS, ClientOptions
from library_integrations.http.retry import RetryPolicy

log = logging.getLogger(__name__)

KNOWN_EXTRAS = frozenset({"token_url", "audience", "gzip"}) | OPTION_EXTRAS
_REQUIRED = ("endpoint", "client_id", "client_secret", "token_url")
_CONNECTION_LABELS = {
    "endpoint": "host",
    "client_id": "login",
    "client_secret": "password",
    "token_url": "extra token_url",
}
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class BokbasenConfig:
    """Resolved configuration (the secret is held here and never put in ``repr``)."""

    endpoint: str
    client_id: str
    client_secret: str
    token_url: str
    audience: str
    gzip: bool
    options: ClientOptions = field(default_factory=ClientOptions)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def timeout(self) -> tuple[float, float]:
        return self.options.timeout

    def __repr__(self) -> str:
        return (
            f"BokbasenConfig(endpoint={self.endpoint!r}, client_id={self.client_id!r}, client_secret='***', "
            f"token_url={self.token_url!r}, audience={self.audience!r}, gzip={self.gzip}, "
            f"timeout={self.timeout}, max_attempts={self.retry.max_attempts}, "
            f"max_total_seconds={self.retry.max_total_seconds:g})"
        )


def resolve_config(
    params: Mapping[str, Any],
    *,
    extra: Mapping[str, Any] | None = None,
    connection: Mapping[str, Any] | None = None,
    where: str,
    retry: RetryPolicy | None = None,
    option_overrides: Mapping[str, Any] | None = None,
) -> BokbasenConfig:
    """Explicit ``params`` first, then the ``connection``'s values (endpoint, login, password)
    and ``extra``; missing settings are a :class:`BokbasenConfigError` naming them.

    ``retry``: an explicit policy (wins over the extras ``max_attempts``/``max_total_seconds``);
    ``option_overrides``: explicit ``connect_timeout``/``read_timeout`` (None = unset).
    """
    p = dict(params)
    extra = extra or {}
    if connection is not None:
        ignored = sorted(set(extra) - KNOWN_EXTRAS)
        if ignored:
            log.info(
                "Connection %s: ignoring extras %s (never sent as headers)",
                connection.get("conn_id"),
                ignored,
            )
        p["endpoint"] = connection.get("endpoint")
        p["client_id"] = p.get("client_id") or connection.get("login")
        p["client_secret"] = p.get("client_secret") or connection.get("password")
        p["token_url"] = p.get("token_url") or extra.get("token_url")
        p["audience"] = p.get("audience") or extra.get("audience")
        if p.get("gzip") is None and "gzip" in extra:
            p["gzip"] = to_bool(extra["gzip"])
    missing = [name for name in _REQUIRED if not p.get(name)]
    if missing:
        names = [_CONNECTION_LABELS[m] if connection is not None else m for m in missing]
        raise BokbasenConfigError(f"Bokbasen {where} is missing: {', '.join(names)}")
    audience = p.get("audience") or derive_audience(p["endpoint"])
    for name in ("endpoint", "token_url"):
        parts = urlsplit(p[name])
        if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
            log.warning(
                "Bokbasen %s %s is plain http: credentials and tokens travel unencrypted", name, p[name]
            )
    options = ClientOptions.from_extras(
        extra, overrides=option_overrides, where=f"Bokbasen {where}", error=BokbasenConfigError
    )
    return BokbasenConfig(
        endpoint=p["endpoint"],
        client_id=p["client_id"],
        client_secret=p["client_secret"],
        token_url=p["token_url"],
        audience=audience,
        gzip=bool(p.get("gzip")),
        options=options,
        retry=retry or options.retry_policy(),
    )
