"""EAN-13 normalisation and validation of catalogued ISBN/ISMN/ISSN values."""

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import ean as std_ean
from stdnum import isbn as std_isbn
from stdnum import ismn as std_ismn
from stdnum.exceptions import ValidationError

from library_integrations.pipelines.loan_report.report import ean as ean_module
from library_integrations.pipelines.loan_report.report.ean import (
    EanCache,
    is_valid_book_ean,
    normalise_ean,
    normalise_eans,
)

SULT = "9788203364181"  # Hamsun, Sult (Gyldendal)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # ISBN-13, any punctuation
        ("9788203364181", SULT),  # bare EAN
        ("978-82-03-36418-1", SULT),
        ("978 82 03 36418 1", SULT),
        ("978.82.03.36418.1", SULT),
        ("  978-82-03-36418-1  ", SULT),
        ("978\u201382\u201303\u201336418\u20131", SULT),  # en dashes
        ("978\u00a082\u00a003\u00a036418\u00a01", SULT),  # no-break spaces
        (
            "\uff19\uff17\uff18\uff18\uff12\uff10\uff13\uff13\uff16\uff14\uff11\uff18\uff11",
            SULT,
        ),  # full-width
        ("ISBN 978-82-03-36418-1", SULT),
        ("ISBN-13: 978-82-03-36418-1", SULT),
        ("isbn 978-82-03-36418-1", SULT),
        ("978-82-03-36418-1 (ib.)", SULT),
        ("978-82-03-36418-1 : Nkr 349.00", SULT),
        ("9788203364181; 9788203364198", SULT),  # first of two
        # ISBN-10 -> 978 EAN
        ("82-03-36418-7", SULT),
        ("8203364187", SULT),
        ("0-8044-2957-X", "9780804429573"),  # X check digit
        ("0 8044 2957 x", "9780804429573"),  # lower-case x, spaces
        ("080442957X", "9780804429573"),
        ("ISBN 10: 0-8044-2957-X", "9780804429573"),
        # ISMN (printed music) -> 9790
        ("979-0-3452-4680-5", "9790345246805"),
        ("9790345246805", "9790345246805"),
        ("M-2306-7118-7", "9790230671187"),  # pre-2008 form
        ("ISMN M 2306 7118 7", "9790230671187"),
        # ISSN-EAN kept; a printed ISSN converted with issue code 00
        ("9770029128009", "9770029128009"),
        ("977-0029-128-00-9", "9770029128009"),
        ("0317-8471", "9770317847001"),
        ("ISSN 0317-8471", "9770317847001"),
        ("ISSN 03178471", "9770317847001"),
    ],
)
def test_valid(raw, expected):
    assert normalise_ean(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        "978-82-03-36418-2",  # bad check digit
        "82-03-36418-5",  # bad ISBN-10 check digit
        "0-8044-2957-1",
        "979-0-3452-4680-4",  # bad ISMN check digit
        "M-2306-7118-6",
        "9770029128008",  # bad ISSN-EAN check digit
        "978820336418",  # 12 digits
        "97882033641811",  # 14 digits
        "820336418",  # 9-digit SBN: not accepted
        "5701234567892",  # a valid EAN, but not a book (GS1 Denmark)
        "7038010009457",  # a Norwegian grocery barcode
        "03178471",  # 8 digits without ISSN form or label
        "abc",
        "ISBN",
        "n/a",
        "9788203364181abc",
        "978-82-03-36418-1x",
        "X",
        "-",
        "\u0663\u0663",  # Arabic-Indic digits
    ],
)
def test_invalid(raw):
    assert normalise_ean(raw) == (None, "invalid_ean")


@pytest.mark.parametrize("raw", [None, "", " ", "\t\n", "\u00a0", "\u3000"])
def test_missing(raw):
    assert normalise_ean(raw) == (None, "missing_ean")


def test_vector_and_series():
    values = ["0-8044-2957-X", None, "x", "0-8044-2957-X", " "]
    eans, reasons = normalise_eans(pa.array(values))
    assert eans.to_pylist() == ["9780804429573", None, None, "9780804429573", None]
    assert reasons.to_pylist() == [None, "missing_ean", "invalid_ean", None, "missing_ean"]
    series = pd.Series(values, index=[10, 11, 12, 13, 14])
    s_eans, s_reasons = normalise_eans(series)
    assert list(s_eans.index) == [10, 11, 12, 13, 14]
    assert s_eans.tolist() == eans.to_pylist()
    assert s_reasons.tolist() == reasons.to_pylist()
    chunked = pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])])
    assert normalise_eans(chunked)[0].to_pylist() == eans.to_pylist()


def test_each_distinct_value_is_validated_once(monkeypatch):
    calls = []
    real = ean_module._validate_compact

    def counting(number, issn_form):
        calls.append(number)
        return real(number, issn_form)

    monkeypatch.setattr(ean_module, "_validate_compact", counting)
    cache = EanCache()
    column = pa.array([SULT] * 1000 + ["978-82-03-36418-1"] * 500 + ["0-8044-2957-X"] * 10)
    normalise_eans(column, cache)
    # two distinct spellings of one number: one stdnum check; plus the ISBN-10
    assert sorted(calls) == ["080442957X", SULT]
    normalise_eans(pa.array([SULT, "0-8044-2957-X", "9790345246805"]), cache)
    assert sorted(calls) == ["080442957X", SULT, "9790345246805"]  # only the new value
    assert len(cache) == 4


def test_is_valid_book_ean():
    assert is_valid_book_ean(SULT)
    assert is_valid_book_ean("9790345246805")
    assert is_valid_book_ean("9770029128009")
    assert not is_valid_book_ean("9788203364182")
    assert not is_valid_book_ean("5701234567892")
    assert not is_valid_book_ean("978-82-03-36418-1")


def _stdnum_reference(number: str) -> str | None:
    """What python-stdnum's own validate functions say about a compact 13/10-digit number."""
    try:
        if len(number) == 13 and number.startswith("9790"):
            return std_ismn.validate(number)
        if len(number) == 13 and number.startswith(("978", "979")):
            return std_isbn.validate(number)
        if len(number) == 13 and number.startswith("977"):
            return std_ean.validate(number)
        if len(number) == 10:
            return std_isbn.validate(number, convert=True)
    except ValidationError:
        return None
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"97[789][0-9]{10}", fullmatch=True),
        st.from_regex(r"9790[0-9]{9}", fullmatch=True),
        st.from_regex(r"[0-9]{9}[0-9X]", fullmatch=True),
        st.from_regex(r"[0-9]{13}", fullmatch=True),
    )
)
def test_agrees_with_stdnum_validate(number):
    """The fast path (stdnum's check digit on a known shape) equals stdnum's validate()."""
    assert normalise_ean(number)[0] == _stdnum_reference(number)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=30)))
def test_never_raises_and_output_is_a_book_ean(value):
    ean, reason = normalise_ean(value)
    assert (ean is None) != (reason is None)
    if ean is not None:
        assert is_valid_book_ean(ean)
    else:
        assert reason in ("missing_ean", "invalid_ean")
