"""Small result types shared by the hook and the ledger (kept free of Airflow imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    """What happened when one report was POSTed and the API accepted it.

    ``attempts`` counts HTTP requests to the loans endpoint (1 = accepted at first try),
    ``waited_seconds`` the time spent sleeping between attempts (Retry-After and backoff),
    ``token_refreshes`` how often a 401 made the client fetch a new token.
    """

    status_code: int
    attempts: int
    waited_seconds: float
    elapsed_seconds: float
    token_refreshes: int = 0
    gzip: bool = False
    message: str | None = None
