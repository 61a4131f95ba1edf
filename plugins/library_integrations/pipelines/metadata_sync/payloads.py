"""What the sync task returns through XCom: one small, typed summary of the run."""

from __future__ import annotations

from dataclasses import dataclass, field

from library_integrations.common.xcom import XComPayload


@dataclass(frozen=True)
class SyncResult(XComPayload):
    """One run of the metadata sync.

    ``started_from``: ``cursor`` or ``after``; ``cursor_age_hours``: the stored cursor's age
    when the run began (None without one); ``fallback``: why the run started from ``after``.
    ``products``: every ``<Product>`` read = ``new + updated + deleted + superseded +
    malformed``. ``malformed_examples``: the first few, named (record reference: reason).
    ``stopped``: why the run ended; ``cursor``: a fingerprint of the stored cursor.
    """

    subscription: str
    started_from: str
    after: str | None
    cursor_age_hours: float | None
    fallback: str | None
    pages: int
    products: int
    new: int
    updated: int
    deleted: int
    superseded: int
    malformed: int
    stopped: str
    cursor: str | None
    cursor_changed: bool
    requests: int
    token_refreshes: int
    records: int
    records_deleted: int
    malformed_examples: list[str] = field(default_factory=list)
