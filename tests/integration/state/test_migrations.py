"""Versioned migrations of the pipeline-state schema, from the previous release's database onwards.

``previous_schema/`` is frozen: ``bokbasen_reporting_v1.sql`` is byte for byte the DDL the
previous release applied (``include/sql/state/schema/001_ledger.sql``), ``queries/`` the SQL it
wrote its ledger rows, events and tokens with. Never edit them: they stand for databases that
exist in deployments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from dev import PROJECT_ROOT, embedded_db
from library_integrations.state import migrations
from library_integrations.state.ledger import Ledger, payload_sha256
from library_integrations.state.migrations import (
    MigrationChecksumError,
    MigrationError,
    current_version,
    discover,
    migrate,
)
from library_integrations.state.queries import MIGRATIONS_DIR
from library_integrations.state.token_cache import TokenCache, clear_process_cache, deployment_fernet

PREVIOUS = Path(__file__).parent / "previous_schema"
PREVIOUS_DDL_SHA256 = "944fa3b5a888baed42abb5d73136a4a351036e6467ce936b0d4d970d6443edcb"

TOKEN_URL = "https://auth.bokbasen.test/oauth/token"
CLIENT_ID = "library-system-vendor"
AUDIENCE = "https://api.bokbasen.test/reporting/"
TABLES = ("submission", "submission_event", "oauth_token")


# ----------------------------------------------------------------------------- helpers
@pytest.fixture()
def new_database(session_dbname):
    """``new_database()`` -> the DSN of a fresh, empty database on the session's server (dropped after)."""
    created = []

    def make() -> str:
        name = f"{session_dbname}_mig_{uuid.uuid4().hex[:8]}"
        created.append(name)
        return embedded_db.ensure_database(name)

    yield make
    for name in created:
        embedded_db.drop_database(name)


@pytest.fixture()
def migrations_copy(tmp_path) -> Path:
    """A copy of the project's migrations, to tamper with."""
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


def previous_sql(name: str) -> str:
    return (PREVIOUS / "queries" / f"{name}.sql").read_text(encoding="utf-8")


def install_previous_release(dsn: str) -> None:
    """What the previous release's ``create_ledger_schema`` did: its lock, then its DDL."""
    ddl = (PREVIOUS / "bokbasen_reporting_v1.sql").read_text(encoding="utf-8")
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('bokbasen_reporting.schema', 0))")
        conn.execute(ddl)


def previous_release_submission(conn, isil, day, payload, loan_count, status, http_status, message, attempts=1):
    """One send as the previous release's Ledger.submit recorded it: row, mark sent, result, event."""
    key = {"isil": isil, "report_date": day}
    sha = payload_sha256(payload)
    conn.execute(previous_sql("ensure_submission"), key)
    conn.execute(previous_sql("mark_sent"), {**key, "payload_sha256": sha, "loan_count": loan_count})
    conn.execute(
        previous_sql("record_result"),
        {**key, "status": status, "attempts": attempts, "http_status": http_status, "message": message},
    )
    conn.execute(
        previous_sql("insert_event"),
        {**key, "event": status, "payload_sha256": sha, "loan_count": loan_count, "attempts": attempts,
         "http_status": http_status, "message": message},
    )


def fill_previous_release(dsn: str) -> str:
    """Ledger rows, events and an encrypted token written with the previous release's SQL; returns the token."""
    token = f"previous-release-token-{uuid.uuid4().hex}"
    fetched_at = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(dsn) as conn:
        previous_release_submission(conn, "NO-1000001", date(2026, 11, 20), b'{"loans":[1,2,3]}', 3,
                                    "accepted", 204, None)
        previous_release_submission(conn, "NO-1000002", date(2026, 11, 20), b'{"loans":[]}', 0,
                                    "rejected", 422, "BokbasenReportRejected: loans[0].ean: unknown product")
        previous_release_submission(conn, "NO-1000001", date(2026, 11, 21), b'{"loans":[4]}', 1,
                                    "failed", 503, "BokbasenRetryableError: HTTP 503", attempts=5)
        conn.execute(previous_sql("ensure_submission"), {"isil": "NO-1000003", "report_date": date(2026, 11, 21)})
        conn.execute(  # a skip, as the previous release logged a rerun of an accepted day
            previous_sql("insert_event"),
            {"isil": "NO-1000001", "report_date": date(2026, 11, 20), "event": "skipped",
             "payload_sha256": payload_sha256(b'{"loans":[1,2,3]}'), "loan_count": 3, "attempts": 0,
             "http_status": None, "message": "identical payload already accepted"},
        )
        conn.execute(
            previous_sql("token_upsert"),
            {
                "token_url": TOKEN_URL,
                "client_id": CLIENT_ID,
                "audience_sha256": TokenCache(token_url=TOKEN_URL, client_id=CLIENT_ID, audience=AUDIENCE,
                                              dsn=None).audience_sha256,
                "audience": AUDIENCE,
                "token_ciphertext": deployment_fernet().encrypt(token.encode()).decode(),
                "fetched_at": fetched_at,
                "expires_at": fetched_at + timedelta(hours=1),
            },
        )
    return token


