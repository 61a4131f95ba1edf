"""Session-wide real parts shared by every test, started only when a test needs them.

Layers: ``tests/unit`` (and the doctests in the package) run without a database; the
embedded PostgreSQL (or ``LIBRARY_INTEGRATIONS_DSN``) starts only when the session
selects integration or DAG tests. Such a session gets freshly created databases (library
data, Airflow metadata, pipeline state), dropped at the end, so parallel sessions never
see each other's rows, and one migrated Airflow home. Airflow reads its configuration when
first imported, so the environment is set in ``pytest_configure``, before any test module
is imported.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

from dev import PROJECT_ROOT
from dev.airflow_env import DEMO_INSTALLATION
from library_integrations import INCLUDE_DIR

REFERENCE_DIR = INCLUDE_DIR / "reference"  # the dated snapshot shipped with the project
NO_DATABASE_DIRS = (PROJECT_ROOT / "tests" / "unit", PROJECT_ROOT / "plugins")

SESSION_DB = f"test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
AIRFLOW_DB = f"{SESSION_DB}_airflow"
STATE_DB = f"{SESSION_DB}_state"
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
_database_session = False
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["LOAN_REPORTING_INSTALLATION"] = DEMO_INSTALLATION
os.environ["LIBRARY_INTEGRATIONS_STAGING_BASE"] = (_AIRFLOW_HOME / "staging").as_uri()
os.environ["LOAN_REPORTING_TASK_RETRIES"] = "0"

pytest_plugins = ["tests.fixtures.fake_bokbasen", "tests.fixtures.sftp_server"]
pytest_plugins += ["tests.fixtures.patron_registry"]
pytest_plugins += ["tests.fixtures.bokbasen_export"]
pytest_plugins += ["tests.fixtures.airflow_ui"]  # Airflow API server + scheduler and Chromium for tests/browser
pytest_plugins += ["tests.fixtures.private_postgres"]  # a state database to stop and start (restart tests)
pytest_plugins += ["tests.fixtures.leftovers"]  # the session fails if a process it started outlives it


def _needs_database(config) -> bool:
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if not any(path == d or d in path.parents for d in NO_DATABASE_DIRS):
            return True
    return False


def pytest_configure(config):
    global _database_session
    if _needs_database(config):
        from dev.airflow_env import airflow_environment

        _database_session = True
        os.environ.update(airflow_environment(library_db=SESSION_DB, airflow_db=AIRFLOW_DB, state_db=STATE_DB,
                                              home=_AIRFLOW_HOME))
        os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"


def pytest_sessionfinish(session, exitstatus):
    if not _database_session or os.environ.get("LOAN_REPORTING_KEEP_TEST_DB"):
        return
    from dev import embedded_db

    if "airflow.settings" in sys.modules:  # close Airflow's pooled connections before dropping its database
        sys.modules["airflow.settings"].dispose_orm()
    for name in (SESSION_DB, AIRFLOW_DB, STATE_DB):
        try:
            embedded_db.drop_database(name)
        except Exception as exc:  # pragma: no cover - cleanup must not hide the result
            print(f"could not drop test database {name}: {exc}", file=sys.stderr)


def _database(name: str) -> str:
    if not _database_session:
        pytest.fail("this test needs a database: put it under tests/integration or tests/dags, not tests/unit")
    from dev import embedded_db

    return embedded_db.database_dsn(name)


@pytest.fixture(scope="session")
def session_dbname() -> str:
    return SESSION_DB


@pytest.fixture(scope="session")
def lms_dsn():
    """DSN of this session's library database, holding the reference schema."""
    from dev import lms_schema

    dsn = _database(SESSION_DB)
    lms_schema.create_reference_schema(dsn)
    return dsn


@pytest.fixture(scope="session")
def state_dsn():
    """DSN of this session's pipeline-state database (ledger, token cache, cursors)."""
    return _database(STATE_DB)


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
    import subprocess

    _database(AIRFLOW_DB)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL)
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
