"""Sync cursors: stored in the caller's transaction, together with the page they follow."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from library_integrations.state import cursors
from library_integrations.state.cursors import CursorConflict
from library_integrations.state.migrations import migrate


@pytest.fixture(scope="module")
def dsn(state_dsn):
    migrate(state_dsn)
    with psycopg.connect(state_dsn) as conn:  # stands for a sync's own table (e.g. the metadata records)
        conn.execute("CREATE SCHEMA IF NOT EXISTS cursor_test")
        conn.execute("CREATE TABLE IF NOT EXISTS cursor_test.record (pipeline text, ref text, title text, "
                     "PRIMARY KEY (pipeline, ref))")
    return state_dsn


@pytest.fixture()
def pipeline():
    return f"test_sync_{uuid.uuid4().hex[:8]}"  # each test its own pipeline: no cross-talk


def apply_page(conn, pipeline, records, next_cursor, expected=cursors.ANY):
    """What a sync does per page: upsert the records and store the cursor, in one transaction."""
    with conn.transaction():
        for ref, title in records:
            conn.execute(
                "INSERT INTO cursor_test.record VALUES (%s, %s, %s) "
                "ON CONFLICT (pipeline, ref) DO UPDATE SET title = EXCLUDED.title",
                (pipeline, ref, title),
            )
        return cursors.set(conn, pipeline, "extended", next_cursor, expected=expected)


def records(conn, pipeline):
    return conn.execute(
        "SELECT ref, title FROM cursor_test.record WHERE pipeline = %s ORDER BY ref", (pipeline,)
    ).fetchall()


def test_get_set_and_timestamps(dsn, pipeline):
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert cursors.get(conn, pipeline, "extended") is None
        first = cursors.set(conn, pipeline, "extended", "c1", meta={"subscription": "extended"})
        assert (first.value, first.meta) == ("c1", {"subscription": "extended"})
        assert first.changed_at == first.updated_at
        again = cursors.set(conn, pipeline, "extended", "c1")  # an empty page: the same cursor again
        assert again.changed_at == first.changed_at and again.updated_at >= first.updated_at
        assert again.meta == {"subscription": "extended"}  # meta None keeps the stored meta
        secret = "opaque-cursor-Xq81"  # a value no random pipeline name or timestamp can contain
        moved = cursors.set(conn, pipeline, "extended", secret, meta={"pages": 3})
        assert moved.changed_at == moved.updated_at and moved.meta == {"pages": 3}  # changed now
        assert cursors.get(conn, pipeline, "extended") == moved and moved.value == secret
        assert secret not in repr(moved)  # opaque and possibly long: not in logs


def test_the_cursor_commits_with_its_page_or_not_at_all(dsn, pipeline):
    with psycopg.connect(dsn) as conn:
        apply_page(conn, pipeline, [("r1", "Sult"), ("r2", "Markens grøde")], "after-page-1")
        with pytest.raises(RuntimeError):
            with conn.transaction():
                conn.execute("INSERT INTO cursor_test.record VALUES (%s, 'r3', 'Pan')", (pipeline,))
                cursors.set(conn, pipeline, "extended", "after-page-2")
                raise RuntimeError("the worker died before the page was committed")
        assert cursors.get(conn, pipeline, "extended").value == "after-page-1"
        assert [r for r, _ in records(conn, pipeline)] == ["r1", "r2"]


def test_a_killed_run_resumes_from_its_last_committed_page(dsn, pipeline):
    pages = {None: ([("r1", "a"), ("r2", "b")], "p1"), "p1": ([("r2", "b2"), ("r3", "c")], "p2"),
             "p2": ([], "p2")}
    conn = psycopg.connect(dsn)
    apply_page(conn, pipeline, *pages[None])
    conn.execute("INSERT INTO cursor_test.record VALUES (%s, 'r3', 'c')", (pipeline,))  # page 2, uncommitted
    cursors.set(conn, pipeline, "extended", "p2")
    conn.close()  # killed: the open transaction is gone
    with psycopg.connect(dsn) as conn:
        stored = cursors.get(conn, pipeline, "extended")
        assert stored.value == "p1"
        while True:  # the next run follows from the stored cursor
            page, next_cursor = pages[stored.value]
            stored = apply_page(conn, pipeline, page, next_cursor, expected=stored.value)
            if not page:
                break
        assert records(conn, pipeline) == [("r1", "a"), ("r2", "b2"), ("r3", "c")]
        assert stored.value == "p2"


def test_expected_value_makes_it_a_compare_and_set(dsn, pipeline):
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(CursorConflict, match="expected, there is none"):
            cursors.set(conn, pipeline, "extended", "x", expected="something")  # nothing stored yet
        cursors.set(conn, pipeline, "extended", "c1", expected=None)  # the first cursor
        with pytest.raises(CursorConflict, match="no cursor was expected"):
            cursors.set(conn, pipeline, "extended", "c2", expected=None)  # another run stored one meanwhile
        with pytest.raises(CursorConflict, match="moved by another run: the stored cursor"):
            cursors.set(conn, pipeline, "extended", "c2", expected="c0")
        assert cursors.set(conn, pipeline, "extended", "c2", expected="c1").value == "c2"
    with psycopg.connect(dsn) as conn:  # a conflict rolls the caller's page back
        with pytest.raises(CursorConflict):
            apply_page(conn, pipeline, [("r9", "late")], "c3", expected="c1")
        assert records(conn, pipeline) == []
        assert cursors.get(conn, pipeline, "extended").value == "c2"


def test_get_with_lock_makes_a_second_run_wait(dsn, pipeline):
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursors.set(conn, pipeline, "extended", "c1")
    with psycopg.connect(dsn) as first, psycopg.connect(dsn) as second:
        assert cursors.get(first, pipeline, "extended", lock=True).value == "c1"
        second.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            cursors.get(second, pipeline, "extended", lock=True)
        second.rollback()
        cursors.set(first, pipeline, "extended", "c2")
        first.commit()
        assert cursors.get(second, pipeline, "extended", lock=True).value == "c2"


def test_watermarks_list_and_delete(dsn, pipeline):
    with psycopg.connect(dsn, autocommit=True) as conn:
        for isil, server_tid in [("NO-2030100", "2026-11-20T06:00:01"), ("NO-2020000", "2026-11-20T06:00:07")]:
            cursors.set(conn, pipeline, isil, server_tid)  # the registry's own time, verbatim
        assert [(c.name, c.value) for c in cursors.list_cursors(conn, pipeline)] == [
            ("NO-2020000", "2026-11-20T06:00:07"),
            ("NO-2030100", "2026-11-20T06:00:01"),
        ]
        assert cursors.delete(conn, pipeline, "NO-2020000").value == "2026-11-20T06:00:07"
        assert cursors.delete(conn, pipeline, "NO-2020000") is None
        assert [c.name for c in cursors.list_cursors(conn, pipeline)] == ["NO-2030100"]


def test_invalid_arguments(dsn, pipeline):
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(ValueError):
            cursors.set(conn, pipeline, "extended", "")
        with pytest.raises(ValueError):
            cursors.get(conn, "", "extended")
        with pytest.raises(TypeError):
            cursors.set(conn, pipeline, "extended", "c1", meta=["not", "an", "object"])
