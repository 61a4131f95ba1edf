"""The reference snapshot refresh (``dev/refresh_reference.py``) and the shipped snapshot."""

from __future__ import annotations

import csv
import json
import tomllib
from datetime import date
from pathlib import Path

import pytest
import requests

from dev import refresh_reference as rr
from library_integrations.common.reference_data import (
    DEFAULT_REFERENCE_DIR,
    clear_reference_cache,
    load_reference_data,
    load_reference_tsv,
)

DAY = "2026-01-15"

# Small synthetic registers, in the publishers' shapes: unsorted, pseudo-regions included.
COUNTIES = [
    ("46", "Vestland"),
    ("03", "Oslo"),
    ("55", "Troms - Romsa - Tromssa"),
    ("21", "Svalbard"),
    ("99", "Uoppgitt"),
]
MUNICIPALITIES = [
    ("4601", "Bergen"),
    ("0301", "Oslo"),
    ("5501", "Tromsø"),
    ("5544", "Kåfjord - Gáivuotna - Kaivuono"),
    ("2111", "Spitsbergen"),
    ("9999", "Uoppgitt"),
]
BRING = [
    "5003\tBERGEN\t4601\tBERGEN\tG",
    "0150\tOSLO\t0301\tOSLO\tG",
    "0001\tOSLO\t0301\tOSLO\tP",
    "9008\tTROMSØ\t5501\tTROMSØ\tB",
    "9146\tOLDERDALEN\t5544\tGÁIVUOTNA KÅFJORD\tG",
    "9170\tLONGYEARBYEN\t2100\tSVALBARD\tG",
    "8099\tJAN MAYEN\t2211\tJAN MAYEN\tS",
]

EXPECTED = {
    "counties.tsv": "county_number\tcounty_name\tother_names\n"
    "03\tOslo\t\n"
    "46\tVestland\t\n"
    "55\tTroms\tRomsa|Tromssa\n",
    "municipalities.tsv": "municipality_number\tmunicipality_name\tcounty_number\n"
    "0301\tOslo\t03\n"
    "4601\tBergen\t46\n"
    "5501\tTromsø\t55\n"
    "5544\tKåfjord - Gáivuotna - Kaivuono\t55\n",
    "postal_codes.tsv": "postal_code\tplace_name\tmunicipality_number\tmunicipality_name\tcategory\n"
    "0001\tOSLO\t0301\tOSLO\tP\n"
    "0150\tOSLO\t0301\tOSLO\tG\n"
    "5003\tBERGEN\t4601\tBERGEN\tG\n"
    "8099\tJAN MAYEN\t2211\tJAN MAYEN\tS\n"
    "9008\tTROMSØ\t5501\tTROMSØ\tB\n"
    "9146\tOLDERDALEN\t5544\tGÁIVUOTNA KÅFJORD\tG\n"
    "9170\tLONGYEARBYEN\t2100\tSVALBARD\tG\n",
}


def bring_bytes(lines) -> bytes:
    """Bring's format: ISO-8859-1, tab-separated, CRLF, no header."""
    return "".join(line + "\r\n" for line in lines).encode("iso-8859-1")


def klass_json(rows) -> bytes:
    codes = [
        {"code": code, "parentCode": None, "level": "1", "name": name, "shortName": "", "presentationName": "",
         "validFrom": "2024-01-01", "validTo": None, "notes": ""}
        for code, name in rows
    ]  # fmt: skip
    return json.dumps({"codes": codes}, ensure_ascii=False).encode("utf-8")


def write_inputs(directory: Path, bring=BRING, counties=COUNTIES, municipalities=MUNICIPALITIES) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "postnummerregister-ansi.txt").write_bytes(bring_bytes(bring))
    (directory / "klass_104.json").write_bytes(klass_json(counties))
    (directory / "klass_131.json").write_bytes(klass_json(municipalities))
    return directory


def run(*args: str | Path) -> int:
    return rr.main([str(a) for a in args])


