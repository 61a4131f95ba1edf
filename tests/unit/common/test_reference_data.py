"""Postal codes, municipalities and counties, and the library location rule."""

import csv
import logging
from datetime import date
from pathlib import Path

import pytest

from library_integrations.common import reference_data
from library_integrations.common.reference_data import (
    DEFAULT_REFERENCE_DIR,
    NOT_CONFIGURED_REASON,
    Location,
    ReferenceData,
    clear_reference_cache,
    load_reference_data,
    load_reference_production,
    load_reference_tsv,
    read_bring_register,
    read_snapshot_date,
    snapshot_age_warning,
)


@pytest.fixture(scope="module")
def reference(reference_dir) -> ReferenceData:
    return load_reference_tsv(reference_dir)


def test_tsv_counts(reference):
    assert reference.available
    assert len(reference.counties) == 15
    assert len(reference.municipalities) == 357
    assert len(reference.postal_codes) == 5137


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (("0150", "Oslo", "Oslo"), ("0150", "Oslo", "Oslo")),
        (("5003", "Bergen", "Vestland"), ("5003", "Bergen", "Vestland")),
        ((" 5003 ", " bergen ", "VESTLAND"), ("5003", "Bergen", "Vestland")),
        (("5003", "Bergen kommune", "Vestland fylke"), ("5003", "Bergen", "Vestland")),
        (("5003", "4601", "46"), ("5003", "Bergen", "Vestland")),  # numbers
        # SSB full names and each language form; canonical SSB names are sent
        (("7011", "Trondheim", "Trøndelag"), ("7011", "Trondheim - Tråante", "Trøndelag - Trööndelage")),
        (
            ("7011", "Trondheim - Tråante", "Trööndelage"),
            ("7011", "Trondheim - Tråante", "Trøndelag - Trööndelage"),
        ),
        (
            ("9520", "Kautokeino", "Finnmark"),
            ("9520", "Guovdageaidnu - Kautokeino", "Finnmark - Finnmárku - Finmarkku"),
        ),
        (
            ("9520", "Guovdageaidnu", "Finnmárku"),
            ("9520", "Guovdageaidnu - Kautokeino", "Finnmark - Finnmárku - Finmarkku"),
        ),
        (("9008", "Tromsø", "Troms - Romsa - Tromssa"), ("9008", "Tromsø", "Troms - Romsa - Tromssa")),
        (("9008", "Tromsø", "Romsa"), ("9008", "Tromsø", "Troms - Romsa - Tromssa")),
        # duplicate names: qualified, or resolved by the county
        (("8850", "Herøy (Nordland)", "Nordland"), ("8850", "Herøy (Nordland)", "Nordland - Nordlánnda")),
        (("8850", "Herøy", "Nordland"), ("8850", "Herøy (Nordland)", "Nordland - Nordlánnda")),
        (("6090", "Herøy", "Møre og Romsdal"), ("6090", "Herøy (Møre og Romsdal)", "Møre og Romsdal")),
        (("1592", "Våler", "Østfold"), ("1592", "Våler (Østfold)", "Østfold")),
        (("1338", "Bærum", "Akershus"), ("1338", "Bærum", "Akershus")),
    ],
)
def test_valid_locations(reference, given, expected):
    location, reason = reference.validate_location(*given)
    assert reason is None
    assert location == Location(*expected)


@pytest.mark.parametrize(
    ("given", "status", "reason"),
    [
        (
            ("0150", "Bergen", "Vestland"),
            "invalid",
            "postal code 0150 belongs to municipality 0301 Oslo, not 4601 Bergen",
        ),
        (
            ("0150", "Oslo", "Vestland"),
            "invalid",
            "municipality 0301 Oslo is in county 03 Oslo, not 46 Vestland",
        ),
        (
            ("8850", "Herøy", "Møre og Romsdal"),
            "invalid",
            "postal code 8850 belongs to municipality 1818 Herøy (Nordland), not 1515",
        ),
        (("0150", "Oslo", "Viken"), "invalid", "county 'Viken' is not a Norwegian county"),
        (("0150", "Gotham", "Oslo"), "invalid", "municipality 'Gotham' is not a Norwegian municipality"),
        (("0150", "9999", "Oslo"), "invalid", "municipality number 9999 does not exist"),
        (("0150", "Oslo", "99"), "invalid", "county number 99 does not exist"),
        (("150", "Oslo", "Oslo"), "invalid", "postal code '150' is not 4 digits"),
        (("0150x", "Oslo", "Oslo"), "invalid", "is not 4 digits"),
        (("0000", "Oslo", "Oslo"), "invalid", "postal code 0000 does not exist"),
        (("9170", "Longyearbyen", "Troms"), "invalid", "postal code 9170 (LONGYEARBYEN) is on Svalbard"),
        (("8099", "Jan Mayen", "Nordland"), "invalid", "is on Jan Mayen"),
        (("0150", "Oslo", None), "incomplete", "county not configured"),
        (("", "  ", "Oslo"), "incomplete", "postal code and municipality not configured"),
        ((None, None, None), "not_configured", "no location configured"),
        (("", "", ""), "not_configured", "no location configured"),
    ],
)
def test_omitted_locations(reference, given, status, reason):
    verdict = reference.check_location(*given)
    assert verdict.location is None
    assert verdict.status == status
    assert reason in verdict.reason


