"""Reads and writes of the library system's patrons for the national patron registry sync.

All SQL is in ``include/sql/patron_registry/``. Every function runs inside the caller's
transaction (psycopg 3 connection), so a patron's local changes, its card and its queue
status commit together or not at all.

The tables (reference schema ``dev/sql/lms/004_patron_registry.sql``): ``lms.patron``
(identity, contact, consent, PIN as the registry holds it), ``lms.library_card`` (national
and local cards; at most one active national card per patron), ``lms.card_number_series``
(the series each library reserved), ``lms.patron_registry_settings`` (per library: enabled,
sync card number, sync PIN) and ``lms.patron_registry_queue`` (what the night job must send;
the library system fills it, the sync sets ``synced``, ``last_sync``, ``last_error`` and its
in-doubt marker ``attempt_started_at``).

Nothing here logs; the dataclasses' ``repr`` show the internal patron id and statuses only,
never a national id, a name, an address, a PIN or a card number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from library_integrations import SQL_DIR
from library_integrations.common.sql import SqlFiles

SQL = SqlFiles(SQL_DIR / "patron_registry")
MAX_SKIPPED_NUMBERS = 20  # numbers in a series found in use before issuing gives up

#: Patron columns the registry owns on import (registry -> local), in ``patron_update.sql`` order.
PATRON_COLUMNS = (
    "national_id", "name", "birth_date", "gender", "address_line1", "address_line2", "postal_code",
    "city", "country", "email", "phone", "pin_encrypted", "pin_must_change",
)  # fmt: skip


class CardIssueError(Exception):
    """No national card number could be issued; the message says why (no card number in it)."""


class SeriesExhausted(CardIssueError):
    """Every national series of the library is used up."""


@dataclass(frozen=True)
class RegistryLibrary:
    """A library (agency) and its registry settings."""

    agency_id: int
    isil: str
    name: str
    enabled: bool
    sync_card_number: bool
    sync_pin: bool


@dataclass(frozen=True)
class Card:
    """A library card. ``repr`` hides the number."""

    card_number: str
    agency_id: int
    kind: str  # NATIONAL | LOCAL
    active: bool
    issued_at: datetime

    def __repr__(self) -> str:
        return f"Card(kind={self.kind}, agency_id={self.agency_id}, active={self.active})"


@dataclass(frozen=True)
class QueuedPatron:
    """A queued change with the patron's fields and cards. ``repr``: ids and statuses only."""

    patron_id: int
    agency_id: int
    status: str  # new | edited | delete
    changed_at: datetime
    queued_pin: str | None
    last_sync: str | None
    attempt_started_at: datetime | None
    failed_attempts: int
    consent: bool
    national_id: str | None
    name: str | None
    birth_date: date | None
    gender: str | None
    address_line1: str | None
    address_line2: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    email: str | None
    phone: str | None
    pin_encrypted: str | None
    pin_must_change: bool | None
    cards: tuple[Card, ...] = field(default=())

    def __repr__(self) -> str:
        return (
            f"QueuedPatron(patron_id={self.patron_id}, agency_id={self.agency_id}, status={self.status}, "
            f"consent={self.consent}, in_doubt={self.in_doubt}, cards={len(self.cards)})"
        )

    __str__ = __repr__

    @property
    def in_doubt(self) -> bool:
        """An earlier write was sent and its answer never stored: the registry may hold it already."""
        return self.attempt_started_at is not None

    @property
    def pin(self) -> str | None:
        """The encrypted PIN to send: the queued one, else the one the patron has."""
        return self.queued_pin or self.pin_encrypted

    def personal_values(self) -> list[str]:
        """Values to scrub from any text about this patron."""
        values = [self.national_id, self.name, self.address_line1, self.address_line2, self.email, self.phone,
                  self.queued_pin, self.pin_encrypted, *(c.card_number for c in self.cards)]
        return [v for v in values if v]


class CardCheckResult(Protocol):
    allowed: bool
    in_use: bool
    reason: str | None


