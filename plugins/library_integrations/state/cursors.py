"""Sync cursors and watermarks, stored inside the caller's transaction.

A sync keeps where it resumes in ``pipeline_state.cursor``, one row per (pipeline, name): the
Bokbasen metadata sync its ``Next`` cursor per subscription, the patron registry sync its
``server_tid`` watermark per library. The value is opaque text, stored exactly as the service
gave it.

Every function takes an open connection and runs inside the caller's transaction, so a page's
upserts and the cursor after that page commit together or not at all: a run killed mid-way
resumes from its last committed page, nothing lost, nothing applied twice::

    migrate(dsn)                                   # once per process; cheap
    with psycopg.connect(dsn) as conn:
        stored = cursors.get(conn, "bokbasen_metadata_sync", "extended", lock=True)
        ...fetch the page after stored.value...
        with conn.transaction():
            upsert_records(conn, page)
            cursors.set(conn, "bokbasen_metadata_sync", "extended", page.next_cursor,
                        expected=stored.value if stored else None)

``lock=True`` holds the row until the transaction ends (a second run waits); ``expected`` makes
the write a compare-and-set: when another run moved the cursor since it was read, the write
raises :class:`CursorConflict` and the caller's transaction (with the page) should roll back.

A cursor shares a transaction only with changes in the same database: ``pipeline_state`` is in
the database of ``loan_reporting_db``, so a sync that writes elsewhere (the patron registry sync
writes the library system's database) cannot commit both atomically through this table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from library_integrations.state.queries import load_sql

__all__ = ["ANY", "Cursor", "CursorConflict", "delete", "get", "list_cursors", "set"]


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()  # ``set(..., expected=ANY)``: store whatever was stored before (the default)


class CursorConflict(RuntimeError):
    """The stored cursor is not the one the caller expected: another run moved it."""


@dataclass(frozen=True)
class Cursor:
    """A stored cursor. ``changed_at``: when ``value`` last changed; ``updated_at``: last stored."""

    pipeline: str
    name: str
    value: str
    meta: dict[str, Any]
    changed_at: datetime
    updated_at: datetime

    def __repr__(self) -> str:  # cursors are opaque and may be long: show their size, not their text
        return (
            f"Cursor(pipeline={self.pipeline!r}, name={self.name!r}, value=<{len(self.value)} chars>, "
            f"changed_at={self.changed_at.isoformat()}, updated_at={self.updated_at.isoformat()})"
        )


def _key(pipeline: str, name: str) -> dict[str, str]:
    if not pipeline or not name:
        raise ValueError("a cursor needs a pipeline and a name")
    return {"pipeline": pipeline, "name": name}


def _one(conn: psycopg.Connection, sql_name: str, params: dict[str, Any]) -> Cursor | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(load_sql(sql_name), params).fetchone()
    return Cursor(**row) if row else None


def get(conn: psycopg.Connection, pipeline: str, name: str, *, lock: bool = False) -> Cursor | None:
    """The stored cursor of (pipeline, name), or None when there is none yet.

    ``lock``: also lock the row until the caller's transaction ends (``SELECT ... FOR UPDATE``);
    only meaningful outside autocommit.
    """
    return _one(conn, "cursor_select_for_update" if lock else "cursor_select", _key(pipeline, name))


def set(  # used as ``cursors.set``
    conn: psycopg.Connection,
    pipeline: str,
    name: str,
    value: str,
    *,
    meta: dict[str, Any] | None = None,
    expected: str | None = ANY,
) -> Cursor:
    """Store ``value`` as the cursor of (pipeline, name) in the caller's transaction; return the row.

    ``meta`` (a JSON object) replaces the stored one; None keeps it. ``expected`` (default
    :data:`ANY`: no check) is the value the caller read: a string to move the cursor only from
    that value, None to store only if there is no cursor yet; otherwise :class:`CursorConflict`.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("a cursor value is a non-empty string")
    if meta is not None and not isinstance(meta, dict):
        raise TypeError("cursor meta is a dict (a JSON object)")
    params = {**_key(pipeline, name), "value": value, "meta": None if meta is None else json.dumps(meta)}
    if expected is ANY:
        row = _one(conn, "cursor_upsert", params)
    elif expected is None:
        row = _one(conn, "cursor_insert_new", params)
    else:
        row = _one(conn, "cursor_update_expected", {**params, "expected": expected})
    if row is None:
        stored = get(conn, pipeline, name)
        if stored is None:
            found = "a stored cursor was expected, there is none"
        elif expected is None:
            found = f"no cursor was expected, one was stored at {stored.changed_at.isoformat()}"
        else:
            found = f"the stored cursor (changed at {stored.changed_at.isoformat()}) is not the one read"
        raise CursorConflict(f"The cursor of {pipeline}/{name} was moved by another run: {found}; not stored")
    return row


def delete(conn: psycopg.Connection, pipeline: str, name: str) -> Cursor | None:
    """Remove the cursor of (pipeline, name) (a full reload starts over); return what was stored."""
    return _one(conn, "cursor_delete", _key(pipeline, name))


def list_cursors(conn: psycopg.Connection, pipeline: str | None = None) -> list[Cursor]:
    """Every stored cursor, or a pipeline's, ordered by pipeline and name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [Cursor(**row) for row in cur.execute(load_sql("cursor_list"), {"pipeline": pipeline})]