def table_rows(dsn: str, schema: str) -> dict[str, list[tuple]]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {schema}.{table} ORDER BY 1, 2, 3").fetchall()  # noqa: S608
            for table in TABLES
        }


SHAPE_QUERIES = {
    "schemas": """
        SELECT nspname FROM pg_namespace WHERE nspname IN ('pipeline_state', 'bokbasen_reporting') ORDER BY 1""",
    "relations": """
        SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('pipeline_state', 'bokbasen_reporting') ORDER BY 1, 2""",
    "columns": """
        SELECT table_schema, table_name, column_name, ordinal_position, data_type, is_nullable,
               column_default, is_identity, identity_generation
        FROM information_schema.columns WHERE table_schema IN ('pipeline_state', 'bokbasen_reporting')
        ORDER BY 1, 2, 4""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'pipeline_state'::regnamespace ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'pipeline_state' ORDER BY 1, 2""",
    "sequences": """
        SELECT s.seqrelid::regclass::text, d.refobjid::regclass::text, a.attname
        FROM pg_sequence s
        JOIN pg_depend d ON d.objid = s.seqrelid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        ORDER BY 1""",
    "views": """
        SELECT table_schema, table_name, view_definition FROM information_schema.views
        WHERE table_schema IN ('pipeline_state', 'bokbasen_reporting') ORDER BY 1, 2""",
    "comments": """
        SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c
        WHERE c.relnamespace = 'pipeline_state'::regnamespace AND c.relkind = 'r' ORDER BY 1""",
    "migrations": "SELECT version, name, checksum FROM pipeline_state.schema_migration ORDER BY version",
}


def schema_shape(dsn: str) -> dict[str, list[tuple]]:
    with psycopg.connect(dsn) as conn:
        return {name: conn.execute(query).fetchall() for name, query in SHAPE_QUERIES.items()}


# ----------------------------------------------------------------------------- the previous release's database
def test_the_frozen_previous_schema_is_the_released_one():
    data = (PREVIOUS / "bokbasen_reporting_v1.sql").read_bytes()
    assert hashlib.sha256(data).hexdigest() == PREVIOUS_DDL_SHA256


def test_previous_release_database_keeps_every_row_and_its_token(new_database, bokbasen_fernet_key):
    dsn = new_database()
    install_previous_release(dsn)
    token = fill_previous_release(dsn)
    before = table_rows(dsn, "bokbasen_reporting")
    assert [len(before[t]) for t in TABLES] == [4, 4, 1]

    applied = migrate(dsn)

    assert [m.name for m in applied] == [m.name for m in discover()]
    assert current_version(dsn) == discover()[-1].version
    assert table_rows(dsn, "pipeline_state") == before  # every value, including ids and timestamps
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "SELECT pg_get_serial_sequence('pipeline_state.submission_event', 'id')"
        ).fetchone() == ("pipeline_state.submission_event_id_seq",)
        old_tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'bokbasen_reporting'"
        ).fetchone()[0]
    assert old_tables == 0

    # The ledger carries on: the day accepted by the previous release is not sent again, a new
    # event's id continues after the old ones, and a changed payload is sent.
    ledger = Ledger(dsn)
    sent = []
    outcome = ledger.submit("NO-1000001", date(2026, 11, 20), b'{"loans":[1,2,3]}', 3, sent.append)
    assert (outcome.outcome, outcome.previous_status, sent) == ("skipped", "accepted", [])
    old_ids = [e[0] for e in before["submission_event"]]
    new_ids = [e["id"] for e in ledger.events()][len(old_ids):]
    assert len(new_ids) == 1 and new_ids[0] > max(old_ids)
    assert ledger.get("NO-1000002", date(2026, 11, 20)).last_message.endswith("unknown product")

    # The cached token still decrypts and is reused by the token cache: no new fetch.
    clear_process_cache()
    cache = TokenCache(token_url=TOKEN_URL, client_id=CLIENT_ID, audience=AUDIENCE, dsn=dsn)
    assert cache.shared

    def must_not_fetch():
        raise AssertionError("the migrated token should have been reused")

    cached, fetched = cache.get(must_not_fetch)
    assert (cached.access_token, fetched) == (token, False)
    clear_process_cache()


