"""Refresh the reference snapshot in ``include/reference`` from its publishers.

    .venv/bin/python -m dev.refresh_reference [--out include/reference] [--from-dir DIR]
                                              [--date YYYY-MM-DD] [--save-downloads DIR] [--dry-run]
    make refresh-reference [REFRESH_ARGS="--from-dir DIR"]

Like python-stdnum's ``update/`` scripts: fetch the published registers, rebuild the data
files the project ships, review the diff, commit. Steps:

1. **Fetch** Bring's postal code register, https://www.bring.no/postnummerregister-ansi.txt
   (ISO-8859-1, tab-separated, CRLF, no header: postal code, place, municipality number,
   municipality name, category), and Statistics Norway's KLASS classifications 104 (counties)
   and 131 (municipalities) valid on ``--date`` (default today), from
   ``https://data.ssb.no/api/klass/v1/classifications/<id>/codesAt.json?date=YYYY-MM-DD``.
   With ``--from-dir DIR`` nothing is downloaded: DIR holds ``postnummerregister-ansi.txt``
   and ``klass_104.json`` / ``klass_131.json`` (as ``--save-downloads`` writes them), or the
   KLASS CSV exports the loader also reads (``fylker.csv``, ``kommuner.csv``, ...).
2. **Build** ``counties.tsv``, ``municipalities.tsv`` and ``postal_codes.tsv`` in exactly the
   snapshot's format: UTF-8 without BOM, tab-separated, one header row, LF, sorted by code,
   codes as text with their leading zeros. SSB's pseudo-regions (county codes 21-29 and 99,
   and the municipalities under them) are left out; a county's ``" - "``-joined Sámi/Kven
   names go to ``other_names``, separated by ``|``.
3. **Check** (any failure stops the refresh; the snapshot is left untouched): codes are
   2/4 digits; no code appears twice; every municipality's county exists; every county has
   a municipality; every municipality has at least one postal code; every postal code's
   municipality is a municipality, except Bring's codes for Svalbard (2100) and Jan Mayen
   (2211). Bring's municipality names that differ from SSB's are only counted (Bring drops
   Sámi/Kven parts; the loader joins on numbers).
4. **Write** the three files and ``SOURCES.toml`` (snapshot date, and per file source URL,
   retrieval date, row count, SHA-256). Every file is written to a temporary file in the
   target directory and renamed over the old one; if a rename fails, the files already
   replaced are put back. ``README.md`` is not touched: update its dates, counts and known
   gaps by hand.
5. **Report** what changed: rows added, removed and changed per file, with examples.

When a download fails (no network, HTTP error) the command prints one line naming the URL
and exits with status 1; nothing is written. Download on a machine with network access with
``--save-downloads DIR`` (or fetch the three URLs by hand) and run ``--from-dir DIR`` here.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from library_integrations.common.reference_data import (
    BRING_FILE,
    DEFAULT_REFERENCE_DIR,
    NON_COUNTY_CODES,
    OUTSIDE_MUNICIPALITIES,
    SOURCES_FILE,
    SSB_COUNTY_FILES,
    SSB_MUNICIPALITY_FILES,
    ReferenceDataError,
    read_ssb_classification,
)

BRING_URL = "https://www.bring.no/postnummerregister-ansi.txt"
KLASS_URL = "https://data.ssb.no/api/klass/v1/classifications/{id}/codesAt.json?date={date}"
KLASS_COUNTIES, KLASS_MUNICIPALITIES = 104, 131
KLASS_JSON = {KLASS_COUNTIES: "klass_104.json", KLASS_MUNICIPALITIES: "klass_131.json"}
TIMEOUT = (10, 120)  # connect, read (seconds)

COUNTIES, MUNICIPALITIES, POSTAL_CODES = "counties.tsv", "municipalities.tsv", "postal_codes.tsv"
HEADERS: dict[str, tuple[str, ...]] = {
    COUNTIES: ("county_number", "county_name", "other_names"),
    MUNICIPALITIES: ("municipality_number", "municipality_name", "county_number"),
    POSTAL_CODES: ("postal_code", "place_name", "municipality_number", "municipality_name", "category"),
}
CATEGORIES = {"G", "P", "B", "S", "F"}  # Bring's documented categories
LICENCES = {
    COUNTIES: "SSB: free reuse with attribution (CC BY 4.0 / NLOD), see README.md",
    MUNICIPALITIES: "SSB: free reuse with attribution (CC BY 4.0 / NLOD), see README.md",
    POSTAL_CODES: "Posten Bring: published for free download and use; no formal licence, see README.md",
}
MAX_LISTED = 5


class RefreshError(Exception):
    """The refresh cannot go on; the message is one line."""


# ---------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Source:
    url: str
    retrieved: date
    local_copy: str | None = None  # file name in --from-dir


@dataclass
class Inputs:
    """The raw registers: Bring's file and the (code, name) rows of KLASS 104 and 131."""

    bring: bytes
    counties: list[tuple[str, str]]
    municipalities: list[tuple[str, str]]
    sources: dict[str, Source]
    valid_from: date | None = None  # the newest ``validFrom`` among the KLASS codes, if given


