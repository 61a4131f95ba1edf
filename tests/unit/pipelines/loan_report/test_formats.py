"""Material type -> Bokbasen format mapping (include/config/material_formats.toml)."""

import re

import pyarrow as pa
import pytest

from dev import DEV_DIR
from library_integrations.pipelines.loan_report.report.formats import (
    BOKBASEN_FORMATS,
    DEFAULT_FORMATS_FILE,
    FORMAT_EXCLUDED,
    FORMAT_UNKNOWN,
    MaterialFormats,
    MaterialFormatsError,
    load_material_formats,
)

EXPECTED = {
    "BOOK": "PAPER",
    "LARGE_PRINT": "PAPER",
    "NEWSPAPER": "PAPER",
    "SERIAL": "PAPER",
    "MUSICAL_SCORE": "PAPER",
    "MANUSCRIPT": "PAPER",
    "AUDIOBOOK_CD": "AUDIO",
    "AUDIOBOOK_CASSETTE": "AUDIO",
    "AUDIOBOOK_DAISY": "AUDIO",
    "AUDIOBOOK_ONLINE": "AUDIO",
    "EBOOK": "EBOOK",
    "DVD": "EXCLUDED",
    "BLURAY": "EXCLUDED",
    "VIDEO_GAME": "EXCLUDED",
    "MUSIC_CD": "EXCLUDED",
    "BOARD_GAME": "EXCLUDED",
    "EQUIPMENT": "EXCLUDED",
}


def test_default_file_maps_the_design_codes():
    formats = load_material_formats()
    assert dict(formats.mapping) == EXPECTED
    assert formats.source == str(DEFAULT_FORMATS_FILE)


def test_every_reference_material_type_is_mapped():
    sql = (DEV_DIR / "sql" / "lms" / "002_material_types.sql").read_text(encoding="utf-8")
    codes = set(re.findall(r"\('([A-Z_]+)',", sql))
    assert codes, "no material type codes found in the reference data"
    assert codes <= set(load_material_formats().mapping)


def test_classify_vector():
    formats = load_material_formats()
    codes = pa.array(["BOOK", " book ", "dvd", "EBOOK", "AUDIOBOOK_DAISY", "VINYL", None, "", "   "])
    paper, ebook, audio = (BOKBASEN_FORMATS.index(f) for f in ("PAPER", "EBOOK", "AUDIO"))
    assert formats.classify(codes).to_pylist() == [
        paper,
        paper,
        FORMAT_EXCLUDED,
        ebook,
        audio,
        FORMAT_UNKNOWN,
        FORMAT_UNKNOWN,
        FORMAT_UNKNOWN,
        FORMAT_UNKNOWN,
    ]
    assert (
        formats.classify(pa.chunked_array([codes[:2], codes[2:]])).to_pylist()
        == formats.classify(codes).to_pylist()
    )


def test_scalar_lookup():
    formats = load_material_formats()
    assert formats.format_of(" Musical_Score ") == "PAPER"
    assert formats.format_of("DVD") == "EXCLUDED"
    assert formats.format_of("VINYL") is None
    assert formats.format_of(None) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[formats]\nBOOK = "PAPERBACK"\n', "BOOK = 'PAPERBACK'"),
        ("[formats]\nBOOK = 3\n", "format must be one of AUDIO, EBOOK, PAPER, EXCLUDED"),
        ('[formats]\nBOOK = "PAPER"\nbook = "AUDIO"\n', "listed twice"),
        ('[other]\nBOOK = "PAPER"\n', "missing the [formats] table"),
        ("[formats]\n", "non-empty table"),
        ('[formats\nBOOK = "PAPER"\n', "not valid TOML"),
        ('BOOK = "PAPER"\n[formats]\nDVD = "EXCLUDED"\n', "unexpected top-level keys"),
    ],
)
def test_loader_rejects_bad_files(tmp_path, text, message):
    path = tmp_path / "formats.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MaterialFormatsError) as err:
        load_material_formats(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_loader_missing_file(tmp_path):
    with pytest.raises(MaterialFormatsError, match="not found"):
        load_material_formats(tmp_path / "absent.toml")


def test_values_are_case_insensitive_and_normalised():
    formats = MaterialFormats.from_mapping({" book ": "paper", "Dvd": "excluded"})
    assert dict(formats.mapping) == {"BOOK": "PAPER", "DVD": "EXCLUDED"}
