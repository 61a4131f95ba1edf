"""Keeping secrets out of logs and errors: ``***`` for client secrets and tokens, clipped text.

Every text that came from the network (an API's error message, a response body) passes
through a :class:`Redactor` before it reaches a log line or an exception. A redactor knows
the client secret of its connection and the tokens its auth object fetched; it replaces
each of them (and their JSON-escaped and URL-encoded forms) with ``***`` and clips the text
to :data:`MESSAGE_LIMIT` characters.

:func:`register_secret` additionally hands a secret to Airflow's secret masker, so that a
task log shows ``***`` even where a secret reaches it some other way.
"""

from __future__ import annotations

import json
from collections import deque
from urllib.parse import quote, quote_plus

REDACTED = "***"
MESSAGE_LIMIT = 2000
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def _forms(secret: str) -> set[str]:
    """``secret`` as sent in a body or echoed back: raw, JSON-escaped, URL-encoded."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret, safe="")}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def redact(text: str | None, secrets: object = (), *, limit: int = MESSAGE_LIMIT) -> str | None:
    """``text`` with every secret (of at least 4 characters) replaced by ``***``, then clipped."""
    if text is None:
        return None
    forms: set[str] = set()
    for secret in secrets:  # type: ignore[attr-defined]
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            forms |= _forms(secret)
    for form in sorted(forms, key=len, reverse=True):  # a secret containing another goes first
        text = text.replace(form, REDACTED)
    return clip(text, limit)


def register_secret(secret: str | None) -> None:
    """Register ``secret`` with Airflow's secret masker (task logs show ``***`` instead)."""
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older/newer layouts
        try:
            from airflow.sdk.execution_time.secrets_masker import mask_secret
        except ImportError:
            return
    mask_secret(secret)


class Redactor:
    """The secrets of one client: its client secret(s) and the most recent tokens it used.

    ``redactor(text, *more_secrets)`` returns the redacted, clipped text (None stays None).
    Tokens are kept in a bounded window (``keep_tokens``) so a long-lived process does not
    accumulate them.
    """

    def __init__(self, *secrets: str | None, limit: int = MESSAGE_LIMIT, keep_tokens: int = 16) -> None:
        self.limit = limit
        self._secrets: list[str] = []
        self._tokens: deque[str] = deque(maxlen=keep_tokens)
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str | None, *, mask: bool = True) -> None:
        """A long-lived secret (a client secret); also registered with Airflow's masker."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            if mask:
                register_secret(secret)

    def add_token(self, token: str | None, *, mask: bool = True) -> None:
        """A short-lived secret (an access token); also registered with Airflow's masker."""
        if token and token not in self._tokens:
            self._tokens.append(token)
            if mask:
                register_secret(token)

    def __call__(self, text: str | None, *more: str | None) -> str | None:
        return redact(text, [*self._secrets, *self._tokens, *more], limit=self.limit)
