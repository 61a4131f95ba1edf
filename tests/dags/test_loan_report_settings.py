"""Must-set production values fail fast: without the transaction-id namespace the real DAG
fails in its first task with a message naming the setting, and nothing is sent; the
summary then says in one line that nothing was reported and why (no TypeError)."""

from __future__ import annotations

import logging

import pendulum
import pytest

pytestmark = pytest.mark.slow


def test_run_without_installation_namespace_fails_naming_the_setting(
    airflow_db, fake_bokbasen, monkeypatch, capfd, caplog
):
    from dev.dag_runs import load_dag

    caplog.set_level(logging.INFO)
    monkeypatch.delenv("LOAN_REPORTING_INSTALLATION", raising=False)
    dag = load_dag("bokbasen_loan_report")
    fake_bokbasen.reset()
    dagrun = dag.test(logical_date=pendulum.datetime(2026, 2, 2, tz="Europe/Oslo"))

    assert "failed" in str(dagrun.state)
    states = {ti.task_id: str(ti.state) for ti in dagrun.get_task_instances() if ti.map_index < 0}
    assert "failed" in states["extract"]
    assert "success" not in states.get("transform", "")
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text
    assert "LOAN_REPORTING_INSTALLATION is not set" in logs
    assert "failed" in states["summary"]
    assert ("extract failed: nothing was reported for 2026-02-02: MissingSettingError: "
            "LOAN_REPORTING_INSTALLATION is not set") in logs
    assert "TypeError" not in logs
    assert fake_bokbasen.reports() == []  # nothing reached Bokbasen
