"""Where the pipeline state lives: a libpq DSN from an Airflow ``postgres`` connection."""

from __future__ import annotations

from typing import Any

import psycopg

from library_integrations.common.settings import STATE_CONN_ID  # "loan_reporting_db"

_PASSED_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options")


def dsn_from_connection(conn_id: str = STATE_CONN_ID) -> str:
    """A libpq DSN from an Airflow ``postgres`` connection (host may be a socket directory)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    params: dict[str, Any] = {"host": conn.host, "dbname": conn.schema, "user": conn.login}
    if conn.port:
        params["port"] = conn.port
    if conn.password:
        params["password"] = conn.password
    for key, value in (conn.extra_dejson or {}).items():
        if key in _PASSED_EXTRAS:
            params[key] = value
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


def describe(dsn: str) -> str:
    """``database 'x' on host`` for messages: never the password or the rest of the DSN."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "an unparsable DSN"
    host = str(info.get("host") or "localhost")
    if host.startswith("/"):
        host = "a local socket"
    return f"database {info.get('dbname') or '?'!r} on {host}"
