"""Session-wide real parts shared by every test: one embedded PostgreSQL, one database,
one migrated Airflow home.

The server is the project's embedded PostgreSQL (or ``LOAN_REPORTING_DSN``). Each test
session gets its own freshly created databases on it (library data, Airflow metadata,
pipeline state), dropped at the end, so parallel sessions never see each other's rows.
Airflow reads its configuration when first imported, so the environment is set here,
before any test module imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

from dev import embedded_db
from dev import lms_schema as schema
from dev.airflow_env import airflow_environment
from library_integrations import INCLUDE_DIR  # noqa: E402

REFERENCE_DIR = INCLUDE_DIR / "reference"  # the dated snapshot shipped with the project

SESSION_DB = f"test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
AIRFLOW_DB = f"{SESSION_DB}_airflow"
STATE_DB = f"{SESSION_DB}_state"
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))

os.environ.update(
    airflow_environment(library_db=SESSION_DB, airflow_db=AIRFLOW_DB, state_db=STATE_DB, home=_AIRFLOW_HOME)
)
os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
os.environ.setdefault("LOAN_REPORTING_REFERENCE_DATA", str(REFERENCE_DIR))
os.environ["LOAN_REPORTING_STAGING_BASE"] = (_AIRFLOW_HOME / "staging").as_uri()
os.environ["LOAN_REPORTING_TASK_RETRIES"] = "0"

pytest_plugins = []
if (Path(__file__).parent / "fixtures" / "fake_bokbasen.py").exists():
    pytest_plugins.append("tests.fixtures.fake_bokbasen")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("LOAN_REPORTING_KEEP_TEST_DB"):
        return
    if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before dropping its database
        sys.modules["airflow.settings"].dispose_orm()
    for name in (SESSION_DB, AIRFLOW_DB, STATE_DB):
        try:
            embedded_db.drop_database(name)
        except Exception as exc:  # pragma: no cover - cleanup must not hide the result
            print(f"could not drop test database {name}: {exc}", file=sys.stderr)


@pytest.fixture(scope="session")
def session_dbname() -> str:
    return SESSION_DB


@pytest.fixture(scope="session")
def lms_dsn():
    """DSN of this session's library database, holding the reference schema."""
    dsn = embedded_db.database_dsn(SESSION_DB)
    schema.create_reference_schema(dsn)
    return dsn


@pytest.fixture(scope="session")
def state_dsn():
    """DSN of this session's pipeline-state database (ledger, token cache)."""
    return embedded_db.database_dsn(STATE_DB)


@pytest.fixture()
def lms_conn(lms_dsn):
    with psycopg.connect(lms_dsn) as conn:
        yield conn


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    assert (REFERENCE_DIR / "postal_codes.tsv").is_file(), f"the reference snapshot is missing from {REFERENCE_DIR}"
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database, once per session."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL)
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
