"""The Bokbasen login shared by the loans and export hooks.

One OAuth2 client-credentials login (``http.auth.OAuth2ClientCredentials``) per hook, its
tokens kept in the shared, encrypted cache of the pipeline-state database
(``state.token_cache.TokenCache``) so that every task process uses one token, and a
warning in the task log when Bokbasen refuses a token (401) and a new one is fetched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from requests import Response, Session

from library_integrations.clients.bokbasen.config import BokbasenConfig
from library_integrations.clients.bokbasen.errors import BOKBASEN_ERRORS
from library_integrations.http.auth import OAuth2ClientCredentials
from library_integrations.http.messages import api_message
from library_integrations.http.redaction import Redactor
from library_integrations.http.retry import current_budget
from library_integrations.state.token_cache import TokenCache

__all__ = ["bokbasen_auth", "shared_cache_dsn", "token_cache"]

log = logging.getLogger(__name__)


def shared_cache_dsn(conn_id: str) -> str | None:
    """The state database of the shared token cache (Airflow connection ``conn_id``).

    None, with a warning, when the connection is unusable: tokens are then cached in this
    process only, and the work goes on.
    """
    from library_integrations.state.connection import dsn_from_connection

    try:
        return dsn_from_connection(conn_id)
    except Exception as exc:
        log.warning("No usable connection %r for the shared Bokbasen token cache (%s); caching in this process only",
                    conn_id, type(exc).__name__)
        return None


def token_cache(config: BokbasenConfig, dsn: str | None, refresh_margin: float) -> TokenCache:
    """The token cache of one client id and audience (in the state database at ``dsn``, or in-process)."""
    return TokenCache(token_url=config.token_url, client_id=config.client_id, audience=config.audience, dsn=dsn,
                      refresh_margin=refresh_margin)


def bokbasen_auth(config: BokbasenConfig, store: TokenCache, *, session: Callable[[], Session], sleep,
                  redactor: Redactor, unlabelled: str) -> OAuth2ClientCredentials:
    """The bearer-token auth of a hook's requests.

    ``unlabelled``: how the 401 warning names a request outside a labelled retry budget
    ("a request", "an export request").
    """

    def log_token_refused(response: Response) -> None:
        budget = current_budget()
        log.warning(
            "Bokbasen refused the access token for %s (HTTP 401: %s); fetching a new token once",
            budget.label if budget is not None and budget.label else unlabelled,
            api_message(response, redact=redactor),
        )

    return OAuth2ClientCredentials(
        token_url=config.token_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        audience=config.audience,
        store=store,
        session=session,
        timeout=config.timeout,
        policy=config.retry,
        sleep=sleep,
        errors=BOKBASEN_ERRORS,
        api_name="Bokbasen",
        redactor=redactor,
        on_refresh=log_token_refused,
    )
