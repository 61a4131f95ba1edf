"""The environment that points Airflow at this project and its embedded parts.

``python -m library_integrations airflow-env`` prints it as ``export`` lines; the Makefile,
the demo and the tests use :func:`airflow_environment` directly. Airflow's home is
``.airflow/`` in the project; its metadata database lives in the same PostgreSQL as the
library data (database ``airflow``); connections are preconfigured as ``AIRFLOW_CONN_*``.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import psycopg

from dev import PROJECT_ROOT, embedded_db
from library_integrations.common.settings import BOKBASEN_CONN_ID, LIBRARY_CONN_ID, STATE_CONN_ID

AIRFLOW_HOME = PROJECT_ROOT / ".airflow"
DEFAULT_FAKE_BOKBASEN_PORT = 8089
DEMO_CLIENT_ID = "demo-client"
# A secret for the local fake server only; production secrets come from a secrets backend.
DEMO_CLIENT_SECRET = "demo-secret-not-for-production"  # noqa: S105
# The transaction-id namespace of the demo and the tests. Production must set its own
# (the deployed package has no default and fails naming LOAN_REPORTING_INSTALLATION).
DEMO_INSTALLATION = "no.example.library-system.demo"


def _fernet_key(home: Path) -> str:
    """The deployment's Fernet key: generated once per Airflow home and kept there."""
    from cryptography.fernet import Fernet

    path = home / "fernet.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


def _jwt_secret(home: Path) -> str:
    """The API server and the scheduler must sign and check task tokens with one secret."""
    import secrets

    path = home / "jwt.secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def postgres_connection_json(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    conn = {"conn_type": "postgres", "host": info.get("host"), "login": info.get("user"),
            "schema": info.get("dbname")}
    if info.get("port"):
        conn["port"] = int(info["port"])
    if info.get("password"):
        conn["password"] = info["password"]
    return json.dumps(conn)


def sqlalchemy_url(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    from urllib.parse import quote

    user = quote(info.get("user") or "postgres")
    password = f":{quote(info['password'])}" if info.get("password") else ""
    host = info.get("host") or ""
    port = f":{info['port']}" if info.get("port") else ""
    if host.startswith("/"):
        return f"postgresql+psycopg://{user}{password}@/{info['dbname']}?host={quote(host)}"
    return f"postgresql+psycopg://{user}{password}@{host}{port}/{info['dbname']}"


def bokbasen_connection_json(base_url: str) -> str:
    return json.dumps(
        {
            "conn_type": "http",
            "host": f"{base_url}/reporting/v1/library-loans",
            "login": DEMO_CLIENT_ID,
            "password": DEMO_CLIENT_SECRET,
            "extra": {"token_url": f"{base_url}/oauth/token"},
        }
    )


def airflow_environment(
    *,
    library_db: str = "lms",
    airflow_db: str = "airflow",
    state_db: str = "loan_reporting",
    fake_bokbasen_url: str | None = None,
    home: Path = AIRFLOW_HOME,
) -> dict[str, str]:
    """Environment variables for running Airflow (scheduler, dag.test, CLI) on this project."""
    airflow_dsn = embedded_db.ensure_database(airflow_db)
    library_dsn = embedded_db.ensure_database(library_db)
    state_dsn = embedded_db.ensure_database(state_db)
    fake_url = fake_bokbasen_url or f"http://127.0.0.1:{DEFAULT_FAKE_BOKBASEN_PORT}"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(home),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": _jwt_secret(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(airflow_dsn),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        f"AIRFLOW_CONN_{LIBRARY_CONN_ID.upper()}": postgres_connection_json(library_dsn),
        f"AIRFLOW_CONN_{STATE_CONN_ID.upper()}": postgres_connection_json(state_dsn),
        f"AIRFLOW_CONN_{BOKBASEN_CONN_ID.upper()}": bokbasen_connection_json(fake_url),
        "AIRFLOW_CONN_BOKBASEN_EXPORT": __import__("dev.demo_metadata", fromlist=["connection_json"]).connection_json(),
        **__import__("dev.demo_nb", fromlist=["airflow_env"]).airflow_env(),  # NB statistics: SFTP + system name
        "AIRFLOW_CONN_PATRON_REGISTRY": __import__("dev.demo_registry", fromlist=["connection_json"]).connection_json(),
        "LOAN_REPORTING_INSTALLATION": os.environ.get("LOAN_REPORTING_INSTALLATION") or DEMO_INSTALLATION,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT / "plugins"), os.environ.get("PYTHONPATH")])),
    }
    return env


def export_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
