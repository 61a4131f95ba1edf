"""What the loan report's tasks hand each other through XCom, as typed payloads.

``extract`` -> :class:`ExtractResult` -> ``transform`` -> one :class:`AgencyReport` per
agency -> ``load`` (mapped) -> :class:`LoadResult`; ``summary`` reads the agency reports
and the ledger and returns a :class:`RunSummary`. All small: staged data stays in files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from library_integrations.common.xcom import XComPayload
from library_integrations.library_system.contracts import AgencySettings


@dataclass(frozen=True)
class ExtractResult(XComPayload):
    """The day's staged loans: Parquet parts and the agencies they belong to."""

    report_date: date
    start_utc: str
    end_utc: str
    parts: list[str]
    rows: int
    agencies: list[AgencySettings]
    disabled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AgencyReport(XComPayload):
    """One agency's staged report (or why it cannot be reported): the load task's input."""

    report_date: date
    agency_id: int
    isil: str | None
    library_name: str | None
    label: str  # "<ISIL> <library name>": the mapped task's name in the UI
    loan_count: int
    read: int
    reported: int
    excluded: dict[str, int]
    location: str | None
    error: str | None = None
    report_path: str | None = None
    sha256: str | None = None
    enriched: int = 0  # loans whose title, authors or language came from Bokbasen's metadata


@dataclass(frozen=True)
class LoadResult(XComPayload):
    """What the load task did for one agency: ``outcome`` is ``sent`` or ``skipped``."""

    isil: str
    outcome: str
    status: str
    loan_count: int
    http_status: int | None = None
    attempts: int | None = None
    waited_seconds: float | None = None


@dataclass(frozen=True)
class SummaryRow(XComPayload):
    agency: str
    read: int
    reported: int
    excluded: str
    status: str
    detail: str


@dataclass(frozen=True)
class RunSummary(XComPayload):
    """The run's table of agencies and the labels of those that were not reported."""

    report_date: date
    agencies: list[SummaryRow]
    failed: list[str]
