"""National integrations of a Norwegian library system, as Apache Airflow 3 pipelines.

The package every Airflow worker imports (``plugins/`` is on Airflow's ``sys.path``).
Layers, each importing only from the layers below it (checked by import-linter, see
``pyproject.toml``)::

    pipelines/<name>/        one sub-package per pipeline: steps, tasks, typed XCom payloads
    clients/ library_system/ state/
                             API clients; reads of the library system; pipeline state
    http/                    one HTTP client layer: OAuth2, retry policy, typed errors
    common/                  settings, Oslo time windows, timetables, SQL, staging

No pipeline imports another, and nothing here imports the dev tooling in ``dev/``.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
