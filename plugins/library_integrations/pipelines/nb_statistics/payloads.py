"""What the NB statistics tasks hand each other through XCom, as typed payloads.

``select_libraries`` -> :class:`Selection` -> ``aggregate`` -> :class:`StagedStatistics` (the
staged CSV, its figures per library) -> ``check`` -> :class:`CheckResult` -> ``deliver`` ->
:class:`DeliveryResult` -> ``summary``. All small: the file stays in the staging area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from library_integrations.common.xcom import XComPayload


@dataclass(frozen=True)
class Library(XComPayload):
    agency_id: int
    isil: str
    name: str


@dataclass(frozen=True)
class ExcludedLibrary(XComPayload):
    """A library left out of the file; ``reason`` is the code written in the manifest."""

    agency_id: int
    isil: str
    name: str
    reason: str


@dataclass(frozen=True)
class Selection(XComPayload):
    """The month (first day), its UTC window, and who is in and out of the delivery."""

    month: date
    start_utc: datetime
    end_utc: datetime
    included: list[Library]
    excluded: list[ExcludedLibrary]


@dataclass(frozen=True)
class LibraryFigures(XComPayload):
    """One included library's month: ``loans = loans_with_isbn + without_isbn`` (uten_isbn)."""

    agency_id: int
    isil: str
    name: str
    loans: int
    loans_with_isbn: int
    without_isbn: int
    rows: int


@dataclass(frozen=True)
class StagedStatistics(XComPayload):
    """The month's CSV in the staging area and everything the manifest says about it."""

    month: date
    start_utc: datetime
    end_utc: datetime
    library_system: str
    csv_path: str
    csv_sha256: str
    csv_bytes: int
    rows: int
    content_sha256: str  # identity of the delivery (CSV + version-independent manifest)
    libraries: list[LibraryFigures]
    excluded: list[ExcludedLibrary]
    unmapped_categories: dict[str, int] = field(default_factory=dict)

    @property
    def loans(self) -> int:
        return sum(lib.loans for lib in self.libraries)

    @property
    def without_isbn(self) -> int:
        return sum(lib.without_isbn for lib in self.libraries)


@dataclass(frozen=True)
class CheckResult(XComPayload):
    month: date
    rows: int
    loans: int
    checks: list[str]


@dataclass(frozen=True)
class DeliveryResult(XComPayload):
    """``outcome``: ``delivered`` (uploaded now) or ``skipped`` (identical content already delivered)."""

    month: date
    outcome: str
    version: int
    csv_name: str
    manifest_name: str
    target: str
    content_sha256: str
    previous_version: int | None = None
