"""Delivery of the month's files over real SFTP (asyncssh on 127.0.0.1) through the delivery ledger."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import date

import psycopg
import pytest
from airflow.sdk import ObjectStoragePath

from library_integrations.clients.nb.delivery import (
    DeliveryRejected,
    ObjectStorageTarget,
    SftpTarget,
    TargetUnavailable,
)
from library_integrations.http.retry import RetryPolicy
from library_integrations.pipelines.nb_statistics import fileformat, steps
from library_integrations.pipelines.nb_statistics.config import load_categories, load_file_format
from library_integrations.state.deliveries import DeliveryLedger
from library_integrations.state.recording import ResultNotRecorded
from tests.integration.nb_statistics.library import MONTH, SYSTEM

FMT = load_file_format()
REMOTE = "/innlevering/statistikk"
FAST = RetryPolicy(max_attempts=3, max_total_seconds=10, backoff_base=0.05, backoff_max=0.2)
V1 = fileformat.file_names(FMT, SYSTEM, MONTH, 1)
V2 = fileformat.file_names(FMT, SYSTEM, MONTH, 2)


def build(dsn, directory):
    with psycopg.connect(dsn) as conn:
        selection = steps.run_select(conn, MONTH)
        return steps.run_aggregate(conn, selection, ObjectStoragePath(directory.as_uri()), FMT, load_categories(),
                                   SYSTEM)


@pytest.fixture(scope="module")
def staged(nb_library, tmp_path_factory):
    return build(nb_library.dsn, tmp_path_factory.mktemp("nb-staging"))


@pytest.fixture()
def ledger(state_dsn):
    ledger = DeliveryLedger(state_dsn)  # migrates the pipeline-state schema
    with psycopg.connect(state_dsn) as conn:
        conn.execute("DELETE FROM pipeline_state.delivery WHERE pipeline = 'nb_statistics'")
    return ledger


@pytest.fixture()
def sftp(fresh_sftp_server, monkeypatch):
    def connect(**overrides):
        monkeypatch.setenv("AIRFLOW_CONN_NB_STATISTICS_SFTP",
                           json.dumps(fresh_sftp_server.connection(remote_dir=REMOTE, **overrides)))
        return SftpTarget(retry=FAST)

    fresh_sftp_server.connect = connect
    return fresh_sftp_server


def test_delivery_renames_into_place_and_a_rerun_uploads_nothing(staged, ledger, sftp):
    result = steps.run_deliver(staged, FMT, ledger, sftp.connect())
    assert (result.outcome, result.version, result.csv_name) == ("delivered", 1, V1.csv)
    files = sftp.files(REMOTE)
    assert set(files) == {V1.csv, V1.manifest}  # no temporary .part file is left
    assert files[V1.csv] == ObjectStoragePath(staged.csv_path).read_bytes()
    manifest = json.loads(files[V1.manifest])
    assert manifest["fil"] == {**manifest["fil"], "navn": V1.csv, "sha256": staged.csv_sha256, "rader": staged.rows}
    assert (manifest["versjon"], manifest["erstatter"], manifest["maaned"]) == (1, None, "2026-03")
    assert sftp.stats()["renames"] == 2 and sftp.stats()["opened_for_write"] == 2
    before = sftp.stats()
    again = steps.run_deliver(staged, FMT, ledger, sftp.connect())
    assert (again.outcome, again.version) == ("skipped", 1)
    assert sftp.stats().get("connections") == before.get("connections")  # not even a login
    assert [(d.version, d.status) for d in ledger.history("nb_statistics", "2026-03")] == [(1, "delivered")]


def test_a_late_loan_is_delivered_as_version_2_and_the_ledger_keeps_both(nb_library, staged, ledger, sftp, tmp_path):
    steps.run_deliver(staged, FMT, ledger, sftp.connect())
    with psycopg.connect(nb_library.dsn) as conn:
        conn.execute("""INSERT INTO lms.loan (id, item_id, patron_id, agency_id, loaned_at)
                        SELECT (SELECT max(id) + 1 FROM lms.loan), i.id, 1, i.agency_id, '2026-03-15 12:00+01'
                        FROM lms.item i WHERE i.agency_id = 1 ORDER BY i.id LIMIT 1""")
    try:
        late = build(nb_library.dsn, tmp_path)
        assert late.content_sha256 != staged.content_sha256
        assert late.libraries[0].loans == staged.libraries[0].loans + 1
        result = steps.run_deliver(late, FMT, ledger, sftp.connect())
        assert (result.outcome, result.version, result.csv_name, result.previous_version) == (
            "delivered", 2, V2.csv, 1)
    finally:
        with psycopg.connect(nb_library.dsn) as conn:
            conn.execute("DELETE FROM lms.loan WHERE id = (SELECT max(id) FROM lms.loan)")
    files = sftp.files(REMOTE)
    assert set(files) == {V1.csv, V1.manifest, V2.csv, V2.manifest}
    manifest = json.loads(files[V2.manifest])
    assert (manifest["versjon"], manifest["erstatter"], manifest["fil"]["navn"]) == (2, V1.csv, V2.csv)
    history = ledger.history("nb_statistics", "2026-03")
    assert [(d.version, d.status, d.file_name) for d in history] == [(1, "delivered", V1.csv),
                                                                     (2, "delivered", V2.csv)]
    assert history[0].content_sha256 == staged.content_sha256 and history[1].content_sha256 == late.content_sha256


def test_wrong_credentials_fail_clearly_without_the_password(staged, ledger, sftp, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-password-Xq81"
    target = sftp.connect(password=wrong)
    with pytest.raises(DeliveryRejected, match="login refused") as raised:
        steps.run_deliver(staged, FMT, ledger, target)
    assert not raised.value.retryable
    assert wrong not in str(raised.value) and wrong not in caplog.text and sftp.password not in caplog.text
    assert sftp.stats()["refused_logins"] == 1  # not retried
    assert sftp.files(REMOTE) == {}
    assert [(d.version, d.status) for d in ledger.history("nb_statistics", "2026-03")] == [(1, "failed")]


def test_server_down_is_retried_then_fails_clearly_and_nothing_is_recorded_as_delivered(staged, ledger, sftp, caplog):
    target = sftp.connect()
    sftp.stop()
    caplog.set_level(logging.WARNING)
    with pytest.raises(TargetUnavailable, match="connection refused.*gave up after 3 attempt") as raised:
        steps.run_deliver(staged, FMT, ledger, target)
    assert raised.value.retryable  # the task's Airflow retries try again later
    assert "attempt 1/3" in caplog.text and "attempt 2/3" in caplog.text
    history = ledger.history("nb_statistics", "2026-03")
    assert [(d.version, d.status) for d in history] == [(1, "failed")] and history[0].delivered_at is None
    # The server is back: the same content goes out as the same version 1.
    sftp.start()
    result = steps.run_deliver(staged, FMT, ledger, target)
    assert (result.outcome, result.version) == ("delivered", 1)
    assert set(sftp.files(REMOTE)) == {V1.csv, V1.manifest}


def test_a_short_outage_is_bridged_by_the_retries(staged, ledger, sftp):
    target = sftp.connect()
    target.retry = RetryPolicy(max_attempts=8, max_total_seconds=20, backoff_base=0.2, backoff_max=0.5)
    sftp.stop()
    threading.Timer(0.4, sftp.start).start()
    result = steps.run_deliver(staged, FMT, ledger, target)
    assert result.outcome == "delivered" and set(sftp.files(REMOTE)) == {V1.csv, V1.manifest}


def test_object_storage_target(staged, ledger, tmp_path):
    target = ObjectStorageTarget((tmp_path / "nb-outbox").as_uri())
    result = steps.run_deliver(staged, FMT, ledger, target)
    assert result.target.startswith("object_storage:file://")
    assert sorted(p.name for p in (tmp_path / "nb-outbox").iterdir()) == sorted([V1.csv, V1.manifest])
    assert (tmp_path / "nb-outbox" / V1.csv).read_bytes() == ObjectStoragePath(staged.csv_path).read_bytes()
    assert steps.run_deliver(staged, FMT, ledger, target).outcome == "skipped"


def test_the_month_key_is_the_oslo_month():
    assert f"{MONTH:%Y-%m}" == "2026-03" and MONTH == date(2026, 3, 1)


# ----------------------------------------------------------------------------- state database restarts
class StopsTheStateDatabase:
    """The real SFTP target; right after the files are in place, the state database stops.

    It starts again after ``down_for`` seconds (None: not by itself), so the ledger's
    ``delivered`` meets a database that is away.
    """

    def __init__(self, target, server, down_for: float | None) -> None:
        self.target, self.server, self.down_for, self.threads = target, server, down_for, []

    @property
    def description(self) -> str:
        return self.target.description

    def upload(self, files):
        result = self.target.upload(files)
        self.server.stop()
        if self.down_for is not None:
            def start_again():
                time.sleep(self.down_for)
                self.server.start()

            self.threads.append(threading.Thread(target=start_again))
            self.threads[-1].start()
        return result


def test_state_database_restarted_while_the_delivery_is_recorded_delivers_once(staged, sftp, private_state, caplog):
    ledger = DeliveryLedger(private_state.dsn, record_retry_interval=0.2, record_wait_seconds=60)
    target = StopsTheStateDatabase(sftp.connect(), private_state, down_for=1.0)
    try:
        result = steps.run_deliver(staged, FMT, ledger, target)
    finally:
        for thread in target.threads:
            thread.join(30)
    assert (result.outcome, result.version) == ("delivered", 1)
    assert "the state database is unreachable" in caplog.text and "Recorded it after" in caplog.text
    assert [(d.version, d.status) for d in ledger.history("nb_statistics", "2026-03")] == [(1, "delivered")]
    assert sftp.stats()["opened_for_write"] == 2  # CSV and manifest, once each
    assert steps.run_deliver(staged, FMT, ledger, sftp.connect()).outcome == "skipped"  # the rerun uploads nothing
    assert sftp.stats()["opened_for_write"] == 2
    assert sftp.files(REMOTE)[V1.csv] == ObjectStoragePath(staged.csv_path).read_bytes()


def test_state_database_away_longer_than_the_wait_the_rerun_uploads_the_same_version_again(
        staged, sftp, private_state):
    ledger = DeliveryLedger(private_state.dsn, record_retry_interval=0.2, record_wait_seconds=1.0)
    with pytest.raises(ResultNotRecorded, match=r"nb_statistics 2026-03: version 1 .* delivered, but the state "
                                                r"database stayed unreachable .* uploads the same version again"):
        steps.run_deliver(staged, FMT, ledger, StopsTheStateDatabase(sftp.connect(), private_state, down_for=None))
    private_state.start()
    assert [(d.version, d.status) for d in ledger.history("nb_statistics", "2026-03")] == [(1, "uploading")]
    result = steps.run_deliver(staged, FMT, ledger, sftp.connect())  # the task's retry
    assert (result.outcome, result.version) == ("delivered", 1)  # the same name again, not a version 2
    assert [(d.version, d.status) for d in ledger.history("nb_statistics", "2026-03")] == [(1, "delivered")]
    assert sftp.stats()["opened_for_write"] == 4 and set(sftp.files(REMOTE)) == {V1.csv, V1.manifest}
    assert sftp.files(REMOTE)[V1.csv] == ObjectStoragePath(staged.csv_path).read_bytes()
