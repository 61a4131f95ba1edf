"""Material type code -> Bokbasen format, from ``include/config/material_formats.toml``.

The mapping is configuration, not code. The file has one table, ``[formats]``, with one
line per material type code of the library system::

    [formats]
    BOOK = "PAPER"
    AUDIOBOOK_CD = "AUDIO"
    EBOOK = "EBOOK"
    DVD = "EXCLUDED"

Values are ``AUDIO``, ``EBOOK``, ``PAPER`` (the formats Bokbasen accepts) or ``EXCLUDED``
(a known material type that is not reported: reason ``excluded_material_type``). A code
that is not in the file, or a null/blank code, is ``unknown_material_type``, and the
quality summary names it with its count, so a new material type in the library system
shows up in the log the first night it is lent out instead of silently disappearing.

Codes are compared after trimming surrounding whitespace and upper-casing ASCII letters.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from library_integrations import INCLUDE_DIR
from library_integrations.pipelines.loan_report.report.jsontext import strip_like_python

DEFAULT_FORMATS_FILE = INCLUDE_DIR / "config" / "material_formats.toml"

#: The formats Bokbasen accepts, in the index order used by the builder's format codes.
BOKBASEN_FORMATS: tuple[str, ...] = ("AUDIO", "EBOOK", "PAPER")
EXCLUDED = "EXCLUDED"

# Per-row classification returned by ``MaterialFormats.classify``.
FORMAT_UNKNOWN = -1
FORMAT_EXCLUDED = -2


class MaterialFormatsError(ValueError):
    """The material format mapping file is missing or malformed."""


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def normalise_code(code: str) -> str:
    """Trim (as ``str.strip``) and upper-case ASCII letters: ``" book "`` -> ``"BOOK"``."""
    return code.strip().translate(_ASCII_UPPER)


def normalise_codes(codes: pa.Array) -> pa.Array:
    """Vectorised ``normalise_code`` (nulls stay null)."""
    return pc.ascii_upper(strip_like_python(codes))


@dataclass(frozen=True)
class MaterialFormats:
    """A validated mapping ``code -> "AUDIO" | "EBOOK" | "PAPER" | "EXCLUDED"``."""

    mapping: Mapping[str, str]
    source: str = "<memory>"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str], source: str = "<memory>") -> MaterialFormats:
        """Validate a plain mapping (keys are normalised; values must be valid formats)."""
        if not isinstance(mapping, Mapping) or not mapping:
            raise MaterialFormatsError(f'{source}: [formats] must be a non-empty table of CODE = "FORMAT"')
        allowed = (*BOKBASEN_FORMATS, EXCLUDED)
        clean: dict[str, str] = {}
        problems: list[str] = []
        for raw_code, raw_value in mapping.items():
            if not isinstance(raw_code, str) or not raw_code.strip():
                problems.append(f"empty material type code {raw_code!r}")
                continue
            code = normalise_code(raw_code)
            if not isinstance(raw_value, str) or raw_value.strip().upper() not in allowed:
                problems.append(f"{raw_code} = {raw_value!r}: format must be one of {', '.join(allowed)}")
                continue
            if code in clean:
                problems.append(f"{raw_code}: listed twice (codes are compared ignoring case)")
                continue
            clean[code] = raw_value.strip().upper()
        if problems:
            raise MaterialFormatsError(f"{source}: invalid material format mapping: " + "; ".join(problems))
        return cls(mapping=dict(sorted(clean.items())), source=source)

    def format_of(self, code: str | None) -> str | None:
        """The Bokbasen format of one code, ``"EXCLUDED"``, or None when unknown."""
        if code is None or not code.strip():
            return None
        return self.mapping.get(normalise_code(code))

    def classify(self, codes: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Vectorised: per row, the index into ``BOKBASEN_FORMATS`` (0..2), or
        ``FORMAT_EXCLUDED`` (-2) or ``FORMAT_UNKNOWN`` (-1), as an int8 array without nulls.

        Works on the distinct codes (dictionary-encoded), so it costs little per row.
        """
        if isinstance(codes, pa.ChunkedArray):
            codes = codes.combine_chunks()
        encoded = codes if pa.types.is_dictionary(codes.type) else pc.dictionary_encode(codes)
        normalised = normalise_codes(encoded.dictionary)
        keys = list(self.mapping)
        values = [
            FORMAT_EXCLUDED if self.mapping[k] == EXCLUDED else BOKBASEN_FORMATS.index(self.mapping[k])
            for k in keys
        ]
        index = pc.index_in(normalised, value_set=pa.array(keys, pa.string()))
        per_code = pc.fill_null(
            pc.take(pa.array(values, pa.int8()), index), pa.scalar(FORMAT_UNKNOWN, pa.int8())
        )
        return pc.fill_null(pc.take(per_code, encoded.indices), pa.scalar(FORMAT_UNKNOWN, pa.int8()))


def load_material_formats(path: str | Path | None = None) -> MaterialFormats:
    """Load and validate the mapping file (default ``include/config/material_formats.toml``).

    Raises ``MaterialFormatsError`` with the file name and every problem found: unreadable
    file, TOML syntax, missing ``[formats]`` table, unknown format values, duplicates.
    """
    path = Path(path) if path is not None else DEFAULT_FORMATS_FILE
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise MaterialFormatsError(f"material format mapping not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MaterialFormatsError(f"{path}: not valid TOML: {exc}") from exc
    if "formats" not in data:
        raise MaterialFormatsError(f"{path}: missing the [formats] table")
    unexpected = sorted(set(data) - {"formats"})
    if unexpected:
        raise MaterialFormatsError(f"{path}: unexpected top-level keys {unexpected}; only [formats] is read")
    return MaterialFormats.from_mapping(data["formats"], source=str(path))
