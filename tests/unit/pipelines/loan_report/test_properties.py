"""Properties of the report builder over generated source rows of ``LOAN_ROW_SCHEMA``.

The rows are what the extract could deliver on a bad night: every catalogued ISBN form
(valid and broken ISBN-10/13, ISMN, ISSN and ISSN-EANs, full-width and other Unicode digits,
labels, qualifiers, whitespace, empty), titles, authors and languages with control
characters, right-to-left text, emoji and very long values, nulls in any column, loan
times on the edges of the Oslo day (midnight, the UTC date change, the DST switches of
23- and 25-hour days, month and year ends), ages and genders of every kind, duplicated
loan ids, rows of agencies that are not reported. For all of them:

* ``read == reported + sum(excluded)`` for every agency, and the bytes and counts agree
  with the row-by-row oracle (``oracle.py``; ``test_builder_properties.py`` checks the
  same agreement on arbitrary text in every field);
* every payload validates against ``LoanReport`` and re-serialises to the same bytes;
  every reported loan lies in the Oslo day, with a valid book EAN;
* identical input gives identical bytes, in any row order and chunking;
* no patron id or birth date reaches any output, even when the input carries them;
* a valid identifier in any catalogue dress is reported with the EAN python-stdnum
  computes, and one with a wrong check digit or length never is.

Example counts come from the Hypothesis profile (``tests/unit/conftest.py``: ``ci`` by
default, ``HYPOTHESIS_PROFILE=large`` for a long search).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean as std_ean
from stdnum import isbn as std_isbn
from stdnum import ismn as std_ismn
from stdnum import issn as std_issn

from library_integrations.common.oslo_time import OSLO, oslo_date, oslo_day_window
from library_integrations.common.reference_data import load_reference_tsv
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA, AgencySettings
from library_integrations.pipelines.loan_report import steps
from library_integrations.pipelines.loan_report.report.borrower import age_on
from library_integrations.pipelines.loan_report.report.builder import ReportBuilder
from library_integrations.pipelines.loan_report.report.ean import is_valid_book_ean
from library_integrations.pipelines.loan_report.report.formats import load_material_formats
from library_integrations.pipelines.loan_report.report.models import LoanReport
from library_integrations.pipelines.loan_report.report.quality import format_quality_table
from library_integrations.pipelines.loan_report.report.transaction_id import transaction_id

from .oracle import oracle
from .test_builder_properties import agency_settings as arbitrary_agency_settings
from .test_builder_properties import maybe

INSTALLATION = "no.example.properties"
NULLABLE_SCHEMA = pa.schema([f.with_nullable(True) for f in LOAN_ROW_SCHEMA])
US = timedelta(microseconds=1)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)

REPORT_DAYS = (
    date(2026, 3, 29),  # spring forward: 23 hours, 02:00-03:00 does not exist
    date(2026, 10, 25),  # fall back: 25 hours, 02:00-03:00 twice
    date(2026, 3, 28),
    date(2026, 10, 24),
    date(2024, 2, 29),  # leap day
    date(2026, 2, 28),
    date(2026, 1, 31),  # month end in winter time
    date(2026, 6, 30),  # month end in summer time
    date(2026, 12, 31),  # year end
    date(2027, 1, 1),
)


@pytest.fixture(scope="module")
def context(reference_dir):
    return load_material_formats(), load_reference_tsv(reference_dir)


# --------------------------------------------------------------------------- loan times
def edge_instants(day: date) -> list[datetime]:
    """Instants around the day's bounds, the UTC date change and any DST switch inside it."""
    start, end = oslo_day_window(day)
    points = [start, end, datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)]
    hour = start
    while hour < end:  # DST switches happen on whole UTC hours
        if (hour - timedelta(hours=1)).astimezone(OSLO).utcoffset() != hour.astimezone(OSLO).utcoffset():
            points.append(hour)
        hour += timedelta(hours=1)
    deltas = (timedelta(0), US, -US, timedelta(seconds=1), -timedelta(seconds=1), -timedelta(milliseconds=1))
    return sorted({p + d for p in points for d in deltas})


