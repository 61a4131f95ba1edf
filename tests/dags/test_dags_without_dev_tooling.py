"""Workers get ``dags/``, ``plugins/`` and ``include/`` only: every DAG must import without
the dev tooling (``dev/``) or the tests on the path.

The check runs in a fresh interpreter whose ``sys.path`` holds ``plugins/`` but not the
project root, started outside the project, with an import hook that refuses ``dev`` and
``tests`` outright (so an installed package of that name could not hide a mistake).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("dev", "tests"):
                raise ImportError(f"dev tooling imported by deployed code: {name}")
            return None

    sys.meta_path.insert(0, Refuse())
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=sys.argv[1])
    print(json.dumps({"dag_ids": sorted(bag.dag_ids), "errors": {k: str(v) for k, v in bag.import_errors.items()},
                      "dev_loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("dev", "tests"))}))
    """
)


def test_every_dag_imports_without_dev_tooling(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(PROJECT_ROOT / "plugins")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(PROJECT_ROOT / "dags")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert "bokbasen_loan_report" in result["dag_ids"]
    assert result["dev_loaded"] == []
