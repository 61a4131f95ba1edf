"""The anonymised borrower block: ``{"isPerson", "age"?, "gender"}``, computed as vectors.

Nothing that identifies a patron reaches this module: the extract sends only the patron
kind, the catalogued gender and the age in whole years (computed in SQL on the Oslo-local
loan date). The rules:

``isPerson``
    true only when ``patron_kind`` is ``PERSON`` (ignoring ASCII case and surrounding
    whitespace). ``ORGANISATION``, ``INSTITUTION``, ``LIBRARY`` (interlibrary loans),
    any other value and null are not persons.
``gender``
    ``M`` -> ``MALE``; ``F`` or ``K`` (kvinne) -> ``FEMALE``, ignoring ASCII case and
    surrounding whitespace; ``X``, any other value and null -> ``UNKNOWN``. Non-persons are always
    ``UNKNOWN``, whatever is catalogued on the patron record.
``age``
    the extract's ``age`` when the borrower is a person and ``0 <= age <= 120``; otherwise
    omitted from the report (null here). A negative age (birth date after the loan) or
    one above 120 is a data-entry error, not a borrower.

``age_on`` is the reference definition of "whole years on a date" that the SQL must
match: the number of birthdays passed, where someone born on 29 February has their
birthday on 1 March in common years. PostgreSQL's
``extract(year FROM age(loan_date, birth_date))`` agrees for every birth date on or before
the loan date (checked on 3,000 random pairs and the 29 February cases). For a birth date
*after* the loan date it truncates toward zero, so a birth date less than a year in the
future gives 0 -- a plausible age -- where ``age_on`` gives -1; the extract must return
null for ``birth_date > loan date`` (a data-entry error) rather than 0.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from library_integrations.pipelines.loan_report.report.jsontext import strip_like_python

#: Gender codes in the index order used by the builder (int8 column values).
GENDERS: tuple[str, ...] = ("MALE", "FEMALE", "UNKNOWN")
MALE, FEMALE, UNKNOWN = 0, 1, 2
MAX_AGE = 120

_GENDER_VALUES = pa.array(["M", "F", "K"], pa.string())
_GENDER_CODES = pa.array([MALE, FEMALE, FEMALE], pa.int8())


def age_on(birth_date: date, on_date: date) -> int:
    """Whole years between ``birth_date`` and ``on_date`` (birthdays passed).

    >>> age_on(date(2008, 2, 29), date(2026, 2, 28)), age_on(date(2008, 2, 29), date(2026, 3, 1))
    (17, 18)
    """
    years = on_date.year - birth_date.year
    if (on_date.month, on_date.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def _plain(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values


def _per_distinct(values: pa.Array | pa.ChunkedArray, fn, default: pa.Scalar) -> pa.Array:
    """``fn`` applied to the distinct values (few: PERSON, M, K, ...), taken back per row;
    null rows get ``default``."""
    values = _plain(values)
    encoded = values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)
    return pc.fill_null(pc.take(fn(encoded.dictionary), encoded.indices), default)


def _normalised(values: pa.Array) -> pa.Array:
    """Trimmed like ``str.strip()``, ASCII letters upper-cased."""
    return pc.ascii_upper(strip_like_python(values))


def is_person(patron_kind: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Boolean array without nulls: ``patron_kind`` is ``PERSON``."""
    return _per_distinct(
        patron_kind, lambda kinds: pc.equal(_normalised(kinds), "PERSON"), pa.scalar(False, pa.bool_())
    )


def gender_codes(gender: pa.Array | pa.ChunkedArray, person: pa.Array) -> pa.Array:
    """int8 array of indexes into ``GENDERS``; ``UNKNOWN`` for non-persons."""
    unknown = pa.scalar(UNKNOWN, pa.int8())
    codes = _per_distinct(
        gender,
        lambda values: pc.fill_null(
            pc.take(_GENDER_CODES, pc.index_in(_normalised(values), _GENDER_VALUES)), unknown
        ),
        unknown,
    )
    return pc.if_else(person, codes, unknown)


def plausible_age(age: pa.Array | pa.ChunkedArray, person: pa.Array) -> pa.Array:
    """int32 array: the age for persons with ``0 <= age <= MAX_AGE``, else null."""
    age = _plain(age)
    if not pa.types.is_int32(age.type):
        age = age.cast(pa.int32(), safe=False)
    keep = pc.and_kleene(person, pc.and_kleene(pc.greater_equal(age, 0), pc.less_equal(age, MAX_AGE)))
    return pc.if_else(pc.fill_null(keep, False), age, pa.scalar(None, pa.int32()))


def gender_names(codes: pa.Array) -> pa.Array:
    """``GENDERS`` strings for an array of gender codes."""
    return pc.take(pa.array(GENDERS, pa.string()), codes)


def borrower_variant_index(person: pa.Array, gender: pa.Array, age: pa.Array) -> np.ndarray:
    """Index of each row's borrower block among ``borrower_variants()`` (int32 numpy).

    There are only ``1 + 3 * 122`` distinct borrower blocks (non-person; person x gender x
    age 0..120 or omitted), so the builder renders each once and takes by this index.
    """
    person_np = person.to_numpy(zero_copy_only=False).astype(bool)
    gender_np = gender.to_numpy(zero_copy_only=False).astype(np.int32)
    age_np = pc.fill_null(age, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    slots = MAX_AGE + 2  # omitted, 0..120
    index = 1 + gender_np * slots + (age_np + 1)
    return np.where(person_np, index, 0).astype(np.int32)


def borrower_variants() -> list[tuple[bool, int | None, str]]:
    """``(isPerson, age or None, gender)`` for every index of ``borrower_variant_index``."""
    variants: list[tuple[bool, int | None, str]] = [(False, None, "UNKNOWN")]
    for gender in GENDERS:
        variants.append((True, None, gender))
        variants.extend((True, a, gender) for a in range(MAX_AGE + 1))
    return variants
