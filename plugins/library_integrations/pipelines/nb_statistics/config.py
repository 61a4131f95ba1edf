"""The configuration of the NB file: format (``nb_statistics_file.toml``) and borrower categories
(``nb_borrower_categories.toml``), both in ``include/config``.

NB has published no file specification yet, so column names, delimiter and labels are data:
adapting to NB's final specification is a configuration change. Both files are checked
when read; a mistake fails the task with the file and the key named.

>>> fmt = load_file_format()
>>> fmt.delimiter, fmt.header()
(';', b'maaned;isil;bibliotek;isbn;tittel;ordningsord;utgivelsesaar;skjonn_fag;barn_voksen;lanerkategori;antall_utlan\\r\\n')
>>> cats = load_categories()
>>> cats.codes["V"], cats.codes["BIB"], cats.kinds["INSTITUTION"], cats.child_max_age
('voksen', 'bibliotek', 'institusjon', 14)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from library_integrations import INCLUDE_DIR

CONFIG_DIR = INCLUDE_DIR / "config"
FILE_FORMAT_PATH = CONFIG_DIR / "nb_statistics_file.toml"
CATEGORIES_PATH = CONFIG_DIR / "nb_borrower_categories.toml"

#: NB's borrower categories a code may map to; ``ukjent`` is the pipeline's own fallback.
CATEGORIES = ("barn", "voksen", "bibliotek", "institusjon", "annet")
ALL_CATEGORIES = (*CATEGORIES, "ukjent")
#: The columns, in file order (keys of ``[columns]``).
COLUMN_KEYS = ("month", "isil", "library", "isbn", "title", "shelf_word", "publication_year", "fiction",
               "audience", "borrower_category", "loans")
DELIMITERS = (";", ",", "|", "\t")


class ConfigError(ValueError):
    """A configuration file of the NB statistics is wrong; the message names the file and the key."""


def _read(path: Path) -> dict:
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _labels(data: dict, path: Path, section: str, keys: tuple[str, ...]) -> dict[str, str]:
    table = data.get("labels", {}).get(section, {})
    missing = [k for k in keys if not str(table.get(k, "")).strip()]
    if missing:
        raise ConfigError(f"{path}: [labels.{section}] lacks {', '.join(missing)}")
    return {k: str(table[k]) for k in keys}


@dataclass(frozen=True)
class FileFormat:
    format_version: str
    delimiter: str
    file_prefix: str
    columns: tuple[str, ...]  # header names in COLUMN_KEYS order
    fiction: dict[str, str]  # fiction / non_fiction / unknown -> label
    audience: dict[str, str]  # children / adult / unknown -> label
    borrower_category: dict[str, str]  # each of ALL_CATEGORIES -> label

    def header(self) -> bytes:
        """The header row as written: UTF-8, CRLF (RFC 4180)."""
        return (self.delimiter.join(self.columns) + "\r\n").encode("utf-8")

    def column(self, key: str) -> str:
        return self.columns[COLUMN_KEYS.index(key)]


def load_file_format(path: Path = FILE_FORMAT_PATH) -> FileFormat:
    data = _read(path)
    delimiter = data.get("delimiter", ";")
    if delimiter not in DELIMITERS:
        raise ConfigError(f"{path}: delimiter must be one of {DELIMITERS!r}, not {delimiter!r}")
    columns = data.get("columns", {})
    missing = [k for k in COLUMN_KEYS if not str(columns.get(k, "")).strip()]
    if missing:
        raise ConfigError(f"{path}: [columns] lacks {', '.join(missing)}")
    names = tuple(str(columns[k]) for k in COLUMN_KEYS)
    bad = [n for n in names if any(ch in n for ch in (delimiter, '"', "\r", "\n"))]
    if bad or len(set(names)) != len(names):
        raise ConfigError(f"{path}: column names must be distinct and hold no delimiter, quote or line break: {bad}")
    prefix = str(data.get("file_prefix", "nb_utlan"))
    if not prefix or not all(ch.isalnum() or ch in "_-" for ch in prefix):
        raise ConfigError(f"{path}: file_prefix must be letters, digits, '_' or '-', not {prefix!r}")
    return FileFormat(
        format_version=str(data.get("format_version", "1.0")),
        delimiter=delimiter,
        file_prefix=prefix,
        columns=names,
        fiction=_labels(data, path, "fiction", ("fiction", "non_fiction", "unknown")),
        audience=_labels(data, path, "audience", ("children", "adult", "unknown")),
        borrower_category=_labels(data, path, "borrower_category", ALL_CATEGORIES),
    )


@dataclass(frozen=True)
class CategoryMapping:
    codes: dict[str, str]  # normalised code (trimmed, upper case) -> category
    kinds: dict[str, str]  # patron_kind of a non-person -> category, when its code does not decide
    child_max_age: int
    max_plausible_age: int


def normalise_code(code: str) -> str:
    """Codes match ignoring case and surrounding whitespace (as the SQL does: ``upper(btrim(...))``)."""
    return code.strip().upper()


def load_categories(path: Path = CATEGORIES_PATH) -> CategoryMapping:
    data = _read(path)
    codes: dict[str, str] = {}
    for code, category in data.get("categories", {}).items():
        if category not in CATEGORIES:
            raise ConfigError(f"{path}: [categories] {code} = {category!r}: not one of {', '.join(CATEGORIES)}")
        key = normalise_code(code)
        if key in codes and codes[key] != category:
            raise ConfigError(f"{path}: [categories] {key} is mapped twice, to {codes[key]} and {category}")
        codes[key] = category
    kinds = {}
    for kind, category in data.get("patron_kinds", {}).items():
        if category not in CATEGORIES:
            raise ConfigError(f"{path}: [patron_kinds] {kind} = {category!r}: not one of {', '.join(CATEGORIES)}")
        kinds[kind.strip().upper()] = category
    child_max_age = int(data.get("child_max_age", 14))
    max_age = int(data.get("max_plausible_age", 120))
    if not 0 <= child_max_age < max_age:
        raise ConfigError(f"{path}: need 0 <= child_max_age < max_plausible_age, got {child_max_age}, {max_age}")
    return CategoryMapping(codes=codes, kinds=kinds, child_max_age=child_max_age, max_plausible_age=max_age)