def parse_klass_json(data: bytes, name: str) -> tuple[list[tuple[str, str]], date | None]:
    """``(code, name)`` rows and the newest ``validFrom`` of a KLASS ``codesAt.json`` answer."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
        codes = document["codes"]
        rows = [(str(c["code"]).strip(), str(c["name"]).strip()) for c in codes]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise RefreshError(f"{name}: not a KLASS codesAt JSON answer with 'codes' ({exc})") from exc
    if not rows:
        raise RefreshError(f"{name}: KLASS returned no codes")
    starts = []
    for c in codes:
        try:
            starts.append(date.fromisoformat(str(c.get("validFrom") or "")[:10]))
        except ValueError:
            pass
    return rows, max(starts, default=None)


def _find(directory: Path, names: Iterable[str]) -> Path | None:
    present = {p.name.lower(): p for p in directory.iterdir() if p.is_file()}
    for name in names:
        if name.lower() in present:
            return present[name.lower()]
    return None


def read_inputs(directory: Path, day: date) -> Inputs:
    """The registers from files already downloaded into ``directory`` (``--from-dir``)."""
    if not directory.is_dir():
        raise RefreshError(f"--from-dir {directory}: no such directory")
    bring = _find(directory, [BRING_FILE])
    if bring is None:
        raise RefreshError(f"{directory}: {BRING_FILE} (Bring's register, {BRING_URL}) is missing")
    sources = {POSTAL_CODES: Source(BRING_URL, day, bring.name)}
    tables: dict[int, list[tuple[str, str]]] = {}
    starts: list[date] = []
    for klass, table, csv_names in (
        (KLASS_COUNTIES, COUNTIES, SSB_COUNTY_FILES),
        (KLASS_MUNICIPALITIES, MUNICIPALITIES, SSB_MUNICIPALITY_FILES),
    ):
        path = _find(directory, [KLASS_JSON[klass], *csv_names])
        if path is None:
            raise RefreshError(
                f"{directory}: KLASS {klass} is missing (one of {KLASS_JSON[klass]}, {', '.join(csv_names)})"
            )
        if path.suffix.lower() == ".json":
            tables[klass], start = parse_klass_json(path.read_bytes(), path.name)
            starts += [start] if start else []
        else:
            try:
                tables[klass] = read_ssb_classification(path)
            except ReferenceDataError as exc:
                raise RefreshError(str(exc)) from exc
        sources[table] = Source(KLASS_URL.format(id=klass, date=day.isoformat()), day, path.name)
    return Inputs(
        bring.read_bytes(),
        tables[KLASS_COUNTIES],
        tables[KLASS_MUNICIPALITIES],
        sources,
        max(starts, default=None),
    )


def _describe(exc: Exception) -> str:
    """A short, one-line reason for a failed download."""
    import requests

    text = str(exc)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if "Failed to resolve" in text or "Name or service not known" in text or "NameResolution" in text:
        return "host not found (no network or DNS?)"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect (no network or blocked?)"
    text = " ".join(text.split())
    return f"{type(exc).__name__}: {text[:160]}"


def download(day: date, save_to: Path | None = None) -> Inputs:
    """Download the three registers; ``RefreshError`` naming the URL when one fails."""
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = "library-integrations dev.refresh_reference (python-requests)"

    def get(url: str, accept: str) -> bytes:
        try:
            response = session.get(url, timeout=TIMEOUT, headers={"Accept": accept})
            response.raise_for_status()
        except requests.RequestException as exc:
            raise RefreshError(f"cannot download {url}: {_describe(exc)}") from exc
        return response.content

    today = date.today()
    raw = {BRING_FILE: get(BRING_URL, "text/plain, */*")}
    urls = {klass: KLASS_URL.format(id=klass, date=day.isoformat()) for klass in KLASS_JSON}
    for klass, url in urls.items():
        raw[KLASS_JSON[klass]] = get(url, "application/json")
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        for name, data in raw.items():
            (save_to / name).write_bytes(data)
    counties, start_c = parse_klass_json(raw[KLASS_JSON[KLASS_COUNTIES]], KLASS_JSON[KLASS_COUNTIES])
    municipalities, start_m = parse_klass_json(
        raw[KLASS_JSON[KLASS_MUNICIPALITIES]], KLASS_JSON[KLASS_MUNICIPALITIES]
    )
    return Inputs(
        raw[BRING_FILE],
        counties,
        municipalities,
        {
            POSTAL_CODES: Source(BRING_URL, today),
            COUNTIES: Source(urls[KLASS_COUNTIES], today),
            MUNICIPALITIES: Source(urls[KLASS_MUNICIPALITIES], today),
        },
        max([d for d in (start_c, start_m) if d], default=None),
    )


# ---------------------------------------------------------------------------- build
Row = tuple[str, ...]


@dataclass
class Snapshot:
    """The three tables (rows without header, sorted) and what the checks noticed."""

    tables: dict[str, list[Row]]
    notes: list[str] = field(default_factory=list)


def _clean(value: str, what: str, where: str) -> str:
    value = value.strip()
    if not value:
        raise RefreshError(f"{where}: empty {what}")
    if any(ch in value for ch in "\t\r\n"):
        raise RefreshError(f"{where}: {what} {value!r} contains a tab or a line break")
    return value


def _code(value: str, digits: int, what: str, where: str) -> str:
    value = value.strip()
    if not re.fullmatch(rf"[0-9]{{{digits}}}", value):
        hint = " (leading zero lost?)" if re.fullmatch(rf"[0-9]{{1,{digits - 1}}}", value) else ""
        raise RefreshError(f"{where}: {what} {value!r} is not {digits} digits{hint}")
    return value


def parse_bring(data: bytes, name: str = BRING_FILE) -> list[Row]:
    """Bring's register as rows of the five columns, strictly: 5 fields, 4-digit codes."""
    text = data.decode("iso-8859-1")
    rows: list[Row] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        where = f"{name} line {number}"
        cells = line.split("\t")
        if len(cells) != 5:
            start = " ".join(line.split())[:40]
            raise RefreshError(f"{where}: expected 5 tab-separated fields, got {len(cells)} ({start!r})")
        code = _code(cells[0], 4, "postal code", where)
        municipality = _code(cells[2], 4, "municipality number", where)
        category = cells[4].strip()
        if not re.fullmatch(r"[A-Z]", category):
            raise RefreshError(f"{where}: category {category!r} is not one letter")
        rows.append(
            (
                code,
                _clean(cells[1], "place name", where),
                municipality,
                _clean(cells[3], "municipality name", where),
                category,
            )
        )
    if not rows:
        raise RefreshError(f"{name}: no postal codes")
    return rows


