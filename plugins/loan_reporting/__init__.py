"""Norwegian library loan reporting: the logic behind the Airflow DAGs in ``dags/``.

Plain functions and small classes, importable without a scheduler. ``plugins/`` is on
Airflow's ``sys.path``, so DAG files import ``loan_reporting`` directly.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