def loan_times(day: date, *, nulls: bool = True) -> st.SearchStrategy[datetime | None]:
    """Instants on the day's edges or anywhere from two hours before it to two hours after."""
    start, end = oslo_day_window(day)
    span = (end - start) // US
    around = st.integers(-2 * 3600 * 10**6, span + 2 * 3600 * 10**6).map(lambda us: start + us * US)
    instants = st.one_of(st.sampled_from(edge_instants(day)), around)
    return st.one_of(st.none(), instants) if nulls else instants


# --------------------------------------------------------------------------- identifiers
DIGITS = "0123456789"
FULL_WIDTH = {d: chr(0xFF10 + int(d)) for d in DIGITS} | {"X": "\uff38", "M": "\uff2d"}
OTHER_DIGITS = (0x0660, 0x06F0, 0x0966, 0x0E50)  # Arabic-Indic, Persian, Devanagari, Thai zeros
DASHES = ("-", "\u2010", "\u2011", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d")
SEPARATORS = (*DASHES, " ", ".")
LABELS = {
    "isbn13": ("", "ISBN ", "ISBN-13: ", "isbn13 ", "ISBN:", "EAN "),
    "isbn10": ("", "ISBN ", "ISBN 10: ", "ISBN-10 ", "isbn "),
    "ismn13": ("", "ISMN ", "ISMN-13: "),
    "ismn10": ("", "ISMN ", "ismn "),
    "issn_ean": ("", "EAN ", "ISSN "),
    "issn": ("", "ISSN ", "issn: "),
}
QUALIFIERS = ("", " (ib.)", "(h.)", " : Nkr 349", "; pbk.", ", 2. oppl.", " / 978-82-03-36418-1")
SURROUNDING = ("", " ", "\t", "\u00a0", "\u3000", "\n", "  ")


def _isbn10_check(body9: str) -> str:
    total = sum((10 - i) * int(d) for i, d in enumerate(body9))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _ean(body12: str) -> str:
    return body12 + std_ean.calc_check_digit(body12)


@st.composite
def identifiers(draw) -> tuple[str, str, str]:
    """``(kind, compact number, expected EAN-13)``, the EAN computed with python-stdnum."""
    kind = draw(st.sampled_from(sorted(LABELS)))
    digits = lambda n: draw(st.text(DIGITS, min_size=n, max_size=n))  # noqa: E731
    if kind == "isbn13":
        prefix = draw(st.sampled_from(["978", "9791", "9798"]))  # 9790 is an ISMN
        number = _ean(prefix + digits(12 - len(prefix)))
        expected = number
    elif kind == "isbn10":
        body = digits(9)
        number = body + _isbn10_check(body)
        expected = std_isbn.to_isbn13(number)
    elif kind == "ismn13":
        number = _ean("9790" + digits(8))
        expected = number
    elif kind == "ismn10":
        number = "M" + _ean("9790" + digits(8))[4:]
        expected = std_ismn.to_ismn13(number)
    elif kind == "issn_ean":
        number = _ean("977" + digits(9))
        expected = number
    else:
        body = digits(7)
        number = body + std_issn.calc_check_digit(body)
        expected = std_issn.to_ean(number)
    assert is_valid_book_ean(expected), (kind, number, expected)
    return kind, number, expected


@st.composite
def dressed(draw, kind: str, number: str) -> str:
    """``number`` as a librarian might have catalogued it: label, separators, qualifier, spaces."""
    label = draw(st.sampled_from(LABELS[kind]))
    if kind == "issn" and not label:  # without a label, a bare ISSN is recognised by its printed form
        text = number[:4] + draw(st.sampled_from(DASHES)) + number[4:]
    else:
        separator = draw(st.sampled_from(SEPARATORS))
        cuts = sorted(draw(st.sets(st.integers(1, len(number) - 1), max_size=4)))
        groups = [number[a:b] for a, b in zip([0, *cuts], [*cuts, len(number)], strict=True)]
        text = separator.join(groups)
    if draw(st.booleans()):
        text = "".join(FULL_WIDTH.get(c, c) if draw(st.booleans()) else c for c in text)
    if draw(st.booleans()):
        text = text.lower()  # "x" as check digit, "m" of an old ISMN
    before, after = draw(st.sampled_from(SURROUNDING)), draw(st.sampled_from(SURROUNDING))
    return before + label + text + draw(st.sampled_from(QUALIFIERS)) + after


@st.composite
def valid_isbns(draw) -> tuple[str, str]:
    """``(catalogued text, expected EAN)`` of a valid identifier in some dress."""
    kind, number, expected = draw(identifiers())
    return draw(dressed(kind, number)), expected


@st.composite
def broken_isbns(draw) -> str:
    """A valid identifier with a wrong check digit, a digit too few or one too many."""
    kind, number, _ = draw(identifiers())
    how = draw(st.sampled_from(["check", "drop", "add"]))
    if how == "check":
        right = number[-1]
        choices = [c for c in DIGITS + ("X" if kind == "isbn10" else "") if c != right]
        number = number[:-1] + draw(st.sampled_from(choices))
    else:
        first = 1 if number[0] == "M" else 0
        at = draw(st.integers(first, len(number) - 1))
        number = number[:at] + number[at + 1 :] if how == "drop" else number[:at] + draw(
            st.sampled_from(DIGITS)) + number[at:]
    return draw(dressed(kind, number))


@st.composite
def other_digit_isbns(draw) -> str:
    """A valid number written with Arabic-Indic, Persian, Devanagari or Thai digits."""
    _, number, _ = draw(identifiers())
    zero = draw(st.sampled_from(OTHER_DIGITS))
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in number)


