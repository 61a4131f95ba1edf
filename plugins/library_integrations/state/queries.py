"""The SQL of the pipeline-state schema: every query is a file in ``include/sql/state/``."""

from __future__ import annotations

from library_integrations import SQL_DIR
from library_integrations.common.sql import SqlFiles

STATE_SQL_DIR = SQL_DIR / "state"
MIGRATIONS_DIR = STATE_SQL_DIR / "migrations"
STATE_SCHEMA = "pipeline_state"


STATE_SQL = SqlFiles(STATE_SQL_DIR)


def load_sql(name: str) -> str:
    """The text of ``include/sql/state/<name>.sql``."""
    return STATE_SQL[name]