def test_fresh_database_ends_in_the_same_shape_as_a_migrated_one(new_database, bokbasen_fernet_key):
    upgraded, fresh = new_database(), new_database()
    install_previous_release(upgraded)
    fill_previous_release(upgraded)
    migrate(upgraded)
    migrate(fresh)
    assert schema_shape(fresh) == schema_shape(upgraded)
    shape = schema_shape(fresh)
    relations = {(schema, name): kind for schema, name, kind in shape["relations"]}
    for table in (*TABLES, "schema_migration", "cursor", "delivery"):
        assert relations[("pipeline_state", table)] == "r", table
    assert relations[("pipeline_state", "submission_event_agency_day")] == "i"
    assert {name for (schema, name), kind in relations.items() if schema == "bokbasen_reporting"} == set(TABLES)
    assert all(kind == "v" for (schema, _), kind in relations.items() if schema == "bokbasen_reporting")


def test_the_old_names_stay_usable_but_a_previous_release_worker_cannot_recreate_the_ledger(new_database):
    dsn = new_database()
    migrate(dsn)
    with psycopg.connect(dsn) as conn:  # a query written against the old names still works
        conn.execute(previous_sql("ensure_submission"), {"isil": "NO-1000001", "report_date": date(2026, 11, 20)})
        assert conn.execute("SELECT count(*) FROM pipeline_state.submission").fetchone() == (1,)
    with pytest.raises(psycopg.errors.WrongObjectType):  # its DDL stops: no empty ledger beside the real one
        install_previous_release(dsn)
    with psycopg.connect(dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'bokbasen_reporting'"
        ).fetchone() == (0,)


# ----------------------------------------------------------------------------- applying
def test_migrate_twice_changes_nothing(new_database, caplog):
    dsn = new_database()
    assert current_version(dsn) == 0
    caplog.set_level(logging.INFO, logger=migrations.__name__)
    assert migrate(dsn)
    before = schema_shape(dsn)
    with psycopg.connect(dsn) as conn:
        applied_at = conn.execute("SELECT version, applied_at FROM pipeline_state.schema_migration").fetchall()
    caplog.clear()
    assert migrate(dsn) == []  # this process already knows the database is up to date
    assert migrate(dsn, force=True) == []  # asks the database: nothing pending, no lock, no DDL
    assert "Applying" not in caplog.text
    assert schema_shape(dsn) == before
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT version, applied_at FROM pipeline_state.schema_migration").fetchall() == applied_at


