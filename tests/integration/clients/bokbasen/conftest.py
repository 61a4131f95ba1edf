"""The client, ledger and fake-server mechanics are tested against the fake's built-in structural
payload check, so that these tests do not depend on the report model being edited elsewhere. The
report model's own contract (and the fake's use of it by default) is tested with the report code.
"""

from __future__ import annotations

import pytest

from dev.fakes.bokbasen import structural_validator


@pytest.fixture(autouse=True)
def _structural_payload_check(fake_bokbasen):
    previous = fake_bokbasen.validator
    fake_bokbasen.validator = structural_validator
    yield
    fake_bokbasen.validator = previous
