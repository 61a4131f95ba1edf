"""The delivered files: names, the JSON manifest, and the independent check of a written CSV.

A delivery of month ``M`` is exactly two files, ``<prefix>_<system>_<M>.csv`` and the manifest
``<prefix>_<system>_<M>.json``; a later version with other content is ``..._v2.csv`` /
``..._v2.json``, and so on (the delivery ledger decides the number).

The manifest (UTF-8 JSON, keys in a fixed order, two-space indent, final newline; the same
data gives the same bytes)::

    {"formatversjon": "1.0", "maaned": "2026-03", "biblioteksystem": "...", "versjon": 1,
     "erstatter": null,                       # file name of the version this one replaces
     "periode": {"fra": "2026-03-01T00:00:00+01:00", "til": "2026-04-01T00:00:00+02:00",
                 "fra_utc": "2026-02-28T23:00:00Z", "til_utc": "2026-03-31T22:00:00Z",
                 "tidssone": "Europe/Oslo"},
     "fil": {"navn": "..csv", "sha256": "..", "rader": 1234, "bytes": 56789, "tegnsett": "UTF-8",
             "skilletegn": ";", "kolonner": ["maaned", ...]},
     "totalt": {"bibliotek": 5, "utlan": 9000, "utlan_med_isbn": 7000, "uten_isbn": 2000, "rader": 1234},
     "bibliotek": [{"isil": .., "navn": .., "utlan": .., "utlan_med_isbn": .., "uten_isbn": .., "rader": ..}],
     "ekskludert": [{"isil": .., "navn": .., "grunn": "ikke_publiseringssamtykke"}]}

``rader`` counts data rows (without the header). For every library
``utlan = utlan_med_isbn + uten_isbn``; ``utlan_med_isbn`` is the sum of its ``antall_utlan``.
"""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from library_integrations.common.isbn import to_isbn13
from library_integrations.pipelines.nb_statistics.config import FileFormat
from library_integrations.pipelines.nb_statistics.payloads import StagedStatistics

#: Exclusion reasons written in the manifest.
NO_CONSENT = "ingen_samtykke"  # no consent recorded for the library
NOT_ENABLED = "ikke_aktivert"  # delivery consent not given: automatic delivery not enabled
NO_PUBLICATION_CONSENT = "ikke_publiseringssamtykke"  # has not accepted that NB publishes its figures
INVALID_ISIL = "ugyldig_isil"  # NB identifies libraries by ISIL; a malformed one cannot be delivered
REASONS = {
    NO_CONSENT: "no consent recorded",
    NOT_ENABLED: "delivery consent not given (automatic delivery not enabled)",
    NO_PUBLICATION_CONSENT: "has not accepted that NB publishes its figures",
    INVALID_ISIL: "malformed ISIL (NO- and 7 digits expected)",
}

_FOLD = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "Æ": "AE", "Ø": "O", "Å": "A"})


def system_slug(name: str) -> str:
    """The library system's name as it appears in file names.

    >>> system_slug("Bibliotek-Systemer Bibliofil"), system_slug("Tromsø kommune ")
    ('bibliotek-systemer_bibliofil', 'tromso_kommune')
    """
    folded = unicodedata.normalize("NFKD", name.strip().translate(_FOLD)).encode("ascii", "ignore").decode()
    out = "".join(ch.lower() if ch.isalnum() or ch in "-" else "_" for ch in folded)
    return "_".join(part for part in out.split("_") if part) or "system"


@dataclass(frozen=True)
class FileNames:
    csv: str
    manifest: str


