"""The report builder: one day's loan rows -> one Bokbasen payload per agency.

Pure Python (pyarrow, pandas, orjson, pydantic, python-stdnum), no scheduler. Modules:

* ``builder``: ``ReportBuilder`` (``add_chunk`` / ``finish``) and ``AgencyResult``
* ``quality``: exclusion reason codes and ``QualitySummary``
* ``formats``: material type -> Bokbasen format (``include/config/material_formats.toml``)
* ``ean``: ISBN/ISMN/ISSN -> EAN-13 with python-stdnum
* ``borrower``: the anonymised borrower block
* ``library``: the library block and ``AgencyConfigError``
* (the location check and the postal code, municipality and county registers live in
  ``library_integrations.common.reference_data``, shared by every pipeline)
* ``transaction_id``: deterministic transaction ids
* ``models``: the pydantic payload models (``LoanReport``)
* ``jsontext``: vectorised JSON text helpers used by the builder
"""

from library_integrations.common.reference_data import (
    ReferenceData,
    load_reference_data,
)
from library_integrations.pipelines.loan_report.report.builder import AgencyResult, ReportBuilder
from library_integrations.pipelines.loan_report.report.formats import MaterialFormats, load_material_formats
from library_integrations.pipelines.loan_report.report.library import AgencyConfigError
from library_integrations.pipelines.loan_report.report.models import LoanReport
from library_integrations.pipelines.loan_report.report.quality import (
    EXCLUSION_REASONS,
    QualitySummary,
    format_quality_table,
)

__all__ = [
    "EXCLUSION_REASONS",
    "AgencyConfigError",
    "AgencyResult",
    "LoanReport",
    "MaterialFormats",
    "QualitySummary",
    "ReferenceData",
    "ReportBuilder",
    "format_quality_table",
    "load_material_formats",
    "load_reference_data",
]