def snapshot_bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture()
def old_snapshot(tmp_path) -> Path:
    """A directory holding a snapshot already (built from the synthetic registers)."""
    out = tmp_path / "out"
    assert run("--from-dir", write_inputs(tmp_path / "first"), "--out", out, "--date", DAY) == 0
    (out / "README.md").write_text("kept as is\n", encoding="utf-8")
    return out


# ---------------------------------------------------------------------------- output format
def test_builds_the_snapshot_format(tmp_path, capsys):
    out = tmp_path / "out"
    assert run("--from-dir", write_inputs(tmp_path / "in"), "--out", out, "--date", DAY) == 0
    for name, text in EXPECTED.items():
        data = (out / name).read_bytes()
        assert data == text.encode("utf-8")  # UTF-8, LF, header, sorted, leading zeros, no BOM
        assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")

    sources = tomllib.loads((out / "SOURCES.toml").read_text(encoding="utf-8"))
    assert sources["snapshot_date"] == date(2026, 1, 15)
    assert sources["valid_from"] == date(2024, 1, 1)
    assert set(sources["files"]) == set(EXPECTED)
    for name, entry in sources["files"].items():
        assert entry["sha256"] == rr.sha256((out / name).read_bytes())
        assert entry["rows"] == len(EXPECTED[name].splitlines()) - 1
        assert entry["retrieved"] == date(2026, 1, 15)
    assert sources["files"]["municipalities.tsv"]["url"] == (
        "https://data.ssb.no/api/klass/v1/classifications/131/codesAt.json?date=2026-01-15"
    )
    assert sources["files"]["postal_codes.tsv"]["url"] == "https://www.bring.no/postnummerregister-ansi.txt"
    assert not list(out.glob(".refresh-*"))

    printed = capsys.readouterr().out
    assert "1 postal code on Jan Mayen (2211)" in printed
    assert "1 municipality names differ" in printed  # GÁIVUOTNA KÅFJORD; the others match
    assert "postal_codes.tsv: new file, 7 rows" in printed

    clear_reference_cache()
    data = load_reference_data(out)
    assert data.snapshot_date == date(2026, 1, 15)
    assert data.validate_location("9146", "Kåfjord", "Romsa")[0].county == "Troms - Romsa - Tromssa"


def test_klass_csv_exports_give_the_same_files(tmp_path):
    """The KLASS CSV exports the loader reads work as input too (semicolons, quotes, BOM)."""
    source = tmp_path / "in"
    source.mkdir()
    (source / "Postnummerregister-ansi.txt").write_bytes(bring_bytes(BRING))
    for name, rows in (("fylker.csv", COUNTIES), ("kommuner.csv", MUNICIPALITIES)):
        lines = ['"code";"parentCode";"level";"name"'] + [f'"{c}";"";"1";"{n}"' for c, n in rows]
        (source / name).write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))
    assert run("--from-dir", source, "--out", tmp_path / "out", "--date", DAY) == 0
    for name, text in EXPECTED.items():
        assert (tmp_path / "out" / name).read_text(encoding="utf-8") == text


def _publishers_files_from(snapshot: Path, target: Path) -> Path:
    """Bring's register and KLASS answers that hold exactly the rows of ``snapshot``."""
    def rows(name):
        return list(csv.reader((snapshot / name).open(encoding="utf-8"), delimiter="\t"))[1:]

    counties = [(c[0], " - ".join([c[1], *[n for n in c[2].split("|") if n]])) for c in rows("counties.tsv")]
    municipalities = [(m[0], m[1]) for m in rows("municipalities.tsv")]
    bring = ["\t".join(p) for p in rows("postal_codes.tsv")]
    return write_inputs(
        target,
        bring=bring[::-1],
        counties=counties + [("21", "Svalbard"), ("22", "Jan Mayen"), ("99", "Uoppgitt")],
        municipalities=municipalities + [("2111", "Spitsbergen"), ("2211", "Jan Mayen"), ("9999", "Uoppgitt")],
    )