def file_names(fmt: FileFormat, library_system: str, month: date, version: int) -> FileNames:
    """
    >>> from library_integrations.pipelines.nb_statistics.config import load_file_format
    >>> file_names(load_file_format(), "Demo", date(2026, 3, 1), 2)
    FileNames(csv='nb_utlan_demo_2026-03_v2.csv', manifest='nb_utlan_demo_2026-03_v2.json')
    """
    stem = f"{fmt.file_prefix}_{system_slug(library_system)}_{month:%Y-%m}"
    if version > 1:
        stem += f"_v{version}"
    return FileNames(csv=f"{stem}.csv", manifest=f"{stem}.json")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def manifest_body(staged: StagedStatistics, fmt: FileFormat) -> dict:
    """Everything the manifest says that does not depend on the version (the delivery's identity)."""
    from library_integrations.common.oslo_time import OSLO

    libraries = sorted(staged.libraries, key=lambda lib: lib.isil)
    return {
        "formatversjon": fmt.format_version,
        "maaned": f"{staged.month:%Y-%m}",
        "biblioteksystem": staged.library_system,
        "periode": {
            "fra": staged.start_utc.astimezone(OSLO).isoformat(),
            "til": staged.end_utc.astimezone(OSLO).isoformat(),
            "fra_utc": _utc(staged.start_utc),
            "til_utc": _utc(staged.end_utc),
            "tidssone": "Europe/Oslo",
        },
        "fil": {
            "sha256": staged.csv_sha256,
            "rader": staged.rows,
            "bytes": staged.csv_bytes,
            "tegnsett": "UTF-8",
            "skilletegn": fmt.delimiter,
            "kolonner": list(fmt.columns),
        },
        "totalt": {
            "bibliotek": len(libraries),
            "utlan": sum(lib.loans for lib in libraries),
            "utlan_med_isbn": sum(lib.loans_with_isbn for lib in libraries),
            "uten_isbn": sum(lib.without_isbn for lib in libraries),
            "rader": staged.rows,
        },
        "bibliotek": [
            {"isil": lib.isil, "navn": lib.name, "utlan": lib.loans, "utlan_med_isbn": lib.loans_with_isbn,
             "uten_isbn": lib.without_isbn, "rader": lib.rows}
            for lib in libraries
        ],
        "ekskludert": [
            {"isil": ex.isil, "navn": ex.name, "grunn": ex.reason}
            for ex in sorted(staged.excluded, key=lambda ex: (ex.isil, ex.agency_id))
        ],
    }


