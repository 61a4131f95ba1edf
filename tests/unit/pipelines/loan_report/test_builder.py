"""The vectorised report builder, checked rule by rule and against the row-by-row oracle."""

import hashlib
import random
from datetime import UTC, date, datetime, timedelta

import orjson
import pyarrow as pa
import pytest

from library_integrations.common.oslo_time import OSLO
from library_integrations.common.reference_data import ReferenceData, load_reference_tsv
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA, AgencySettings
from library_integrations.pipelines.loan_report.report.builder import ReportBuilder
from library_integrations.pipelines.loan_report.report.formats import load_material_formats
from library_integrations.pipelines.loan_report.report.models import LoanReport
from library_integrations.pipelines.loan_report.report.transaction_id import transaction_id

from .oracle import oracle

DAY = date(2026, 11, 20)
INSTALLATION = "no.example.test"
SULT = "9788203364181"


@pytest.fixture(scope="module")
def reference(reference_dir) -> ReferenceData:
    return load_reference_tsv(reference_dir)


@pytest.fixture(scope="module")
def formats():
    return load_material_formats()


def agency(agency_id=1, **overrides) -> AgencySettings:
    values = dict(
        agency_id=agency_id,
        isil=f"NO-20301{agency_id:02d}",
        agency_name=f"Agency {agency_id}",
        enabled=True,
        library_name=f"Bibliotek {agency_id}",
        library_type="Folkebibliotek",
        postal_code="0150",
        municipality="Oslo",
        county="Oslo",
    )
    values.update(overrides)
    return AgencySettings(**values)


def oslo(*args) -> datetime:
    return datetime(*args, tzinfo=OSLO).astimezone(UTC)


_counter = iter(range(1, 10**9))


def row(**overrides) -> dict:
    values = dict(
        loan_id=next(_counter),
        agency_id=1,
        loaned_at=oslo(DAY.year, DAY.month, DAY.day, 13, 45, 10),
        isbn="978-82-03-36418-1",
        title="Sult",
        authors=["Hamsun, Knut"],
        language="nob",
        material_type_code="BOOK",
        patron_kind="PERSON",
        gender="K",
        age=42,
    )
    values.update(overrides)
    return values


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=LOAN_ROW_SCHEMA)


def build(rows, agencies=None, *, day=DAY, reference=None, formats=None, chunk=None):
    agencies = agencies if agencies is not None else [agency()]
    builder = ReportBuilder(
        day,
        agencies,
        formats=formats or load_material_formats(),
        reference=reference,
        installation_namespace=INSTALLATION,
    )
    data = table(rows)
    step = chunk or max(1, data.num_rows)
    for offset in range(0, data.num_rows, step):
        builder.add_chunk(data.slice(offset, step))
    return {r.agency_id: r for r in builder.finish()}


def loans_of(result) -> list[dict]:
    return orjson.loads(result.payload)["loans"]


def assert_balanced(result):
    q = result.quality
    assert q.read == q.reported + sum(q.excluded.values()), q.to_dict()
    assert result.loan_count == (q.reported if result.error is None else 0)


# ---------------------------------------------------------------------------- the basics
def test_one_loan_exactly_as_designed(reference):
    r = row(loan_id=7, loaned_at=oslo(2026, 11, 20, 14, 45, 10, 999999))
    result = build([r], [agency(library_name="Deichman Bjørvika", isil="NO-2030100")], reference=reference)[1]
    assert result.error is None and result.loan_count == 1
    assert orjson.loads(result.payload) == {
        "reportDate": "2026-11-20",
        "library": {
            "isil": "NO-2030100",
            "name": "Deichman Bjørvika",
            "type": "Folkebibliotek",
            "location": {"postalCode": "0150", "municipality": "Oslo", "county": "Oslo"},
        },
        "loans": [
            {
                "transactionId": transaction_id(7, INSTALLATION),
                "timestamp": "2026-11-20T13:45:10Z",  # UTC, sub-second truncated
                "ean": SULT,
                "title": "Sult",
                "authors": ["Hamsun, Knut"],
                "format": "PAPER",
                "language": "nob",
                "borrower": {"isPerson": True, "age": 42, "gender": "FEMALE"},
            }
        ],
    }
    assert LoanReport.model_validate_json(result.payload).to_json_bytes() == result.payload
    assert result.sha256 == hashlib.sha256(result.payload).hexdigest()
    assert result.library_name == "Deichman Bjørvika" and result.isil == "NO-2030100"
    assert result.quality.location == "sent"