catalogued_isbns = st.one_of(
    st.none(),
    valid_isbns().map(lambda pair: pair[0]),
    broken_isbns(),
    other_digit_isbns(),
    st.sampled_from(["", " ", "\t\n", "\u3000", "ISBN", "ISBN:", "n/a", "ukjent", "9788203364181 9788203364182"]),
    st.text(max_size=20),
)

# --------------------------------------------------------------------------- texts and codes
SPECIAL_TEXTS = (
    "Sult",
    "\u202eevil override\u202c",  # right-to-left override
    "שלום עולם",
    "مرحبا بالعالم",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467 familie",  # emoji with zero-width joiners
    "\x00nul\x01\x1f\x7f",
    "line\r\nbreak",
    '"quoted" \\ back\\slash',
    "Å\u030a combining",
    "\ufeffbyte order mark",
    "Áigi ja máilbmi",
    "\u2028line separator\u2029",
    "   ",
    "",
)
rich_texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(SPECIAL_TEXTS),
    st.text(min_size=1, max_size=4).map(lambda s: s * 2500),  # very long
)
languages = maybe(rich_texts, "nob", " NNO ", "sme\n", "no", "engl", "nøb", "İtr", "\uff4e\uff4f\uff42", "ENG")
material_codes = maybe(
    st.text(max_size=12),
    "BOOK", " ebook ", "audiobook_daisy", "SERIAL", "MUSICAL_SCORE", "DVD", "VIDEO_GAME", "VINYL", "", "  ",
)
patron_kinds = maybe(st.text(max_size=12), "PERSON", " person\t", "Person", "ORGANISATION", "INSTITUTION",
                     "LIBRARY", "PERSONS", "\uff30\uff25\uff32\uff33\uff2f\uff2e")
genders = maybe(st.text(max_size=4), "M", "F", "K", "X", "m", " f ", "k\n", "MALE", "\uff2d", "")
ages = st.one_of(st.none(), INT32, st.integers(-2, 125), st.sampled_from([0, 119, 120, 121]))


# --------------------------------------------------------------------------- agencies
LOCATIONS = (
    ("0150", "Oslo", "Oslo"),
    ("5003", "Bergen", "Vestland"),
    (None, None, None),
    ("0150", "Bergen", "Vestland"),  # inconsistent: location omitted, agency still reports
    ("9999", "Nowhere", "Nowhere"),
)


