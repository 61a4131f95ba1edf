"""Exclusion reason codes and the per-agency quality summary of one report day.

Every loan row read for an agency is either reported or excluded with exactly one reason,
so ``read == reported + sum(excluded.values())`` always holds. When a row breaks several
rules, the first rule in ``EXCLUSION_REASONS`` order is the one counted.

Reason codes (stable strings: dashboards and the ledger may key on them):

=========================  ===========================================================
``missing_loan_id``        the row has no loan id (defensive; the schema forbids it)
``missing_timestamp``      the row has no loan time (defensive; the schema forbids it)
``outside_report_day``     loaned outside the Oslo calendar day being reported
                           (defensive; the extract only selects that day)
``unknown_material_type``  material type code not in ``include/config/material_formats.toml``
                           (or null/blank: a manifestation without material type); named
                           with counts in ``unknown_material_types`` and a few loan ids
                           each in ``unknown_material_type_loans``
``excluded_material_type`` material type mapped to ``EXCLUDED`` (DVD, games, ...)
``missing_ean``            no ISBN/ISMN/ISSN/EAN catalogued (null or blank)
``invalid_ean``            catalogued value is not a valid book EAN (bad check digit,
                           wrong length, non-book EAN prefix, garbage)
``duplicate_loan``         the same loan id was read more than once; reported once
``agency_config_error``    the row was reportable but the agency's settings are unusable
                           (no library name, bad ISIL, ...): the agency fails alone
=========================  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from library_integrations.common.reference_data import LOCATION_INCOMPLETE as LOCATION_INCOMPLETE
from library_integrations.common.reference_data import LOCATION_INVALID as LOCATION_INVALID
from library_integrations.common.reference_data import (
    LOCATION_NO_REFERENCE_DATA as LOCATION_NO_REFERENCE_DATA,
)
from library_integrations.common.reference_data import LOCATION_NOT_CONFIGURED as LOCATION_NOT_CONFIGURED
from library_integrations.common.reference_data import LOCATION_SENT as LOCATION_SENT

MISSING_LOAN_ID = "missing_loan_id"
MISSING_TIMESTAMP = "missing_timestamp"
OUTSIDE_REPORT_DAY = "outside_report_day"
UNKNOWN_MATERIAL_TYPE = "unknown_material_type"
EXCLUDED_MATERIAL_TYPE = "excluded_material_type"
MISSING_EAN = "missing_ean"
INVALID_EAN = "invalid_ean"
DUPLICATE_LOAN = "duplicate_loan"
AGENCY_CONFIG_ERROR = "agency_config_error"

#: Row-level reasons in precedence order (the first failing rule is counted).
EXCLUSION_REASONS: tuple[str, ...] = (
    MISSING_LOAN_ID,
    MISSING_TIMESTAMP,
    OUTSIDE_REPORT_DAY,
    UNKNOWN_MATERIAL_TYPE,
    EXCLUDED_MATERIAL_TYPE,
    MISSING_EAN,
    INVALID_EAN,
    DUPLICATE_LOAN,
    AGENCY_CONFIG_ERROR,
)

# Location verdicts of the library block: the checked ones are defined next to the check
# (``common.reference_data``) and re-exported here; one more for an agency that failed first.
LOCATION_NOT_CHECKED = "not_checked"  # the agency failed before its location was looked at

#: How many loan ids the summary names per unknown material type code (the smallest ones).
SAMPLE_LOAN_IDS = 5


@dataclass
class QualitySummary:
    """What happened to one agency's loans on one report day.

    ``excluded`` maps reason code -> count and lists only reasons that occurred.
    ``unknown_material_types`` maps the (trimmed, upper-cased) unknown material type code
    -> count; a null or blank code is listed as ``"(missing)"``.
    ``unknown_material_type_loans`` names the rows behind each such code: its smallest
    ``SAMPLE_LOAN_IDS`` loan ids, ascending (the same whatever order the rows came in).
    """

    agency_id: int
    isil: str | None
    report_date: str
    read: int = 0
    reported: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    unknown_material_types: dict[str, int] = field(default_factory=dict)
    unknown_material_type_loans: dict[str, list[int]] = field(default_factory=dict)
    location: str = LOCATION_NOT_CHECKED
    location_warning: str | None = None
    error: str | None = None
    enriched: int = 0  # loans whose title, authors or language came from Bokbasen's metadata
    enriched_fields: dict[str, int] = field(default_factory=dict)  # loans per field filled

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())

    @property
    def balanced(self) -> bool:
        """``read == reported + sum(excluded)``."""
        return self.read == self.reported + self.excluded_total

    def add_excluded(self, reason: str, count: int) -> None:
        if count:
            self.excluded[reason] = self.excluded.get(reason, 0) + int(count)

    def add_unknown_material_type(self, code: str, count: int, loan_ids: list[int]) -> None:
        """Count ``count`` more rows of unknown material type ``code``; remember the smallest ids."""
        self.unknown_material_types[code] = self.unknown_material_types.get(code, 0) + int(count)
        known = self.unknown_material_type_loans.get(code, [])
        self.unknown_material_type_loans[code] = sorted({*known, *map(int, loan_ids)})[:SAMPLE_LOAN_IDS]

    def unknown_material_types_text(self) -> str:
        """``VINYL=1 (loan 5), (missing)=2 (loans 17, 18)``: each unknown code, its count and loan ids."""
        parts = []
        for code, count in sorted(self.unknown_material_types.items()):
            ids = self.unknown_material_type_loans.get(code) or []
            shown = ", ".join(map(str, ids)) + (", ..." if count > len(ids) else "")
            parts.append(f"{code}={count}" + (f" (loan{'s' if count > 1 else ''} {shown})" if ids else ""))
        return ", ".join(parts)

    def enriched_text(self) -> str:
        """``12 loan(s) enriched from Bokbasen metadata (title 2, authors 9, language 4)``."""
        fields = ", ".join(f"{k} {v}" for k, v in self.enriched_fields.items() if v)
        return f"{self.enriched} loan(s) enriched from Bokbasen metadata ({fields or 'nothing'})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict with sorted, deterministic keys in the nested maps."""
        order = {reason: i for i, reason in enumerate(EXCLUSION_REASONS)}
        return {
            "agency_id": self.agency_id,
            "isil": self.isil,
            "report_date": self.report_date,
            "read": self.read,
            "reported": self.reported,
            "excluded": {
                k: self.excluded[k] for k in sorted(self.excluded, key=lambda r: (order.get(r, 99), r))
            },
            "excluded_total": self.excluded_total,
            "unknown_material_types": dict(sorted(self.unknown_material_types.items())),
            "unknown_material_type_loans": {
                k: list(v) for k, v in sorted(self.unknown_material_type_loans.items())
            },
            "location": self.location,
            "location_warning": self.location_warning,
            "error": self.error,
            "enriched": self.enriched,
            "enriched_fields": dict(self.enriched_fields),
        }

    def one_line(self) -> str:
        """One log line, e.g. ``NO-2030100 (agency 1) 2026-11-20: read 812, reported 790, ...``."""
        parts = [f"read {self.read}", f"reported {self.reported}"]
        if self.excluded:
            excluded = ", ".join(f"{k}={v}" for k, v in self.to_dict()["excluded"].items())
            parts.append(f"excluded {self.excluded_total} ({excluded})")
        else:
            parts.append("excluded 0")
        if self.unknown_material_types:
            parts.append(f"unknown material types: {self.unknown_material_types_text()}")
        if self.enriched:
            parts.append(self.enriched_text())
        parts.append(f"location {self.location}")
        if self.location_warning:
            parts.append(f"({self.location_warning})")
        if self.error:
            parts.append(f"FAILED: {self.error}")
        return f"{self.isil or '?'} (agency {self.agency_id}) {self.report_date}: " + "; ".join(parts)


