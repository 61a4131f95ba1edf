"""The report payload POSTed to Bokbasen, as pydantic v2 models (docs/contracts.md section 3).

This module is the single definition of the wire format. Each JSON key is the ``alias`` of
one field, so renaming a key is a one-line change here; the report builder reads the keys
and their order from these models (``json_keys``) instead of repeating them.

Rules on the wire:

* camelCase keys, in the field order below; UTF-8; no ``null`` anywhere: optional
  fields (``library.location``, ``title``, ``authors``, ``language``, ``borrower.age``)
  are omitted when unknown. Validation rejects an explicit ``null``.
* ``timestamp``: UTC, whole seconds, ``YYYY-MM-DDTHH:MM:SSZ``.
* ``ean``: 13 digits, valid check digit, prefix 977 (ISSN), 978/979 (ISBN; 9790 ISMN).
* ``transactionId``: a lowercase version-5 UUID.
* ``borrower``: ``age`` 0..120; a non-person has no age and gender ``UNKNOWN``.

The models validate strictly (no type coercion, unknown keys rejected) so that the fake
Bokbasen server can use ``LoanReport.model_validate_json(body)`` as its contract check.
The builder does *not* build these objects for a million loans: it writes the same bytes
with orjson from columns, and the tests check that both agree.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_serializer,
    field_validator,
    model_validator,
)

from library_integrations.pipelines.loan_report.report.ean import is_valid_book_ean

Format = Literal["AUDIO", "EBOOK", "PAPER"]
Gender = Literal["MALE", "FEMALE", "UNKNOWN"]

ISIL_PATTERN = r"^NO-[0-9]{7}$"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_TIMESTAMP_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _book_ean(value: str) -> str:
    if not is_valid_book_ean(value):
        raise ValueError("must be a 13-digit EAN with a valid check digit and prefix 977, 978 or 979")
    return value


Text = Annotated[StrictStr, Field(min_length=1), AfterValidator(_not_blank)]
Ean = Annotated[StrictStr, AfterValidator(_book_ean)]
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class _WireModel(BaseModel):
    # Strictness per field (StrictStr, StrictBool, StrictInt, text-only dates) rather than
    # ``strict=True``: the null check below runs before field validation, and after it
    # pydantic validates the parsed JSON in Python mode, where strict mode refuses ISO dates.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = [k for k, v in data.items() if v is None]
            if nulls:
                raise ValueError(
                    f"omit optional fields instead of sending null: {', '.join(map(str, nulls))}"
                )
        return data


class Location(_WireModel):
    postal_code: StrictStr = Field(alias="postalCode", pattern=r"^[0-9]{4}$")
    municipality: Text = Field(alias="municipality")
    county: Text = Field(alias="county")


class Library(_WireModel):
    isil: StrictStr = Field(alias="isil", pattern=ISIL_PATTERN)
    name: Text = Field(alias="name")
    type: Text = Field(alias="type")
    location: Location | None = Field(default=None, alias="location")


class Borrower(_WireModel):
    is_person: StrictBool = Field(alias="isPerson")
    age: StrictInt | None = Field(default=None, alias="age", ge=0, le=120)
    gender: Gender = Field(alias="gender")

    @model_validator(mode="after")
    def _non_person_is_anonymous(self) -> Borrower:
        if not self.is_person and (self.age is not None or self.gender != "UNKNOWN"):
            raise ValueError("a borrower who is not a person has no age and gender UNKNOWN")
        return self


class Loan(_WireModel):
    transaction_id: StrictStr = Field(
        alias="transactionId",
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
    )
    timestamp: datetime = Field(alias="timestamp")
    ean: Ean = Field(alias="ean")
    title: Text | None = Field(default=None, alias="title")
    authors: list[Text] | None = Field(default=None, alias="authors", min_length=1)
    format: Format = Field(alias="format")
    language: StrictStr | None = Field(default=None, alias="language", pattern=r"^[a-z]{3}$")
    borrower: Borrower = Field(alias="borrower")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _utc_text(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str) or not _TIMESTAMP_TEXT.match(value):
            raise ValueError("timestamp must be UTC in the form YYYY-MM-DDTHH:MM:SSZ")
        return value

    @field_validator("timestamp", mode="after")
    @classmethod
    def _utc_whole_seconds(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
            raise ValueError("timestamp must be in UTC")
        if value.microsecond:
            raise ValueError("timestamp has whole seconds only")
        return value

    @field_serializer("timestamp")
    def _timestamp_text(self, value: datetime) -> str:
        return value.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


class LoanReport(_WireModel):
    """One library's loans of one Oslo calendar day."""

    report_date: date = Field(alias="reportDate")
    library: Library = Field(alias="library")
    loans: list[Loan] = Field(alias="loans")

    @field_validator("report_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise ValueError("reportDate must be a date in the form YYYY-MM-DD")
        return value

    def to_json_bytes(self) -> bytes:
        """The wire form: aliases, optional fields omitted, compact UTF-8 JSON."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")


def json_keys(model: type[BaseModel]) -> dict[str, str]:
    """``{python field name: JSON key}`` in wire order, e.g. ``{"transaction_id": "transactionId", ...}``."""
    return {name: (info.alias or name) for name, info in model.model_fields.items()}
