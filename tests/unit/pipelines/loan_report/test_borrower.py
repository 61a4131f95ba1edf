"""The anonymised borrower block: isPerson, age, gender."""

from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from library_integrations.pipelines.loan_report.report.borrower import (
    FEMALE,
    GENDERS,
    MALE,
    UNKNOWN,
    age_on,
    borrower_variant_index,
    borrower_variants,
    gender_codes,
    gender_names,
    is_person,
    plausible_age,
)


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(1984, 11, 20), date(2026, 11, 20), 42),  # turns 42 on the loan day
        (date(1984, 11, 21), date(2026, 11, 20), 41),  # the day before the birthday
        (date(2008, 2, 29), date(2026, 2, 28), 17),  # leapling, common year: not yet
        (date(2008, 2, 29), date(2026, 3, 1), 18),  # ... birthday counted on 1 March
        (date(2008, 2, 29), date(2028, 2, 28), 19),
        (date(2008, 2, 29), date(2028, 2, 29), 20),  # leap year: on the day
        (date(2026, 3, 28), date(2026, 3, 28), 0),  # born on the loan day
        (date(1906, 1, 1), date(2026, 1, 1), 120),
        (date(2027, 1, 1), date(2026, 3, 28), -1),  # birth date after the loan: negative
    ],
)
def test_age_on(birth, on, age):
    assert age_on(birth, on) == age


@given(st.dates(min_value=date(1900, 1, 1)), st.dates(min_value=date(1900, 1, 1)))
def test_age_on_counts_birthdays(birth, on):
    age = age_on(birth, on)
    if on >= birth:
        assert age >= 0

        # exactly ``age`` birthdays have passed: the age-th anniversary is not after ``on``
        def anniversary(n):
            try:
                return birth.replace(year=birth.year + n)
            except ValueError:  # 29 February in a common year -> 1 March
                return date(birth.year + n, 3, 1)

        assert anniversary(age) <= on
        if birth.year + age + 1 <= 9999:
            assert anniversary(age + 1) > on
    else:
        assert age < 0


def test_is_person():
    kinds = pa.array(
        ["PERSON", " person ", "Person", "ORGANISATION", "INSTITUTION", "LIBRARY", "X", "", None]
    )
    assert is_person(kinds).to_pylist() == [True, True, True, False, False, False, False, False, False]


def test_gender():
    genders = pa.array(["M", " m", "F", "f ", "K", "k", "X", "x", "male", "", None, "M", "K"])
    person = pa.array([True] * 11 + [False, False])
    names = gender_names(gender_codes(genders, person)).to_pylist()
    assert names == [
        "MALE",
        "MALE",
        "FEMALE",
        "FEMALE",
        "FEMALE",
        "FEMALE",
        "UNKNOWN",
        "UNKNOWN",
        "UNKNOWN",
        "UNKNOWN",
        "UNKNOWN",
        "UNKNOWN",  # non-person
        "UNKNOWN",  # non-person
    ]


def test_plausible_age():
    ages = pa.array([0, 42, 120, 121, -1, None, 200, 2**31 - 1, -(2**31), 42], pa.int32())
    person = pa.array([True] * 9 + [False])
    assert plausible_age(ages, person).to_pylist() == [0, 42, 120, None, None, None, None, None, None, None]


def test_organisation_borrower_is_anonymous():
    person = is_person(pa.array(["ORGANISATION"]))
    gender = gender_codes(pa.array(["F"]), person)
    age = plausible_age(pa.array([35], pa.int32()), person)
    index = borrower_variant_index(person, gender, age)
    assert borrower_variants()[index[0]] == (False, None, "UNKNOWN")


def test_variant_index_covers_every_combination():
    variants = borrower_variants()
    assert len(variants) == 1 + 3 * 122
    ages = [None, *range(121)]
    person = pa.array([True] * (3 * len(ages)))
    gender = pa.array([g for g in (MALE, FEMALE, UNKNOWN) for _ in ages], pa.int8())
    age = pa.array([a for _ in range(3) for a in ages], pa.int32())
    index = borrower_variant_index(person, gender, age)
    expected = [(True, a, GENDERS[g]) for g in (MALE, FEMALE, UNKNOWN) for a in ages]
    assert [variants[i] for i in index] == expected