def test_rebuilding_the_shipped_snapshot_gives_identical_bytes(tmp_path, reference_dir, capsys):
    source = _publishers_files_from(reference_dir, tmp_path / "in")
    assert run("--from-dir", source, "--out", tmp_path / "out", "--date", "2024-10-01") == 0
    for name in ("counties.tsv", "municipalities.tsv", "postal_codes.tsv"):
        assert (tmp_path / "out" / name).read_bytes() == (reference_dir / name).read_bytes(), name
    printed = capsys.readouterr().out
    assert "26 municipality names differ between Bring and SSB" in printed  # as the README says
    assert "7 postal codes on Svalbard (2100)" in printed
    # and against the shipped snapshot itself, nothing changes
    assert run("--from-dir", source, "--out", reference_dir, "--date", "2024-10-01", "--dry-run") == 0
    printed = capsys.readouterr().out
    assert "postal_codes.tsv: unchanged, 5137 rows" in printed
    assert "dry run: nothing written" in printed


# ---------------------------------------------------------------------------- checks
def _without(rows, code):
    return [r for r in rows if (r[0] if isinstance(r, tuple) else r.split("\t")[0]) != code]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"bring": _without(BRING, "5003")},
            "municipalities without a postal code: 4601 Bergen",
        ),
        (
            {"bring": [*BRING, "5020\tBERGEN\t4699\tBERGEN\tG"]},
            "postal codes in municipalities SSB does not list: 4699 BERGEN (postal code 5020)",
        ),
        (
            {"municipalities": [*MUNICIPALITIES, ("4701", "Nowhere")], "bring": [*BRING, "4700\tX\t4701\tX\tG"]},
            "municipalities in no county: 4701 Nowhere",
        ),
        ({"counties": [*COUNTIES, ("47", "Empty")]}, "counties without municipalities: 47 Empty"),
        ({"bring": [*BRING, "150\tOSLO\t0301\tOSLO\tG"]}, "postal code '150' is not 4 digits (leading zero lost?)"),
        ({"bring": [*BRING, "0151\tOSLO\t301\tOSLO\tG"]}, "municipality number '301' is not 4 digits"),
        ({"municipalities": [("301", "Oslo"), *MUNICIPALITIES[:1]]}, "municipality code '301' is not 4 digits"),
        ({"counties": [("3", "Oslo"), *COUNTIES]}, "county code '3' is not 2 digits (leading zero lost?)"),
        ({"bring": [*BRING, "0150\tOSLO\t0301\tOSLO\tP"]}, "postal codes listed more than once: 0150"),
        ({"bring": ["<!DOCTYPE html>", *BRING]}, "line 1: expected 5 tab-separated fields, got 1"),
        ({"bring": [*BRING, "0152\tOSLO\t0301\tOSLO"]}, "expected 5 tab-separated fields, got 4"),
        ({"bring": [*BRING, "0152\t \t0301\tOSLO\tG"]}, "empty place name"),
        ({"bring": []}, "no postal codes"),
    ],
)
def test_inconsistent_input_fails_and_leaves_the_snapshot(tmp_path, old_snapshot, capsys, inputs, message):
    before = snapshot_bytes(old_snapshot)
    source = write_inputs(tmp_path / "bad", **inputs)
    assert run("--from-dir", source, "--out", old_snapshot, "--date", DAY) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("refresh_reference: ")
    assert err.rstrip().endswith("left unchanged")
    assert snapshot_bytes(old_snapshot) == before
    assert not list(old_snapshot.glob(".refresh-*"))


