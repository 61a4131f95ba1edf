"""Norwegian postal codes, municipalities and counties, and the library location check.

Shared by every pipeline (``common`` layer): the loan report validates each library's
location with it, and other pipelines can look up municipalities and counties.

``load_reference_data(directory)`` reads the registers from a directory. With no directory
it reads the **dated snapshot shipped with the project**, ``include/reference/`` (see
``include/reference/README.md`` for its sources, date, licences and known gaps); the
deployment setting ``LIBRARY_INTEGRATIONS_REFERENCE_DATA`` may point elsewhere. Two layouts
are understood, chosen by the files present (file names are matched ignoring case):

**Snapshot TSV** (``include/reference/``, written by ``python -m dev.refresh_reference``):
UTF-8, tab-separated, one header row, LF, every column text:

* ``counties.tsv``: ``county_number``, ``county_name``, ``other_names`` (``|``-separated)
* ``municipalities.tsv``: ``municipality_number``, ``municipality_name``, ``county_number``
* ``postal_codes.tsv``: ``postal_code``, ``place_name``, ``municipality_number``,
  ``municipality_name``, ``category``
* ``SOURCES.toml`` (optional): ``snapshot_date`` and, per file, source URL, retrieval
  date, row count and SHA-256. Only ``snapshot_date`` is read here (the age check).

**Production downloads**:

* ``postnummerregister-ansi.txt``: Bring's postal code register as published at
  https://www.bring.no/postnummerregister-ansi.txt -- ISO-8859-1, tab-separated, no
  header, CRLF; columns postal code, place, municipality number, municipality name,
  category.
* ``kommuner.csv`` (also ``ssb_kommuner.csv``, ``klass_131.csv``): SSB KLASS
  classification 131 (municipalities) and ``fylker.csv`` (also ``ssb_fylker.csv``,
  ``klass_104.csv``): classification 104 (counties), both as KLASS exports them, e.g.
  ``https://data.ssb.no/api/klass/v1/classifications/131/codesAt.csv?date=2026-01-01``:
  a header row naming at least ``code`` and ``name`` (``parentCode``, ``level``,
  ``shortName``, ... are ignored), separated by ``;`` (``,`` and tab also work), fields
  optionally double-quoted; UTF-8 with or without BOM, or Windows-1252/ISO-8859-1.
  SSB's pseudo-regions are dropped: county codes 21-29 (Svalbard, Jan Mayen, the
  continental shelf, ...) and 99 (unknown), and the municipalities under them.

A SSB county name ``"Troms - Romsa - Tromssa"`` is split into the Norwegian name and the
official Sámi/Kven parallel names, as in ``counties.tsv``.

**Age check**: when the directory has a ``SOURCES.toml`` whose ``snapshot_date`` is more
than ``SNAPSHOT_MAX_AGE_DAYS`` (~18 months) old, loading logs a warning naming the refresh
command (``REFRESH_COMMAND``): Bring changes the postal code register several times a year,
so an old snapshot rejects new postal codes and accepts withdrawn ones. The data is still
used.

**The location rule** (``ReferenceData.validate_location``): the ``library.location`` block
is sent only when postal code, municipality and county are all given and

* the postal code is exactly 4 digits and is in Bring's register;
* the municipality is real: its 4-digit number, or its name ignoring case -- SSB's full
  name (``Guovdageaidnu - Kautokeino``), any one of its language forms (``Kautokeino``),
  the county-qualified duplicate (``Herøy (Nordland)``) or the bare duplicate name
  (``Herøy``, resolved by the county given); a trailing ``kommune`` is ignored;
* the county is real: its 2-digit number, its Norwegian name, a Sámi/Kven name or the full
  SSB name (``Troms - Romsa - Tromssa``); a trailing ``fylke`` is ignored;
* they agree: the postal code's municipality number is the municipality, and the
  municipality's county is the county.

Postal codes on Svalbard (municipality number 2100) and Jan Mayen (2211) are in Bring's
register but outside the municipality and county structure, so they never make a valid
location. The block that is sent uses the **canonical SSB names** (``"Trondheim -
Tråante"``, ``"Troms - Romsa - Tromssa"``), not the strings typed into the settings, so
every library in the same municipality reports it the same way.

The verdict codes (``LOCATION_*``) are defined here; the loan report's ``quality`` module
re-exports them.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from library_integrations import INCLUDE_DIR

log = logging.getLogger(__name__)

# Location verdicts of the library block (stable strings: quality summaries key on them).
LOCATION_SENT = "sent"
LOCATION_NOT_CONFIGURED = "not_configured"  # all three settings empty
LOCATION_INCOMPLETE = "incomplete"  # some but not all of the three settings given
LOCATION_INVALID = "invalid"  # given, but unknown or inconsistent
LOCATION_NO_REFERENCE_DATA = "no_reference_data"  # cannot check, so not sent

#: The dated snapshot shipped with the project, used when no directory is given.
DEFAULT_REFERENCE_DIR = INCLUDE_DIR / "reference"
#: Provenance file of a snapshot directory (written by ``dev/refresh_reference.py``).
SOURCES_FILE = "SOURCES.toml"
#: A snapshot older than this (about 18 months) is logged as stale.
SNAPSHOT_MAX_AGE_DAYS = 548
REFRESH_COMMAND = "make refresh-reference (python -m dev.refresh_reference)"

TSV_FILES = {
    "counties": "counties.tsv",
    "municipalities": "municipalities.tsv",
    "postal_codes": "postal_codes.tsv",
}
BRING_FILE = "postnummerregister-ansi.txt"
SSB_MUNICIPALITY_FILES = ("kommuner.csv", "ssb_kommuner.csv", "klass_131.csv")
SSB_COUNTY_FILES = ("fylker.csv", "ssb_fylker.csv", "klass_104.csv")

#: Bring's areas outside the municipality structure.
OUTSIDE_MUNICIPALITIES = {"2100": "Svalbard", "2211": "Jan Mayen"}
#: SSB county-level codes that are not counties (Svalbard, Jan Mayen, shelf, abroad, unknown).
NON_COUNTY_CODES = frozenset({*(str(n) for n in range(21, 30)), "99"})

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")


class ReferenceDataError(ValueError):
    """A reference data file is missing or malformed."""


@dataclass(frozen=True)
class County:
    number: str
    name: str
    other_names: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        """SSB's official name: Norwegian and parallel names joined by ``" - "``."""
        return " - ".join((self.name, *self.other_names))


