"""End to end: the real DAG with dag.test(), the embedded PostgreSQL and a real SFTP server on 127.0.0.1.

March 2026 (the spring DST switch) of a generated library system is delivered over SFTP;
the delivered CSV is compared with the independent expectation (python-stdnum, the category
rules, the Oslo month by ``AT TIME ZONE``) and the manifest with the database and the ledger.
(Reruns, versions and SFTP faults are tested on the steps in ``tests/integration/nb_statistics``.)
"""

from __future__ import annotations

import csv
import io
import json

import pendulum
import psycopg
import pytest

from library_integrations.pipelines.nb_statistics import fileformat
from library_integrations.pipelines.nb_statistics.config import load_file_format
from tests.integration.nb_statistics.library import MONTH, SYSTEM, expected_month, make_library

pytestmark = pytest.mark.slow

REMOTE = "/innlevering"
FMT = load_file_format()


@pytest.fixture(scope="module")
def dag(airflow_db, lms_dsn, state_dsn, sftp_server):
    make_library(lms_dsn)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NB_STATISTICS_LIBRARY_SYSTEM", SYSTEM)
        mp.setenv("NB_STATISTICS_TASK_RETRIES", "0")
        mp.setenv("NB_STATISTICS_TARGET", "sftp")
        mp.setenv("AIRFLOW_CONN_NB_STATISTICS_SFTP", json.dumps(sftp_server.connection(remote_dir=REMOTE)))
        with psycopg.connect(state_dsn) as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS pipeline_state")
        from dev.dag_runs import load_dag
        from library_integrations.state.migrations import migrate

        migrate(state_dsn)
        with psycopg.connect(state_dsn) as conn:
            conn.execute("DELETE FROM pipeline_state.delivery WHERE pipeline = 'nb_statistics'")
        yield load_dag("nb_loan_statistics")


def state_of(dagrun) -> str:
    return str(getattr(dagrun.state, "value", dagrun.state))


def test_a_month_is_delivered_over_sftp(dag, fresh_sftp_server, lms_dsn, state_dsn):
    dagrun = dag.test(logical_date=pendulum.datetime(2026, 3, 1, tz="Europe/Oslo"))
    assert state_of(dagrun) == "success"
    names = fileformat.file_names(FMT, SYSTEM, MONTH, 1)
    files = fresh_sftp_server.files(REMOTE)
    assert set(files) == {names.csv, names.manifest}
    manifest = json.loads(files[names.manifest])
    rows = list(csv.reader(io.StringIO(files[names.csv].decode("utf-8"), newline=""), delimiter=";"))
    included = {b["isil"] for b in manifest["bibliotek"]}
    with psycopg.connect(lms_dsn) as conn:
        expected, without, _ = expected_month(conn, MONTH, included)
        counted = dict(conn.execute(
            """SELECT a.isil, count(*) FROM lms.loan l JOIN lms.agency a ON a.id = l.agency_id
               WHERE date_trunc('month', l.loaned_at AT TIME ZONE 'Europe/Oslo') = '2026-03-01' GROUP BY 1""").fetchall())
    assert {tuple(r[:-1]): int(r[-1]) for r in rows[1:]} == expected
    assert manifest["fil"]["rader"] == len(rows) - 1 and manifest["maaned"] == "2026-03"
    for lib in manifest["bibliotek"]:
        assert lib["utlan_med_isbn"] + lib["uten_isbn"] == lib["utlan"] == counted.get(lib["isil"], 0)
        assert lib["uten_isbn"] == without.get(lib["isil"], 0)
    assert {e["grunn"] for e in manifest["ekskludert"]} >= {fileformat.NO_CONSENT, fileformat.NO_PUBLICATION_CONSENT,
                                                          fileformat.NOT_ENABLED}
    with psycopg.connect(state_dsn) as conn:
        ledger = conn.execute("SELECT version, status, file_name, row_count FROM pipeline_state.delivery "
                              "WHERE pipeline = 'nb_statistics' AND delivery_key = '2026-03'").fetchall()
    assert ledger == [(1, "delivered", names.csv, len(rows) - 1)]
    assert fresh_sftp_server.stats()["renames"] == 2  # both files went to a temporary name first
