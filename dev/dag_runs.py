"""Load the project's DAGs outside a scheduler (for the demo, tests and the benchmark)."""

from __future__ import annotations

from dev import PROJECT_ROOT


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag(dag_id)