def test_formats_and_identifiers(reference):
    rows = [
        row(loan_id=1, isbn="0-8044-2957-X", material_type_code="AUDIOBOOK_CD"),  # ISBN-10 with X
        row(loan_id=2, isbn="978 82 03 36418 1", material_type_code="EBOOK"),  # spaced ISBN-13
        row(loan_id=3, isbn="9788203364181", material_type_code="LARGE_PRINT"),  # bare EAN
        row(loan_id=4, isbn="979-0-3452-4680-5", material_type_code="MUSICAL_SCORE"),  # ISMN score
        row(loan_id=5, isbn="9770029128009", material_type_code="SERIAL"),  # ISSN serial
        row(loan_id=6, isbn="M-2306-7118-7", material_type_code="MUSICAL_SCORE"),
        row(loan_id=7, isbn=SULT, material_type_code="DVD"),  # excluded
        row(loan_id=8, isbn="978-82-03-36418-2"),  # bad check digit
        row(loan_id=9, isbn="ukjent"),  # garbage
        row(loan_id=10, isbn=None),  # missing
        row(loan_id=11, isbn="   "),  # missing
        row(loan_id=12, material_type_code="VINYL"),
        row(loan_id=13, material_type_code="vinyl "),
        row(loan_id=14, material_type_code=None),
    ]
    result = build(rows, reference=reference)[1]
    got = {loan["transactionId"]: (loan["ean"], loan["format"]) for loan in loans_of(result)}
    expected = {
        1: ("9780804429573", "AUDIO"),
        2: (SULT, "EBOOK"),
        3: (SULT, "PAPER"),
        4: ("9790345246805", "PAPER"),
        5: ("9770029128009", "PAPER"),
        6: ("9790230671187", "PAPER"),
    }
    assert got == {transaction_id(k, INSTALLATION): v for k, v in expected.items()}
    assert result.quality.excluded == {
        "unknown_material_type": 3,
        "excluded_material_type": 1,
        "missing_ean": 2,
        "invalid_ean": 2,
    }
    assert result.quality.unknown_material_types == {"VINYL": 2, "(missing)": 1}
    assert_balanced(result)


def test_borrowers():
    rows = [
        row(loan_id=1, patron_kind="PERSON", gender="M", age=30),
        row(loan_id=2, patron_kind="PERSON", gender="f", age=0),
        row(loan_id=3, patron_kind="PERSON", gender="X", age=None),
        row(loan_id=4, patron_kind="PERSON", gender=None, age=121),
        row(loan_id=5, patron_kind="PERSON", gender="K", age=-1),  # birth date after the loan
        row(loan_id=6, patron_kind="ORGANISATION", gender="F", age=35),
        row(loan_id=7, patron_kind="LIBRARY", gender=None, age=None),
        row(loan_id=8, patron_kind="INSTITUTION", gender="M", age=50),
        row(loan_id=9, patron_kind=None, gender="M", age=50),
        row(loan_id=10, patron_kind="person ", gender=" m", age=120),
    ]
    by_id = {loan["transactionId"]: loan["borrower"] for loan in loans_of(build(rows)[1])}
    expected = {
        1: {"isPerson": True, "age": 30, "gender": "MALE"},
        2: {"isPerson": True, "age": 0, "gender": "FEMALE"},
        3: {"isPerson": True, "gender": "UNKNOWN"},
        4: {"isPerson": True, "gender": "UNKNOWN"},
        5: {"isPerson": True, "gender": "FEMALE"},
        6: {"isPerson": False, "gender": "UNKNOWN"},
        7: {"isPerson": False, "gender": "UNKNOWN"},
        8: {"isPerson": False, "gender": "UNKNOWN"},
        9: {"isPerson": False, "gender": "UNKNOWN"},
        10: {"isPerson": True, "age": 120, "gender": "MALE"},
    }
    assert by_id == {transaction_id(k, INSTALLATION): v for k, v in expected.items()}


