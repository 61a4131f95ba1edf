"""End to end: the real DAG with dag.test(), the embedded PostgreSQL and the fake Export Service over HTTP."""

from __future__ import annotations

import logging

import psycopg
import pytest

from library_integrations.state import cursors
from library_integrations.state.metadata import PIPELINE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dag(airflow_db):
    from dev.dag_runs import load_dag

    return load_dag("bokbasen_metadata_sync")


def state_of(dagrun) -> str:
    return str(getattr(dagrun.state, "value", dagrun.state))


def test_the_dag_is_hourly_one_run_at_a_time_without_catchup(dag):
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.timetable.expression in ("@hourly", "0 * * * *")
    assert [t.task_id for t in dag.tasks] == ["sync"]


def test_a_run_syncs_everything_and_the_next_run_keeps_the_cursor(dag, export_airflow_env, metadata_state_dsn,
                                                                    caplog):
    fake = export_airflow_env
    caplog.set_level(logging.INFO)
    assert state_of(dag.test()) == "success"
    expected = {}
    for event in fake.events():
        if event.product.malformed is None:
            expected[event.product.ean] = event.notification == "05"
    with psycopg.connect(metadata_state_dsn) as conn:
        stored = dict(conn.execute("SELECT ean, deleted FROM pipeline_state.bokbasen_metadata").fetchall())
        cursor = cursors.get(conn, PIPELINE, "extended")
    assert stored == expected and cursor.value == fake.final_next()
    log = caplog.text
    assert "no cursor is stored yet" in log and "full reload" in log  # where it started, loudly
    assert "Page 1:" in log and "malformed" in log and "Stopped: page 1 had no Link header" in log

    caplog.clear()
    assert state_of(dag.test()) == "success"
    with psycopg.connect(metadata_state_dsn) as conn:
        assert cursors.get(conn, PIPELINE, "extended").value == fake.final_next()
    assert "Starting from the stored cursor" in caplog.text and "0 product(s)" in caplog.text


def test_a_clock_skew_error_fails_the_run_with_the_services_message(dag, export_airflow_env, metadata_state_dsn,
                                                                     caplog):
    fake = export_airflow_env
    fake.configure(clock_offset=1800)
    caplog.set_level(logging.INFO)
    dagrun = dag.test()
    assert state_of(dagrun) == "failed"
    assert "not within the boundary of 15 minutes skew" in caplog.text  # the service's own words
    assert "the worker's clock is off by about" in caplog.text
    assert [r.status for r in fake.requests()] == [400]  # refused once; not retried
    with psycopg.connect(metadata_state_dsn) as conn:
        assert cursors.get(conn, PIPELINE, "extended") is None
