"""Shapes that cross module boundaries: the extracted loan rows and the agency settings.

The extract (``include/sql/extract/*.sql``) produces rows of ``LOAN_ROW_SCHEMA``; they are
staged as Parquet chunks and fed to the report builder one chunk at a time. No column
identifies a patron: the patron id, birth date and name never leave the database; the
age is computed in the query on the Oslo-local loan date.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

LOAN_ROW_SCHEMA = pa.schema(
    [
        pa.field("loan_id", pa.int64(), nullable=False),
        pa.field("agency_id", pa.int64(), nullable=False),
        pa.field("loaned_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("isbn", pa.string()),  # as catalogued: free text or null
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string())),
        pa.field("language", pa.string()),  # ISO 639-2 as catalogued, any case, or null
        pa.field("material_type_code", pa.string()),
        pa.field("patron_kind", pa.string()),  # PERSON, ORGANISATION, INSTITUTION, LIBRARY, ...
        pa.field("gender", pa.string()),  # as catalogued: M, F, K, X, other, null
        pa.field("age", pa.int32()),  # whole years on the Oslo-local loan date; null if unknown
    ]
)


@dataclass(frozen=True)
class AgencySettings:
    """One agency and its Bokbasen settings, as read from ``lms.bokbasen_agency_settings``."""

    agency_id: int
    isil: str | None
    agency_name: str | None
    enabled: bool
    library_name: str | None
    library_type: str | None
    postal_code: str | None
    municipality: str | None
    county: str | None