def test_optional_text_fields():
    rows = [
        row(loan_id=1, title=None, authors=None, language=None),
        row(loan_id=2, title="  ", authors=[], language=" "),
        row(
            loan_id=3, title=' «Sult» "1890"\n', authors=[None, " ", "Hamsun, Knut ", "Ø\\"], language=" NOB "
        ),
        row(loan_id=4, title="\x1fx\x00", authors=["A"], language="no"),
        row(loan_id=5, title="Sult", authors=["B", "A"], language="nob-NO"),
        row(loan_id=6, title="Sult", authors=["A"], language="nøb"),
    ]
    loans = {loan["transactionId"]: loan for loan in loans_of(build(rows)[1])}
    first, second, third, fourth, fifth, sixth = (loans[transaction_id(i, INSTALLATION)] for i in range(1, 7))
    for loan in (first, second):
        assert not {"title", "authors", "language"} & set(loan)
    assert third["title"] == '«Sult» "1890"'
    assert third["authors"] == ["Hamsun, Knut", "Ø\\"]
    assert third["language"] == "nob"
    assert fourth["title"] == "x\x00" and "language" not in fourth
    assert fifth["authors"] == ["B", "A"] and "language" not in fifth  # catalogue order kept
    assert "language" not in sixth


# ---------------------------------------------------------------------------- the report day
@pytest.mark.parametrize("day", [date(2026, 3, 28), date(2026, 10, 24)])
def test_day_before_dst_switch(day):
    next_day = day + timedelta(days=1)
    last = oslo(day.year, day.month, day.day, 23, 59, 59, 999000)
    rows = [
        row(loan_id=1, loaned_at=last),
        row(loan_id=2, loaned_at=oslo(next_day.year, next_day.month, next_day.day, 0, 0, 0)),
        row(loan_id=3, loaned_at=oslo(day.year, day.month, day.day, 0, 0, 0)),
        row(loan_id=4, loaned_at=oslo(day.year, day.month, day.day, 0, 0, 0) - timedelta(microseconds=1)),
    ]
    result = build(rows, day=day)[1]
    loans = loans_of(result)
    assert [loan["transactionId"] for loan in loans] == [transaction_id(i, INSTALLATION) for i in (3, 1)]
    assert loans[1]["timestamp"] == last.strftime("%Y-%m-%dT%H:%M:%SZ")  # truncated, not rounded
    assert result.quality.excluded == {"outside_report_day": 2}
    # ... and the next day reports the midnight loan
    assert [loan["transactionId"] for loan in loans_of(build(rows, day=next_day)[1])] == [
        transaction_id(2, INSTALLATION)
    ]


def test_dst_days_are_23_and_25_hours():
    spring = build(
        [row(loan_id=i, loaned_at=oslo(2026, 3, 28, 23, 0) + timedelta(hours=i)) for i in range(25)],
        day=date(2026, 3, 29),
    )[1]
    assert spring.loan_count == 23 and spring.quality.excluded == {"outside_report_day": 2}
    autumn = build(
        [row(loan_id=i, loaned_at=oslo(2026, 10, 24, 23, 0) + timedelta(hours=i)) for i in range(27)],
        day=date(2026, 10, 25),
    )[1]
    assert autumn.loan_count == 25 and autumn.quality.excluded == {"outside_report_day": 2}


# ---------------------------------------------------------------------------- agencies
def test_agency_without_library_name_fails_alone(reference):
    agencies = [agency(1), agency(2, library_name=None, isil="NO-1234567"), agency(3, isil="NO-12")]
    rows = [row(agency_id=a) for a in (1, 1, 2, 2, 2, 3)] + [row(agency_id=2, material_type_code="DVD")]
    results = build(rows, agencies, reference=reference)
    assert results[1].error is None and results[1].loan_count == 2
    assert results[2].payload is None and results[2].loan_count == 0
    assert (
        "agency 2 (NO-1234567)" in results[2].error and "library name is not configured" in results[2].error
    )
    assert results[2].quality.excluded == {"excluded_material_type": 1, "agency_config_error": 3}
    assert results[3].payload is None and "ISIL 'NO-12'" in results[3].error
    for result in results.values():
        assert_balanced(result)


def test_disabled_agency_fails_with_a_clear_message():
    results = build([row(agency_id=5)], [agency(5, enabled=False), agency(1)])
    assert "disabled" in results[5].error
    assert results[1].error is None