@st.composite
def good_agencies(draw, agency_id: int) -> AgencySettings:
    number = draw(st.integers(0, 9_999_999))
    isil = draw(st.sampled_from(["NO-{:07d}", " no-{:07d} ", "NO-{:07d}\n"])).format(number)
    postal_code, municipality, county = draw(st.sampled_from(LOCATIONS))
    return AgencySettings(
        agency_id=agency_id,
        isil=isil,
        agency_name=draw(maybe(rich_texts)),
        enabled=True,
        library_name=draw(rich_texts.map(lambda s: s if s.strip() else f"Bibliotek {s}")),
        library_type=draw(st.sampled_from(["Folkebibliotek", " Fagbibliotek ", "Skolebibliotek"])),
        postal_code=postal_code,
        municipality=municipality,
        county=county,
    )


@st.composite
def agency_lists(draw) -> list[AgencySettings]:
    """One to three agencies, mostly with usable settings; sometimes one arbitrary (often broken)."""
    ids = draw(st.lists(st.sampled_from([1, 2, 3, 2**63 - 1]), min_size=1, max_size=3, unique=True))
    agencies = [draw(good_agencies(agency_id)) for agency_id in ids]
    if draw(st.integers(0, 3)) == 0:
        other = draw(arbitrary_agency_settings)
        if other.agency_id not in ids:
            agencies.append(other)
    return agencies


# --------------------------------------------------------------------------- rows
@st.composite
def loan_row(draw, day: date, agency_ids: list[int], *, isbn=catalogued_isbns, loaned_at=None) -> dict:
    return {
        "loan_id": draw(st.one_of(st.integers(1, 30), INT64, st.none())),  # small ids repeat: duplicates
        "agency_id": draw(st.one_of(st.sampled_from(agency_ids), st.sampled_from([7, -1]), st.none())),
        "loaned_at": draw(loaned_at if loaned_at is not None else loan_times(day)),
        "isbn": draw(isbn),
        "title": draw(maybe(rich_texts)),
        "authors": draw(maybe(st.lists(maybe(rich_texts), max_size=4))),
        "language": draw(languages),
        "material_type_code": draw(material_codes),
        "patron_kind": draw(patron_kinds),
        "gender": draw(genders),
        "age": draw(ages),
    }


@st.composite
def nights(draw, max_rows: int = 25):
    """``(report day, agencies, rows)``."""
    day = draw(st.sampled_from(REPORT_DAYS))
    agencies = draw(agency_lists())
    rows = draw(st.lists(loan_row(day, [a.agency_id for a in agencies]), max_size=max_rows))
    return day, agencies, rows


def as_table(rows: list[dict], schema: pa.Schema = NULLABLE_SCHEMA) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def build(day, agencies, data: pa.Table, context, chunk: int):
    formats, reference = context
    builder = ReportBuilder(day, agencies, formats=formats, reference=reference, installation_namespace=INSTALLATION)
    for offset in range(0, data.num_rows, chunk):
        builder.add_chunk(data.slice(offset, chunk))
    if data.num_rows == 0:
        builder.add_chunk(data)
    return builder, builder.finish()


def assert_balanced(builder, results) -> None:
    for result in results:
        q = result.quality
        assert q.read == q.reported + sum(q.excluded.values()), q.to_dict()
        assert all(count > 0 for count in q.excluded.values())
        assert q.reported == result.loan_count
    assert builder.rows_seen == builder.rows_ignored + sum(r.quality.read for r in results)


# --------------------------------------------------------------------------- properties
@given(night=nights(), chunk=st.integers(1, 8))
def test_every_loan_read_is_reported_or_excluded_with_one_reason(context, night, chunk):
    day, agencies, rows = night
    builder, results = build(day, agencies, as_table(rows), context, chunk)
    assert_balanced(builder, results)
    formats, reference = context
    expected = oracle(day, agencies, rows, formats=formats, reference=reference, installation=INSTALLATION)
    for result in results:
        want = expected[result.agency_id]
        q = result.quality
        assert (q.read, q.excluded, q.unknown_material_types, q.unknown_material_type_loans) == (
            want.read, want.excluded, want.unknown_material_types, want.unknown_material_type_loans)
        assert result.payload == want.payload