def test_ambiguous_name_without_a_matching_county(reference):
    # 'Våler' exists in Østfold and Innlandet; with Oslo as county neither fits
    verdict = reference.check_location("0150", "Våler", "Oslo")
    assert verdict.status == "invalid"
    assert "ambiguous" in verdict.reason or "belongs to municipality 0301" in verdict.reason


def test_no_reference_data():
    data = ReferenceData.unavailable(NOT_CONFIGURED_REASON)
    assert not data.available
    location, reason = data.validate_location("0150", "Oslo", "Oslo")
    assert location is None
    assert reason == NOT_CONFIGURED_REASON
    # an unconfigured location is still reported as such
    assert data.check_location(None, None, None).status == "not_configured"


@pytest.mark.parametrize("location", [None, "", "  "])
def test_no_directory_means_the_shipped_snapshot(location, reference_dir):
    assert DEFAULT_REFERENCE_DIR == reference_dir
    data = load_reference_data(location)
    assert data.available
    assert data.source == f"TSV files in {DEFAULT_REFERENCE_DIR}"
    assert (len(data.counties), len(data.municipalities), len(data.postal_codes)) == (15, 357, 5137)
    assert data.snapshot_date == date(2024, 10, 1)


def test_quality_re_exports_the_verdict_codes():
    from library_integrations.pipelines.loan_report.report import quality

    assert quality.LOCATION_SENT is reference_data.LOCATION_SENT == "sent"
    assert quality.LOCATION_NO_REFERENCE_DATA == "no_reference_data"


@pytest.mark.parametrize(
    ("today", "stale"),
    [(date(2024, 10, 1), False), (date(2026, 3, 31), False), (date(2026, 4, 3), True), (date(2030, 1, 1), True)],
)
def test_snapshot_age_warning(today, stale):
    warning = snapshot_age_warning(date(2024, 10, 1), today=today)
    assert (warning is not None) == stale
    if stale:
        assert "2024-10-01" in warning
        assert "make refresh-reference" in warning and "python -m dev.refresh_reference" in warning
    assert snapshot_age_warning(None, today=today) is None


def test_loading_a_stale_snapshot_warns_and_still_works(reference_dir, tmp_path, caplog):
    for name in ("counties.tsv", "municipalities.tsv", "postal_codes.tsv"):
        (tmp_path / name).write_bytes((reference_dir / name).read_bytes())
    (tmp_path / "SOURCES.toml").write_text("snapshot_date = 2020-01-01\n", encoding="utf-8")
    clear_reference_cache()
    with caplog.at_level(logging.WARNING, logger=reference_data.__name__):
        data = load_reference_data(tmp_path)
    assert data.available and data.snapshot_date == date(2020, 1, 1)
    assert "snapshot is from 2020-01-01" in caplog.text
    assert "python -m dev.refresh_reference" in caplog.text

    (tmp_path / "SOURCES.toml").write_text(f"snapshot_date = {date.today().isoformat()}\n", encoding="utf-8")
    caplog.clear()
    clear_reference_cache()
    with caplog.at_level(logging.WARNING, logger=reference_data.__name__):
        assert load_reference_data(tmp_path).available
    assert "refresh" not in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snapshot_date = 2024-10-01\n", date(2024, 10, 1)),
        ('snapshot_date = "2024-10-01"\n', date(2024, 10, 1)),
        ("title = 'no date'\n", None),
        ("snapshot_date = \n", None),  # not TOML
        ('snapshot_date = "yesterday"\n', None),
    ],
)
def test_read_snapshot_date(tmp_path, text, expected):
    assert read_snapshot_date(tmp_path) is None  # no SOURCES.toml
    (tmp_path / "SOURCES.toml").write_text(text, encoding="utf-8")
    assert read_snapshot_date(tmp_path) == expected