def test_location_from_another_municipality_is_omitted_with_warning(reference):
    result = build(
        [row()],
        [agency(1, postal_code="0150", municipality="Bergen", county="Vestland")],
        reference=reference,
    )[1]
    library = orjson.loads(result.payload)["library"]
    assert "location" not in library
    assert result.quality.location == "invalid"
    assert (
        result.quality.location_warning
        == "postal code 0150 belongs to municipality 0301 Oslo, not 4601 Bergen"
    )
    assert result.error is None and result.loan_count == 1


def test_no_reference_data_means_no_location():
    result = build([row()])[1]
    assert "location" not in orjson.loads(result.payload)["library"]
    assert result.quality.location == "no_reference_data"
    assert "LOAN_REPORTING_REFERENCE_DATA" in result.quality.location_warning


def test_rows_of_other_agencies_are_ignored():
    builder = ReportBuilder(DAY, [agency(1)], installation_namespace=INSTALLATION)
    builder.add_chunk(table([row(agency_id=1), row(agency_id=2), row(agency_id=3)]))
    (result,) = builder.finish()
    assert result.quality.read == 1 and result.loan_count == 1
    assert (builder.rows_seen, builder.rows_ignored) == (3, 2)


def test_empty_day_gives_an_empty_report():
    result = build([])[1]
    assert orjson.loads(result.payload)["loans"] == []
    assert LoanReport.model_validate_json(result.payload).loans == []
    assert result.quality.read == 0


# ---------------------------------------------------------------------------- determinism
def _day_of_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    isbns = [SULT, "0-8044-2957-X", "979-0-3452-4680-5", "9770029128009", "bad", None, "82-03-36418-7"]
    codes = ["BOOK", "EBOOK", "AUDIOBOOK_ONLINE", "DVD", "SERIAL", "MUSICAL_SCORE", "VINYL", None]
    start = oslo(DAY.year, DAY.month, DAY.day, 0, 0)
    rows = []
    for i in range(n):
        rows.append(
            row(
                loan_id=1000 + i,
                agency_id=rng.choice([1, 2, 3]),
                loaned_at=start
                + timedelta(seconds=rng.randrange(-3600, 25 * 3600), microseconds=rng.randrange(10**6)),
                isbn=rng.choice(isbns),
                title=rng.choice(["Sult", None, " ", 'Med "sitat"', "Tab\tinne"]),
                authors=rng.choice([None, [], ["Hamsun, Knut"], ["A", None, "B"]]),
                language=rng.choice(["nob", "NNO", None, "x", " sme "]),
                material_type_code=rng.choice(codes),
                patron_kind=rng.choice(["PERSON", "PERSON", "ORGANISATION", "LIBRARY", None]),
                gender=rng.choice(["M", "F", "K", "X", None, "k "]),
                age=rng.choice([None, -3, 0, 17, 42, 120, 121]),
            )
        )
    # a few duplicated loan ids, one with a different time
    rows.append(dict(rows[0]))
    rows.append(dict(rows[1], loaned_at=rows[1]["loaned_at"] + timedelta(seconds=5)))
    return rows


def test_bytes_do_not_depend_on_chunking_or_order(reference):
    rows = _day_of_rows(600, seed=1)
    agencies = [agency(1), agency(2), agency(3, library_name="")]
    first = build(rows, agencies, reference=reference)
    shuffled = list(rows)
    random.Random(7).shuffle(shuffled)
    second = build(shuffled, agencies, reference=reference, chunk=37)
    for agency_id in (1, 2, 3):
        assert first[agency_id].payload == second[agency_id].payload
        assert first[agency_id].sha256 == second[agency_id].sha256
        assert first[agency_id].quality.to_dict() == second[agency_id].quality.to_dict()
    loans = loans_of(first[1])
    stamps = [loan["timestamp"] for loan in loans]
    assert stamps == sorted(stamps)