@dataclass(frozen=True)
class Municipality:
    number: str
    name: str  # SSB's official name, with parallel names and county qualifier
    county_number: str


@dataclass(frozen=True)
class PostalCode:
    code: str
    place: str
    municipality_number: str
    municipality_name: str
    category: str = ""


@dataclass(frozen=True)
class Location:
    """A validated location with canonical SSB names."""

    postal_code: str
    municipality: str
    county: str


@dataclass(frozen=True)
class LocationVerdict:
    """Outcome of the location check: ``status`` is one of the ``LOCATION_*`` codes."""

    location: Location | None
    status: str
    reason: str | None


def _key(text: str) -> str:
    """Comparison key for names: NFC, case-folded, one space, dashes unified."""
    text = unicodedata.normalize("NFC", text).translate(_DASHES).casefold()
    text = re.sub(r"\s*-\s*", " - ", text)
    return re.sub(r"\s+", " ", text).strip()


def _blank(value: str | None) -> bool:
    return value is None or not str(value).strip()


def _strip_suffix(key: str, suffixes: Iterable[str]) -> str:
    for suffix in suffixes:
        if key.endswith(" " + suffix):
            return key[: -len(suffix) - 1].strip()
    return key


@dataclass
class ReferenceData:
    """The three registers, indexed for the location check.

    ``ReferenceData.unavailable(reason)`` stands for "no reference data": every location is
    then omitted with that reason.
    """

    postal_codes: dict[str, PostalCode] = field(default_factory=dict)
    municipalities: dict[str, Municipality] = field(default_factory=dict)
    counties: dict[str, County] = field(default_factory=dict)
    source: str = ""
    unavailable_reason: str | None = None
    snapshot_date: date | None = None  # from SOURCES.toml, when the directory has one

    def __post_init__(self) -> None:
        self._municipality_alias: dict[str, set[str]] = {}
        for m in self.municipalities.values():
            keys = {_key(m.name)}
            unqualified = re.sub(r"\s*\([^)]*\)\s*$", "", m.name)
            keys.add(_key(unqualified))
            keys.update(_key(part) for part in unqualified.split(" - ") if part.strip())
            for k in keys:
                self._municipality_alias.setdefault(k, set()).add(m.number)
        self._county_alias: dict[str, set[str]] = {}
        for c in self.counties.values():
            for k in {_key(c.name), _key(c.full_name), *(_key(n) for n in c.other_names)}:
                self._county_alias.setdefault(k, set()).add(c.number)

    @classmethod
    def unavailable(cls, reason: str) -> ReferenceData:
        return cls(source="", unavailable_reason=reason)

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    # ------------------------------------------------------------------ lookups
    def find_county(self, text: str) -> tuple[County | None, str | None]:
        raw = text.strip()
        if re.fullmatch(r"[0-9]{2}", raw):
            county = self.counties.get(raw)
            return (county, None) if county else (None, f"county number {raw} does not exist")
        key = _strip_suffix(_key(raw), ("fylke", "fylkeskommune"))
        numbers = self._county_alias.get(key) or self._county_alias.get(_key(raw))
        if not numbers:
            return None, f"county {raw!r} is not a Norwegian county"
        if len(numbers) > 1:  # pragma: no cover - county names are unique
            return None, f"county {raw!r} is ambiguous"
        return self.counties[next(iter(numbers))], None

    def municipality_candidates(self, text: str) -> tuple[list[Municipality], str | None]:
        raw = text.strip()
        if re.fullmatch(r"[0-9]{4}", raw):
            m = self.municipalities.get(raw)
            return ([m], None) if m else ([], f"municipality number {raw} does not exist")
        key = _key(raw)
        numbers = self._municipality_alias.get(key) or self._municipality_alias.get(
            _strip_suffix(key, ("kommune",))
        )
        if not numbers:
            return [], f"municipality {raw!r} is not a Norwegian municipality"
        return [self.municipalities[n] for n in sorted(numbers)], None

    def _describe_municipality(self, number: str) -> str:
        m = self.municipalities.get(number)
        return f"{number} {m.name}" if m else number

    def _describe_county(self, number: str) -> str:
        c = self.counties.get(number)
        return f"{number} {c.name}" if c else number

    # ------------------------------------------------------------------ the rule
    def check_location(
        self, postal_code: str | None, municipality: str | None, county: str | None
    ) -> LocationVerdict:
        """Apply the location rule (module docstring); never raises."""
        given = {"postal code": postal_code, "municipality": municipality, "county": county}
        missing = [name for name, value in given.items() if _blank(value)]
        if len(missing) == 3:
            return LocationVerdict(None, LOCATION_NOT_CONFIGURED, "no location configured")
        if missing:
            return LocationVerdict(
                None,
                LOCATION_INCOMPLETE,
                f"location incomplete: {' and '.join(missing)} not configured "
                "(postal code, municipality and county must all be given)",
            )
        if not self.available:
            return LocationVerdict(None, LOCATION_NO_REFERENCE_DATA, self.unavailable_reason)
        assert postal_code is not None and municipality is not None and county is not None

        def invalid(reason: str) -> LocationVerdict:
            return LocationVerdict(None, LOCATION_INVALID, reason)

        code = str(postal_code).strip()
        if not re.fullmatch(r"[0-9]{4}", code):
            return invalid(f"postal code {code!r} is not 4 digits")
        postal = self.postal_codes.get(code)
        if postal is None:
            return invalid(f"postal code {code} does not exist in the postal code register")
        if postal.municipality_number not in self.municipalities:
            area = OUTSIDE_MUNICIPALITIES.get(postal.municipality_number)
            if area:
                return invalid(
                    f"postal code {code} ({postal.place}) is on {area}, which is outside the "
                    "municipality and county structure"
                )
            return invalid(
                f"postal code {code} ({postal.place}) has municipality number "
                f"{postal.municipality_number}, which is not in the municipality classification"
            )

        found_county, county_problem = self.find_county(str(county))
        candidates, municipality_problem = self.municipality_candidates(str(municipality))
        problems = [p for p in (municipality_problem, county_problem) if p]
        if problems:
            return invalid("; ".join(problems))
        assert found_county is not None

        chosen = candidates
        if len(chosen) > 1:
            in_county = [m for m in chosen if m.county_number == found_county.number]
            chosen = in_county or chosen
        if len(chosen) > 1:
            at_postal = [m for m in chosen if m.number == postal.municipality_number]
            chosen = at_postal or chosen
        if len(chosen) > 1:
            names = ", ".join(f"{m.number} {m.name}" for m in chosen)
            return invalid(f"municipality {municipality.strip()!r} is ambiguous ({names})")
        found = chosen[0]

        if postal.municipality_number != found.number:
            return invalid(
                f"postal code {code} belongs to municipality "
                f"{self._describe_municipality(postal.municipality_number)}, "
                f"not {found.number} {found.name}"
            )
        if found.county_number != found_county.number:
            return invalid(
                f"municipality {found.number} {found.name} is in county "
                f"{self._describe_county(found.county_number)}, not {found_county.number} {found_county.name}"
            )
        return LocationVerdict(Location(code, found.name, found_county.full_name), LOCATION_SENT, None)

    def validate_location(
        self, postal_code: str | None, municipality: str | None, county: str | None
    ) -> tuple[Location | None, str | None]:
        """``(Location, None)`` when the location may be sent, else ``(None, reason)``."""
        verdict = self.check_location(postal_code, municipality, county)
        return verdict.location, verdict.reason


