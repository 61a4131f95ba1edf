"""The quality summary and its log formats."""

from library_integrations.pipelines.loan_report.report.quality import (
    EXCLUSION_REASONS,
    QualitySummary,
    format_quality_table,
)


def summary() -> QualitySummary:
    s = QualitySummary(agency_id=1, isil="NO-2030100", report_date="2026-11-20", read=10, reported=6)
    s.add_excluded("invalid_ean", 1)
    s.add_excluded("excluded_material_type", 2)
    s.add_excluded("unknown_material_type", 1)
    s.add_excluded("missing_ean", 0)  # zero counts are not listed
    s.unknown_material_types["VINYL"] = 1
    s.location = "invalid"
    s.location_warning = "postal code 0150 belongs to municipality 0301 Oslo, not 4601 Bergen"
    return s


def test_balance_and_dict():
    s = summary()
    assert s.balanced
    d = s.to_dict()
    assert list(d["excluded"]) == ["unknown_material_type", "excluded_material_type", "invalid_ean"]
    assert d["excluded_total"] == 4
    assert d["unknown_material_types"] == {"VINYL": 1}


def test_one_line():
    line = summary().one_line()
    assert line.startswith("NO-2030100 (agency 1) 2026-11-20: read 10; reported 6; excluded 4 (")
    assert "unknown material types: VINYL=1" in line
    assert "postal code 0150 belongs" in line


def test_table():
    failed = QualitySummary(agency_id=2, isil=None, report_date="2026-11-20", read=3)
    failed.add_excluded("agency_config_error", 3)
    failed.error = "agency 2 (no ISIL): no ISIL in lms.agency.isil"
    table = format_quality_table([summary(), failed])
    header, first, second, *notes = table.splitlines()
    assert header.split()[:4] == ["agency", "isil", "read", "reported"]
    assert "agency_config_error" in header
    assert second.split()[-1] == "FAILED"
    assert any("VINYL=1" in n for n in notes)
    assert any("FAILED: agency 2" in n for n in notes)


def test_reason_codes_are_stable():
    assert EXCLUSION_REASONS == (
        "missing_loan_id",
        "missing_timestamp",
        "outside_report_day",
        "unknown_material_type",
        "excluded_material_type",
        "missing_ean",
        "invalid_ean",
        "duplicate_loan",
        "agency_config_error",
    )
