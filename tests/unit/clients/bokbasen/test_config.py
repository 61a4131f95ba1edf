"""The Bokbasen connection's settings: required values, extras (timeouts, retry bounds), ignored extras."""

from __future__ import annotations

import json
import logging

import pytest

from library_integrations.clients.bokbasen import loans
from library_integrations.clients.bokbasen.config import KNOWN_EXTRAS, BokbasenConfig, resolve_config
from library_integrations.clients.bokbasen.errors import BokbasenConfigError
from library_integrations.http.retry import RetryPolicy

ENDPOINT = "https://api.bokbasen.io/reporting/v1/library-loans"
CONNECTION = {
    "conn_id": "bokbasen_default",
    "endpoint": ENDPOINT,
    "login": "client",
    "password": "secret-1234",
}
EMPTY = {
    "endpoint": None,
    "client_id": None,
    "client_secret": None,
    "token_url": None,
    "audience": None,
    "gzip": None,
}


def from_connection(extra: dict, **kwargs) -> BokbasenConfig:
    return resolve_config(
        EMPTY, extra=extra, connection=CONNECTION, where="connection 'bokbasen_default'", **kwargs
    )


def test_defaults_without_extras_are_todays_values():
    config = from_connection({"token_url": "https://login.bokbasen.io/oauth/token"})
    assert config.timeout == (10.0, 120.0)
    assert config.retry == RetryPolicy()
    assert (config.audience, config.gzip) == ("https://api.bokbasen.io/reporting/", False)


def test_transport_extras_set_timeouts_and_retry_bounds():
    config = from_connection(
        {
            "token_url": "https://login.bokbasen.io/oauth/token",
            "connect_timeout": "5",
            "read_timeout": "300",
            "max_attempts": "2",
            "max_total_seconds": "60",
            "gzip": "true",
        }
    )
    assert config.timeout == (5.0, 300.0)
    assert (config.retry.max_attempts, config.retry.max_total_seconds) == (2, 60.0)
    assert config.retry.backoff_base == RetryPolicy().backoff_base
    assert config.gzip


def test_explicit_arguments_win_over_extras():
    extra = {"token_url": "https://t/oauth", "read_timeout": "300", "max_attempts": "2"}
    config = from_connection(extra, retry=RetryPolicy(max_attempts=9), option_overrides={"read_timeout": 7})
    assert config.timeout == (10.0, 7.0) and config.retry.max_attempts == 9


def test_the_new_extras_are_known_so_not_reported_as_ignored(caplog):
    caplog.set_level(logging.INFO)
    assert {"token_url", "audience", "gzip", "connect_timeout", "read_timeout", "max_attempts",
            "max_total_seconds"} <= KNOWN_EXTRAS  # fmt: skip
    from_connection({"token_url": "https://t/oauth", "max_attempts": "3", "read_timeout": "30"})
    assert "ignoring extras" not in caplog.text
    from_connection({"token_url": "https://t/oauth", "X-Api-Key": "value-not-logged"})
    assert "Connection bokbasen_default: ignoring extras ['X-Api-Key'] (never sent as headers)" in caplog.text
    assert "value-not-logged" not in caplog.text


def test_an_unusable_extra_is_a_config_error_naming_it():
    with pytest.raises(BokbasenConfigError, match="connection 'bokbasen_default': extra 'max_attempts'"):
        from_connection({"token_url": "https://t/oauth", "max_attempts": "many"})


def test_missing_settings_are_named_as_in_the_connection_form():
    with pytest.raises(BokbasenConfigError) as info:
        resolve_config(
            EMPTY, extra={}, connection={"conn_id": "x", "endpoint": ENDPOINT}, where="connection 'x'"
        )
    assert str(info.value) == "Bokbasen connection 'x' is missing: login, password, extra token_url"
    with pytest.raises(BokbasenConfigError, match="BokbasenHook parameters is missing: token_url"):
        resolve_config(
            {**EMPTY, "endpoint": ENDPOINT, "client_id": "c", "client_secret": "s"},
            where="BokbasenHook parameters",
        )


def test_repr_hides_the_secret():
    config = from_connection({"token_url": "https://t/oauth"})
    assert "secret-1234" not in repr(config) and "client_secret='***'" in repr(config)


def test_hook_arguments_override_the_connection_extras(monkeypatch):
    connection = {
        "conn_type": "http",
        "host": ENDPOINT,
        "login": "c",
        "password": "secret-1234",
        "extra": {"token_url": "https://t/oauth", "read_timeout": "300", "max_attempts": "2"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_UNIT", json.dumps(connection))
    assert loans.BokbasenHook("bokbasen_unit").timeout == (10.0, 300.0)
    assert loans.BokbasenHook("bokbasen_unit").retry.max_attempts == 2
    hook = loans.BokbasenHook(
        "bokbasen_unit", read_timeout=9, connect_timeout=1, retry=RetryPolicy(max_attempts=4)
    )
    assert hook.timeout == (1, 9) and hook.retry.max_attempts == 4
    assert hook.config.endpoint == ENDPOINT