def test_missing_or_unusable_directory(tmp_path):
    assert "not found" in load_reference_data(tmp_path / "absent").unavailable_reason
    (tmp_path / "README.txt").write_text("nothing here")
    data = load_reference_data(tmp_path)
    assert not data.available
    assert "postnummerregister-ansi.txt" in data.unavailable_reason


def test_load_reference_data_picks_tsv_and_caches(reference_dir):
    clear_reference_cache()
    first = load_reference_data(reference_dir)
    assert first.source.startswith("TSV files")
    assert load_reference_data(str(reference_dir)) is first


def _write_production_files(reference_dir: Path, target: Path) -> None:
    """Bring's and SSB's formats, made from the curated TSV files."""
    rows = list(csv.DictReader((reference_dir / "postal_codes.tsv").open(encoding="utf-8"), delimiter="\t"))
    lines = [
        "\t".join(
            [
                r["postal_code"],
                r["place_name"],
                r["municipality_number"],
                r["municipality_name"],
                r["category"],
            ]
        )
        for r in rows
    ]
    (target / "Postnummerregister-ansi.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode("iso-8859-1"))

    header = '"code";"parentCode";"level";"name";"shortName";"presentationName";"validFrom";"validTo";"notes"'
    municipalities = list(
        csv.DictReader((reference_dir / "municipalities.tsv").open(encoding="utf-8"), delimiter="\t")
    )
    out = [header] + [
        f'"{m["municipality_number"]}";"";"1";"{m["municipality_name"]}";"";"";"2024-01-01";"";""'
        for m in municipalities
    ]
    out += ['"2111";"";"1";"Spitsbergen";"";"";"";"";""', '"9999";"";"1";"Uoppgitt";"";"";"";"";""']
    (target / "kommuner.csv").write_bytes("\n".join(out).encode("utf-8"))

    counties = list(csv.DictReader((reference_dir / "counties.tsv").open(encoding="utf-8"), delimiter="\t"))
    out = [header]
    for c in counties:
        full = " - ".join([c["county_name"], *[n for n in c["other_names"].split("|") if n]])
        out.append(f'"{c["county_number"]}";"";"1";"{full}";"";"";"2024-01-01";"";""')
    out += ['"21";"";"1";"Svalbard";"";"";"";"";""', '"99";"";"1";"Uoppgitt";"";"";"";"";""']
    (target / "fylker.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(out).encode("utf-8"))


def test_production_formats_give_the_same_answers(reference_dir, reference, tmp_path):
    _write_production_files(reference_dir, tmp_path)
    production = load_reference_production(tmp_path)
    assert production.postal_codes == reference.postal_codes
    assert production.municipalities == reference.municipalities
    assert production.counties == reference.counties
    for given in [
        ("0150", "Oslo", "Oslo"),
        ("9520", "Kautokeino", "Finnmark"),
        ("0150", "Bergen", "Vestland"),
    ]:
        assert production.validate_location(*given) == reference.validate_location(*given)
    clear_reference_cache()
    assert load_reference_data(tmp_path).source.startswith("Postnummerregister-ansi.txt")


def test_ssb_csv_in_windows_1252(tmp_path):
    text = '"code";"name"\n"5610";"Kárášjohka - Karasjok"\n"1853";"Evenes - Evenášši"\n'
    (tmp_path / "kommuner.csv").write_bytes(text.encode("cp1252"))
    assert reference_data.read_ssb_classification(tmp_path / "kommuner.csv") == [
        ("5610", "Kárášjohka - Karasjok"),
        ("1853", "Evenes - Evenášši"),
    ]


def test_bring_register_is_latin_1(tmp_path):
    path = tmp_path / "postnummerregister-ansi.txt"
    path.write_bytes(
        "1338\tSANDVIKA\t3201\tBÆRUM\tG\r\n9170\tLONGYEARBYEN\t2100\tSVALBARD\tG\r\n".encode("latin-1")
    )
    codes = read_bring_register(path)
    assert codes["1338"].municipality_name == "BÆRUM"
    assert codes["9170"].municipality_number == "2100"


def test_malformed_file_makes_data_unavailable(reference_dir, tmp_path):
    _write_production_files(reference_dir, tmp_path)
    with (tmp_path / "Postnummerregister-ansi.txt").open("ab") as fh:
        fh.write(b"12X4\tNOWHERE\t0301\tOSLO\tG\r\n")
    clear_reference_cache()
    data = load_reference_data(tmp_path)
    assert not data.available
    assert "bad postal code '12X4'" in data.unavailable_reason
