"""Create the reference library-system schema from the versioned SQL in ``dev/sql/lms``.

Every file is idempotent (``IF NOT EXISTS`` / ``ON CONFLICT DO NOTHING``) and they run in
file-name order, so applying the schema twice changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from dev import DEV_DIR

LMS_SQL_DIR = DEV_DIR / "sql" / "lms"


def schema_files(directory: Path = LMS_SQL_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def apply_sql_dir(dsn: str, directory: Path) -> list[str]:
    """Run every ``.sql`` file in ``directory`` in name order, in one transaction."""
    applied = []
    with psycopg.connect(dsn) as conn:
        for path in schema_files(directory):
            conn.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
    return applied


def create_reference_schema(dsn: str) -> list[str]:
    return apply_sql_dir(dsn, LMS_SQL_DIR)
