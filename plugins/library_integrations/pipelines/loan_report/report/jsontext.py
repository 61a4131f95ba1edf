"""Vectorised JSON text for the report builder: Arrow string kernels, orjson where needed.

The builder writes each loan's JSON object as text assembled from columns instead of
building a million dicts. The pieces must be byte-identical to what ``orjson.dumps`` writes
for the same values (the tests compare them), so:

* ``json_strings``: trims each string like Python's ``str.strip()`` (the same set of
  whitespace characters), drops blank ones (null out), and quotes the rest. orjson escapes
  only ``"``, ``\\`` and U+0000-U+001F and writes everything else as raw UTF-8; a string
  without those characters is therefore ``'"' + s + '"'``, done as an Arrow kernel. The
  few strings that do contain them are escaped by ``orjson.dumps`` itself, once per
  distinct value.
* ``utc_seconds_text``: ``YYYY-MM-DDTHH:MM:SSZ`` from epoch seconds with numpy (Arrow's
  ``strftime`` costs ~2 s per million rows here).
* ``json_string_lists``: ``["a","b"]`` from a ``list<string>`` column, entries through
  ``json_strings``, blank entries dropped, null when none are left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

# The characters Python's str.isspace() accepts (what str.strip() removes).
_PY_WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'
_NULL_STRING = pa.scalar(None, pa.string())


def _plain(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values


def strip_like_python(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``str.strip()`` of every value (nulls stay null)."""
    return pc.utf8_trim(_plain(values), characters=_PY_WHITESPACE)


def json_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """JSON string literal of each trimmed, non-blank value; null for null/blank values."""
    trimmed = strip_like_python(values)
    present = pc.fill_null(pc.not_equal(trimmed, ""), False)
    quoted = pc.binary_join_element_wise('"', trimmed, '"', "")
    needs = pc.fill_null(pc.and_(present, pc.match_substring_regex(trimmed, _NEEDS_ESCAPE)), False)
    if pc.any(needs).as_py():
        special = pc.dictionary_encode(trimmed.filter(needs))
        escaped = pa.array(
            [orjson.dumps(v).decode("utf-8") for v in special.dictionary.to_pylist()], pa.string()
        )
        rendered = pc.take(escaped, special.indices)
        positions = np.flatnonzero(needs.to_numpy(zero_copy_only=False))
        index = np.full(len(trimmed), -1, dtype=np.int64)
        index[positions] = np.arange(len(positions))
        escaped_rows = pc.take(rendered, pa.array(index, mask=index < 0))
        quoted = pc.if_else(needs, escaped_rows, quoted)
    return pc.if_else(present, quoted, _NULL_STRING)


def json_string_lists(lists: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``["a","b"]`` per row of a list<string> column; null when no non-blank entry."""
    lists = _plain(lists)
    n = len(lists)
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    rendered = json_strings(flat) if len(flat) else pa.array([], pa.string())
    keep = pc.is_valid(rendered)
    kept = rendered.filter(keep)
    counts = np.bincount(parents.filter(keep).to_numpy(zero_copy_only=False), minlength=n)[:n]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), kept), ",")
    wrapped = pc.binary_join_element_wise("[", joined, "]", "")
    return pc.if_else(pa.array(counts > 0), wrapped, _NULL_STRING)


def quoted(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """JSON string literal of values that never need escaping (digits, UUIDs, codes)."""
    return pc.binary_join_element_wise('"', _plain(values), '"', "")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def utc_seconds_text(epoch_seconds: np.ndarray) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) of each epoch second, as a string array."""
    seconds = np.asarray(epoch_seconds, dtype=np.int64)
    n = len(seconds)
    days, second_of_day = np.divmod(seconds, 86_400)
    distinct_days, day_index = np.unique(days, return_inverse=True)
    date_text = np.frombuffer(
        b"".join(
            f"{(_EPOCH + timedelta(days=int(d))).date().isoformat()}T".encode("ascii") for d in distinct_days
        ),
        dtype=np.uint8,
    ).reshape(len(distinct_days), 11)
    text = np.empty((n, 20), dtype=np.uint8)
    text[:, :11] = date_text[day_index]
    hours, rest = np.divmod(second_of_day, 3600)
    minutes, secs = np.divmod(rest, 60)
    for column, value in ((11, hours), (14, minutes), (17, secs)):
        text[:, column] = _DIGITS[value // 10]
        text[:, column + 1] = _DIGITS[value % 10]
    text[:, 13] = ord(":")
    text[:, 16] = ord(":")
    text[:, 19] = ord("Z")
    offsets = np.arange(0, (n + 1) * 20, 20, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))