def _unique(rows: Sequence[Row], what: str) -> None:
    seen: set[str] = set()
    doubles = sorted({r[0] for r in rows if r[0] in seen or seen.add(r[0])})
    if doubles:
        raise RefreshError(f"{what} listed more than once: {_listing(doubles)}")


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def _bare_name(name: str) -> str:
    return re.sub(r"\s*\([^)]*\)\s*$", "", name)


def build_snapshot(inputs: Inputs) -> Snapshot:
    """The three tables from the raw registers, after the cross-checks (``RefreshError``)."""
    counties: list[Row] = []
    for code, name in inputs.counties:
        code = _code(code, 2, "county code", "KLASS 104")
        if code in NON_COUNTY_CODES:
            continue
        parts = [p.strip() for p in re.split(r"\s+-\s+", _clean(name, "county name", f"KLASS 104 {code}"))]
        if "|" in name or not all(parts):
            raise RefreshError(f"KLASS 104 {code}: cannot split county name {name!r}")
        counties.append((code, parts[0], "|".join(parts[1:])))
    municipalities: list[Row] = []
    for code, name in inputs.municipalities:
        code = _code(code, 4, "municipality code", "KLASS 131")
        if code[:2] in NON_COUNTY_CODES:
            continue
        municipalities.append((code, _clean(name, "municipality name", f"KLASS 131 {code}"), code[:2]))
    postal_codes = parse_bring(inputs.bring)
    for rows, what in ((counties, "county codes"), (municipalities, "municipality codes")):
        if not rows:
            raise RefreshError(f"no {what} left after dropping SSB's pseudo-regions")
        _unique(rows, what)
    _unique(postal_codes, "postal codes")
    counties.sort()
    municipalities.sort()
    postal_codes.sort()

    problems: list[str] = []
    county_numbers = {c[0] for c in counties}
    orphans = [f"{m[0]} {m[1]}" for m in municipalities if m[2] not in county_numbers]
    if orphans:
        problems.append(f"municipalities in no county: {_listing(orphans)}")
    with_municipality = {m[2] for m in municipalities}
    empty = [f"{c[0]} {c[1]}" for c in counties if c[0] not in with_municipality]
    if empty:
        problems.append(f"counties without municipalities: {_listing(empty)}")
    municipality_names = {m[0]: m[1] for m in municipalities}
    with_postal = {p[2] for p in postal_codes}
    without = [f"{n} {name}" for n, name in municipality_names.items() if n not in with_postal]
    if without:
        problems.append(f"municipalities without a postal code: {_listing(without)}")
    unknown = sorted(
        {
            f"{p[2]} {p[3]} (postal code {p[0]})"
            for p in postal_codes
            if p[2] not in municipality_names and p[2] not in OUTSIDE_MUNICIPALITIES
        }
    )
    if unknown:
        problems.append(f"postal codes in municipalities SSB does not list: {_listing(unknown)}")
    if problems:
        raise RefreshError(f"inconsistent registers: {'; '.join(problems)}")

    notes = []
    outside = sorted({p[2] for p in postal_codes if p[2] in OUTSIDE_MUNICIPALITIES})
    for number in outside:
        codes = [p[0] for p in postal_codes if p[2] == number]
        notes.append(
            f"{len(codes)} postal code{'s' if len(codes) > 1 else ''} on {OUTSIDE_MUNICIPALITIES[number]} "
            f"({number}), outside the municipality structure: {_listing(codes)}"
        )
    bring_names = {p[2]: p[3] for p in postal_codes}
    differ = sorted(
        n
        for n, name in municipality_names.items()
        if bring_names[n].casefold() not in {name.casefold(), _bare_name(name).casefold()}
    )
    if differ:
        examples = [f"{n} {bring_names[n]} / {municipality_names[n]}" for n in differ]
        notes.append(
            f"{len(differ)} municipality names differ between Bring and SSB (Bring drops Sámi/Kven parts; "
            f"join on numbers): {_listing(examples)}"
        )
    odd = sorted({p[4] for p in postal_codes} - CATEGORIES)
    if odd:
        notes.append(f"postal code categories not documented here: {', '.join(odd)}")
    return Snapshot({COUNTIES: counties, MUNICIPALITIES: municipalities, POSTAL_CODES: postal_codes}, notes)


