"""The sync's page loop against the fake Export Service and the real pipeline-state database."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from dev.fakes.bokbasen_export import FeedProduct, synthetic_products
from library_integrations.pipelines.metadata_sync import steps
from library_integrations.pipelines.metadata_sync.config import SyncSettings
from library_integrations.state import cursors, metadata

PAGES = 7
SETTINGS = SyncSettings()


class Killed(Exception):
    """Stands for the worker dying (OOM kill, node lost) right after a page committed."""


def pagesize_for(fake, pages: int = PAGES) -> int:
    size = math.ceil(len(fake.events()) / pages)
    assert math.ceil(len(fake.events()) / size) == pages
    return size


def expected_records(fake) -> dict[str, bool]:
    """EAN -> deleted, from the feed: the last well-formed change of each EAN wins."""
    state: dict[str, bool] = {}
    for event in fake.events():
        if event.product.malformed is None:
            state[event.product.ean] = event.notification == "05"
    return state


def stored(dsn) -> dict[str, bool]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT ean, deleted FROM pipeline_state.bokbasen_metadata").fetchall())


def stored_cursor(dsn) -> cursors.Cursor | None:
    with psycopg.connect(dsn) as conn:
        return cursors.get(conn, metadata.PIPELINE, "extended")


def test_killed_after_page_3_of_7_the_next_run_finishes_from_page_4(
    fresh_fake_export, export_hook_factory, metadata_state_dsn
):
    fake, dsn = fresh_fake_export, metadata_state_dsn
    size = pagesize_for(fake)

    def die_after_page_3(number: int) -> None:
        if number == 3:
            raise Killed

    with pytest.raises(Killed):
        steps.run_sync(dsn, export_hook_factory(pagesize=size, state_dsn=dsn), SETTINGS,
                       on_page_committed=die_after_page_3)
    first_run = fake.requests()
    assert len(first_run) == 3 and stored_cursor(dsn).value == first_run[2].next_header  # page 3 committed

    result = steps.run_sync(dsn, export_hook_factory(pagesize=size, state_dsn=dsn), SETTINGS)

    second_run = fake.requests()[3:]
    assert result.started_from == "cursor" and result.pages == PAGES - 3
    assert second_run[0].params["next"] == first_run[2].next_header  # resumed exactly after page 3
    served = fake.served_record_references()
    assert sorted(served) == sorted(e.record_reference for e in fake.events())  # every change once, none twice
    assert stored(dsn) == expected_records(fake)  # every product present once, deletes kept as deleted
    assert stored_cursor(dsn).value == fake.final_next()
    assert result.cursor == steps.fingerprint(fake.final_next())


def test_counts_add_up_and_changes_are_applied(fresh_fake_export, export_hook_factory, metadata_state_dsn):
    fake, dsn = fresh_fake_export, metadata_state_dsn
    first = steps.run_sync(dsn, export_hook_factory(pagesize=pagesize_for(fake), state_dsn=dsn), SETTINGS)
    assert first.products == len(fake.events())
    assert first.new + first.updated + first.deleted + first.superseded + first.malformed == first.products
    assert first.malformed == sum(1 for e in fake.events() if e.product.malformed)
    assert len(first.malformed_examples) == first.malformed and all(": " in m for m in first.malformed_examples)
    assert first.records == len(expected_records(fake))

    alive = [e.product for e in fake.events() if e.notification != "05" and e.product.malformed is None
             and not expected_records(fake)[e.product.ean]]
    renamed = [FeedProduct(**{**vars(p), "title": f"{p.title} (ny utgave)"}) for p in alive[:3]]
    fake.add_changes(renamed)
    fake.add_changes([alive[3]], notification="05")
    fake.add_changes(synthetic_products(2, seed=1234))
    second = steps.run_sync(dsn, export_hook_factory(state_dsn=dsn), SETTINGS)
    assert (second.started_from, second.new, second.updated, second.deleted, second.pages) == ("cursor", 2, 3, 1, 1)
    with psycopg.connect(dsn) as conn:
        titles = dict(conn.execute("SELECT ean, title FROM pipeline_state.bokbasen_metadata WHERE ean = ANY(%s)",
                                   ([p.ean for p in renamed],)).fetchall())
        deleted = conn.execute("SELECT deleted, deleted_at IS NOT NULL, title FROM pipeline_state.bokbasen_metadata "
                               "WHERE ean = %s", (alive[3].ean,)).fetchone()
    assert titles == {p.ean: p.title for p in renamed}
    assert deleted == (True, True, alive[3].title)  # marked deleted, what was known is kept


def test_an_empty_response_keeps_the_cursor(fresh_fake_export, export_hook_factory, metadata_state_dsn):
    fake, dsn = fresh_fake_export, metadata_state_dsn
    steps.run_sync(dsn, export_hook_factory(state_dsn=dsn), SETTINGS)
    before = stored_cursor(dsn)
    result = steps.run_sync(dsn, export_hook_factory(state_dsn=dsn), SETTINGS)
    after = stored_cursor(dsn)
    assert (result.pages, result.products, result.cursor_changed) == (1, 0, False)
    assert after.value == before.value == fake.final_next() and after.changed_at == before.changed_at
    last = fake.requests()[-1]
    assert last.next_header == last.params["next"] and last.link_header is None


def test_a_180_day_old_cursor_falls_back_to_after_with_a_warning(
    fresh_fake_export, export_hook_factory, metadata_state_dsn, caplog
):
    fake, dsn = fresh_fake_export, metadata_state_dsn
    steps.run_sync(dsn, export_hook_factory(state_dsn=dsn), SETTINGS)
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE pipeline_state.cursor SET changed_at = now() - interval '180 days' WHERE pipeline = %s",
                     (metadata.PIPELINE,))
    fake.reset()
    caplog.set_level(logging.INFO)
    now = datetime.now(UTC)
    result = steps.run_sync(dsn, export_hook_factory(state_dsn=dsn), SETTINGS, now=now)
    assert result.started_from == "after" and result.cursor_age_hours >= 180 * 24
    assert result.after == (now - timedelta(days=179)).strftime("%Y%m%d%H%M%S")
    first = fake.requests()[0]
    assert first.params["after"] == result.after and "next" not in first.params
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("old, at or past the service's limit of 180 days" in w and "full reload" in w for w in warnings)
    assert result.new == 0 and result.updated > 0  # the same records again: upserts, nothing doubled
    assert stored(dsn) == expected_records(fake) and stored_cursor(dsn).value == fake.final_next()


def test_a_cursor_the_service_refuses_as_too_old_falls_back_to_after_once(
    fresh_fake_export, export_hook_factory, metadata_state_dsn
):
    fake, dsn = fresh_fake_export, metadata_state_dsn
    old = fake.cursor_for(5, datetime.now(UTC) - timedelta(days=200))  # our clock says fresh, the service disagrees
    with psycopg.connect(dsn) as conn:
        cursors.set(conn, metadata.PIPELINE, "extended", old)
    result = steps.run_sync(dsn, export_hook_factory(state_dsn=dsn), SETTINGS)
    statuses = [(r.status, "next" in r.params) for r in fake.requests()]
    assert statuses[:2] == [(400, True), (200, False)]  # refused next, then after
    assert {status for status, _ in statuses[1:]} == {200}
    assert result.started_from == "after" and "older than 180 days" in result.fallback
    assert stored(dsn) == expected_records(fake) and stored_cursor(dsn).value == fake.final_next()


def test_5xx_and_dropped_connections_mid_pagination_lose_and_double_nothing(
    fresh_fake_export, export_hook_factory, metadata_state_dsn
):
    fake, dsn = fresh_fake_export, metadata_state_dsn
    fake.add_faults("500 skip=1", "drop skip=1", "cut skip=1", "503 Retry-After: 0 skip=1", "502")
    result = steps.run_sync(dsn, export_hook_factory(pagesize=pagesize_for(fake), state_dsn=dsn), SETTINGS)
    assert result.pages == PAGES and not fake.pending_faults()
    assert sorted(fake.served_record_references()) == sorted(e.record_reference for e in fake.events())
    assert stored(dsn) == expected_records(fake) and stored_cursor(dsn).value == fake.final_next()
    assert result.requests == PAGES + 5


def test_a_second_sync_of_the_same_subscription_waits_its_turn(export_hook_factory, metadata_state_dsn):
    dsn = metadata_state_dsn
    with psycopg.connect(dsn, autocommit=True) as holder:
        assert metadata.try_lock(holder, "extended")
        with pytest.raises(steps.SyncAlreadyRunning, match="is running"):
            steps.run_sync(dsn, export_hook_factory(state_dsn=dsn), SETTINGS)
    assert stored_cursor(dsn) is None


def test_a_cursor_moved_by_another_run_rolls_the_page_back(fresh_fake_export, export_hook_factory, metadata_state_dsn):
    fake, dsn = fresh_fake_export, metadata_state_dsn

    def someone_else_moves_it(number: int) -> None:
        with psycopg.connect(dsn) as conn:
            cursors.set(conn, metadata.PIPELINE, "extended", "moved-elsewhere")

    size = pagesize_for(fake)
    with pytest.raises(cursors.CursorConflict):
        steps.run_sync(dsn, export_hook_factory(pagesize=size, state_dsn=dsn), SETTINGS,
                       on_page_committed=someone_else_moves_it)
    page_1 = {e.product.ean for e in fake.events()[:size] if e.product.malformed is None}
    assert len(fake.requests()) == 2 and set(stored(dsn)) == page_1  # page 2 rolled back with its cursor
    assert stored_cursor(dsn).value == "moved-elsewhere"


def test_deletes_keep_what_was_known_and_an_update_revives(metadata_state_dsn):
    from library_integrations.clients.bokbasen.onix import Contributor, OnixProduct

    ean = "9788203364181"
    sult = OnixProduct("r1", "03", ean, title="Sult", contributors=(Contributor(1, ("A01",), "Hamsun, Knut"),),
                       language="nob", product_form="BC", format="PAPER", publication_date="1890",
                       publication_date_format="05", publication_year=1890)
    query = ("SELECT deleted, deleted_at IS NOT NULL, title, authors, language, format, publication_year "
             "FROM pipeline_state.bokbasen_metadata WHERE ean = %s")
    with psycopg.connect(metadata_state_dsn, autocommit=True) as conn:
        with conn.transaction():  # an update and its delete in the same page
            counts = metadata.upsert_products(conn, [sult, OnixProduct("r1", "05", ean)])
        assert (counts.new, counts.updated, counts.deleted, counts.superseded) == (0, 0, 1, 1)
        assert conn.execute(query, (ean,)).fetchone() == (True, True, "Sult", ["Hamsun, Knut"], "nob", "PAPER", 1890)
        assert metadata.lookup(conn, [ean]) == {}  # the other pipelines do not use deleted records
        with conn.transaction():
            counts = metadata.upsert_products(conn, [OnixProduct("r1", "03", ean, title="Sult (ny utgave)")])
        assert (counts.new, counts.updated) == (0, 1)
        assert conn.execute(query, (ean,)).fetchone() == (False, False, "Sult (ny utgave)", [], None, None, None)
        assert metadata.lookup(conn, [ean])[ean].title == "Sult (ny utgave)"


def test_a_page_that_is_not_onix_stores_nothing_and_keeps_the_cursor(
    fresh_fake_export, export_hook_factory, metadata_state_dsn
):
    from library_integrations.clients.bokbasen.errors import BokbasenExportPageError

    fake, dsn = fresh_fake_export, metadata_state_dsn
    size = pagesize_for(fake)
    fake.add_faults("html skip=1")  # page 2 answered by a proxy's HTML page, with the page's headers
    with pytest.raises(BokbasenExportPageError, match="Page 2 .* not a readable ONIX message"):
        steps.run_sync(dsn, export_hook_factory(pagesize=size, state_dsn=dsn), SETTINGS)
    page_1 = fake.requests()[0]
    assert stored_cursor(dsn).value == page_1.next_header  # page 1 committed, page 2 not
    assert set(stored(dsn)) == {e.product.ean for e in fake.events()[:size] if e.product.malformed is None}
    result = steps.run_sync(dsn, export_hook_factory(pagesize=size, state_dsn=dsn), SETTINGS)
    assert result.pages == PAGES - 1 and stored(dsn) == expected_records(fake)
