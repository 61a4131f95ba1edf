"""A slow, row-by-row reference implementation of the report builder, for tests.

It applies the rules one loan at a time with the scalar helpers (``normalise_ean``,
``MaterialFormats.format_of``, ``transaction_id``, ...) and serialises plain dicts with
``orjson.dumps``. The vectorised ``ReportBuilder`` must produce the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import orjson

from library_integrations.common.oslo_time import oslo_day_window
from library_integrations.common.reference_data import ReferenceData
from library_integrations.library_system.contracts import AgencySettings
from library_integrations.pipelines.loan_report.report.ean import normalise_ean
from library_integrations.pipelines.loan_report.report.formats import (
    EXCLUDED,
    MaterialFormats,
    normalise_code,
)
from library_integrations.pipelines.loan_report.report.library import AgencyConfigError, library_identity
from library_integrations.pipelines.loan_report.report.quality import SAMPLE_LOAN_IDS
from library_integrations.pipelines.loan_report.report.transaction_id import transaction_id

_LANGUAGE = re.compile(r"^[A-Za-z]{3}$")


@dataclass
class OracleResult:
    payload: bytes | None
    error: str | None
    read: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    unknown_material_types: dict[str, int] = field(default_factory=dict)
    unknown_material_type_loans: dict[str, list[int]] = field(default_factory=dict)

    @property
    def reported(self) -> int:
        return self.read - sum(self.excluded.values())


def _exclude(result: OracleResult, reason: str) -> None:
    result.excluded[reason] = result.excluded.get(reason, 0) + 1


def _loan(row: dict, fmt: str, ean: str, installation: str) -> dict:
    loan: dict = {
        "transactionId": transaction_id(row["loan_id"], installation),
        "timestamp": row["loaned_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ean": ean,
    }
    title = (row.get("title") or "").strip()
    if title:
        loan["title"] = title
    authors = [a.strip() for a in (row.get("authors") or []) if a is not None and a.strip()]
    if authors:
        loan["authors"] = authors
    loan["format"] = fmt
    language = (row.get("language") or "").strip()
    if _LANGUAGE.match(language):
        loan["language"] = language.lower()
    kind = row.get("patron_kind")
    person = kind is not None and normalise_code(kind) == "PERSON"
    borrower: dict = {"isPerson": person}
    age = row.get("age")
    if person and age is not None and 0 <= age <= 120:
        borrower["age"] = age
    gender = row.get("gender")
    code = normalise_code(gender) if gender is not None else ""
    borrower["gender"] = (
        {"M": "MALE", "F": "FEMALE", "K": "FEMALE"}.get(code, "UNKNOWN") if person else "UNKNOWN"
    )
    loan["borrower"] = borrower
    return loan


def oracle(
    report_date: date,
    agencies: list[AgencySettings],
    rows: list[dict],
    *,
    formats: MaterialFormats,
    reference: ReferenceData,
    installation: str,
) -> dict[int, OracleResult]:
    start, end = oslo_day_window(report_date)
    results: dict[int, OracleResult] = {}
    identities = {}
    for settings in agencies:
        error = None
        if not settings.enabled:
            error = "disabled"
        else:
            try:
                identities[settings.agency_id] = library_identity(settings, reference)
            except AgencyConfigError as exc:
                error = str(exc)
        results[settings.agency_id] = OracleResult(payload=None, error=error)

    candidates: dict[int, list[tuple[datetime, int, dict]]] = {a: [] for a in results}
    for row in rows:
        result = results.get(row.get("agency_id"))
        if result is None:
            continue
        result.read += 1
        loaned_at = row.get("loaned_at")
        if row.get("loan_id") is None:
            _exclude(result, "missing_loan_id")
            continue
        if loaned_at is None:
            _exclude(result, "missing_timestamp")
            continue
        if not start <= loaned_at < end:
            _exclude(result, "outside_report_day")
            continue
        fmt = formats.format_of(row.get("material_type_code"))
        if fmt is None:
            _exclude(result, "unknown_material_type")
            code = row.get("material_type_code")
            key = normalise_code(code) if code is not None and code.strip() else "(missing)"
            result.unknown_material_types[key] = result.unknown_material_types.get(key, 0) + 1
            ids = sorted({*result.unknown_material_type_loans.get(key, []), row["loan_id"]})
            result.unknown_material_type_loans[key] = ids[:SAMPLE_LOAN_IDS]
            continue
        if fmt == EXCLUDED:
            _exclude(result, "excluded_material_type")
            continue
        ean, why = normalise_ean(row.get("isbn"))
        if why is not None:
            _exclude(result, why)
            continue
        candidates[row["agency_id"]].append((loaned_at, row["loan_id"], _loan(row, fmt, ean, installation)))

    for agency_id, result in results.items():
        if result.error is not None:
            for _ in candidates[agency_id]:
                _exclude(result, "agency_config_error")
            continue
        best: dict[int, tuple[datetime, bytes, dict]] = {}
        for loaned_at, loan_id, loan in candidates[agency_id]:
            key = (loaned_at, orjson.dumps(loan), loan)
            if loan_id in best:
                _exclude(result, "duplicate_loan")
                if key[:2] >= best[loan_id][:2]:
                    continue
            best[loan_id] = key
        loans = [v[2] for _, v in sorted(best.items(), key=lambda item: (item[1][0], item[0]))]
        document = {
            "reportDate": report_date.isoformat(),
            "library": identities[agency_id].block(),
            "loans": loans,
        }
        result.payload = orjson.dumps(document)
    return results