@given(night=nights(), chunk=st.integers(1, 8))
def test_every_payload_validates_and_every_loan_lies_in_the_oslo_day(context, night, chunk):
    day, agencies, rows = night
    builder, results = build(day, agencies, as_table(rows), context, chunk)
    assert_balanced(builder, results)
    ids = {transaction_id(r["loan_id"], INSTALLATION): r["loan_id"] for r in rows if r["loan_id"] is not None}
    for result in results:
        if result.payload is None:
            assert result.error and result.loan_count == 0
            continue
        report = LoanReport.model_validate_json(result.payload)
        assert report.to_json_bytes() == result.payload  # the model writes exactly these bytes
        assert report.report_date == day and len(report.loans) == result.loan_count
        assert len({loan.transaction_id for loan in report.loans}) == len(report.loans)
        for loan in report.loans:
            assert oslo_date(loan.timestamp) == day, loan.timestamp
            assert is_valid_book_ean(loan.ean) and std_ean.is_valid(loan.ean)
            assert loan.transaction_id in ids


@given(night=nights(), chunk=st.integers(1, 8), data=st.data())
def test_identical_input_gives_identical_bytes(context, night, chunk, data):
    day, agencies, rows = night
    first_builder, first = build(day, agencies, as_table(rows), context, chunk)
    again = build(day, agencies, as_table(rows), context, chunk)[1]
    shuffled = data.draw(st.permutations(rows))
    other_chunk = data.draw(st.integers(1, 8))
    reordered = build(day, agencies, as_table(shuffled), context, other_chunk)[1]
    for results in (again, reordered):
        assert [r.payload for r in results] == [r.payload for r in first]
        assert [r.sha256 for r in results] == [r.sha256 for r in first]
        assert [r.quality.to_dict() for r in results] == [r.quality.to_dict() for r in first]
        assert format_quality_table([r.quality for r in results]) == format_quality_table(
            [r.quality for r in first])


