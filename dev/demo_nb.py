"""The NB monthly statistics part of ``make demo``: one month delivered to a local SFTP server.

1. fills the NB additions (shelf words, fiction, audience, borrower categories, consent) for
   the library system the demo generated (:mod:`dev.generator_nb`);
2. starts a real SFTP server on 127.0.0.1 (:mod:`dev.fakes.sftp`, files under
   ``var/fake-nb-sftp``) and points connection ``nb_statistics_sftp`` at it;
3. runs the real DAG ``nb_loan_statistics`` for the month with ``dag.test()``, then once more
   (identical content: nothing is uploaded again);
4. prints the month's table per library from the delivered manifest, the excluded libraries
   with their reason, and the files on the server.

:func:`airflow_env` is the connection and setting the demo and ``make ui`` environments carry
(the UI's connection expects ``python -m dev.fakes.sftp`` on port 2222).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date

from dev import PROJECT_ROOT

SFTP_ROOT = PROJECT_ROOT / "var" / "fake-nb-sftp"
REMOTE_DIR = "/innlevering"
DEMO_SYSTEM = "Demo biblioteksystem"
MONTH = date(2026, 3, 1)


def airflow_env() -> dict[str, str]:
    """``AIRFLOW_CONN_NB_STATISTICS_SFTP`` (the fake on 127.0.0.1:2222) and the library system's name."""
    from dev.fakes.sftp import DEFAULT_PORT, DEMO_LOGIN, DEMO_PASSWORD

    conn = {"conn_type": "sftp", "host": "127.0.0.1", "port": DEFAULT_PORT, "login": DEMO_LOGIN,
            "password": DEMO_PASSWORD,
            # the local fake makes a new host key each start; a real deployment pins NB's key in host_key
            "extra": {"remote_dir": REMOTE_DIR, "no_host_key_check": "true", "look_for_keys": "false"}}
    return {"AIRFLOW_CONN_NB_STATISTICS_SFTP": json.dumps(conn),
            "NB_STATISTICS_LIBRARY_SYSTEM": os.environ.get("NB_STATISTICS_LIBRARY_SYSTEM") or DEMO_SYSTEM}


def _state(dagrun) -> str:
    return str(getattr(getattr(dagrun, "state", None), "value", getattr(dagrun, "state", "?")))


def run(*, database: str = "lms", state_database: str = "loan_reporting", month: date = MONTH,
        verbose: bool = False) -> int:
    import pendulum
    import psycopg

    from dev import embedded_db, generator_nb
    from dev.dag_runs import load_dag
    from dev.fakes.sftp import FakeSftpServer
    from library_integrations.common.tables import format_table

    t0 = time.perf_counter()
    dsn = embedded_db.ensure_database(database)
    nb = generator_nb.fill(dsn)
    print(f"\nNB statistics: filled shelf words, skjønn/fag, barn/voksen and borrower categories for "
          f"{nb.manifestations} materials and {nb.patrons} patrons; consent cases {nb.consent_cases}", flush=True)
    shutil.rmtree(SFTP_ROOT, ignore_errors=True)
    server = FakeSftpServer(SFTP_ROOT).start()
    os.environ.update(airflow_env())
    os.environ["AIRFLOW_CONN_NB_STATISTICS_SFTP"] = json.dumps(server.connection(remote_dir=REMOTE_DIR))
    os.environ.setdefault("NB_STATISTICS_TASK_RETRIES", "0")
    with psycopg.connect(embedded_db.ensure_database(state_database)) as conn:
        exists = conn.execute("SELECT to_regclass('pipeline_state.delivery')").fetchone()[0]
        if exists:  # the demo regenerated its data: start the month's ledger afresh too
            conn.execute("DELETE FROM pipeline_state.delivery WHERE pipeline = 'nb_statistics' AND delivery_key = %s",
                         (f"{month:%Y-%m}",))
    try:
        print(f"SFTP server on 127.0.0.1:{server.port} (files under {server.root}); running nb_loan_statistics "
              f"for {month:%Y-%m} ...", flush=True)
        dag = load_dag("nb_loan_statistics")
        logical = pendulum.datetime(month.year, month.month, 1, tz="Europe/Oslo")
        first = _state(dag.test(logical_date=logical))
        writes = server.stats().get("opened_for_write", 0)
        print(f"Rerunning {month:%Y-%m} (identical content: nothing should be uploaded again) ...", flush=True)
        second = _state(dag.test(logical_date=logical))
        uploads_on_rerun = server.stats().get("opened_for_write", 0) - writes
        files = server.files(REMOTE_DIR)
    finally:
        server.shutdown()
    manifests = [name for name in files if name.endswith(".json")]
    if not manifests:
        print(f"NB statistics: nothing was delivered (run {first}); see the task logs in .airflow/logs")
        raise SystemExit(1)
    manifest = json.loads(files[sorted(manifests)[-1]])
    print()
    print(f"NB loan statistics {manifest['maaned']} ({manifest['periode']['fra']} .. {manifest['periode']['til']}), "
          f"version {manifest['versjon']}, {manifest['fil']['rader']} rows, sha256 {manifest['fil']['sha256'][:16]}:")
    print(format_table([{"isil": b["isil"], "loans": b["utlan"], "with isbn": b["utlan_med_isbn"],
                         "uten_isbn": b["uten_isbn"], "rows": b["rader"], "library": b["navn"]}
                        for b in manifest["bibliotek"]], empty="(no library gave both consents)"))
    t = manifest["totalt"]
    print(f"{'total':<10}  {t['utlan']:<5}  {t['utlan_med_isbn']:<9}  {t['uten_isbn']:<9}  {t['rader']:<4}  "
          f"{t['bibliotek']} libraries")
    print("\nExcluded:")
    print(format_table([{"isil": e["isil"], "reason": e["grunn"], "library": e["navn"]}
                        for e in manifest["ekskludert"]], empty="(none)"))
    print("\nOn the SFTP server, " + REMOTE_DIR + ":")
    print(format_table([{"file": name, "bytes": len(data)} for name, data in files.items()]))
    print(f"\nnb_loan_statistics: run {first}; rerun {second}, {uploads_on_rerun} file(s) uploaded again "
          f"(the delivery ledger skips identical content). NB part: {time.perf_counter() - t0:.1f} s")
    if not (first.endswith("success") and second.endswith("success")):
        raise SystemExit(1)
    return 0