def format_quality_table(summaries: list[QualitySummary]) -> str:
    """A fixed-width table of several agencies' summaries, for a task log.

    One row per agency with read/reported and one column per reason that occurred on any
    agency; warnings and errors follow the table, one line each.
    """
    order = {reason: i for i, reason in enumerate(EXCLUSION_REASONS)}
    reasons = sorted({r for s in summaries for r in s.excluded}, key=lambda r: (order.get(r, 99), r))
    header = ["agency", "isil", "read", "reported", *reasons, "location", "status"]
    rows = [header]
    for s in summaries:
        rows.append(
            [
                str(s.agency_id),
                s.isil or "?",
                str(s.read),
                str(s.reported),
                *[str(s.excluded.get(r, 0)) for r in reasons],
                s.location,
                "FAILED" if s.error else "ok",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for s in summaries:
        if s.unknown_material_types:
            lines.append(f"agency {s.agency_id}: unknown material types: {s.unknown_material_types_text()}")
        if s.location_warning:
            lines.append(f"agency {s.agency_id}: location omitted: {s.location_warning}")
        if s.enriched:
            lines.append(f"agency {s.agency_id}: {s.enriched_text()}")
        if s.error:
            lines.append(f"agency {s.agency_id}: FAILED: {s.error}")
    return "\n".join(lines)