def test_concurrent_processes_apply_each_migration_once(new_database, migrations_copy):
    dsn = new_database()
    # A slow last migration that fails if applied twice: every process is still starting while it runs.
    (migrations_copy / "999_slow_probe.sql").write_text(
        "SELECT pg_sleep(0.5);\nCREATE TABLE pipeline_state.probe (applied_at timestamptz DEFAULT now());\n"
        "INSERT INTO pipeline_state.probe DEFAULT VALUES;\n",
        encoding="utf-8",
    )
    worker = (
        "import json, logging, sys\n"
        "from pathlib import Path\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from library_integrations.state.migrations import migrate\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "print(json.dumps([m.name for m in migrate(sys.argv[1], migrations_dir=Path(sys.argv[2]))]), flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])}
    procs = [
        subprocess.Popen([sys.executable, "-c", worker, dsn, str(migrations_copy)], cwd=PROJECT_ROOT, env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    applied, waited = [], 0
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        applied.append(json.loads(out.strip().splitlines()[-1]))
        waited += "Waiting for another process to finish migrating" in err
    assert waited >= 1  # they did start together: the lock made the others wait
    every = [m.name for m in discover(migrations_copy)]
    assert sorted(name for names in applied for name in names) == sorted(every)  # each once, in total
    assert sorted(applied, key=len)[-1] == every  # in practice one process applies all, in order
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pipeline_state.probe").fetchone() == (1,)
        assert [r[0] for r in conn.execute("SELECT name FROM pipeline_state.schema_migration ORDER BY version")] \
            == every


def test_concurrent_threads_apply_each_migration_once(new_database, migrations_copy):
    dsn = new_database()
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        barrier.wait()
        try:
            results.append(migrate(dsn, migrations_dir=migrations_copy))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, 0, len(discover(migrations_copy))]


# ----------------------------------------------------------------------------- refusals
def test_a_changed_applied_migration_is_refused_naming_the_file(new_database, migrations_copy):
    dsn = new_database()
    migrate(dsn, migrations_dir=migrations_copy)
    tampered = migrations_copy / "002_move_to_pipeline_state.sql"
    tampered.write_text(tampered.read_text(encoding="utf-8") + "\n-- a harmless-looking edit\n", encoding="utf-8")
    with pytest.raises(MigrationChecksumError, match=r"002_move_to_pipeline_state\.sql was changed after it was applied"):
        migrate(dsn, migrations_dir=migrations_copy, force=True)
    (migrations_copy / "010_new.sql").write_text("CREATE TABLE pipeline_state.never (x int);\n", encoding="utf-8")
    with pytest.raises(MigrationChecksumError):  # nothing new is applied on top of a tampered history
        migrate(dsn, migrations_dir=migrations_copy, force=True)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass('pipeline_state.never')").fetchone() == (None,)


def test_a_line_ending_change_is_not_a_change(new_database, migrations_copy):
    dsn = new_database()
    migrate(dsn, migrations_dir=migrations_copy)
    path = migrations_copy / "003_cursor.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))  # a Windows checkout
    assert migrate(dsn, migrations_dir=migrations_copy, force=True) == []


def test_a_renamed_applied_migration_is_refused(new_database, migrations_copy):
    dsn = new_database()
    migrate(dsn, migrations_dir=migrations_copy)
    (migrations_copy / "003_cursor.sql").rename(migrations_copy / "003_cursors.sql")
    with pytest.raises(MigrationChecksumError, match=r"applied .* as 003_cursor\.sql.*003_cursors\.sql"):
        migrate(dsn, migrations_dir=migrations_copy, force=True)


def test_a_new_migration_numbered_below_the_applied_ones_is_refused(new_database, migrations_copy):
    dsn = new_database()
    (migrations_copy / "020_later.sql").write_text("SELECT 1;\n", encoding="utf-8")
    migrate(dsn, migrations_dir=migrations_copy)
    (migrations_copy / "010_forgotten.sql").write_text("SELECT 1;\n", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"010_forgotten\.sql was never applied.*renumber it above 020"):
        migrate(dsn, migrations_dir=migrations_copy, force=True)


def test_misnamed_and_duplicate_files_are_refused(migrations_copy):
    (migrations_copy / "5_add_x.sql").write_text("SELECT 1;\n", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"5_add_x\.sql: a migration file is named NNN_"):
        discover(migrations_copy)
    (migrations_copy / "5_add_x.sql").unlink()
    (migrations_copy / "003_duplicate.sql").write_text("SELECT 1;\n", encoding="utf-8")
    with pytest.raises(MigrationError, match="share version 003"):
        discover(migrations_copy)


def test_a_failing_migration_is_rolled_back_and_named(new_database, migrations_copy):
    dsn = new_database()
    broken = migrations_copy / "050_broken.sql"
    broken.write_text("CREATE TABLE pipeline_state.half (x int);\nSELECT no_such_function();\n", encoding="utf-8")
    with pytest.raises(MigrationError, match=r"050_broken\.sql failed .* rolled back"):
        migrate(dsn, migrations_dir=migrations_copy)
    before = current_version(dsn)
    released = max(int(path.name[:3]) for path in MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql"))
    assert before == released  # everything before it is applied and recorded
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT to_regclass('pipeline_state.half')").fetchone() == (None,)
    broken.write_text("CREATE TABLE pipeline_state.half (x int);\n", encoding="utf-8")  # fixed: never recorded
    assert [m.name for m in migrate(dsn, migrations_dir=migrations_copy)] == ["050_broken.sql"]


def test_a_version_from_a_newer_release_is_a_warning(new_database, migrations_copy, caplog):
    dsn = new_database()
    (migrations_copy / "090_newer.sql").write_text("SELECT 1;\n", encoding="utf-8")
    migrate(dsn, migrations_dir=migrations_copy)
    (migrations_copy / "090_newer.sql").unlink()  # this code is older than the database
    caplog.set_level(logging.WARNING, logger=migrations.__name__)
    assert migrate(dsn, migrations_dir=migrations_copy, force=True) == []
    assert "migration 090 (090_newer.sql), which this code does not know" in caplog.text


# ----------------------------------------------------------------------------- command line
def test_command_line_status_and_migrate(new_database, capsys):
    dsn = new_database()
    assert migrations.main(["--dsn", dsn, "--status"]) == 0
    out = capsys.readouterr().out
    assert "001_bokbasen_reporting_baseline.sql" in out and "pending" in out and "version 000" in out
    assert migrations.main(["--dsn", dsn]) == 0
    out = capsys.readouterr().out
    last = discover()[-1]
    assert "applied 001_bokbasen_reporting_baseline.sql" in out and f"version {last.version:03d}" in out
    assert "pending" not in out
    assert dsn not in out  # the DSN (it may hold a password) is never printed


def test_dev_cli_state_migrate(new_database, capsys):
    from dev import cli

    dsn = new_database()
    assert cli.main(["state-migrate", "--dsn", dsn]) == 0
    assert f"version {discover()[-1].version:03d}" in capsys.readouterr().out
    assert current_version(dsn) == discover()[-1].version
