"""Where a run starts (cursor or after) and the METADATA_SYNC_* settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from library_integrations.pipelines.metadata_sync import config
from library_integrations.pipelines.metadata_sync.steps import choose_start
from library_integrations.state.cursors import Cursor

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def cursor(age: timedelta) -> Cursor:
    return Cursor("bokbasen_metadata_sync", "extended", "opaque-token", {}, NOW - age, NOW - timedelta(minutes=5))


def test_a_young_cursor_is_used():
    start = choose_start(cursor(timedelta(hours=3)), config.SyncSettings(), NOW)
    assert (start.kind, start.next_cursor, start.after) == ("cursor", "opaque-token", None)
    assert "3.0 h ago" in start.describe()


@pytest.mark.parametrize("age_days", [180, 181, 400])
def test_a_cursor_at_or_past_the_limit_falls_back_to_after(age_days):
    start = choose_start(cursor(timedelta(days=age_days)), config.SyncSettings(), NOW)
    assert (start.kind, start.next_cursor) == ("after", None)
    assert start.after == "20260530120000"  # 179 days back: the limit minus a safety day
    assert f"{age_days:.1f} days old" in start.fallback


def test_no_cursor_starts_from_after_or_the_configured_time():
    start = choose_start(None, config.SyncSettings(), NOW)
    assert start.kind == "after" and "no cursor is stored" in start.fallback
    explicit = config.SyncSettings(after=datetime(2026, 9, 1, tzinfo=UTC))
    assert choose_start(None, explicit, NOW).after == "20260901000000"


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("METADATA_SYNC_SCHEDULE", "*/20 * * * *")
    monkeypatch.setenv("METADATA_SYNC_AFTER", "20260801000000")
    monkeypatch.setenv("METADATA_SYNC_MAX_CURSOR_AGE_DAYS", "90")
    loaded = config.load()
    assert loaded.schedule == "*/20 * * * *" and loaded.max_cursor_age == timedelta(days=90)
    assert loaded.after_days == 89 and loaded.after == datetime(2026, 8, 1, tzinfo=UTC)


@pytest.mark.parametrize("name, value, words", [
    ("METADATA_SYNC_AFTER", "2026-08-01", "yyyyMMddHHmmss"),
    ("METADATA_SYNC_AFTER_DAYS", "180", "must be below METADATA_SYNC_MAX_CURSOR_AGE_DAYS"),
    ("METADATA_SYNC_MAX_PAGES", "0", "at least 1"),
    ("METADATA_SYNC_TASK_RETRIES", "two", "must be a number"),
])
def test_bad_settings_are_named(monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.SettingError, match=words) as caught:
        config.load()
    assert name in str(caught.value)
