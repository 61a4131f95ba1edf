"""The small interface every patron-registry client offers (SOAP today, the operator's REST API later).

One client object serves one library: the registry's credentials are per library, and
everything it answers is seen from that library (``soekEndret`` lists the changes of its
patrons, ``slett`` removes its relation).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from library_integrations.clients.registry.models import (
    CardCheck,
    ChangesPage,
    Lookup,
    RegistryPatron,
    WriteReply,
)


@runtime_checkable
class PatronRegistry(Protocol):
    """What the pipelines call. Per-patron answers are values; whole-library trouble raises
    a :class:`~.errors.RegistryError`."""

    @property
    def library_number(self) -> str:
        """The 7-digit library number (the ISIL without ``NO-``)."""
        ...

    def search(self, identifier: str) -> Lookup:
        """Look a patron up by national card number or national id (``hent``)."""
        ...

    def changes_since(self, since: str, *, start_index: int = 1, max_count: int = 100) -> ChangesPage:
        """Records changed since ``since`` (``YYYY-MM-DDTHH:MM:SS``, the registry's clock), one page."""
        ...

    def create(self, patron: RegistryPatron) -> WriteReply:
        """Create a patron (``nyPost``); ``lnr``, ``navn`` and ``fnr_hash`` are required."""
        ...

    def update(self, card_number: str, patron: RegistryPatron) -> WriteReply:
        """Update the patron holding ``card_number`` with the fields present in ``patron`` (``endre``);
        adds this library's relation when it has none."""
        ...

    def remove_relation(self, card_number: str) -> WriteReply:
        """Remove this library's relation to the patron holding ``card_number`` (``slett``)."""
        ...

    def check_card_number(self, card_number: str) -> CardCheck:
        """May this library issue ``card_number`` as a national card? Checked before issuing it."""
        ...

    def new_default_pin(self) -> str:
        """A random default PIN, already encrypted for the registry."""
        ...

    def is_own_change(self, record: RegistryPatron) -> bool:
        """Was ``record`` last changed by this library (``sist_endret_av``)?"""
        ...

    def close(self) -> None: ...
