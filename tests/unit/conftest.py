"""Hypothesis profiles for the property-based tests.

``ci`` (the default, what ``make test`` runs): few examples, derandomised, so every run
checks the same examples in a few seconds and a failure reproduces exactly.
``large``: many more examples, randomised, for a deliberate search before a release or
after a change to the report rules::

    HYPOTHESIS_PROFILE=large .venv/bin/python -m pytest tests/unit -q -p no:cacheprovider \\
        -k "properties" --hypothesis-show-statistics

A test may still pin its own ``max_examples`` when one example is unusually expensive; the
profile sets everything else (deadline, health checks, database).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

PROFILE_ENV = "HYPOTHESIS_PROFILE"

_common = {
    "deadline": None,  # the machine is shared: wall-clock limits would only make tests flaky
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "print_blob": True,  # a failure prints a @reproduce_failure line
}
settings.register_profile("ci", max_examples=40, derandomize=True, database=None, **_common)
settings.register_profile("large", max_examples=2_000, **_common)
PROFILE = os.environ.get(PROFILE_ENV, "ci")
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(items):
    """Under ``large`` a property may search for many minutes: no per-test timeout for them."""
    if PROFILE == "ci":
        return
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.timeout(0))
