"""The ``library`` block of a report: who is reporting, from the agency's Bokbasen settings.

* ``isil``: the agency's ISIL (``lms.agency.isil``). It must be a valid ISIL according to
  ``stdnum.isil`` *and* have the Norwegian library form ``NO-`` + 7 digits (the
  National Library's library number, e.g. ``NO-2030100``). Surrounding whitespace is
  ignored and the country prefix is upper-cased (``no-2030100`` -> ``NO-2030100``).
* ``name`` and ``type``: the Bokbasen settings' ``library_name`` and ``library_type``,
  trimmed; both are required. The agency's own name is deliberately **not** a fallback
  for the library name: it is an internal label (``"Hovedbiblioteket"``, ``"Filial 3"``)
  and Bokbasen would show it as the library's name.
* ``location``: sent only when valid (``reference_data``); otherwise omitted, and the
  reason becomes a warning naming the agency. A location problem never fails the agency.

Unusable settings raise ``AgencyConfigError`` whose message names the agency id and ISIL
and says what to fix; the report builder turns it into that agency's failure, and the
other agencies still report.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from stdnum import isil as std_isil
from stdnum.exceptions import ValidationError

from library_integrations.common.reference_data import ReferenceData
from library_integrations.library_system.contracts import AgencySettings
from library_integrations.pipelines.loan_report.report.models import Library, Location, json_keys
from library_integrations.pipelines.loan_report.report.quality import LOCATION_NOT_CONFIGURED, LOCATION_SENT

log = logging.getLogger(__name__)

_NORWEGIAN_ISIL = re.compile(r"^NO-[0-9]{7}$")
_LIBRARY_KEYS = json_keys(Library)
_LOCATION_KEYS = json_keys(Location)


class AgencyConfigError(ValueError):
    """An enabled agency's settings cannot produce a valid report."""


def _describe(settings: AgencySettings) -> str:
    isil = (settings.isil or "").strip() or "no ISIL"
    return f"agency {settings.agency_id} ({isil})"


def normalise_isil(value: str | None, *, agency: str = "agency") -> str:
    """The ISIL in canonical form, or ``AgencyConfigError``."""
    if value is None or not str(value).strip():
        raise AgencyConfigError(f"{agency}: no ISIL in lms.agency.isil")
    raw = str(value).strip()
    try:
        isil = std_isil.format(std_isil.validate(raw))
    except ValidationError as exc:
        raise AgencyConfigError(f"{agency}: ISIL {raw!r} is not a valid ISIL ({exc.message})") from exc
    if not _NORWEGIAN_ISIL.match(isil):
        raise AgencyConfigError(
            f"{agency}: ISIL {raw!r} is not a Norwegian library ISIL (NO- followed by 7 digits)"
        )
    return isil


@dataclass(frozen=True)
class LibraryIdentity:
    """A checked library block plus the location verdict for the quality summary."""

    agency_id: int
    isil: str
    name: str
    type: str
    location: Location | None
    location_status: str
    location_warning: str | None

    def block(self) -> dict[str, Any]:
        """The ``library`` JSON object (keys from ``models.Library``), location omitted if None."""
        block: dict[str, Any] = {
            _LIBRARY_KEYS["isil"]: self.isil,
            _LIBRARY_KEYS["name"]: self.name,
            _LIBRARY_KEYS["type"]: self.type,
        }
        if self.location is not None:
            block[_LIBRARY_KEYS["location"]] = {
                _LOCATION_KEYS["postal_code"]: self.location.postal_code,
                _LOCATION_KEYS["municipality"]: self.location.municipality,
                _LOCATION_KEYS["county"]: self.location.county,
            }
        return block


def library_identity(settings: AgencySettings, reference: ReferenceData | None) -> LibraryIdentity:
    """Check one agency's settings and build its library block.

    Raises ``AgencyConfigError`` for a missing/malformed ISIL or a missing library name or
    type. Logs a warning (naming the agency) when the location is omitted; a location that
    is simply not configured is logged at INFO.
    """
    agency = _describe(settings)
    isil = normalise_isil(settings.isil, agency=agency)
    problems = []
    name = (settings.library_name or "").strip()
    if not name:
        problems.append(
            "the Bokbasen library name is not configured (bokbasen_agency_settings.library_name); "
            "the agency name is not used in its place"
        )
    library_type = (settings.library_type or "").strip()
    if not library_type:
        problems.append(
            "the Bokbasen library type is not configured (bokbasen_agency_settings.library_type, "
            "e.g. 'Folkebibliotek')"
        )
    if problems:
        raise AgencyConfigError(f"{agency}: " + "; ".join(problems))

    reference = (
        reference
        if reference is not None
        else ReferenceData.unavailable("no reference data given; location not sent")
    )
    verdict = reference.check_location(settings.postal_code, settings.municipality, settings.county)
    location = None
    if verdict.location is not None:
        location = Location(
            postal_code=verdict.location.postal_code,
            municipality=verdict.location.municipality,
            county=verdict.location.county,
        )
    warning = None if verdict.status == LOCATION_SENT else verdict.reason
    if verdict.status == LOCATION_NOT_CONFIGURED:
        log.info("%s: library location not configured; the report has no location", agency)
    elif warning:
        log.warning("%s: library location omitted: %s", agency, warning)
    return LibraryIdentity(
        agency_id=settings.agency_id,
        isil=isil,
        name=name,
        type=library_type,
        location=location,
        location_status=verdict.status,
        location_warning=warning,
    )