def test_missing_input_files(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    assert run("--from-dir", tmp_path / "in", "--out", tmp_path / "out") == 1
    assert "postnummerregister-ansi.txt (Bring's register" in capsys.readouterr().err
    (tmp_path / "in" / "postnummerregister-ansi.txt").write_bytes(bring_bytes(BRING))
    assert run("--from-dir", tmp_path / "in", "--out", tmp_path / "out") == 1
    assert "KLASS 104 is missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- writing
def test_write_is_all_or_nothing(tmp_path, old_snapshot, monkeypatch):
    before = snapshot_bytes(old_snapshot)
    real_replace = rr.os.replace

    def failing_replace(src, dst):
        if Path(dst).name == "SOURCES.toml":  # the last file: the others are replaced already
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(rr.os, "replace", failing_replace)
    source = write_inputs(tmp_path / "in", bring=_without(BRING, "0150"))
    assert run("--from-dir", source, "--out", old_snapshot, "--date", "2026-02-01") == 1
    assert snapshot_bytes(old_snapshot) == before
    assert not list(old_snapshot.glob(".refresh-*"))

    monkeypatch.setattr(rr.os, "replace", real_replace)
    assert run("--from-dir", source, "--out", old_snapshot, "--date", "2026-02-01") == 0
    after = snapshot_bytes(old_snapshot)
    assert after["README.md"] == before["README.md"]  # README is never written
    assert b"0150\t" not in after["postal_codes.tsv"]


def test_diff_summary(tmp_path, old_snapshot, capsys):
    bring = [line.replace("OLDERDALEN", "OLDERDAL") for line in _without(BRING, "0001")] + [
        "5020\tBERGEN\t4601\tBERGEN\tP"
    ]
    source = write_inputs(tmp_path / "in", bring=bring)
    assert run("--from-dir", source, "--out", old_snapshot, "--date", "2026-02-01") == 0
    printed = capsys.readouterr().out
    assert (
        "postal_codes.tsv: 7 -> 7 rows; 1 added (5020 BERGEN); 1 removed (0001 OSLO); "
        "1 changed (9146: OLDERDALEN -> OLDERDAL)" in printed
    )
    assert "counties.tsv: unchanged, 3 rows" in printed
    sources = tomllib.loads((old_snapshot / "SOURCES.toml").read_text(encoding="utf-8"))
    assert sources["snapshot_date"] == date(2026, 2, 1)


def test_dry_run_writes_nothing(tmp_path, old_snapshot):
    before = snapshot_bytes(old_snapshot)
    source = write_inputs(tmp_path / "in", bring=_without(BRING, "0150"))
    assert run("--from-dir", source, "--out", old_snapshot, "--dry-run") == 0
    assert snapshot_bytes(old_snapshot) == before


# ---------------------------------------------------------------------------- downloading
def _response(url: str, status: int, content: bytes = b"") -> requests.Response:
    response = requests.Response()
    response.status_code, response.url, response._content = status, url, content
    response.reason = {200: "OK", 404: "Not Found"}.get(status, "")
    return response


def test_download_unreachable_is_one_line_and_writes_nothing(tmp_path, old_snapshot, monkeypatch, capsys):
    def unreachable(self, url, **kwargs):
        raise requests.ConnectionError(
            "HTTPSConnectionPool(host='www.bring.no', port=443): Max retries exceeded (Caused by "
            "NameResolutionError(\"Failed to resolve 'www.bring.no' ([Errno -2] Name or service not known)\"))"
        )

    monkeypatch.setattr(requests.Session, "get", unreachable)
    before = snapshot_bytes(old_snapshot)
    assert run("--out", old_snapshot) == 1
    err = capsys.readouterr().err
    assert err == (
        "refresh_reference: cannot download https://www.bring.no/postnummerregister-ansi.txt: host not "
        f"found (no network or DNS?); {old_snapshot} left unchanged\n"
    )
    assert snapshot_bytes(old_snapshot) == before


def test_download_http_error(tmp_path, old_snapshot, monkeypatch, capsys):
    def get(self, url, **kwargs):
        if "klass" in url:
            return _response(url, 404)
        return _response(url, 200, bring_bytes(BRING))

    monkeypatch.setattr(requests.Session, "get", get)
    assert run("--out", old_snapshot, "--date", DAY) == 1
    err = capsys.readouterr().err
    assert "cannot download https://data.ssb.no/api/klass/v1/classifications/104/codesAt.json?date=2026-01-15" in err
    assert "HTTP 404 Not Found" in err


def test_download_builds_and_saves_the_raw_files(tmp_path, monkeypatch, capsys):
    answers = {
        rr.BRING_URL: bring_bytes(BRING),
        rr.KLASS_URL.format(id=104, date=DAY): klass_json(COUNTIES),
        rr.KLASS_URL.format(id=131, date=DAY): klass_json(MUNICIPALITIES),
    }
    asked = []

    def get(self, url, **kwargs):
        asked.append(url)
        assert kwargs["timeout"]
        return _response(url, 200, answers[url])

    monkeypatch.setattr(requests.Session, "get", get)
    out, saved = tmp_path / "out", tmp_path / "downloads"
    assert run("--out", out, "--date", DAY, "--save-downloads", saved) == 0
    assert sorted(asked) == sorted(answers)
    for name, text in EXPECTED.items():
        assert (out / name).read_text(encoding="utf-8") == text
    sources = tomllib.loads((out / "SOURCES.toml").read_text(encoding="utf-8"))
    assert sources["snapshot_date"] == date.today()  # retrieved today; KLASS asked for DAY
    assert sources["classification_date"] == date(2026, 1, 15)
    assert "local_copy" not in sources["files"]["postal_codes.tsv"]
    # the saved downloads rebuild the same files offline
    assert sorted(p.name for p in saved.iterdir()) == ["klass_104.json", "klass_131.json", "postnummerregister-ansi.txt"]
    assert run("--from-dir", saved, "--out", tmp_path / "again", "--date", DAY) == 0
    for name in EXPECTED:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()


def test_klass_answer_of_the_wrong_shape(tmp_path, capsys):
    source = write_inputs(tmp_path / "in")
    (source / "klass_131.json").write_text('{"error": "not found"}', encoding="utf-8")
    assert run("--from-dir", source, "--out", tmp_path / "out") == 1
    assert "klass_131.json: not a KLASS codesAt JSON answer" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the shipped snapshot
def test_shipped_snapshot_matches_its_sources_file():
    sources = tomllib.loads((DEFAULT_REFERENCE_DIR / "SOURCES.toml").read_text(encoding="utf-8"))
    assert sources["snapshot_date"] == date(2024, 10, 1)
    assert sources["valid_from"] == date(2024, 1, 1)
    assert set(sources["files"]) == {"counties.tsv", "municipalities.tsv", "postal_codes.tsv"}
    for name, entry in sources["files"].items():
        data = (DEFAULT_REFERENCE_DIR / name).read_bytes()
        assert entry["sha256"] == rr.sha256(data), f"{name} changed without updating SOURCES.toml"
        assert entry["rows"] == data.count(b"\n") - 1
        assert entry["url"].startswith("https://") and isinstance(entry["retrieved"], date)


def test_shipped_snapshot_loads_with_the_expected_counts():
    data = load_reference_tsv(DEFAULT_REFERENCE_DIR)
    assert (len(data.counties), len(data.municipalities), len(data.postal_codes)) == (15, 357, 5137)
    clear_reference_cache()
    loaded = load_reference_data()
    assert loaded.available and loaded.snapshot_date == date(2024, 10, 1)
    assert len(loaded.postal_codes) == 5137


def test_shipped_readme_names_every_file():
    readme = (DEFAULT_REFERENCE_DIR / "README.md").read_text(encoding="utf-8")
    for name in ("counties.tsv", "municipalities.tsv", "postal_codes.tsv", "SOURCES.toml"):
        assert name in readme
    assert "../shared" not in readme
    assert "python -m dev.refresh_reference" in readme
