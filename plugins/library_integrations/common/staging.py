"""Where a run's staged files live: one directory per DAG run under a configured base.

The base is an ``ObjectStoragePath`` URL (``file://`` by default, ``s3://...`` or any
fsspec URL on a multi-worker deployment). Layout::

    <base>/<dag_id>/<report date>/<run id>/extract/part-00000.parquet
                                          /reports/<agency id>-<ISIL>.json
                                          /quality.json
"""

from __future__ import annotations

import re
from datetime import date


def safe_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value)


def run_dir(base: str, dag_id: str, report_date: date, run_id: str):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(base) / safe_name(dag_id) / report_date.isoformat() / safe_name(run_id)
