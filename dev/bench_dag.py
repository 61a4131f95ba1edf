"""Airflow's overhead per agency: the real DAG with ``dag.test()`` versus the same steps
called directly, on the same small day. Run by ``dev.bench``; prints JSON."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dev import airflow_env, embedded_db, generator
from dev import lms_schema as schema
from dev.bench import BENCH_DAY


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=20_000)
    parser.add_argument("--agencies", type=int, default=20)
    args = parser.parse_args(argv)

    db = "bench_dag"
    for name in (f"{db}_state", f"{db}_direct_state"):
        embedded_db.drop_database(name)
    dsn = embedded_db.ensure_database(db)
    schema.create_reference_schema(dsn)
    generator.generate(dsn, agencies=args.agencies, days=1, loans_per_day=args.loans, start_date=BENCH_DAY,
                       failing_agencies=False)

    from dev.fakes.bokbasen import FakeBokbasen

    server = FakeBokbasen(client_id=airflow_env.DEMO_CLIENT_ID, client_secret=airflow_env.DEMO_CLIENT_SECRET).start()
    staging = Path(tempfile.mkdtemp(prefix="bench-dag-"))
    env = airflow_env.airflow_environment(library_db=db, airflow_db="bench_airflow", state_db=f"{db}_state",
                                          fake_bokbasen_url=server.base_url, home=staging / "airflow-home")
    os.environ.update(env)
    os.environ["LIBRARY_INTEGRATIONS_STAGING_BASE"] = (staging / "staging").as_uri()
    os.environ["LOAN_REPORTING_TASK_RETRIES"] = "0"
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    import logging

    import pendulum

    logging.disable(logging.INFO)
    from dev.dag_runs import load_dag

    dag = load_dag("bokbasen_loan_report")
    t = time.perf_counter()
    run = dag.test(logical_date=pendulum.datetime(BENCH_DAY.year, BENCH_DAY.month, BENCH_DAY.day, tz="Europe/Oslo"))
    dag_seconds = time.perf_counter() - t

    # The same steps without Airflow, into a fresh ledger.
    import psycopg
    from airflow.sdk import ObjectStoragePath

    from library_integrations.clients.bokbasen.loans import BokbasenHook
    from library_integrations.common import settings
    from library_integrations.pipelines.loan_report import steps as pipeline
    from library_integrations.state.ledger import Ledger

    config = settings.load()
    state = embedded_db.ensure_database(f"{db}_direct_state")
    ledger = Ledger(state)
    t = time.perf_counter()
    target = ObjectStoragePath((staging / "direct").as_uri())
    with psycopg.connect(dsn) as conn:
        manifest = pipeline.run_extract(conn, BENCH_DAY, target, chunk_rows=config.chunk_rows)
    agencies = pipeline.run_transform(manifest, target, config)
    for agency in agencies:
        pipeline.run_load(
            agency,
            hook_factory=lambda: BokbasenHook(endpoint=server.loans_url, client_id=airflow_env.DEMO_CLIENT_ID,
                                              client_secret=airflow_env.DEMO_CLIENT_SECRET,
                                              token_url=server.token_url, ledger_dsn=state),
            ledger=ledger,
        )
    pipeline.run_summary(BENCH_DAY, agencies, ledger)
    direct_seconds = time.perf_counter() - t
    server.stop()
    n = len(agencies)
    print(json.dumps({
        "loans": manifest.rows,
        "agencies": n,
        "dag_state": str(getattr(run, "state", "?")),
        "dag_seconds": dag_seconds,
        "direct_seconds": direct_seconds,
        "overhead_per_agency_seconds": (dag_seconds - direct_seconds) / max(n, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