# ---------------------------------------------------------------------------- readers
def _read_tsv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ReferenceDataError(f"missing reference file {path}") from exc
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(f"{path}: not UTF-8 ({exc})") from exc
    lines = text.splitlines()
    if not lines:
        raise ReferenceDataError(f"{path}: empty file")
    header = lines[0].split("\t")
    absent = [c for c in columns if c not in header]
    if absent:
        raise ReferenceDataError(f"{path}: missing columns {absent} (header: {header})")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise ReferenceDataError(f"{path}:{number}: expected {len(header)} fields, got {len(cells)}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _require(pattern: str, value: str, what: str, where: str) -> str:
    value = value.strip()
    if not re.fullmatch(pattern, value):
        raise ReferenceDataError(f"{where}: bad {what} {value!r}")
    return value


def load_reference_tsv(directory: str | Path) -> ReferenceData:
    """Load the curated UTF-8 TSV files (``counties.tsv``, ``municipalities.tsv``,
    ``postal_codes.tsv``) from ``directory``."""
    directory = Path(directory)
    counties: dict[str, County] = {}
    path = _find(directory, TSV_FILES["counties"]) or directory / TSV_FILES["counties"]
    for row in _read_tsv(path, ("county_number", "county_name", "other_names")):
        number = _require(r"[0-9]{2}", row["county_number"], "county number", str(path))
        others = tuple(n.strip() for n in row["other_names"].split("|") if n.strip())
        counties[number] = County(number, row["county_name"].strip(), others)
    municipalities: dict[str, Municipality] = {}
    path = _find(directory, TSV_FILES["municipalities"]) or directory / TSV_FILES["municipalities"]
    for row in _read_tsv(path, ("municipality_number", "municipality_name", "county_number")):
        number = _require(r"[0-9]{4}", row["municipality_number"], "municipality number", str(path))
        county = _require(r"[0-9]{2}", row["county_number"], "county number", str(path))
        municipalities[number] = Municipality(number, row["municipality_name"].strip(), county)
    postal_codes: dict[str, PostalCode] = {}
    path = _find(directory, TSV_FILES["postal_codes"]) or directory / TSV_FILES["postal_codes"]
    for row in _read_tsv(
        path, ("postal_code", "place_name", "municipality_number", "municipality_name", "category")
    ):
        code = _require(r"[0-9]{4}", row["postal_code"], "postal code", str(path))
        number = _require(r"[0-9]{4}", row["municipality_number"], "municipality number", str(path))
        postal_codes[code] = PostalCode(
            code, row["place_name"].strip(), number, row["municipality_name"].strip(), row["category"].strip()
        )
    return ReferenceData(postal_codes, municipalities, counties, source=f"TSV files in {directory}")


def read_bring_register(path: str | Path) -> dict[str, PostalCode]:
    """Parse Bring's ``postnummerregister-ansi.txt`` (ISO-8859-1, tab-separated, no header)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("iso-8859-1")
    except FileNotFoundError as exc:
        raise ReferenceDataError(f"missing postal code register {path}") from exc
    postal_codes: dict[str, PostalCode] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) < 4:
            raise ReferenceDataError(f"{path}:{number}: expected 5 tab-separated fields, got {len(cells)}")
        where = f"{path}:{number}"
        code = _require(r"[0-9]{4}", cells[0], "postal code", where)
        municipality = _require(r"[0-9]{4}", cells[2], "municipality number", where)
        category = cells[4].strip() if len(cells) > 4 else ""
        postal_codes[code] = PostalCode(code, cells[1].strip(), municipality, cells[3].strip(), category)
    if not postal_codes:
        raise ReferenceDataError(f"{path}: no postal codes")
    return postal_codes


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_ssb_classification(path: str | Path) -> list[tuple[str, str]]:
    """``(code, name)`` rows of an SSB KLASS CSV export (see the module docstring)."""
    path = Path(path)
    try:
        text = _decode(path.read_bytes())
    except FileNotFoundError as exc:
        raise ReferenceDataError(f"missing SSB classification file {path}") from exc
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first else ("\t" if "\t" in first else ",")
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter, quotechar='"')
    fields = {(name or "").strip().lower(): name for name in (reader.fieldnames or [])}
    if "code" not in fields or "name" not in fields:
        raise ReferenceDataError(f"{path}: expected a header with 'code' and 'name', got {reader.fieldnames}")
    rows = []
    for row in reader:
        code = (row.get(fields["code"]) or "").strip()
        name = (row.get(fields["name"]) or "").strip()
        if code or name:
            rows.append((code, name))
    if not rows:
        raise ReferenceDataError(f"{path}: no rows")
    return rows


def load_reference_production(directory: str | Path) -> ReferenceData:
    """Load Bring's register and SSB's KLASS 131/104 CSV files from ``directory``."""
    directory = Path(directory)
    bring = _find(directory, BRING_FILE)
    municipalities_file = _find(directory, *SSB_MUNICIPALITY_FILES)
    counties_file = _find(directory, *SSB_COUNTY_FILES)
    if not (bring and municipalities_file and counties_file):
        raise ReferenceDataError(
            f"{directory}: production reference data needs {BRING_FILE}, one of "
            f"{SSB_MUNICIPALITY_FILES} and one of {SSB_COUNTY_FILES}"
        )
    counties: dict[str, County] = {}
    for code, name in read_ssb_classification(counties_file):
        code = _require(r"[0-9]{2}", code, "county code", str(counties_file))
        if code in NON_COUNTY_CODES:
            continue
        parts = [p.strip() for p in re.split(r"\s+-\s+", name) if p.strip()]
        counties[code] = County(code, parts[0], tuple(parts[1:]))
    municipalities: dict[str, Municipality] = {}
    for code, name in read_ssb_classification(municipalities_file):
        code = _require(r"[0-9]{4}", code, "municipality code", str(municipalities_file))
        if code[:2] in NON_COUNTY_CODES:
            continue
        municipalities[code] = Municipality(code, name, code[:2])
    return ReferenceData(
        read_bring_register(bring),
        municipalities,
        counties,
        source=f"{bring.name}, {municipalities_file.name}, {counties_file.name} in {directory}",
    )


def _find(directory: Path, *names: str) -> Path | None:
    """The first of ``names`` present in ``directory``, matching file names ignoring case."""
    try:
        present = {p.name.lower(): p for p in directory.iterdir() if p.is_file()}
    except OSError:
        return None
    for name in names:
        if name.lower() in present:
            return present[name.lower()]
    return None


# ---------------------------------------------------------------------------- snapshot age
def read_snapshot_date(directory: str | Path) -> date | None:
    """``snapshot_date`` of the directory's ``SOURCES.toml``; None when there is none.

    A malformed file is logged and treated as "date unknown": the data is still usable.
    """
    path = _find(Path(directory), SOURCES_FILE)
    if path is None:
        return None
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("snapshot_date")
        if isinstance(value, str):
            value = date.fromisoformat(value)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        log.warning("cannot read the snapshot date from %s: %s", path, exc)
        return None
    if not isinstance(value, date):
        log.warning("%s has no snapshot_date", path)
        return None
    return value


def snapshot_age_warning(snapshot_date: date | None, today: date | None = None) -> str | None:
    """The warning to log when a snapshot is older than ``SNAPSHOT_MAX_AGE_DAYS``, else None."""
    if snapshot_date is None:
        return None
    today = today or date.today()
    if (today - snapshot_date).days <= SNAPSHOT_MAX_AGE_DAYS:
        return None
    months = (today.year - snapshot_date.year) * 12 + today.month - snapshot_date.month
    return (
        f"reference data snapshot is from {snapshot_date.isoformat()}, {months} months old: Bring "
        "changes the postal code register several times a year, so new postal codes are rejected and "
        f"withdrawn ones accepted. Refresh it with {REFRESH_COMMAND}"
    )


# ---------------------------------------------------------------------------- entry point
_cache: dict[tuple, ReferenceData] = {}
_cache_lock = threading.Lock()

#: The reason given when a caller passes no reference data at all (``ReportBuilder`` with
#: ``reference=None``); ``load_reference_data`` itself falls back to the shipped snapshot.
NOT_CONFIGURED_REASON = (
    "no reference data configured (set LIBRARY_INTEGRATIONS_REFERENCE_DATA, formerly "
    "LOAN_REPORTING_REFERENCE_DATA, to a directory with the postal code, municipality and "
    "county registers); location not sent"
)


def load_reference_data(location: str | Path | None = None) -> ReferenceData:
    """The reference data in directory ``location``, loaded once per process.

    With no ``location`` (None or blank) it is the snapshot shipped in
    ``include/reference`` (``DEFAULT_REFERENCE_DIR``). Chooses the snapshot TSV layout when
    its three files are present, else the production layout (Bring + SSB). Never raises:
    with a missing directory, missing files or a malformed file, it returns
    ``ReferenceData.unavailable(reason)``, the reason is logged, and every library location
    is then omitted with that reason. A snapshot older than ``SNAPSHOT_MAX_AGE_DAYS`` is
    used, with a warning naming the refresh command. The cache key includes the files'
    modification times, so a refreshed download is picked up.
    """
    if location is None or not str(location).strip():
        location = DEFAULT_REFERENCE_DIR
    directory = Path(str(location).strip()).expanduser()
    if not directory.is_dir():
        reason = f"reference data directory {directory} not found; location not sent"
        log.warning(reason)
        return ReferenceData.unavailable(reason)
    try:
        signature = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in directory.iterdir() if p.is_file()))
    except OSError as exc:
        return ReferenceData.unavailable(f"cannot read reference data directory {directory}: {exc}")
    key = (str(directory.resolve()), signature)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        try:
            if all(_find(directory, name) for name in TSV_FILES.values()):
                data = load_reference_tsv(directory)
            else:
                data = load_reference_production(directory)
        except ReferenceDataError as exc:
            reason = f"reference data unusable: {exc}; location not sent"
            log.error(reason)
            data = ReferenceData.unavailable(reason)
        else:
            data.snapshot_date = read_snapshot_date(directory)
            log.info(
                "reference data from %s (snapshot %s): %d postal codes, %d municipalities, %d counties",
                data.source,
                data.snapshot_date.isoformat() if data.snapshot_date else "date unknown",
                len(data.postal_codes),
                len(data.municipalities),
                len(data.counties),
            )
            warning = snapshot_age_warning(data.snapshot_date)
            if warning:
                log.warning("%s (%s)", warning, directory)
        for old in [k for k in _cache if k[0] == key[0]]:  # one version per directory
            del _cache[old]
        _cache[key] = data
        return data


def clear_reference_cache() -> None:
    with _cache_lock:
        _cache.clear()
