"""The fake Bokbasen's fault specs and its strict payload validation (no server started)."""

from __future__ import annotations

import json
import sys

import pytest

from dev.fakes.bokbasen import (
    FakeBokbasen,
    Fault,
    PayloadInvalid,
    default_validator,
    model_validator,
    parse_fault,
    run_validator,
    structural_validator,
)
from tests.fixtures.fake_bokbasen import make_report


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("503", Fault(action="status", status=503)),
        ("429 Retry-After: 2", Fault(action="status", status=429, retry_after="2")),
        (
            "503 retry-after=Wed, 21 Oct 2026 07:28:00 GMT",
            Fault(action="status", status=503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT"),
        ),
        ("400 ean is not valid", Fault(action="status", status=400, message="ean is not valid")),
        ('400 {"message": "bad ean"}', Fault(action="status", status=400, message="bad ean")),
        ("200", Fault(action="pass", status=200)),
        ("slow 2.5", Fault(action="slow", seconds=2.5)),
        ("drop", Fault(action="drop")),
        ("revoke", Fault(action="revoke")),
        ("500 isil=NO-1 repeat=-1", Fault(action="status", status=500, isil="NO-1", repeat=-1)),
        ("token: 503", Fault(action="status", status=503, endpoint="token")),
        ({"status": 429, "retry_after": 1}, Fault(action="status", status=429, retry_after="1")),
    ],
)
def test_fault_specs(spec, expected):
    assert parse_fault(spec) == expected


@pytest.mark.parametrize("spec", ["explode", {"action": "explode"}, {"status": 500, "endpoint": "elsewhere"}])
def test_unknown_fault_specs_are_refused(spec):
    with pytest.raises((ValueError, TypeError)):
        parse_fault(spec)


def test_fault_scope_by_isil():
    fault = parse_fault("500 isil=NO-1")
    assert fault.matches("loans", "NO-1")
    assert not fault.matches("loans", "NO-2")
    assert not fault.matches("token", "NO-1")


def test_structural_validator_accepts_a_valid_report():
    doc = structural_validator(make_report(loans=5))
    assert doc["library"]["isil"] == "NO-2030100"


def test_structural_validator_explains_what_is_wrong():
    doc = json.loads(make_report(loans=2))
    doc["loans"][0]["ean"] = "9788203364180"  # wrong check digit
    doc["loans"][1]["timestamp"] = "2026-11-21T12:00:00Z"  # another Oslo day
    doc["loans"][1]["borrower"]["birthDate"] = "1980-01-01"
    with pytest.raises(PayloadInvalid) as info:
        structural_validator(json.dumps(doc).encode())
    assert info.value.status == 422
    assert "loans[0].ean" in info.value.message
    assert "loans[1].timestamp" in info.value.message
    assert "birthDate" in info.value.message
    with pytest.raises(PayloadInvalid) as info:
        structural_validator(b"{not json")
    assert info.value.status == 400


def test_validation_is_pluggable_with_a_pydantic_model():
    from pydantic import BaseModel, ConfigDict

    class Tiny(BaseModel):
        model_config = ConfigDict(extra="forbid")
        reportDate: str  # noqa: N815 - wire name

    validate = model_validator(Tiny)
    assert validate(b'{"reportDate": "2026-11-20"}') == {"reportDate": "2026-11-20"}
    with pytest.raises(PayloadInvalid) as info:
        validate(b'{"reportDate": "2026-11-20", "extra": 1}')
    assert info.value.status == 422
    with pytest.raises(PayloadInvalid) as info:
        validate(b"[")
    assert info.value.status == 400


def test_the_default_validator_is_the_report_model():
    validate = default_validator()
    assert validate.__name__ == "validate_LoanReport"
    assert validate(make_report(loans=2))["library"]["isil"] == "NO-2030100"
    doc = json.loads(make_report(loans=1))
    doc["loans"][0]["format"] = "DVD"
    with pytest.raises(PayloadInvalid) as info:
        validate(json.dumps(doc).encode())
    assert info.value.status == 422


def test_no_fallback_when_the_report_model_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "library_integrations.pipelines.loan_report.report.models", None)
    with pytest.raises(ImportError):
        default_validator()
    with pytest.raises(ImportError):
        FakeBokbasen()  # the server does not start with a weaker check instead
    explicit = FakeBokbasen(validator=structural_validator)  # chosen explicitly: fine
    try:
        assert explicit.validator is structural_validator
    finally:
        explicit.stop()


def test_unknown_validator_names_are_refused():
    with pytest.raises(ValueError, match="Unknown validator"):
        FakeBokbasen(validator="structural")


def test_a_model_that_fails_unexpectedly_is_a_500_never_an_acceptance():
    from pydantic import BaseModel, field_validator

    class Buggy(BaseModel):
        reportDate: str  # noqa: N815 - wire name

        @field_validator("reportDate")
        @classmethod
        def explode(cls, value):
            raise TypeError("model bug")

    with pytest.raises(PayloadInvalid) as info:
        model_validator(Buggy)(b'{"reportDate": "2026-11-20"}')
    assert info.value.status == 500
    assert "TypeError" in info.value.message and "model bug" in info.value.message


@pytest.mark.parametrize("error", [RuntimeError("boom"), ValueError("boom"), KeyError("boom")])
def test_run_validator_turns_unexpected_exceptions_into_500(error):
    def crashing(body: bytes) -> dict:
        raise error

    with pytest.raises(PayloadInvalid) as info:
        run_validator(crashing, make_report())
    assert info.value.status == 500
    assert type(error).__name__ in info.value.message and "boom" in info.value.message


def test_run_validator_passes_verdicts_through_and_checks_the_shape():
    def rejecting(body: bytes) -> dict:
        raise PayloadInvalid(422, "Invalid report: nope")

    with pytest.raises(PayloadInvalid) as info:
        run_validator(rejecting, make_report())
    assert (info.value.status, info.value.message) == (422, "Invalid report: nope")
    assert run_validator(structural_validator, make_report())["reportDate"] == "2026-11-20"
    with pytest.raises(PayloadInvalid) as info:
        run_validator(None, b"{nope")  # validation switched off: still JSON
    assert info.value.status == 400
    with pytest.raises(PayloadInvalid) as info:
        run_validator(lambda body: [1, 2], b"[1, 2]")
    assert info.value.status == 422
