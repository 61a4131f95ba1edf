"""Deterministic, anonymous transaction ids."""

import time
import uuid

import numpy as np
import pyarrow as pa
import pytest

from library_integrations.pipelines.loan_report.report.transaction_id import (
    installation_namespace,
    transaction_id,
    transaction_ids,
)


def test_definition():
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "urn:loan-reporting:no.example.prod")
    assert transaction_id(42, "no.example.prod") == str(uuid.uuid5(namespace, "42"))
    assert installation_namespace("no.example.prod") == namespace


def test_pinned_value():
    # Same loan, same id, forever: a change here changes every id ever sent.
    assert transaction_id(1, "no.example.library-system.demo") == str(
        uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, "urn:loan-reporting:no.example.library-system.demo"), "1")
    )
    assert transaction_id(123456789, "test") == "db067ee6-4a13-5cfa-a1bc-69a6c25d1434"


def test_unique_across_installations_and_loans():
    assert transaction_id(42, "a") != transaction_id(42, "b")
    ids = transaction_ids(np.arange(100_000), "a").to_pylist()
    assert len(set(ids)) == 100_000


def test_vectorised_equals_reference():
    loan_ids = [0, 1, -5, 2**63 - 1, -(2**63), 10_000_000_123]
    vector = transaction_ids(pa.array(loan_ids, pa.int64()), "inst").to_pylist()
    assert vector == [transaction_id(i, "inst") for i in loan_ids]
    assert transaction_ids(loan_ids, "inst").to_pylist() == vector
    assert transaction_ids(pa.chunked_array([loan_ids[:2], loan_ids[2:]]), "inst").to_pylist() == vector
    assert transaction_ids([], "inst").to_pylist() == []
    for value in vector:
        parsed = uuid.UUID(value)
        assert parsed.version == 5 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


def test_rejects_blank_installation_and_null_ids():
    with pytest.raises(ValueError):
        installation_namespace("  ")
    with pytest.raises(ValueError):
        transaction_ids(pa.array([1, None], pa.int64()), "inst")


def test_speed():
    ids = np.arange(10**9, 10**9 + 200_000)
    started = time.perf_counter()
    transaction_ids(ids, "inst")
    assert time.perf_counter() - started < 5  # ~0.2 s here; generous for shared CI machines
