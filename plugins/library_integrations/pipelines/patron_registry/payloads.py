"""What the registry sync's tasks hand each other through XCom: small, typed, no personal data.

``libraries`` -> one :class:`LibraryToSync` per enabled library -> ``sync`` (mapped) ->
:class:`SyncResult` -> ``summary`` -> :class:`SyncSummary`. Patrons appear only by the
library system's internal id; outcomes are counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from library_integrations.common.xcom import XComPayload


@dataclass(frozen=True)
class LibraryToSync(XComPayload):
    agency_id: int
    isil: str
    name: str
    label: str  # "<ISIL> <name>": the mapped task's name in the UI
    sync_card_number: bool
    sync_pin: bool


@dataclass(frozen=True)
class PatronFailure(XComPayload):
    """One patron's failure: internal id, what was queued, the registry's (scrubbed) message."""

    patron_id: int
    change: str
    message: str
    failed_nights: int = 0


@dataclass(frozen=True)
class SyncResult(XComPayload):
    """One library's run: outcome counts and the patrons that failed."""

    direction: str  # export | import
    isil: str
    label: str
    counts: dict[str, int]
    failures: list[PatronFailure] = field(default_factory=list)
    watermark_before: str | None = None
    watermark_after: str | None = None
    registry_requests: int = 0


@dataclass(frozen=True)
class SyncSummary(XComPayload):
    direction: str
    libraries: int
    failed_libraries: list[str]
    totals: dict[str, int]
    alerts: list[str]
