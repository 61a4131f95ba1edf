"""Every DAG in dags/ imports without error and carries tags, retries, an owner and docs."""

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors


# One line per pipeline's DAG(s): a DAG file that stops defining its DAG fails here.
PROJECT_DAGS = {
    "bokbasen_loan_report",
    "bokbasen_metadata_sync",
    "nb_loan_statistics",
    "patron_registry_export",
    "patron_registry_import",
}


def test_the_project_dags_are_there(dagbag):
    assert PROJECT_DAGS <= set(dagbag.dag_ids)


def test_dag_conventions(dagbag):
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id} has no owner"
            assert task.retries is not None, f"{dag_id}.{task.task_id} has no retries setting"


def test_every_dag_has_retries_configured_by_default(dagbag):
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert "retries" in dag.default_args, f"{dag_id} sets no default retries"
        assert dag.default_args.get("owner"), f"{dag_id} sets no owner"
