"""The library block: ISIL, name, type, location; unusable settings fail the agency."""

import logging

import pytest

from library_integrations.common.reference_data import ReferenceData, load_reference_tsv
from library_integrations.library_system.contracts import AgencySettings
from library_integrations.pipelines.loan_report.report.library import (
    AgencyConfigError,
    library_identity,
    normalise_isil,
)


def settings(**overrides) -> AgencySettings:
    values = dict(
        agency_id=1,
        isil="NO-2030100",
        agency_name="Deichman hovedbibliotek",
        enabled=True,
        library_name="Deichman Bjørvika",
        library_type="Folkebibliotek",
        postal_code="0150",
        municipality="Oslo",
        county="Oslo",
    )
    values.update(overrides)
    return AgencySettings(**values)


@pytest.fixture(scope="module")
def reference(reference_dir) -> ReferenceData:
    return load_reference_tsv(reference_dir)


def test_complete_block(reference):
    identity = library_identity(settings(), reference)
    assert identity.block() == {
        "isil": "NO-2030100",
        "name": "Deichman Bjørvika",
        "type": "Folkebibliotek",
        "location": {"postalCode": "0150", "municipality": "Oslo", "county": "Oslo"},
    }
    assert identity.location_status == "sent"
    assert identity.location_warning is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("NO-2030100", "NO-2030100"), (" no-2030100 ", "NO-2030100"), ("No-0000001", "NO-0000001")],
)
def test_isil_normalised(raw, expected):
    assert normalise_isil(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "no ISIL"),
        ("   ", "no ISIL"),
        ("NO-203010", "not a Norwegian library ISIL"),  # 6 digits
        ("NO-20301000", "not a Norwegian library ISIL"),  # 8 digits
        ("NO-ABC1234", "not a Norwegian library ISIL"),
        ("DK-710100", "not a Norwegian library ISIL"),  # a valid Danish ISIL
        ("XX-2030100", "not a valid ISIL"),  # unknown country prefix (stdnum)
        ("NO 2030100", "not a valid ISIL"),  # space is not an ISIL character
        ("NO-2030100-ÆØÅ-and-more", "not a valid ISIL"),
    ],
)
def test_invalid_isil(raw, message):
    with pytest.raises(AgencyConfigError, match=message):
        normalise_isil(raw)


def test_invalid_isil_names_the_agency(reference):
    with pytest.raises(AgencyConfigError) as err:
        library_identity(settings(agency_id=77, isil="NO-12"), reference)
    assert "agency 77" in str(err.value)
    assert "NO-12" in str(err.value)


@pytest.mark.parametrize("name", [None, "", "   "])
def test_missing_library_name_fails_without_falling_back_to_agency_name(reference, name):
    with pytest.raises(AgencyConfigError) as err:
        library_identity(settings(agency_id=7, isil="NO-1234567", library_name=name), reference)
    message = str(err.value)
    assert "agency 7 (NO-1234567)" in message
    assert "library name is not configured" in message
    assert "Deichman hovedbibliotek" not in message or "not used" in message


def test_missing_type_and_name_are_both_reported(reference):
    with pytest.raises(AgencyConfigError) as err:
        library_identity(settings(library_name=None, library_type=" "), reference)
    assert "library name" in str(err.value) and "library type" in str(err.value)


def test_name_and_type_are_trimmed(reference):
    identity = library_identity(
        settings(library_name="  Deichman Bjørvika ", library_type=" Folkebibliotek"), reference
    )
    assert (identity.name, identity.type) == ("Deichman Bjørvika", "Folkebibliotek")


def test_location_from_another_municipality_is_omitted_with_a_warning(reference, caplog):
    with caplog.at_level(logging.WARNING, logger="library_integrations.pipelines.loan_report.report.library"):
        identity = library_identity(
            settings(agency_id=3, municipality="Bergen", county="Vestland"), reference
        )
    assert "location" not in identity.block()
    assert identity.location_status == "invalid"
    assert identity.location_warning == "postal code 0150 belongs to municipality 0301 Oslo, not 4601 Bergen"
    assert "agency 3 (NO-2030100): library location omitted: postal code 0150 belongs" in caplog.text


def test_no_reference_data_omits_location_with_reason(caplog):
    with caplog.at_level(logging.WARNING):
        identity = library_identity(settings(), ReferenceData.unavailable("no reference data configured"))
    assert "location" not in identity.block()
    assert identity.location_status == "no_reference_data"
    assert "no reference data configured" in caplog.text


def test_unconfigured_location_is_not_a_warning(reference, caplog):
    with caplog.at_level(logging.INFO):
        identity = library_identity(settings(postal_code=None, municipality=None, county=None), reference)
    assert identity.location_status == "not_configured"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
