"""Per-connection transport settings that a deployment can set as connection extras.

==========================  ========  ===================================================
extra                       default   meaning
==========================  ========  ===================================================
``connect_timeout``         10        seconds to wait for a TCP/TLS connection
``read_timeout``            120       seconds to wait for the answer to one request
``max_attempts``            6         HTTP requests per operation, retries included
``max_total_seconds``       900       the retry budget: no wait ends later than this
                                      many seconds after the first attempt began
==========================  ========  ===================================================

Values may be numbers or strings (``"30"``); a value that is not a positive number is an
:class:`~library_integrations.http.errors.ApiConfigError` (or the client's subclass) naming
the extra. Explicit constructor arguments win over extras, extras over the defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from library_integrations.http.errors import ApiConfigError
from library_integrations.http.retry import RetryPolicy

OPTION_EXTRAS = frozenset({"connect_timeout", "read_timeout", "max_attempts", "max_total_seconds"})


def _positive_number(name: str, value: Any, where: str, error: type[ApiConfigError]) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise error(f"{where}: extra {name!r} must be a positive number, not {value!r}")
    return number


@dataclass(frozen=True)
class ClientOptions:
    """Timeouts and retry bounds of one API connection (see the module docstring)."""

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_attempts: int = 6
    max_total_seconds: float = 900.0

    @property
    def timeout(self) -> tuple[float, float]:
        """``(connect, read)`` as ``requests`` takes it."""
        return (self.connect_timeout, self.read_timeout)

    def retry_policy(self, base: RetryPolicy | None = None) -> RetryPolicy:
        """``base`` (default :class:`RetryPolicy`) with these attempts and total seconds."""
        return replace(
            base or RetryPolicy(), max_attempts=self.max_attempts, max_total_seconds=self.max_total_seconds
        )

    @classmethod
    def from_extras(
        cls,
        extra: Mapping[str, Any] | None,
        *,
        overrides: Mapping[str, Any] | None = None,
        where: str = "connection",
        error: type[ApiConfigError] = ApiConfigError,
    ) -> ClientOptions:
        """Options from a connection's extras; ``overrides`` (explicit arguments, None = unset) win."""
        values: dict[str, Any] = {}
        for option in fields(cls):
            value = (overrides or {}).get(option.name)
            if value is None:
                value = (extra or {}).get(option.name)
            if value is None or value == "":
                continue
            number = _positive_number(option.name, value, where, error)
            if option.name == "max_attempts":
                if number != int(number):
                    raise error(f"{where}: extra 'max_attempts' must be a whole number, not {value!r}")
                number = int(number)
            values[option.name] = number
        return cls(**values)