# ---------------------------------------------------------------------------- files
def render_tsv(name: str, rows: Iterable[Row]) -> bytes:
    """One snapshot file: UTF-8, no BOM, tab-separated, header row, LF after every line."""
    lines = ["\t".join(HEADERS[name]), *("\t".join(row) for row in rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | int):
        return value.isoformat() if isinstance(value, date) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def render_sources(top: Mapping[str, object], files: Mapping[str, Mapping[str, object]], comment: str) -> bytes:
    """``SOURCES.toml``: top-level keys, then one ``[files."<name>"]`` table per file."""

    def assign(key: str, value: object) -> str:
        if isinstance(value, list | tuple) and len(value) > 1:  # one item a line
            return f"{key} = [\n" + "".join(f"    {_toml_value(v)},\n" for v in value) + "]"
        return f"{key} = {_toml_value(value)}"

    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines += [assign(key, value) for key, value in top.items()]
    for name, entries in files.items():
        lines += ["", f"[files.{json.dumps(name)}]"]
        lines += [assign(key, value) for key, value in entries.items() if value is not None]
    return ("\n".join(lines) + "\n").encode("utf-8")


SOURCES_COMMENT = """\
Provenance of the reference snapshot in this directory; README.md explains it.
Written by `python -m dev.refresh_reference`. The loader reads snapshot_date (it warns when the
snapshot is older than about 18 months); tests check rows and sha256 against the files."""


def snapshot_files(snapshot: Snapshot, inputs: Inputs, day: date) -> dict[str, bytes]:
    """The bytes of every file to write: the three TSV files, then ``SOURCES.toml``."""
    files = {name: render_tsv(name, rows) for name, rows in snapshot.tables.items()}
    described = {
        COUNTIES: "Statistics Norway (SSB), KLASS classification 104 (Standard for fylkesinndeling)",
        MUNICIPALITIES: "Statistics Norway (SSB), KLASS classification 131 (Standard for kommuneinndeling)",
        POSTAL_CODES: "Posten Bring, postal code register (postnummerregister)",
    }
    entries = {
        name: {
            "source": described[name],
            "url": inputs.sources[name].url,
            "local_copy": inputs.sources[name].local_copy,
            "retrieved": inputs.sources[name].retrieved,
            "licence": LICENCES[name],
            "rows": len(snapshot.tables[name]),
            "sha256": sha256(files[name]),
        }
        for name in files
    }
    top: dict[str, object] = {"snapshot_date": min(s.retrieved for s in inputs.sources.values())}
    top["classification_date"] = day
    if inputs.valid_from:
        top["valid_from"] = inputs.valid_from
    top["refresh_command"] = "make refresh-reference"
    files[SOURCES_FILE] = render_sources(top, entries, SOURCES_COMMENT)
    return files


def write_snapshot(out: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` into ``out``: each to a temporary file there, then renamed over the
    old one (in the given order). If anything fails, the files already replaced are put
    back and the temporary files removed, so the snapshot stays as it was."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".refresh-", dir=out))
    replaced: list[str] = []
    try:
        for name, data in files.items():
            with open(work / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(work / name, 0o644)
            if (out / name).exists():
                shutil.copy2(out / name, work / f"{name}.old")
        try:
            for name in files:
                os.replace(work / name, out / name)
                replaced.append(name)
        except OSError:
            for name in reversed(replaced):
                backup = work / f"{name}.old"
                if backup.exists():
                    os.replace(backup, out / name)
                else:
                    (out / name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise RefreshError(f"cannot write {out}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_rows(data: bytes) -> dict[str, Row]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8")), delimiter="\t", quoting=csv.QUOTE_NONE))
    return {row[0]: tuple(row) for row in rows[1:] if row}


def diff_summary(out: Path, files: Mapping[str, bytes]) -> list[str]:
    """One line per file: rows added, removed and changed against the files now in ``out``."""
    lines = []
    for name in HEADERS:
        new = _read_rows(files[name])
        path = out / name
        if not path.is_file():
            lines.append(f"{name}: new file, {len(new)} rows")
            continue
        old = _read_rows(path.read_bytes())
        added = sorted(set(new) - set(old))
        removed = sorted(set(old) - set(new))
        changed = sorted(k for k in set(new) & set(old) if new[k] != old[k])
        if not (added or removed or changed):
            lines.append(f"{name}: unchanged, {len(new)} rows")
            continue
        parts = [f"{name}: {len(old)} -> {len(new)} rows"]
        if added:
            parts.append(f"{len(added)} added ({_listing([' '.join(new[k][:2]) for k in added])})")
        if removed:
            parts.append(f"{len(removed)} removed ({_listing([' '.join(old[k][:2]) for k in removed])})")
        if changed:
            shown = [
                f"{k}: " + ", ".join(f"{a} -> {b}" for a, b in zip(old[k][1:], new[k][1:], strict=False) if a != b)
                for k in changed
            ]
            parts.append(f"{len(changed)} changed ({_listing(shown)})")
        lines.append("; ".join(parts))
    return lines


# ---------------------------------------------------------------------------- command line
def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dev.refresh_reference",
        description="Rebuild include/reference from Bring's postal code register and SSB's KLASS 104/131.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_REFERENCE_DIR, help="snapshot directory to write")
    parser.add_argument(
        "--from-dir",
        type=Path,
        help=f"build from files already downloaded into DIR ({BRING_FILE}, "
        f"{KLASS_JSON[KLASS_COUNTIES]}, {KLASS_JSON[KLASS_MUNICIPALITIES]}) instead of downloading",
    )
    parser.add_argument(
        "--date",
        type=_date,
        default=None,
        help="the day the KLASS classifications must be valid, and the retrieval date recorded "
        "for --from-dir files (default: today)",
    )
    parser.add_argument("--save-downloads", type=Path, help="also keep the raw downloads in this directory")
    parser.add_argument("--dry-run", action="store_true", help="build, check and report, but write nothing")
    args = parser.parse_args(argv)
    day = args.date or date.today()
    out: Path = args.out
    try:
        inputs = read_inputs(args.from_dir, day) if args.from_dir else download(day, args.save_downloads)
        snapshot = build_snapshot(inputs)
        files = snapshot_files(snapshot, inputs, day)
        summary = diff_summary(out, files)
        if not args.dry_run:
            write_snapshot(out, files)
    except RefreshError as exc:
        print(f"refresh_reference: {exc}; {out} left unchanged", file=sys.stderr)
        return 1
    for note in snapshot.notes:
        print(f"note: {note}")
    for line in summary:
        print(line)
    if args.dry_run:
        print(f"dry run: nothing written to {out}")
    else:
        print(
            f"wrote {', '.join(files)} to {out}. Review `git diff {out}`, update the dates, counts and "
            "known gaps in its README.md, run the tests, and commit."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
