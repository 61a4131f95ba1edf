"""Session-wide real parts shared by every test: one embedded PostgreSQL, one database.

The server is the project's embedded PostgreSQL (or ``LOAN_REPORTING_DSN``). Each test
session gets its own freshly created database on it, dropped at the end, so parallel
sessions (a developer's and a helper's) never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

from loan_reporting import embedded_db, schema

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE_DIR = Path(os.environ.get("LOAN_REPORTING_REFERENCE_DIR", SHARED_DIR / "reference"))


@pytest.fixture(scope="session")
def session_dbname() -> str:
    return f"test_{os.getpid()}_{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="session")
def lms_dsn(session_dbname):
    """DSN of a fresh database holding the reference library-system schema (no rows)."""
    dsn = embedded_db.ensure_database(session_dbname)
    schema.create_reference_schema(dsn)
    yield dsn
    if not os.environ.get("LOAN_REPORTING_KEEP_TEST_DB"):
        embedded_db.drop_database(session_dbname)


@pytest.fixture()
def lms_conn(lms_dsn):
    with psycopg.connect(lms_dsn) as conn:
        yield conn


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE_DIR}")
    return REFERENCE_DIR