def test_same_bytes_as_the_row_by_row_oracle(reference, formats):
    rows = _day_of_rows(800, seed=2)
    agencies = [agency(1), agency(2, municipality="Bergen"), agency(3, library_name=None)]
    results = build(rows, agencies, reference=reference, chunk=150)
    expected = oracle(DAY, agencies, rows, formats=formats, reference=reference, installation=INSTALLATION)
    for agency_id, want in expected.items():
        got = results[agency_id]
        assert got.payload == want.payload
        assert got.quality.read == want.read
        assert got.quality.excluded == want.excluded
        assert got.quality.unknown_material_types == want.unknown_material_types
        assert_balanced(got)
        if got.payload is not None:
            LoanReport.model_validate_json(got.payload)
    assert (
        results[1].quality.excluded.get("duplicate_loan", 0)
        + results[2].quality.excluded.get("duplicate_loan", 0)
        + results[3].quality.excluded.get("agency_config_error", 0)
        > 0
    )


def test_duplicate_loan_is_reported_once():
    first = row(loan_id=99, loaned_at=oslo(2026, 11, 20, 12, 0, 0))
    later = dict(first, loaned_at=oslo(2026, 11, 20, 12, 0, 5))
    for rows in ([first, later, first], [later, first, first]):
        result = build(rows)[1]
        assert [loan["timestamp"] for loan in loans_of(result)] == ["2026-11-20T11:00:00Z"]
        assert result.quality.excluded == {"duplicate_loan": 2}
        assert_balanced(result)


# ---------------------------------------------------------------------------- defensive input
def test_nulls_in_required_columns_do_not_crash():
    schema = pa.schema([f.with_nullable(True) for f in LOAN_ROW_SCHEMA])
    rows = [row(loan_id=None), row(loaned_at=None), row(agency_id=None), row()]
    builder = ReportBuilder(DAY, [agency(1)], installation_namespace=INSTALLATION)
    builder.add_chunk(pa.Table.from_pylist(rows, schema=schema))
    (result,) = builder.finish()
    assert result.quality.excluded == {"missing_loan_id": 1, "missing_timestamp": 1}
    assert result.loan_count == 1 and builder.rows_ignored == 1


def test_large_loan_ids_next_to_null_ones_keep_every_digit():
    schema = pa.schema([f.with_nullable(True) for f in LOAN_ROW_SCHEMA])
    big = 2**62 + 1  # not representable as float64
    rows = [row(loan_id=None), row(loan_id=big), row(loan_id=big + 2, loaned_at=row()["loaned_at"])]
    builder = ReportBuilder(DAY, [agency(1)], installation_namespace=INSTALLATION)
    builder.add_chunk(pa.Table.from_pylist(rows, schema=schema))
    (result,) = builder.finish()
    assert [loan["transactionId"] for loan in loans_of(result)] == [
        transaction_id(big, INSTALLATION),
        transaction_id(big + 2, INSTALLATION),
    ]
    assert result.quality.excluded == {"missing_loan_id": 1}


def test_iter_results_yields_one_agency_at_a_time():
    builder = ReportBuilder(DAY, [agency(1), agency(2)], installation_namespace=INSTALLATION)
    builder.add_chunk(table([row(agency_id=1), row(agency_id=2)]))
    results = builder.iter_results()
    assert next(results).agency_id == 1
    assert next(results).agency_id == 2
    assert next(results, None) is None


def test_missing_optional_columns_and_record_batches():
    data = table([row()]).select(["loan_id", "agency_id", "loaned_at", "isbn", "material_type_code"])
    builder = ReportBuilder(DAY, [agency(1)], installation_namespace=INSTALLATION)
    builder.add_chunk(data.to_batches()[0])
    (result,) = builder.finish()
    (loan,) = loans_of(result)
    assert loan["borrower"] == {"isPerson": False, "gender": "UNKNOWN"}
    assert "title" not in loan


def test_misuse_is_an_error():
    with pytest.raises(ValueError, match="listed twice"):
        ReportBuilder(DAY, [agency(1), agency(1)], installation_namespace=INSTALLATION)
    with pytest.raises(ValueError, match="installation"):
        ReportBuilder(DAY, [agency(1)], installation_namespace=" ")
    builder = ReportBuilder(DAY, [agency(1)], installation_namespace=INSTALLATION)
    with pytest.raises(ValueError, match="required columns"):
        builder.add_chunk(pa.table({"loan_id": [1]}))
    builder.finish()
    with pytest.raises(RuntimeError):
        builder.finish()
    with pytest.raises(RuntimeError):
        builder.add_chunk(table([row()]))
