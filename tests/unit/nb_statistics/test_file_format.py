"""NB file format, borrower-category configuration, settings and file names, without a database."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from library_integrations.common.isbn import to_isbn13
from library_integrations.common.settings import MissingSettingError
from library_integrations.pipelines.nb_statistics import fileformat, settings
from library_integrations.pipelines.nb_statistics.config import ConfigError, load_categories, load_file_format
from library_integrations.pipelines.nb_statistics.payloads import LibraryFigures, StagedStatistics

FMT = load_file_format()


def staged(csv_bytes: bytes) -> StagedStatistics:
    import hashlib

    return StagedStatistics(
        month=date(2026, 3, 1), start_utc=datetime(2026, 2, 28, 23, tzinfo=UTC),
        end_utc=datetime(2026, 3, 31, 22, tzinfo=UTC), library_system="Demo", csv_path="memory://x.csv",
        csv_sha256=hashlib.sha256(csv_bytes).hexdigest(), csv_bytes=len(csv_bytes), rows=2, content_sha256="",
        libraries=[LibraryFigures(1, "NO-2000001", "Deichman; Bjørvika", 10, 7, 3, 2)], excluded=[])


CSV = (FMT.header() + "2026-03;NO-2000001;\"Deichman; Bjørvika\";9788203364181;\"Sult \"\"ny\"\"\";Ham;1890;"
       "skjønn;voksen;voksen;5\r\n2026-03;NO-2000001;\"Deichman; Bjørvika\";9788203364181;Sult;Ham;1890;skjønn;"
       "voksen;barn;2\r\n".encode())


def test_a_well_formed_file_passes_every_check():
    facts = fileformat.read_back(io.BytesIO(CSV), FMT)
    assert (facts.rows, facts.loans_per_isil) == (2, {"NO-2000001": 7})
    assert fileformat.check_file(facts, staged(CSV), FMT, counted={1: 10})


def test_a_wrong_count_names_the_library_and_both_figures():
    facts = fileformat.read_back(io.BytesIO(CSV), FMT)
    with pytest.raises(fileformat.FileCheckError, match=r"NO-2000001: file 7 \+ uten_isbn 3 = 10, but the library lent 11"):
        fileformat.check_file(facts, staged(CSV), FMT, counted={1: 11})


def test_a_wrong_header_is_refused():
    with pytest.raises(fileformat.FileCheckError, match="header"):
        fileformat.read_back(io.BytesIO(CSV.replace(b"maaned", b"month", 1)), FMT)


def test_manifest_is_deterministic_and_names_its_version():
    body = fileformat.manifest_body(staged(CSV), FMT)
    names = fileformat.file_names(FMT, "Demo", date(2026, 3, 1), 2)
    one = fileformat.render_manifest(body, names, 2, "nb_utlan_demo_2026-03.csv")
    assert one == fileformat.render_manifest(fileformat.manifest_body(staged(CSV), FMT), names, 2,
                                             "nb_utlan_demo_2026-03.csv")
    assert b'"versjon": 2' in one and b'"fra_utc": "2026-02-28T23:00:00Z"' in one and one.endswith(b"}\n")
    # The identity does not depend on the version, but on every figure.
    changed = replace(staged(CSV), libraries=[replace(staged(CSV).libraries[0], without_isbn=4)])
    assert fileformat.content_sha256(body) != fileformat.content_sha256(fileformat.manifest_body(changed, FMT))


def test_category_mapping_is_checked(tmp_path):
    cats = load_categories()
    assert cats.codes["PENS"] == "voksen" and "U" not in cats.codes
    bad = tmp_path / "c.toml"
    bad.write_text('[categories]\nV = "voksne"\n')
    with pytest.raises(ConfigError, match="V = 'voksne': not one of barn"):
        load_categories(bad)


def test_file_format_is_checked(tmp_path):
    bad = tmp_path / "f.toml"
    bad.write_text('delimiter = ":"\n')
    with pytest.raises(ConfigError, match="delimiter"):
        load_file_format(bad)


def test_library_system_is_required_and_named(monkeypatch):
    monkeypatch.delenv("NB_STATISTICS_LIBRARY_SYSTEM", raising=False)
    with pytest.raises(MissingSettingError, match="NB_STATISTICS_LIBRARY_SYSTEM is not set"):
        settings.load().require_library_system()
    monkeypatch.setenv("NB_STATISTICS_TARGET", "object_storage")
    with pytest.raises(MissingSettingError, match="NB_STATISTICS_TARGET_URL"):
        settings.load().require_target()


@pytest.mark.parametrize("raw, expected", [
    ("82-03-36418-7", "9788203364181"), ("978 82 03 36418 1", "9788203364181"), ("ISBN 8203364187", "9788203364181"),
    ("979-10-90636-07-1", "9791090636071"), ("9790260000438", None), ("9771234567003", None), ("203364187", None),
    ("978-82-03-36418-2", None), ("ukjent", None), ("", None), (None, None),
])
def test_isbn13_of_catalogued_values(raw, expected):
    assert to_isbn13(raw) == expected


def test_isbn13_agrees_with_stdnums_own_path():
    """The fast path (EAN check digit on 13 digits) gives exactly what stdnum.isbn's validate + to_isbn13 give."""
    import random

    from stdnum import isbn as stdnum_isbn
    from stdnum.exceptions import ValidationError

    rng = random.Random(7)
    values = []
    for _ in range(3000):
        body = rng.choice(["97882", "97891", "97910", "9790", "977", "50"]) + "".join(rng.choices("0123456789", k=8))
        digits = (body + "".join(rng.choices("0123456789", k=13)))[:13]
        values += [digits, digits[3:], digits[3:12] + "X", "-".join([digits[:3], digits[3:5], digits[5:]])]

    def reference(value):
        compact = value.replace("-", "").replace(" ", "")
        if len(compact) not in (10, 13) or compact.startswith("9790"):
            return None
        try:
            return stdnum_isbn.to_isbn13(stdnum_isbn.validate(compact))
        except ValidationError:
            return None

    assert [to_isbn13(v) for v in values] == [reference(v) for v in values]
    assert sum(to_isbn13(v) is not None for v in values) > 500
