"""The registry's records and replies as typed values; none of them shows personal data in ``repr``.

:class:`RegistryPatron` is the registry's ``Laaner``: only the fields that were present in
the XML (or given when building one to send) are held, so "absent" (leave the registry's
value alone) and "empty" (clear it) stay apart. Replies:

* :class:`Lookup` (``hent``): ``patron`` or a miss (``ingen treff``) or a refusal;
* :class:`WriteReply` (``nyPost``/``endre``/``slett``): done, a miss, or refused, with the
  registry's ``server_tid`` and (scrubbed) ``melding``;
* :class:`ChangesPage` (``soekEndret``): one page of changed records and ``neste_indeks``;
* :class:`CardCheck`: whether a national card number may be issued, and why not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

#: Every field of ``Laaner``, in the order they are sent.
LAANER_FIELDS = (
    "lnr", "navn", "fdato", "fnr_hash", "kjonn",
    "p_adresse1", "p_adresse2", "p_postnr", "p_sted", "p_land",
    "m_adresse1", "m_adresse2", "m_postnr", "m_sted", "m_land", "m_gyldig_til",
    "tlf_hjemme", "tlf_jobb", "tlf_mobil", "epost", "prim_kontakt", "hjemmebibliotek",
    "pin", "passord", "opprettet", "opprettet_av", "sist_endret", "sist_endret_av", "gyldig_til",
)  # fmt: skip
#: Fields the national population register owns: the registry ignores them when sent.
POPULATION_REGISTER_FIELDS = frozenset(
    {"navn", "fdato", "kjonn", "p_adresse1", "p_adresse2", "p_postnr", "p_sted", "p_land"}
)
#: Fields nyPost requires.
CREATE_REQUIRED = ("lnr", "navn", "fnr_hash")
NO_MATCH = "ingen treff"


class ReplyStatus(StrEnum):
    OK = "ok"  # status true
    NO_MATCH = "no_match"  # status false, melding "ingen treff": a miss, not an error
    REFUSED = "refused"  # status false with another melding


def reply_status(ok: bool, melding: str | None) -> ReplyStatus:
    """
    >>> reply_status(True, None), reply_status(False, "Ingen treff"), reply_status(False, "Ugyldig PIN")
    (<ReplyStatus.OK: 'ok'>, <ReplyStatus.NO_MATCH: 'no_match'>, <ReplyStatus.REFUSED: 'refused'>)
    """
    if ok:
        return ReplyStatus.OK
    if (melding or "").strip().lower().rstrip(".") == NO_MATCH:
        return ReplyStatus.NO_MATCH
    return ReplyStatus.REFUSED


@dataclass(frozen=True)
class RegistryPatron:
    """One ``Laaner``: the fields present, as text (empty element = None).

    >>> p = RegistryPatron.of(lnr="N000000001", navn="Nordmann, Kari", epost=None)
    >>> p.lnr, p.get("epost", "absent"), p.get("tlf_mobil", "absent")
    ('N000000001', None, 'absent')
    >>> p
    RegistryPatron(fields=['lnr', 'navn', 'epost'])
    """

    values: Mapping[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.values) - set(LAANER_FIELDS)
        if unknown:
            raise ValueError(f"unknown Laaner field(s): {', '.join(sorted(unknown))}")
        ordered = {name: self.values[name] for name in LAANER_FIELDS if name in self.values}
        object.__setattr__(self, "values", MappingProxyType(ordered))

    @classmethod
    def of(cls, **values: str | None) -> RegistryPatron:
        return cls(values)

    def __repr__(self) -> str:  # field names only: the values are personal data
        return f"RegistryPatron(fields={list(self.values)})"

    __str__ = __repr__

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.values

    def without(self, *names: str) -> RegistryPatron:
        return RegistryPatron({k: v for k, v in self.values.items() if k not in names})

    def with_values(self, **values: str | None) -> RegistryPatron:
        return RegistryPatron({**self.values, **values})

    lnr = property(lambda self: self.values.get("lnr") or None)
    fnr = property(lambda self: self.values.get("fnr_hash") or None)
    pin = property(lambda self: self.values.get("pin") or None)
    changed_at = property(lambda self: self.values.get("sist_endret") or None)
    changed_by = property(lambda self: self.values.get("sist_endret_av") or None)

    @property
    def is_registry_deletion(self) -> bool:
        """A changed record without ``lnr`` or ``fnr_hash``: the registry deleted the card/patron."""
        return not (self.lnr and self.fnr)


@dataclass(frozen=True)
class Lookup:
    """The answer to ``hent``."""

    status: ReplyStatus
    patron: RegistryPatron | None = None
    message: str | None = None  # scrubbed melding
    server_time: str | None = None

    @property
    def found(self) -> bool:
        return self.status is ReplyStatus.OK and self.patron is not None


@dataclass(frozen=True)
class WriteReply:
    """The answer to ``nyPost``, ``endre`` or ``slett`` (the registry's ``Svar``)."""

    status: ReplyStatus
    message: str | None = None  # scrubbed melding
    server_time: str | None = None
    card_number_returned: bool = False  # the Svar carried an lnr (not kept: it is a card number)

    @property
    def ok(self) -> bool:
        return self.status is ReplyStatus.OK


@dataclass(frozen=True)
class ChangesPage:
    """One page of ``soekEndret``: records changed since the asked time."""

    status: ReplyStatus
    records: tuple[RegistryPatron, ...] = ()
    total: int = 0  # antall_treff
    next_index: int = 0  # neste_indeks; 0 (or absent) = no more pages
    server_time: str | None = None
    message: str | None = None

    def __repr__(self) -> str:
        return (
            f"ChangesPage(status={self.status.value}, records={len(self.records)}, total={self.total}, "
            f"next_index={self.next_index}, server_time={self.server_time!r})"
        )


@dataclass(frozen=True)
class CardCheck:
    """Whether a national card number may be issued by this library; ``reason`` when not."""

    allowed: bool
    reason: str | None = None
    in_use: bool = False  # the registry already knows the number (another patron holds it)
