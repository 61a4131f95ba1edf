"""The sync task's Airflow glue: permanent refusals fail the task with the service's message in its log."""

from __future__ import annotations

import logging

import pytest
from airflow.sdk.exceptions import AirflowFailException

from library_integrations.clients.bokbasen.errors import BokbasenRetryableError
from library_integrations.pipelines.metadata_sync import tasks
from library_integrations.pipelines.metadata_sync.config import SyncSettings


def test_a_missing_parameter_fails_the_task_with_the_services_message(export_airflow_env, caplog):
    export_airflow_env.add_faults("strip subscription")
    caplog.set_level(logging.INFO)
    with pytest.raises(AirflowFailException, match="Mandatory parameter subscription is missing"):
        tasks.sync({}, SyncSettings())
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("MISSING_PARAMETER: Mandatory parameter subscription is missing" in e for e in errors)
    assert len(export_airflow_env.requests()) == 1  # a parameter error is not retried


def test_a_transient_failure_is_left_to_airflows_retry(export_airflow_env, monkeypatch):
    import json

    monkeypatch.setenv("AIRFLOW_CONN_BOKBASEN_EXPORT", json.dumps(export_airflow_env.connection(
        max_attempts=2, max_total_seconds=5)))
    export_airflow_env.add_faults("503 repeat=-1")
    with pytest.raises(BokbasenRetryableError, match="resumes from the last stored cursor"):
        tasks.sync({}, SyncSettings())


def test_a_successful_task_returns_its_summary(export_airflow_env):
    result = tasks.sync({}, SyncSettings())
    assert result["started_from"] == "after" and result["pages"] == 1
    assert result["products"] == len(export_airflow_env.events()) and result["cursor"].startswith("#")