# The extract never selects patron ids or birth dates (``include/sql/extract/loans.sql``);
# if a careless change ever staged them, the builder must still not pass them on.
PATRON_SCHEMA = pa.schema([*NULLABLE_SCHEMA, pa.field("patron_id", pa.int64()), pa.field("birth_date", pa.date32())])
birth_dates = st.one_of(
    st.none(),
    st.dates(date(1880, 1, 1), date(2030, 12, 31)),
    st.sampled_from([date(2008, 2, 29), date(2000, 2, 29), date(1926, 3, 29)]),
)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("library_integrations")
    handler, level = ListHandler(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _birth_texts(born: date) -> list[str]:
    return [born.isoformat(), born.strftime("%d.%m.%Y"), born.strftime("%Y%m%d")]


@given(night=nights(max_rows=15), chunk=st.integers(1, 8), data=st.data())
def test_no_patron_id_or_birth_date_in_any_output(context, night, chunk, data):
    day, agencies, rows = night
    patrons = data.draw(st.lists(st.tuples(st.integers(10**14, 10**16), birth_dates), min_size=1, max_size=4))
    for row in rows:  # each loan gets a patron; the age as the extract computes it
        patron_id, born = data.draw(st.sampled_from(patrons))
        row["patron_id"], row["birth_date"] = patron_id, born
        if born is not None and row["loaned_at"] is not None and born <= oslo_date(row["loaned_at"]):
            row["age"] = age_on(born, oslo_date(row["loaned_at"]))
    with captured_logs() as records:
        builder, results = build(day, agencies, as_table(rows, PATRON_SCHEMA), context, chunk)
    assert_balanced(builder, results)
    outputs = [format_quality_table([r.quality for r in results])]
    for result in results:
        outputs += [(result.payload or b"").decode("utf-8"), orjson.dumps(result.quality.to_dict()).decode(),
                    result.quality.one_line(), result.error or ""]
    outputs += [record.getMessage() for record in records]
    output = "\n".join(outputs)
    # What the output may legitimately contain: the input's other text, the day, the loan dates.
    legitimate = "\n".join(
        [day.isoformat(), *(str(v) for r in rows for k, v in r.items() if k not in ("patron_id", "birth_date"))]
        + [r["loaned_at"].astimezone(UTC).date().isoformat() for r in rows if r["loaned_at"] is not None]
    )
    for patron_id, born in patrons:
        for needle in [str(patron_id), *(_birth_texts(born) if born else [])]:
            assert needle not in output or needle in legitimate, needle


@st.composite
def clean_rows(draw, day: date, agency_id: int, isbn, loaned_at=None) -> list[dict]:
    """Rows that pass every rule except, perhaps, the one under test."""
    start, _ = oslo_day_window(day)
    rows = draw(st.lists(st.tuples(isbn, loaned_at if loaned_at is not None else st.integers(0, 22 * 3600)),
                         min_size=1, max_size=15))
    return [
        {
            "loan_id": i + 1,
            "agency_id": agency_id,
            "loaned_at": when if isinstance(when, datetime) else start + timedelta(seconds=when),
            "isbn": text,
            "title": "Sult",
            "authors": ["Hamsun, Knut"],
            "language": "nob",
            "material_type_code": "BOOK",
            "patron_kind": "PERSON",
            "gender": "K",
            "age": 42,
        }
        for i, (text, when) in enumerate(rows)
    ]


@given(data=st.data(), chunk=st.integers(1, 8))
def test_valid_identifiers_in_any_dress_are_reported_with_their_ean(context, data, chunk):
    day = data.draw(st.sampled_from(REPORT_DAYS))
    agency = data.draw(good_agencies(1))
    pairs = data.draw(st.lists(valid_isbns(), min_size=1, max_size=15))
    rows = data.draw(clean_rows(day, 1, st.sampled_from(pairs).map(lambda pair: pair[0])))
    expected = {}
    for row in rows:
        expected[transaction_id(row["loan_id"], INSTALLATION)] = dict(pairs)[row["isbn"]]
    builder, (result,) = build(day, [agency], as_table(rows), context, chunk)
    assert_balanced(builder, [result])
    assert result.quality.excluded == {}, (result.quality.excluded, [r["isbn"] for r in rows])
    report = LoanReport.model_validate_json(result.payload)
    assert {loan.transaction_id: loan.ean for loan in report.loans} == expected


@given(data=st.data(), chunk=st.integers(1, 8))
def test_broken_identifiers_are_never_reported(context, data, chunk):
    day = data.draw(st.sampled_from(REPORT_DAYS))
    rows = data.draw(clean_rows(day, 1, st.one_of(broken_isbns(), other_digit_isbns())))
    builder, (result,) = build(day, [data.draw(good_agencies(1))], as_table(rows), context, chunk)
    assert_balanced(builder, [result])
    assert result.quality.excluded == {"invalid_ean": len(rows)}, [r["isbn"] for r in rows]
    assert LoanReport.model_validate_json(result.payload).loans == []


@given(data=st.data(), chunk=st.integers(1, 8))
def test_a_loan_is_reported_exactly_when_it_lies_in_the_oslo_day(context, data, chunk):
    day = data.draw(st.sampled_from(REPORT_DAYS))
    start, end = oslo_day_window(day)
    rows = data.draw(clean_rows(day, 1, st.just("978-82-03-36418-1"), loan_times(day, nulls=False)))
    builder, (result,) = build(day, [data.draw(good_agencies(1))], as_table(rows), context, chunk)
    assert_balanced(builder, [result])
    inside = {transaction_id(r["loan_id"], INSTALLATION): r["loaned_at"] for r in rows
              if start <= r["loaned_at"] < end}
    assert result.quality.excluded.get("outside_report_day", 0) == len(rows) - len(inside)
    report = LoanReport.model_validate_json(result.payload)
    assert {loan.transaction_id for loan in report.loans} == set(inside)
    for loan in report.loans:  # UTC, truncated to the second: still the same Oslo day
        assert loan.timestamp == inside[loan.transaction_id].replace(microsecond=0)
        assert oslo_date(loan.timestamp) == day
    stamps = [loan.timestamp for loan in report.loans]
    assert stamps == sorted(stamps)


@given(day=st.sampled_from(REPORT_DAYS), data=st.data())
def test_a_day_is_refused_until_it_has_ended_in_oslo(day, data):
    start, end = oslo_day_window(day)
    now = data.draw(st.one_of(st.sampled_from(edge_instants(day)), loan_times(day, nulls=False)))
    if now < end:
        with pytest.raises(steps.DayNotOverError, match=day.isoformat()):
            steps.check_day_is_over(day, now=now)
    else:
        steps.check_day_is_over(day, now=now)
