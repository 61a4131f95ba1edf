"""Per-connection extras: timeouts, attempts and the retry budget."""

from __future__ import annotations

import pytest

from library_integrations.http.errors import ApiConfigError
from library_integrations.http.options import OPTION_EXTRAS, ClientOptions
from library_integrations.http.retry import RetryPolicy


def test_defaults_are_todays_values():
    options = ClientOptions.from_extras({})
    assert options == ClientOptions(
        connect_timeout=10.0, read_timeout=120.0, max_attempts=6, max_total_seconds=900.0
    )
    assert options.timeout == (10.0, 120.0)
    assert options.retry_policy() == RetryPolicy()
    assert OPTION_EXTRAS == {"connect_timeout", "read_timeout", "max_attempts", "max_total_seconds"}


def test_extras_as_strings_or_numbers():
    options = ClientOptions.from_extras(
        {
            "connect_timeout": "3",
            "read_timeout": 300,
            "max_attempts": "2",
            "max_total_seconds": 60.5,
            "other": "x",
        }
    )
    assert options.timeout == (3.0, 300.0)
    assert options.max_attempts == 2 and isinstance(options.max_attempts, int)
    policy = options.retry_policy(RetryPolicy(backoff_base=0.1))
    assert (policy.max_attempts, policy.max_total_seconds, policy.backoff_base) == (2, 60.5, 0.1)


def test_explicit_overrides_win_and_none_means_unset():
    options = ClientOptions.from_extras(
        {"read_timeout": "300", "connect_timeout": "4"},
        overrides={"read_timeout": 5, "connect_timeout": None},
    )
    assert options.timeout == (4.0, 5.0)


def test_empty_values_mean_the_default():
    assert ClientOptions.from_extras({"read_timeout": "", "max_attempts": None}) == ClientOptions()


class MyConfigError(ApiConfigError):
    pass


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"read_timeout": "soon"}, "'read_timeout' must be a positive number"),
        ({"connect_timeout": 0}, "'connect_timeout' must be a positive number"),
        ({"max_total_seconds": "-5"}, "'max_total_seconds' must be a positive number"),
        ({"max_attempts": "2.5"}, "'max_attempts' must be a whole number"),
        ({"max_attempts": True}, "'max_attempts' must be a positive number"),
        ({"read_timeout": "inf"}, "'read_timeout' must be a positive number"),
        ({"read_timeout": [1]}, "'read_timeout' must be a positive number"),
    ],
)
def test_unusable_values_are_config_errors_naming_the_extra(extra, words):
    with pytest.raises(MyConfigError) as info:
        ClientOptions.from_extras(extra, where="Example connection 'x'", error=MyConfigError)
    assert words in str(info.value) and str(info.value).startswith("Example connection 'x': extra")
