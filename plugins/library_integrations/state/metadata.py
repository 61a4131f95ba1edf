"""The local copy of Bokbasen's metadata (``pipeline_state.bokbasen_metadata``), written and read.

Written by the metadata sync, one page of the Export Service at a time, inside the caller's
transaction (so the page and the cursor after it commit together, see
:mod:`~library_integrations.state.cursors`)::

    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        counts = metadata.upsert_products(conn, page.products)
        cursors.set(conn, metadata.PIPELINE, subscription, page.next_cursor, expected=previous)

Read by the other pipelines through :class:`MetadataLookup` (the loan report fills missing
titles, authors and languages by EAN); they import this module, never the sync's package.

Rows are keyed by EAN: an update replaces what was known; a delete marks the record deleted
and keeps its values (history is not erased; lookups skip deleted records); a later update
revives it. Upserting the same page twice changes nothing but ``updated_at``.

A product is anything with the attributes of
:class:`~library_integrations.clients.bokbasen.onix.OnixProduct` (:class:`Product`), so this
layer does not depend on the client that parsed it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import psycopg

from library_integrations import SQL_DIR
from library_integrations.common.sql import SqlFiles
from library_integrations.state.migrations import migrate

log = logging.getLogger(__name__)

PIPELINE = "bokbasen_metadata_sync"  # the cursor's pipeline name
METADATA_SQL = SqlFiles(SQL_DIR / "metadata_sync")


class Contributor(Protocol):
    sequence: int | None
    roles: Sequence[str]
    name: str


class Product(Protocol):
    """What :func:`upsert_products` reads from a product (an ``OnixProduct`` has it all)."""

    ean: str
    record_reference: str
    notification_type: str
    deleted: bool
    title: str | None
    subtitle: str | None
    authors: Sequence[str]
    contributors: Sequence[Contributor]
    language: str | None
    product_form: str | None
    format: str | None
    publication_date: str | None
    publication_date_format: str | None
    publication_year: int | None
    publisher: str | None
    audience: str | None


@dataclass
class UpsertCounts:
    """What one page did: ``new`` records, ``updated`` ones, ``deleted`` (marked), and
    ``superseded``: earlier occurrences of an EAN repeated later in the same page."""

    new: int = 0
    updated: int = 0
    deleted: int = 0
    superseded: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.new += other.new
        self.updated += other.updated
        self.deleted += other.deleted
        self.superseded += other.superseded

    @property
    def applied(self) -> int:
        return self.new + self.updated + self.deleted


_COLUMNS = (
    "ean", "record_reference", "notification_type", "deleted", "title", "subtitle", "authors", "contributors",
    "language", "product_form", "format", "publication_date", "publication_date_format", "publication_year",
    "publisher", "audience",
)  # fmt: skip


def _contributors_json(product: Product) -> str:
    return orjson.dumps(
        [{"sequence": c.sequence, "roles": list(c.roles), "name": c.name} for c in product.contributors]
    ).decode()


def _row(p: Product) -> dict[str, Any]:
    return {
        "ean": p.ean,
        "record_reference": p.record_reference,
        "notification_type": p.notification_type,
        "deleted": bool(p.deleted),
        "title": p.title,
        "subtitle": p.subtitle,
        "authors": orjson.dumps(list(p.authors)).decode(),
        "contributors": _contributors_json(p),
        "language": p.language,
        "product_form": p.product_form,
        "format": p.format,
        "publication_date": p.publication_date,
        "publication_date_format": p.publication_date_format,
        "publication_year": p.publication_year,
        "publisher": p.publisher,
        "audience": p.audience,
    }


_IDENTITY = ("ean", "record_reference", "notification_type", "deleted")
_EMPTY = (None, "[]")


def upsert_products(conn: psycopg.Connection, products: Iterable[Product]) -> UpsertCounts:
    """Upsert one page of products by EAN in the caller's transaction; count what happened.

    Within the page, the last occurrence of an EAN wins (the feed is in change order); a
    delete that follows an update of the same EAN keeps that update's values, as a delete
    arriving in a later page keeps the stored ones.
    """
    latest: dict[str, dict[str, Any]] = {}
    superseded = 0
    for product in products:
        row = _row(product)
        earlier = latest.pop(row["ean"], None)  # re-inserted below: keeps the page's change order
        if earlier is not None:
            superseded += 1
            if row["deleted"]:
                for key, value in row.items():
                    if key not in _IDENTITY and value in _EMPTY:
                        row[key] = earlier[key]
        latest[row["ean"]] = row
    counts = UpsertCounts(superseded=superseded)
    if not latest:
        return counts
    columns: dict[str, list[Any]] = {name: [row[name] for row in latest.values()] for name in _COLUMNS}
    inserted = dict(conn.execute(METADATA_SQL["upsert_products"], columns).fetchall())
    for ean, row in latest.items():
        if row["deleted"]:
            counts.deleted += 1
        elif inserted.get(ean):
            counts.new += 1
        else:
            counts.updated += 1
    return counts


def try_lock(conn: psycopg.Connection, name: str) -> bool:
    """Take the session lock of one sync (per subscription); False if another session holds it."""
    return bool(conn.execute(METADATA_SQL["try_lock"], {"name": name}).fetchone()[0])


def unlock(conn: psycopg.Connection, name: str) -> None:
    conn.execute(METADATA_SQL["unlock"], {"name": name})


@dataclass(frozen=True)
class TableCounts:
    records: int
    deleted: int
    formats: dict[str, int] = field(default_factory=dict)


def table_counts(conn: psycopg.Connection) -> TableCounts:
    records, deleted, formats = conn.execute(METADATA_SQL["counts"]).fetchone()
    return TableCounts(int(records), int(deleted), dict(sorted((formats or {}).items())))


# -- reading (the other pipelines) -----------------------------------------------------------


@dataclass(frozen=True)
class BookMetadata:
    """What another pipeline may borrow for one EAN: title, authors in order, language."""

    ean: str
    title: str | None
    authors: tuple[str, ...]
    language: str | None


def lookup(conn: psycopg.Connection, eans: Sequence[str]) -> dict[str, BookMetadata]:
    """The metadata of those ``eans`` that have a record that is not deleted."""
    if not eans:
        return {}
    rows = conn.execute(METADATA_SQL["lookup"], {"eans": list(eans)}).fetchall()
    return {ean: BookMetadata(ean, title, tuple(authors or ()), language) for ean, title, authors, language in rows}


class MetadataLookup:
    """``lookup(eans) -> {ean: BookMetadata}`` against the pipeline-state database, for a whole task.

    Each call is one query for the EANs given; the caller asks once per distinct EAN (the
    loan report's builder caches what it was told, found or not). The schema is migrated on
    first use, so an empty table (the sync never ran) simply finds nothing. ``queries`` and
    ``eans_asked`` / ``eans_found`` count what was done, for the task log.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None
        self.queries = 0
        self.eans_asked = 0
        self.eans_found = 0

    def __call__(self, eans: Sequence[str]) -> dict[str, BookMetadata]:
        if not eans:
            return {}
        if self._conn is None:
            migrate(self.dsn)
            self._conn = psycopg.connect(self.dsn, autocommit=True)
        found = lookup(self._conn, eans)
        self.queries += 1
        self.eans_asked += len(eans)
        self.eans_found += len(found)
        return found

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> MetadataLookup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
