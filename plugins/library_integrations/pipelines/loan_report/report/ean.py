"""EAN-13 of a catalogued ISBN/ISMN/ISSN, normalised and checked with python-stdnum.

Bokbasen identifies a title by its EAN-13. ``manifestation.isbn`` is free text as
catalogued, so each value is normalised like this:

1. null, empty or only whitespace (what ``str.strip()`` removes) -> excluded, reason
   ``missing_ean``.
2. Unicode is NFKC-normalised (full-width digits become ASCII) and every kind of dash
   becomes ``-``. A leading label ``ISBN``, ``ISBN-13``, ``ISBN 10:``, ``ISMN``, ``ISSN``
   or ``EAN`` is dropped, and so is a trailing qualifier that starts with ``(``, ``:``,
   ``;``, ``,`` or ``/`` (``82-03-36418-5 (ib.)``, ``978... : Nkr 349``; when two numbers
   are catalogued in one field, the first one is used).
3. Separators (hyphens, spaces, dots) are removed and the rest is recognised by shape:

   ==========================  ===================================================
   13 digits 978/979 (not 9790) ISBN-13, checked with ``stdnum.isbn``
   13 digits 9790               ISMN (printed music), checked with ``stdnum.ismn``
   13 digits 977                ISSN-EAN (serials), checked with ``stdnum.ean``
   10 characters, 9 digits +    ISBN-10 (check digit ``X`` allowed), checked and
   digit or ``X``               converted to 978-EAN with ``stdnum.isbn``
   ``M`` + 9 digits             pre-2008 ISMN, converted to 9790-EAN (``stdnum.ismn``)
   ``NNNN-NNNC`` or ``ISSN ..`` a bare ISSN, converted to its EAN ``977 NNNNNNN 00 C``
                                (issue code 00, the GS1 rule) with ``stdnum.issn``
   ==========================  ===================================================

   Anything else -- a wrong check digit, a wrong length, an EAN of another GS1 prefix
   (a music CD's barcode is not a book), letters -- is excluded, reason ``invalid_ean``.
   9-digit SBNs are not accepted (a random 9-digit string passes their check one time
   in eleven).

The vectorised entry point, ``normalise_eans``, validates each *distinct* value once
(dictionary-encode, validate the dictionary, take back), with an optional cache that the
report builder keeps for the whole day, so a popular title lent 5,000 times is checked once.
Steps 2-3 (Unicode, labels, separators) run as Arrow string kernels over the distinct
values; the per-value Python work is only the stdnum check of the compact number. For
13-digit numbers whose shape is already known, that check is stdnum's EAN check digit
(``stdnum.ean.calc_check_digit``) plus the prefix test, which is exactly what
``stdnum.isbn/ismn/ean.validate`` do after their own (slow) re-cleaning; the tests assert
that both give the same answer.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import ean as std_ean
from stdnum import isbn as std_isbn
from stdnum import ismn as std_ismn
from stdnum import issn as std_issn
from stdnum.exceptions import ValidationError

from library_integrations.pipelines.loan_report.report.jsontext import strip_like_python
from library_integrations.pipelines.loan_report.report.quality import INVALID_EAN, MISSING_EAN

#: Result of one value: ``(ean13, None)`` when valid, ``(None, reason)`` when not.
EanResult = tuple[str | None, str | None]

_MISSING: EanResult = (None, MISSING_EAN)
_INVALID: EanResult = (None, INVALID_EAN)

# Arrow (RE2) patterns, applied after NFKC normalisation.
_DASHES = "[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d]"
_SHAPE = (
    r"(?is)^\s*(?:(?P<label>ISBN|ISMN|ISSN|EAN)(?:[- ]?1[03][\s:.])?\s*[:.]?\s*)?"
    r"(?P<number>[0-9][0-9X \-.]*?|M[0-9 \-.]+?)\s*(?:[(:;,/].*)?$"
)
_ISSN_PRINTED = r"^[0-9]{4}-[0-9]{3}[0-9Xx]$"
_DIGITS = re.compile(r"^[0-9]+$")
_ISBN10 = re.compile(r"^[0-9]{9}[0-9X]$")
_ISMN10 = re.compile(r"^M[0-9]{9}$")


def _validate_compact(number: str, issn_form: bool) -> EanResult:
    """Check one compact number (ASCII digits, ``X``, ``M``) with python-stdnum."""
    try:
        if len(number) == 13 and _DIGITS.match(number):
            if not number.startswith(("977", "978", "979")):
                return _INVALID  # an EAN, but not of a book, serial or score
            if std_ean.calc_check_digit(number[:12]) != number[12]:
                return _INVALID
            return number, None
        if len(number) == 10 and _ISMN10.match(number):
            std_ismn.validate(number)
            return std_ismn.to_ismn13(number), None
        if len(number) == 10 and _ISBN10.match(number):
            std_isbn.validate(number)  # the ISBN-10 check digit (X = 10)
            body = "978" + number[:9]  # as stdnum.isbn.to_isbn13, without re-cleaning
            return body + std_ean.calc_check_digit(body), None
        if len(number) == 8 and issn_form:
            return std_issn.to_ean(number), None
    except ValidationError:
        return _INVALID
    return _INVALID


def _normalise_distinct(values: pa.Array) -> list[EanResult]:
    """``EanResult`` of each value of a string array (validation per distinct compact number)."""
    text = pc.replace_substring_regex(pc.utf8_normalize(values, "NFKC"), _DASHES, "-")
    blank = pc.fill_null(pc.equal(strip_like_python(text), ""), True).to_pylist()
    shape = pc.extract_regex(text, _SHAPE)
    printed = pc.utf8_trim_whitespace(shape.field("number"))
    compact = pc.utf8_upper(pc.replace_substring_regex(printed, r"[ \-.]", ""))
    issn_form = pc.or_kleene(
        pc.equal(pc.utf8_upper(shape.field("label")), "ISSN"),
        pc.match_substring_regex(printed, _ISSN_PRINTED),
    )
    issn_form = pc.fill_null(issn_form, False).to_pylist()
    seen: dict[tuple[str, bool], EanResult] = {}
    results: list[EanResult] = []
    for is_blank, number, issn in zip(blank, compact.to_pylist(), issn_form, strict=True):
        if is_blank:
            results.append(_MISSING)
        elif number is None:
            results.append(_INVALID)
        else:
            key = (number, issn)
            result = seen.get(key)
            if result is None:
                result = seen[key] = _validate_compact(number, issn)
            results.append(result)
    return results


def normalise_ean(value: str | None) -> EanResult:
    """``(ean13, None)`` for a valid book identifier, else ``(None, reason)``.

    >>> normalise_ean("0-8044-2957-X")
    ('9780804429573', None)
    >>> normalise_ean("978-82-03-36418-2")
    (None, 'invalid_ean')
    """
    if value is None:
        return _MISSING
    return _normalise_distinct(pa.array([str(value)], pa.string()))[0]


def is_valid_book_ean(value: str) -> bool:
    """True for a 13-digit EAN with a valid check digit and a book prefix (977/978/979)."""
    return (
        isinstance(value, str)
        and len(value) == 13
        and _DIGITS.match(value) is not None
        and value.startswith(("977", "978", "979"))
        and std_ean.is_valid(value)
    )


def _as_arrow(values: pa.Array | pa.ChunkedArray | pd.Series | list) -> pa.Array:
    if isinstance(values, pd.Series):
        values = pa.array(values.astype(object).where(values.notna(), None), pa.string(), from_pandas=True)
    elif isinstance(values, list):
        values = pa.array(values, pa.string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    return values


class EanCache:
    """Results of every distinct catalogued value seen so far, as Arrow columns.

    The report builder keeps one per day: looking values up is a vectorised hash join
    (``index_in``), and only values never seen before reach the per-value validation.
    """

    def __init__(self) -> None:
        self.values = pa.array([], pa.string())
        self.eans = pa.array([], pa.string())
        self.reasons = pa.array([], pa.string())

    def __len__(self) -> int:
        return len(self.values)

    def lookup(self, distinct: pa.Array) -> tuple[pa.Array, pa.Array]:
        """``(eans, reasons)`` for an array of distinct non-null values, validating new ones."""
        position = pc.index_in(distinct, value_set=self.values)
        new = pc.is_null(position)
        if pc.any(new).as_py():
            fresh_values = distinct.filter(new)
            fresh = _normalise_distinct(fresh_values)
            base = len(self.values)
            self.values = pa.concat_arrays([self.values, fresh_values])
            self.eans = pa.concat_arrays([self.eans, pa.array([r[0] for r in fresh], pa.string())])
            self.reasons = pa.concat_arrays([self.reasons, pa.array([r[1] for r in fresh], pa.string())])
            fresh_position = pa.array(np.arange(base, base + len(fresh_values), dtype=np.int32))
            filled = position.to_numpy(zero_copy_only=False).astype(np.float64)
            filled[np.isnan(filled)] = fresh_position.to_numpy()
            position = pa.array(filled.astype(np.int32))
        return pc.take(self.eans, position), pc.take(self.reasons, position)


def normalise_eans(
    values: pa.Array | pa.ChunkedArray | pd.Series | list,
    cache: EanCache | None = None,
) -> tuple[pa.Array, pa.Array]:
    """Vectorised ``normalise_ean``: ``(eans, reasons)`` as two string arrays.

    ``eans[i]`` is the EAN-13 or null; ``reasons[i]`` is null when valid, else
    ``missing_ean`` / ``invalid_ean``. Each distinct input value is validated once; pass an
    ``EanCache`` to share that work across calls (the builder keeps one per day).
    A pandas Series in gives a pair of Series (same index) out.
    """
    index = values.index if isinstance(values, pd.Series) else None
    array = _as_arrow(values)
    encoded = pc.dictionary_encode(array)
    eans, reasons = (cache if cache is not None else EanCache()).lookup(encoded.dictionary)
    out_eans = pc.take(eans, encoded.indices)
    out_reasons = pc.if_else(
        pc.is_null(encoded.indices),  # a null input value
        pa.scalar(MISSING_EAN, pa.string()),
        pc.take(reasons, encoded.indices),
    )
    if index is not None:
        return (
            pd.Series(out_eans.to_pylist(), index=index, dtype=object),
            pd.Series(out_reasons.to_pylist(), index=index, dtype=object),
        )
    return out_eans, out_reasons
