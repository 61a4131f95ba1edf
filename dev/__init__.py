"""Dev tooling, never deployed to workers: embedded PostgreSQL, Airflow environment, synthetic
library system, fakes of the external services, demo and benchmark.

``python -m dev <command>`` (see :mod:`dev.cli`). Nothing in ``plugins/`` imports this package.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEV_DIR = PROJECT_ROOT / "dev"

# ``python -m dev ...`` from the project root finds this package through the working
# directory; the deployed package lives in ``plugins/`` (Airflow's path), so add it here.
_PLUGINS = str(PROJECT_ROOT / "plugins")
if _PLUGINS not in __import__("sys").path:
    __import__("sys").path.insert(0, _PLUGINS)