def content_sha256(body: dict) -> str:
    """The delivery's identity: sha256 of the canonical JSON of :func:`manifest_body` (holds the CSV's sha256)."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def render_manifest(body: dict, names: FileNames, version: int, replaces: str | None) -> bytes:
    """The manifest's bytes for one version (deterministic)."""
    out = {
        "formatversjon": body["formatversjon"],
        "maaned": body["maaned"],
        "biblioteksystem": body["biblioteksystem"],
        "versjon": version,
        "erstatter": replaces,
        "periode": body["periode"],
        "fil": {"navn": names.csv, **body["fil"]},
        "totalt": body["totalt"],
        "bibliotek": body["bibliotek"],
        "ekskludert": body["ekskludert"],
    }
    return (json.dumps(out, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ----------------------------------------------------------------------------- the check
class FileCheckError(Exception):
    """The written file does not say what the database says: nothing is delivered."""


@dataclass(frozen=True)
class FileFacts:
    """What reading the CSV back found (independently of how it was written)."""

    sha256: str
    bytes: int
    rows: int
    loans_per_isil: dict[str, int]
    rows_per_isil: dict[str, int]
    months: set[str]
    invalid_isbns: list[str]
    labels: dict[str, set[str]]  # column key -> distinct values


def read_back(stream: io.RawIOBase | io.BufferedIOBase, fmt: FileFormat) -> FileFacts:
    """Hash and parse a written CSV with pyarrow's streaming reader (memory bounded by its block size)."""

    header = fmt.header()

    class _Hashing(io.RawIOBase):
        def __init__(self, inner) -> None:
            self.inner, self.digest, self.size, self.head = inner, hashlib.sha256(), 0, b""

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            data = self.inner.read(len(buffer))
            if not data:
                return 0
            if len(self.head) < len(header):
                self.head += data[: len(header) - len(self.head)]
                if not header.startswith(self.head):
                    raise FileCheckError(f"the header row is not {header!r}")
            self.digest.update(data)
            self.size += len(data)
            buffer[: len(data)] = data
            return len(data)

    hashing = _Hashing(stream)
    names = list(fmt.columns)
    text_types = {name: pa.string() for name in names}
    text_types[fmt.column("loans")] = pa.int64()
    reader = pa_csv.open_csv(
        io.BufferedReader(hashing, buffer_size=1 << 20),
        read_options=pa_csv.ReadOptions(block_size=8 << 20, column_names=names, skip_rows=1),
        parse_options=pa_csv.ParseOptions(delimiter=fmt.delimiter, newlines_in_values=False),
        convert_options=pa_csv.ConvertOptions(column_types=text_types, strings_can_be_null=False),
    )
    rows, loans, per_rows, months, isbns = 0, {}, {}, set(), set()
    labels: dict[str, set[str]] = {"fiction": set(), "audience": set(), "borrower_category": set()}
    for batch in reader:
        rows += batch.num_rows
        table = pa.Table.from_batches([batch])
        grouped = table.group_by(fmt.column("isil")).aggregate([(fmt.column("loans"), "sum"),
                                                                (fmt.column("loans"), "count")])
        for isil, total, count in zip(grouped.column(fmt.column("isil")).to_pylist(),
                                      grouped.column(f"{fmt.column('loans')}_sum").to_pylist(),
                                      grouped.column(f"{fmt.column('loans')}_count").to_pylist(), strict=True):
            loans[isil] = loans.get(isil, 0) + total
            per_rows[isil] = per_rows.get(isil, 0) + count
        months.update(pc.unique(table.column(fmt.column("month"))).to_pylist())
        isbns.update(pc.unique(table.column(fmt.column("isbn"))).to_pylist())
        for key in labels:
            labels[key].update(pc.unique(table.column(fmt.column(key))).to_pylist())
        if pc.any(pc.less_equal(table.column(fmt.column("loans")), 0)).as_py():
            raise FileCheckError("a row has antall_utlan <= 0")
    if hashing.head != header:
        raise FileCheckError(f"the file is shorter than its header row {header!r}")
    invalid = sorted(str(v) for v in isbns if v is None or to_isbn13(v) != v)
    return FileFacts(sha256=hashing.digest.hexdigest(), bytes=hashing.size, rows=rows, loans_per_isil=loans,
                     rows_per_isil=per_rows, months=months, invalid_isbns=invalid, labels=labels)


def check_file(facts: FileFacts, staged: StagedStatistics, fmt: FileFormat,
               counted: dict[int, int]) -> list[str]:
    """Compare a file read back with the staged figures and an independent count of loans per library.

    ``counted``: agency id -> loans in the month, counted straight from ``lms.loan``. Returns
    the checks that passed; raises :class:`FileCheckError` listing every one that failed.
    """
    problems: list[str] = []
    month = f"{staged.month:%Y-%m}"
    if facts.sha256 != staged.csv_sha256 or facts.bytes != staged.csv_bytes:
        problems.append(f"sha256/size {facts.sha256[:12]}/{facts.bytes} differ from what aggregate wrote "
                        f"({staged.csv_sha256[:12]}/{staged.csv_bytes})")
    if facts.rows != staged.rows:
        problems.append(f"{facts.rows} data rows, the aggregate counted {staged.rows}")
    if facts.months - {month}:
        problems.append(f"column {fmt.column('month')} holds {sorted(facts.months - {month})}, not only {month}")
    included = {lib.isil for lib in staged.libraries}
    strangers = set(facts.loans_per_isil) - included
    if strangers:
        problems.append(f"rows of libraries that are not included: {sorted(strangers)}")
    if facts.invalid_isbns:
        problems.append(f"{len(facts.invalid_isbns)} value(s) of {fmt.column('isbn')} are not ISBN-13: "
                        f"{facts.invalid_isbns[:5]}")
    allowed = {"fiction": set(fmt.fiction.values()), "audience": set(fmt.audience.values()),
               "borrower_category": set(fmt.borrower_category.values())}
    for key, values in facts.labels.items():
        if values - allowed[key]:
            problems.append(f"column {fmt.column(key)} holds {sorted(values - allowed[key])}")
    for lib in staged.libraries:
        in_file = facts.loans_per_isil.get(lib.isil, 0)
        in_db = counted.get(lib.agency_id, 0)
        if in_file != lib.loans_with_isbn or facts.rows_per_isil.get(lib.isil, 0) != lib.rows:
            problems.append(f"{lib.isil}: the file has {in_file} loans in {facts.rows_per_isil.get(lib.isil, 0)} "
                            f"rows, the manifest {lib.loans_with_isbn} in {lib.rows}")
        if in_file + lib.without_isbn != in_db or lib.loans != in_db:
            problems.append(f"{lib.isil}: file {in_file} + uten_isbn {lib.without_isbn} = "
                            f"{in_file + lib.without_isbn}, but the library lent {in_db} in the month")
    extra_ids = set(counted) - {lib.agency_id for lib in staged.libraries}
    if extra_ids:
        problems.append(f"loans counted for agencies that are not in the manifest: {sorted(extra_ids)}")
    if problems:
        raise FileCheckError(f"the {month} file failed {len(problems)} check(s): " + "; ".join(problems))
    return ["header", "sha256 and size", "row count", "month column", "only included libraries",
            "ISBN-13 values (python-stdnum)", "labels", "per library: file = manifest",
            "per library: file + uten_isbn = loans in lms.loan"]
