"""OAuth2 bearer tokens shared by every worker process, so token requests do not grow with agencies.

Per-agency load tasks of one run execute in separate processes (and on a Celery or
Kubernetes deployment, on separate machines). An in-memory cache alone would fetch one
token per task; this cache keeps the token in ``pipeline_state.oauth_token`` in the
pipeline-state database, **encrypted with the deployment's Fernet key** (``[core] fernet_key`` /
``AIRFLOW__CORE__FERNET_KEY``, the key Airflow encrypts connections with), keyed by
(token_url, client_id, sha256(audience)). Any OAuth2 client-credentials client can use it (the
Bokbasen loans API, the Bokbasen Export Service, ...): ``audience`` is whatever distinguishes
its tokens at the same token endpoint (an audience or a scope).

Lookup order: this process's memory, then the database, then the token endpoint. Fetching
happens under a PostgreSQL advisory lock on the cache key, so concurrent processes wait for
the first one's token instead of each fetching their own. A token is used until
``min(refresh_margin, 10% of its lifetime)`` before it expires.

Without a database DSN or without a Fernet key, tokens are cached in this process only
(a warning says so; token requests then grow with the number of task processes). Tokens
are never logged; the hook registers each one with Airflow's secret masker.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache

import psycopg

from library_integrations.http.auth import BearerToken
from library_integrations.state.migrations import migrate
from library_integrations.state.queries import load_sql

log = logging.getLogger(__name__)

FERNET_ENV = "AIRFLOW__CORE__FERNET_KEY"


@cache
def _multi_fernet(key: str):
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet([Fernet(part.strip().encode()) for part in key.split(",") if part.strip()])


def deployment_fernet():
    """The deployment's Fernet (``AIRFLOW__CORE__FERNET_KEY`` or Airflow config), or None if unset."""
    key = os.environ.get(FERNET_ENV, "").strip()
    if not key:
        try:
            from airflow.sdk.configuration import conf

            key = (conf.get("core", "fernet_key", fallback="") or "").strip()
        except Exception:  # Airflow not configured: no key
            key = ""
    if not key or "{" in key:  # an unrendered template default such as '{FERNET_KEY}'
        return None
    return _multi_fernet(key)


# Process-wide memory: every hook instance in this process shares it.
_memory: dict[tuple[str, str, str], BearerToken] = {}
_memory_locks: dict[tuple[str, str, str], threading.Lock] = {}
_memory_guard = threading.Lock()


def clear_process_cache() -> None:
    """Forget the tokens held in this process's memory (tests; the database copy stays)."""
    with _memory_guard:
        _memory.clear()


class TokenCache:
    """The token cache of one (token_url, client_id, audience)."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        audience: str,
        dsn: str | None,
        refresh_margin: float = 60.0,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.audience = audience
        self.audience_sha256 = hashlib.sha256(audience.encode()).hexdigest()
        self.refresh_margin = refresh_margin
        self.key = (token_url, client_id, self.audience_sha256)
        self.fernet = deployment_fernet() if dsn else None
        self.dsn = dsn if self.fernet is not None else None
        if dsn and self.fernet is None:
            log.warning(
                "No Fernet key configured (%s / [core] fernet_key): OAuth2 tokens of %s are cached in "
                "this process only, so every task process fetches its own token",
                FERNET_ENV,
                token_url,
            )
        elif not dsn:
            log.info("No pipeline-state database given: OAuth2 tokens of %s are cached in this process only", token_url)
        if self.dsn:
            migrate(self.dsn)
        with _memory_guard:
            self._lock = _memory_locks.setdefault(self.key, threading.Lock())

    @property
    def shared(self) -> bool:
        return self.dsn is not None

    def _params(self) -> dict:
        return {
            "token_url": self.token_url,
            "client_id": self.client_id,
            "audience_sha256": self.audience_sha256,
        }

    def get(self, fetch: Callable[[], tuple[str, float]]) -> tuple[BearerToken, bool]:
        """A usable token and whether it was fetched now; ``fetch()`` returns (token, expires_in)."""
        with self._lock:  # threads of this process: one fetch at a time
            token = _memory.get(self.key)
            if token and token.usable(self.refresh_margin):
                return token, False
            if not self.shared:
                token = self._fetch(fetch)
                _memory[self.key] = token
                return token, True
            token = self._read_db()
            if token and token.usable(self.refresh_margin):
                _memory[self.key] = token
                return token, False
            with psycopg.connect(self.dsn) as conn:  # one transaction: lock, re-read, fetch, store
                conn.execute(load_sql("token_lock"), self._params())
                token = self._read_db(conn)
                if token and token.usable(self.refresh_margin):
                    log.debug("Another process fetched a token from %s while this one waited; reusing it", self.token_url)
                    _memory[self.key] = token
                    return token, False
                token = self._fetch(fetch)
                conn.execute(
                    load_sql("token_upsert"),
                    {
                        **self._params(),
                        "audience": self.audience,
                        "token_ciphertext": self.fernet.encrypt(token.access_token.encode()).decode(),
                        "fetched_at": token.fetched_at,
                        "expires_at": token.expires_at,
                    },
                )
            _memory[self.key] = token
            return token, True

    def invalidate(self, token: BearerToken) -> None:
        """Drop ``token`` (the API refused it) from memory and, if still stored, from the database."""
        with self._lock:
            if _memory.get(self.key) == token:
                del _memory[self.key]
            if self.shared:
                with psycopg.connect(self.dsn) as conn:
                    conn.execute(load_sql("token_delete"), {**self._params(), "fetched_at": token.fetched_at})

    def forget(self) -> None:
        """Drop whatever token is cached for this key (memory and database): the next use fetches one."""
        with self._lock:
            _memory.pop(self.key, None)
            if self.shared:
                with psycopg.connect(self.dsn) as conn:
                    conn.execute(load_sql("token_forget"), self._params())

    @staticmethod
    def _fetch(fetch: Callable[[], tuple[str, float]]) -> BearerToken:
        fetched_at = datetime.now(UTC)
        access_token, expires_in = fetch()
        return BearerToken(access_token, fetched_at, fetched_at + timedelta(seconds=float(expires_in)))

    def _read_db(self, conn=None) -> BearerToken | None:
        if conn is None:
            with psycopg.connect(self.dsn) as own:
                return self._read_db(own)
        row = conn.execute(load_sql("token_select"), self._params()).fetchone()
        if not row:
            return None
        ciphertext, fetched_at, expires_at = row
        try:
            access_token = self.fernet.decrypt(ciphertext.encode()).decode()
        except Exception:
            log.warning(
                "A cached OAuth2 token of %s could not be decrypted (Fernet key changed?); fetching a new one",
                self.token_url,
            )
            return None
        return BearerToken(access_token, fetched_at, expires_at)
