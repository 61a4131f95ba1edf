"""Settings: renamed names still work with a warning naming the new one; nothing required is guessed."""

from __future__ import annotations

import logging

import pytest

from library_integrations.common import settings


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(settings, "_warned", set())
    for name in ("LIBRARY_INTEGRATIONS_STAGING_BASE", "LOAN_REPORTING_STAGING_BASE",
                 "LIBRARY_INTEGRATIONS_REFERENCE_DATA", "LOAN_REPORTING_REFERENCE_DATA"):
        monkeypatch.delenv(name, raising=False)


def test_old_staging_name_is_read_with_a_warning_naming_the_new_one(monkeypatch, caplog):
    monkeypatch.setenv("LOAN_REPORTING_STAGING_BASE", "s3://bucket/old")
    with pytest.warns(DeprecationWarning, match="LIBRARY_INTEGRATIONS_STAGING_BASE"), caplog.at_level(logging.WARNING):
        assert settings.load().staging_base == "s3://bucket/old"
    assert "set LIBRARY_INTEGRATIONS_STAGING_BASE instead" in caplog.text


def test_new_name_wins_over_the_old_one(monkeypatch, recwarn):
    monkeypatch.setenv("LOAN_REPORTING_REFERENCE_DATA", "/old")
    monkeypatch.setenv("LIBRARY_INTEGRATIONS_REFERENCE_DATA", "/new")
    assert settings.load().reference_data == "/new"
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_defaults_need_nothing_outside_the_clone():
    from library_integrations import INCLUDE_DIR

    config = settings.load()
    assert config.reference_data == str(INCLUDE_DIR / "reference")
    assert config.staging_base.startswith("file://")


def test_connection_ids_keep_their_names():
    assert (settings.LIBRARY_CONN_ID, settings.BOKBASEN_CONN_ID, settings.STATE_CONN_ID) == (
        "cicero_db", "bokbasen_default", "loan_reporting_db")
