"""Which local field is which registry field, both ways, and which card is national.

Import (registry -> library system): every registry field present in a changed record
overwrites the local value (``navn`` -> ``name``, ``p_adresse1`` -> ``address_line1``, ...;
an empty element clears it; an absent one leaves it). The PIN comes only when the library
syncs PINs; the national card only when it syncs card numbers.

Export (library system -> registry): what a library may set. Name, birth date, gender and
postal address belong to the national population register, and the registry ignores them
when sent, so they are sent only where ``nyPost`` requires them (``navn``); an update sends
the contact fields, the card number (when synced) and the PIN (when synced). A local card
number is never sent: only an active ``NATIONAL`` card of the shape ``N`` + 9 digits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from stdnum.no import fodselsnummer

from library_integrations.clients.registry.cards import is_national_card_number
from library_integrations.clients.registry.models import RegistryPatron
from library_integrations.library_system.patrons import Card, QueuedPatron

#: registry field -> local column (import)
REGISTRY_TO_LOCAL = {
    "fnr_hash": "national_id",
    "navn": "name",
    "fdato": "birth_date",
    "kjonn": "gender",
    "p_adresse1": "address_line1",
    "p_adresse2": "address_line2",
    "p_postnr": "postal_code",
    "p_sted": "city",
    "p_land": "country",
    "epost": "email",
    "tlf_mobil": "phone",
}
#: local column -> registry field a library may set (export)
CONTACT_TO_REGISTRY = {"email": "epost", "phone": "tlf_mobil"}


def valid_national_id(value: str | None) -> bool:
    """A fødselsnummer or D-nummer python-stdnum accepts.

    >>> valid_national_id("01010050053"), valid_national_id("01010050054"), valid_national_id(None)
    (True, False, False)
    """
    return bool(value) and fodselsnummer.is_valid(value)


def parse_registry_date(value: str | None) -> date | None:
    """``YYYY-MM-DD`` (or ``DD.MM.YYYY``), else None.

    >>> parse_registry_date("1990-01-31"), parse_registry_date("31.01.1990"), parse_registry_date("?")
    (datetime.date(1990, 1, 31), datetime.date(1990, 1, 31), None)
    """
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%Y%m%d"):
        try:
            return datetime.strptime(value.strip()[:10], fmt).date()
        except ValueError:
            continue
    return None


def national_card(cards: tuple[Card, ...], *, include_inactive: bool = False) -> Card | None:
    """The patron's (active) national card, newest first; None when it holds local cards only."""
    for card in cards:
        if card.kind == "NATIONAL" and is_national_card_number(card.card_number) and (card.active or include_inactive):
            return card
    return None


def local_values_from_registry(record: RegistryPatron, current: dict[str, Any], *, sync_pin: bool) -> dict[str, Any]:
    """The patron's columns after the registry's values overwrote the local ones."""
    values = dict(current)
    for field, column in REGISTRY_TO_LOCAL.items():
        if not record.has(field):
            continue
        value = record.get(field)
        if column == "birth_date":
            parsed = parse_registry_date(value)
            if value and parsed is None:
                continue  # an unreadable date does not erase a good one
            value = parsed
        values[column] = value
    if not record.has("tlf_mobil") and record.has("tlf_hjemme"):
        values["phone"] = record.get("tlf_hjemme")
    if sync_pin and record.pin:
        values["pin_encrypted"] = record.pin
        values["pin_must_change"] = False
    return values


def contact_post(patron: QueuedPatron, *, skip_empty: bool = False) -> dict[str, str | None]:
    """The contact fields to send (``skip_empty``: only those the library has a value for)."""
    post = {field: getattr(patron, column) for column, field in CONTACT_TO_REGISTRY.items()}
    return {k: v for k, v in post.items() if v or not skip_empty}


def create_post(patron: QueuedPatron, card_number: str, pin: str | None) -> RegistryPatron:
    values: dict[str, str | None] = {"lnr": card_number, "fnr_hash": patron.national_id, "navn": patron.name}
    values.update(contact_post(patron, skip_empty=True))
    if pin:
        values["pin"] = pin
    return RegistryPatron(values)


def already_holds(remote: RegistryPatron, post: RegistryPatron) -> bool:
    """Does the registry's record already hold every value of ``post`` (an earlier write arrived)?"""
    return all((remote.get(name) or None) == (value or None) for name, value in post.values.items())
