"""The payload models: the wire contract of docs/contracts.md section 3."""

import copy

import orjson
import pytest
from pydantic import ValidationError

from library_integrations.pipelines.loan_report.report.models import (
    Borrower,
    Library,
    Loan,
    LoanReport,
    Location,
    json_keys,
)

EXAMPLE = {
    "reportDate": "2026-11-20",
    "library": {
        "isil": "NO-2030100",
        "name": "Deichman Bjørvika",
        "type": "Folkebibliotek",
        "location": {"postalCode": "0150", "municipality": "Oslo", "county": "Oslo"},
    },
    "loans": [
        {
            "transactionId": "5a0f6c1e-1d2b-5c3d-8e4f-0123456789ab",
            "timestamp": "2026-11-20T13:45:10Z",
            "ean": "9788203364181",
            "title": "Sult",
            "authors": ["Hamsun, Knut"],
            "format": "PAPER",
            "language": "nob",
            "borrower": {"isPerson": True, "age": 42, "gender": "FEMALE"},
        },
        {
            "transactionId": "6b0f6c1e-1d2b-5c3d-9e4f-0123456789ab",
            "timestamp": "2026-11-20T23:59:59Z",
            "ean": "9790345246805",
            "format": "PAPER",
            "borrower": {"isPerson": False, "gender": "UNKNOWN"},
        },
    ],
}


def test_example_round_trips_byte_for_byte():
    body = orjson.dumps(EXAMPLE)
    report = LoanReport.model_validate_json(body)
    assert report.to_json_bytes() == body
    assert report.library.location.postal_code == "0150"
    assert report.loans[1].title is None


def test_keys_come_from_aliases_in_field_order():
    assert list(json_keys(Loan).values()) == [
        "transactionId",
        "timestamp",
        "ean",
        "title",
        "authors",
        "format",
        "language",
        "borrower",
    ]
    assert json_keys(LoanReport) == {"report_date": "reportDate", "library": "library", "loans": "loans"}
    assert json_keys(Borrower) == {"is_person": "isPerson", "age": "age", "gender": "gender"}
    assert json_keys(Library)["location"] == "location"
    assert json_keys(Location)["postal_code"] == "postalCode"


def _with(path: str, value):
    data = copy.deepcopy(EXAMPLE)
    target = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return orjson.dumps(data)


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("reportDate", "20.11.2026"),
        ("reportDate", 20261120),
        ("library.isil", "NO-12345"),
        ("library.isil", "DK-710100"),
        ("library.name", " "),
        ("library.type", ""),
        ("library.location.postalCode", "150"),
        ("library.location.postalCode", 150),
        ("library.location", None),  # omitted, not null
        ("loans.0.ean", "9788203364182"),  # check digit
        ("loans.0.ean", "978820336418"),
        ("loans.0.ean", "5701234567892"),  # not a book EAN
        ("loans.0.ean", 9788203364181),
        ("loans.0.format", "DVD"),
        ("loans.0.format", "paper"),
        ("loans.0.timestamp", "2026-11-20T13:45:10+00:00"),
        ("loans.0.timestamp", "2026-11-20T13:45:10.123Z"),
        ("loans.0.timestamp", "2026-11-20T14:45:10+01:00"),
        ("loans.0.timestamp", "2026-11-20 13:45:10"),
        ("loans.0.transactionId", "not-a-uuid"),
        ("loans.0.transactionId", "5A0F6C1E-1D2B-5C3D-8E4F-0123456789AB"),  # upper case
        ("loans.0.transactionId", "5a0f6c1e-1d2b-4c3d-8e4f-0123456789ab"),  # version 4
        ("loans.0.title", None),
        ("loans.0.title", ""),
        ("loans.0.authors", []),
        ("loans.0.authors", ["Hamsun, Knut", " "]),
        ("loans.0.language", "NOB"),
        ("loans.0.language", "no"),
        ("loans.0.borrower.age", 121),
        ("loans.0.borrower.age", -1),
        ("loans.0.borrower.age", 42.0),
        ("loans.0.borrower.age", "42"),
        ("loans.0.borrower.isPerson", "true"),
        ("loans.0.borrower.gender", "F"),
        ("loans.0.borrower.gender", _DELETE),
        ("loans.0.extra", 1),
        ("loans.1.borrower.age", 30),  # non-person with an age
        ("loans.1.borrower.gender", "MALE"),  # non-person with a gender
        ("loans.0.ean", _DELETE),
    ],
)
def test_rejects(path, value):
    with pytest.raises(ValidationError):
        LoanReport.model_validate_json(_with(path, value))


def test_empty_report_is_valid():
    body = orjson.dumps({**EXAMPLE, "loans": []})
    assert LoanReport.model_validate_json(body).loans == []


def test_python_construction_by_field_name():
    loan = Loan(
        transaction_id="5a0f6c1e-1d2b-5c3d-8e4f-0123456789ab",
        timestamp="2026-11-20T13:45:10Z",
        ean="9788203364181",
        format="EBOOK",
        borrower=Borrower(is_person=True, gender="UNKNOWN"),
    )
    assert orjson.loads(loan.model_dump_json(exclude_none=True))["timestamp"] == "2026-11-20T13:45:10Z"
