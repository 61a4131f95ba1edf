"""The connection ``patron_registry`` resolved for one library: endpoint, credentials, PIN key, transport.

One Airflow connection serves every library of the installation (conn_type ``http``):

* ``host``: the SOAP endpoint URL (the ``soap:address`` of the registry's WSDL,
  production ``https://fl.lanekortet.no/api/rest/wsdlv2``);
* ``login``: the vendor code, the system vendor's lowercase name code (e.g. ``bibsyst``);
* ``password``: the vendor secret from the registry's operator;
* extra ``pin_key``: the vendor's AES-128 key for PIN codes (32 hex digits or 16 characters);
* extra ``libraries``: per library, by ISIL, ``{"auth_code": ..., "reserved_series": [...]}``:
  the library's code from Base Bibliotek (the operator refreshes them daily: keep this
  extra in step) and, optionally, the national number series NB reserved for it
  (``"N000100000-N000199999"``); a card number outside them is never issued;
* optional transport extras: ``connect_timeout`` (10 s), ``read_timeout`` (60 s),
  ``max_attempts`` (4 requests per operation), ``max_total_seconds`` (120 s per operation),
  ``backoff_base`` (2 s), ``backoff_max`` (30 s).

Basic auth, derived per library as the registry's operator specifies: username
``<vendor code>-<7-digit library number>`` (the ISIL without ``NO-``), password the
SHA-256 hex of ``<library auth code>-<vendor secret>``. The vendor secret, every auth code,
the derived passwords and the PIN key are registered with Airflow's secret masker.

>>> derive_credentials("bibsyst", "vendor-secret", "2030100", "abc123")[0]
'bibsyst-2030100'
>>> len(derive_credentials("bibsyst", "vendor-secret", "2030100", "abc123")[1])
64
>>> library_number("NO-2030100"), library_number("no-2030100 ")
('2030100', '2030100')
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from library_integrations.clients.registry.cards import NumberSeries
from library_integrations.clients.registry.errors import RegistryConfigError
from library_integrations.clients.registry.pin import PinCipher
from library_integrations.http.options import OPTION_EXTRAS, ClientOptions
from library_integrations.http.redaction import register_secret
from library_integrations.http.retry import RetryPolicy

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "patron_registry"
KNOWN_EXTRAS = frozenset({"pin_key", "libraries", "backoff_base", "backoff_max"}) | OPTION_EXTRAS
DEFAULT_OPTIONS = ClientOptions(connect_timeout=10.0, read_timeout=60.0, max_attempts=4, max_total_seconds=120.0)
_ISIL = re.compile(r"^NO-(\d{7})$", re.IGNORECASE)
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def library_number(isil: str) -> str:
    """The 7-digit library number of a Norwegian ISIL (``NO-`` + 7 digits)."""
    match = _ISIL.match((isil or "").strip())
    if not match:
        raise RegistryConfigError(f"ISIL {isil!r} is not NO- followed by the 7-digit library number")
    return match.group(1)


def derive_credentials(vendor_code: str, vendor_secret: str, number: str, auth_code: str) -> tuple[str, str]:
    """``(username, password)`` of one library's Basic auth (see the module docstring)."""
    password = hashlib.sha256(f"{auth_code}-{vendor_secret}".encode()).hexdigest()
    return f"{vendor_code}-{number}", password


@dataclass(frozen=True)
class RegistryConfig:
    """One library's view of the registry connection. ``repr`` shows no secret."""

    endpoint: str
    isil: str
    library_number: str
    username: str
    password: str
    pin: PinCipher
    reserved_series: tuple[NumberSeries, ...] = ()
    options: ClientOptions = field(default_factory=lambda: DEFAULT_OPTIONS)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __repr__(self) -> str:
        return (
            f"RegistryConfig(endpoint={self.endpoint!r}, isil={self.isil!r}, username={self.username!r}, "
            f"password='***', reserved_series={[str(s) for s in self.reserved_series]}, "
            f"timeout={self.options.timeout}, max_attempts={self.retry.max_attempts})"
        )

    @property
    def timeout(self) -> tuple[float, float]:
        return self.options.timeout