@dataclass(frozen=True)
class IssuedCard:
    """A national card issued from the library's series (``skipped``: numbers found in use)."""

    card_number: str
    skipped: int = 0

    def __repr__(self) -> str:
        return f"IssuedCard(skipped={self.skipped})"


# -- reads ----------------------------------------------------------------------------------


def registry_libraries(conn: psycopg.Connection) -> list[RegistryLibrary]:
    with conn.cursor(row_factory=dict_row) as cur:
        return [RegistryLibrary(**row) for row in cur.execute(SQL["libraries"])]


def cards_of(conn: psycopg.Connection, patron_ids: Iterable[int]) -> dict[int, tuple[Card, ...]]:
    cards: dict[int, list[Card]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(SQL["cards_of_patrons"], {"patron_ids": list(patron_ids)}):
            patron_id = row.pop("patron_id")
            cards.setdefault(patron_id, []).append(Card(**row))
    return {k: tuple(v) for k, v in cards.items()}


def pending_changes(conn: psycopg.Connection, agency_id: int) -> list[QueuedPatron]:
    """The library's queued changes (``new``/``edited``/``delete``), oldest first, with cards."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SQL["queue_pending"], {"agency_id": agency_id}).fetchall()
    cards = cards_of(conn, [r["patron_id"] for r in rows])
    return [QueuedPatron(**row, cards=cards.get(row["patron_id"], ())) for row in rows]


def patrons_with_national_id(conn: psycopg.Connection, national_id: str) -> list[int]:
    return [r[0] for r in conn.execute(SQL["patrons_by_national_id"], {"national_id": national_id})]


@dataclass(frozen=True)
class CardOwner:
    patron_id: int
    agency_id: int
    kind: str
    active: bool


def card_owner(conn: psycopg.Connection, card_number: str) -> CardOwner | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(SQL["card_owner"], {"card_number": card_number}).fetchone()
    return CardOwner(**row) if row else None


def lock_patron(conn: psycopg.Connection, patron_id: int) -> dict[str, Any] | None:
    """The patron's registry-owned fields (and queue status), locked until the transaction ends."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(SQL["patron_for_update"], {"patron_id": patron_id}).fetchone()


# -- writes ---------------------------------------------------------------------------------


def mark_attempt(conn: psycopg.Connection, patron_id: int) -> None:
    conn.execute(SQL["queue_mark_attempt"], {"patron_id": patron_id})


def record_synced(conn: psycopg.Connection, patron_id: int, changed_at: datetime, server_time: str | None) -> str:
    """Mark the change read at ``changed_at`` synced; returns the queue status now stored."""
    row = conn.execute(
        SQL["queue_synced"], {"patron_id": patron_id, "changed_at": changed_at, "server_time": server_time}
    ).fetchone()
    return row[0] if row else "missing"


def record_failed(conn: psycopg.Connection, patron_id: int, message: str, *, in_doubt: bool) -> int:
    """Keep the change queued with ``message``; returns its failures in a row."""
    row = conn.execute(
        SQL["queue_failed"], {"patron_id": patron_id, "message": message[:2000], "in_doubt": in_doubt}
    ).fetchone()
    return row[0] if row else 0


def set_pin(conn: psycopg.Connection, patron_id: int, encrypted_pin: str | None, *, must_change: bool) -> None:
    conn.execute(
        SQL["patron_set_pin"],
        {"patron_id": patron_id, "pin_encrypted": encrypted_pin, "pin_must_change": must_change},
    )


def update_patron(conn: psycopg.Connection, patron_id: int, values: dict[str, Any]) -> None:
    """Write every column of :data:`PATRON_COLUMNS` from ``values``."""
    conn.execute(SQL["patron_update"], {"id": patron_id, **{c: values.get(c) for c in PATRON_COLUMNS}})


def deactivate_national_cards(conn: psycopg.Connection, patron_id: int, *, keep: str | None = None) -> int:
    """Deactivate the patron's active national cards except ``keep``; how many."""
    return len(conn.execute(SQL["cards_deactivate_national"], {"patron_id": patron_id, "keep": keep}).fetchall())


def add_national_card(conn: psycopg.Connection, patron_id: int, agency_id: int, card_number: str) -> str:
    """Make ``card_number`` the patron's active national card (beside any local card).

    Returns ``added``, ``activated`` (it was the patron's, inactive), or ``present``; raises
    :class:`CardIssueError` when another patron holds the number locally. Another active
    national card of the patron is deactivated first (a patron holds one).
    """
    owner = card_owner(conn, card_number)
    if owner is not None and owner.patron_id != patron_id:
        raise CardIssueError(f"the card number is held by another local patron ({owner.patron_id})")
    deactivate_national_cards(conn, patron_id, keep=card_number)
    if owner is None:
        conn.execute(
            SQL["card_add_national"], {"card_number": card_number, "patron_id": patron_id, "agency_id": agency_id}
        )
        return "added"
    if owner.kind != "NATIONAL":
        raise CardIssueError("the patron holds the number as a local card")
    if not owner.active:
        conn.execute(SQL["card_activate"], {"card_number": card_number, "patron_id": patron_id})
        return "activated"
    return "present"


def _next(number: str) -> str:
    """
    >>> _next("N000000009")
    'N000000010'
    """
    return f"N{int(number[1:]) + 1:09d}"


def issue_national_card(
    conn: psycopg.Connection,
    agency_id: int,
    patron_id: int,
    check: Callable[[str], CardCheckResult],
) -> IssuedCard:
    """Issue the next number of the library's own national series to the patron, checked first.

    In the caller's transaction the series rows are locked (one issuer at a time), the next
    number is checked (not inside another library's series, not held locally, then
    ``check``: the registry's verdict), the card inserted and the series advanced. A number
    the registry reports in use is skipped (at most :data:`MAX_SKIPPED_NUMBERS`); any other
    refusal, or a used-up series, raises :class:`CardIssueError`/:class:`SeriesExhausted`.
    """
    rows = conn.execute(SQL["series_lock"], {"agency_id": agency_id}).fetchall()
    if not rows:
        raise SeriesExhausted("the library has no national card number series (lms.card_number_series)")
    skipped = 0
    for first, last, next_number in rows:
        if not all(_is_national(n) for n in (first, last, next_number)):
            raise CardIssueError(f"the national series starting at position {rows.index((first, last, next_number))} "
                                 "is not N + 9 digits; fix lms.card_number_series")
        number = max(next_number, first)
        while number <= last:
            other = conn.execute(
                SQL["series_of_other_agencies"], {"agency_id": agency_id, "card_number": number}
            ).fetchone()
            if other is not None:
                raise CardIssueError(
                    f"the library's national series overlaps the series of agency {other[0]}: fix lms.card_number_series"
                )
            if card_owner(conn, number) is not None:
                skipped += 1
            else:
                verdict = check(number)
                if verdict.allowed:
                    conn.execute(
                        SQL["card_add_national"], {"card_number": number, "patron_id": patron_id, "agency_id": agency_id}
                    )
                    conn.execute(
                        SQL["series_advance"],
                        {"agency_id": agency_id, "first_number": first, "next_number": _next(number)},
                    )
                    return IssuedCard(number, skipped)
                if not verdict.in_use:
                    raise CardIssueError(f"the next number of the library's series may not be issued: {verdict.reason}")
                skipped += 1
            if skipped > MAX_SKIPPED_NUMBERS:
                conn.execute(
                    SQL["series_advance"], {"agency_id": agency_id, "first_number": first, "next_number": _next(number)}
                )
                raise CardIssueError(
                    f"{skipped} numbers of the library's series are already in use; check the series with the "
                    "registry's operator"
                )
            number = _next(number)
        conn.execute(SQL["series_advance"], {"agency_id": agency_id, "first_number": first, "next_number": _next(last)})
    raise SeriesExhausted(
        "the library's national card number series is exhausted: reserve a new series with the registry's "
        "operator and add it to lms.card_number_series"
    )


def _is_national(number: str | None) -> bool:
    return bool(number) and len(number) == 10 and number[0] == "N" and number[1:].isdigit()