def _endpoint(host: str | None, schema: str | None, port: int | None, conn_id: str) -> str:
    host = (host or "").strip()
    if not host:
        raise RegistryConfigError(f"connection {conn_id!r} has no host (the registry's SOAP endpoint URL)")
    if "://" not in host:
        host = f"{schema or 'https'}://{host}{f':{port}' if port else ''}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistryConfigError(f"connection {conn_id!r}: host {host!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        log.warning("The patron registry endpoint %s is plain http: credentials travel unencrypted", host)
    return host


def resolve_config(
    *,
    isil: str,
    host: str | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any] | None,
    conn_id: str = DEFAULT_CONN_ID,
    schema: str | None = None,
    port: int | None = None,
) -> RegistryConfig:
    """The configuration of library ``isil`` from the connection's fields; a clear error naming
    what is missing (never its value)."""
    extra = dict(extra or {})
    register_secret(password)
    where = f"connection {conn_id!r}"
    ignored = sorted(set(extra) - KNOWN_EXTRAS)
    if ignored:
        log.info("%s: ignoring unknown extras %s", where, ignored)
    number = library_number(isil)
    endpoint = _endpoint(host, schema, port, conn_id)
    if not login or not login.strip():
        raise RegistryConfigError(f"{where} has no login: set it to the vendor code (e.g. 'bibsyst')")
    if not password:
        raise RegistryConfigError(f"{where} has no password: set it to the vendor secret from the registry's operator")
    if not extra.get("pin_key"):
        raise RegistryConfigError(f"{where} has no extra 'pin_key': the vendor's AES key for PIN codes")
    register_secret(str(extra["pin_key"]))
    try:
        cipher = PinCipher.from_setting(str(extra["pin_key"]))
    except ValueError as exc:
        raise RegistryConfigError(f"{where}: extra 'pin_key' is unusable: {exc}") from None
    libraries = extra.get("libraries") or {}
    if not isinstance(libraries, Mapping):
        raise RegistryConfigError(f"{where}: extra 'libraries' must be an object keyed by ISIL")
    entry = next((v for k, v in libraries.items() if str(k).strip().upper() == isil.strip().upper()), None)
    if not isinstance(entry, Mapping) or not entry.get("auth_code"):
        raise RegistryConfigError(
            f"{where} has no auth code for {isil}: set extra libraries[{isil!r}].auth_code to the library's "
            "code from Base Bibliotek"
        )
    auth_code = str(entry["auth_code"])
    register_secret(auth_code)
    try:
        series = tuple(NumberSeries.parse(s) for s in entry.get("reserved_series") or ())
    except ValueError as exc:
        raise RegistryConfigError(f"{where}: libraries[{isil!r}].reserved_series: {exc}") from None
    username, derived = derive_credentials(login.strip(), password, number, auth_code)
    register_secret(derived)
    defaults = {f: getattr(DEFAULT_OPTIONS, f) for f in OPTION_EXTRAS}
    options = ClientOptions.from_extras({**defaults, **extra}, where=where, error=RegistryConfigError)
    backoff = {}
    for name in ("backoff_base", "backoff_max"):
        if extra.get(name) not in (None, ""):
            try:
                backoff[name] = float(extra[name])
            except (TypeError, ValueError):
                raise RegistryConfigError(f"{where}: extra {name!r} must be a number of seconds") from None
    retry = replace(options.retry_policy(RetryPolicy(backoff_base=2.0, backoff_max=30.0)), **backoff)
    return RegistryConfig(
        endpoint=endpoint,
        isil=isil.strip().upper(),
        library_number=number,
        username=username,
        password=derived,
        pin=cipher,
        reserved_series=series,
        options=options,
        retry=retry,
    )


def config_from_connection(isil: str, conn_id: str = DEFAULT_CONN_ID) -> RegistryConfig:
    """:func:`resolve_config` from the Airflow connection ``conn_id``."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return resolve_config(
        isil=isil,
        host=conn.host,
        login=conn.login,
        password=conn.password,
        extra=conn.extra_dejson or {},
        conn_id=conn_id,
        schema=conn.schema,
        port=conn.port,
    )
