"""``make bench``: throughput and memory of a nightly run against the database's own limit.

In one run on one machine:

* generates a large day in the embedded PostgreSQL (default 1,000,000 loans over 300
  agencies) and a tenth of it, to show how memory grows with the day;
* **baseline**: ``COPY (the extract query) TO STDOUT`` in binary, discarded: the rate at
  which PostgreSQL can hand out exactly the rows we need;
* **extract + transform + stage**: our real code (``pipeline.run_extract`` and
  ``pipeline.run_transform``) writing Parquet parts and per-agency report files;
* **load**: every agency's report POSTed to the local fake Bokbasen through the real hook
  and ledger (the fake server runs in its own process);
* **Airflow overhead**: the real DAG with ``dag.test()`` on a smaller day, compared with
  the same steps called directly.

Every step runs in a fresh subprocess, so its peak RSS is its own. Figures are printed as a
table (throughput in loans per second, and each step as a ratio to the COPY baseline of
the same run) and written as JSON to ``bench-results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from dev import PROJECT_ROOT

BENCH_DAY = date(2026, 3, 10)
RESULTS_DIR = PROJECT_ROOT / "bench-results"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dsn(database: str) -> str:
    from dev import embedded_db

    return embedded_db.database_dsn(database)


def _agency_ids(conn) -> list[int]:
    from library_integrations.library_system import loans as extract

    return [a.agency_id for a in extract.read_agencies(conn) if a.enabled]


# ----------------------------------------------------------------------------- steps
def step_generate(database: str, loans: int, agencies: int) -> dict:
    from dev import embedded_db, generator
    from dev import lms_schema as schema

    dsn = embedded_db.ensure_database(database)
    schema.create_reference_schema(dsn)
    t = time.perf_counter()
    generator.generate(dsn, agencies=agencies, days=1, loans_per_day=loans, start_date=BENCH_DAY,
                       failing_agencies=False)
    return {"seconds": time.perf_counter() - t}


def step_copy(database: str) -> dict:
    import psycopg

    from library_integrations.common.oslo_time import oslo_day_window
    from library_integrations.library_system import loans as extract

    start, end = oslo_day_window(BENCH_DAY)
    with psycopg.connect(_dsn(database)) as conn:
        ids = _agency_ids(conn)
        query = extract.EXTRACT_SQL["loans"].rstrip().rstrip(";")
        t = time.perf_counter()
        n_bytes = 0
        with conn.cursor() as cur:
            with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)",  # noqa: S608 - our own SQL file
                          {"start_utc": start, "end_utc": end, "agency_ids": ids}) as copy:
                for block in copy:
                    n_bytes += len(block)
        seconds = time.perf_counter() - t
        (rows,) = conn.execute(
            "SELECT count(*) FROM lms.loan WHERE loaned_at >= %s AND loaned_at < %s AND agency_id = ANY(%s)",
            (start, end, ids),
        ).fetchone()
    return {"seconds": seconds, "rows": rows, "bytes": n_bytes}


def step_ours(database: str, staging: str) -> dict:
    import psycopg
    from airflow.sdk import ObjectStoragePath

    from library_integrations.common import settings
    from library_integrations.pipelines.loan_report import steps as pipeline

    config = settings.load()
    target = ObjectStoragePath(staging)
    with psycopg.connect(_dsn(database)) as conn:
        t = time.perf_counter()
        manifest = pipeline.run_extract(conn, BENCH_DAY, target, chunk_rows=config.chunk_rows)
        t_extract = time.perf_counter() - t
    rss_extract = _peak_rss_mb()
    t2 = time.perf_counter()
    agencies = pipeline.run_transform(manifest, target, config)
    t_transform = time.perf_counter() - t2
    return {
        "seconds": time.perf_counter() - t,
        "extract_seconds": t_extract,
        "transform_seconds": t_transform,
        "rows": manifest.rows,
        "reported": sum(a.reported for a in agencies),
        "agencies": len(agencies),
        "rss_after_extract_mb": rss_extract,
        "manifest_file": _write_manifest(agencies),
    }


def _write_manifest(agencies) -> str:
    path = Path(tempfile.gettempdir()) / f"bench-agencies-{os.getpid()}.json"
    path.write_text(json.dumps([a.to_xcom() for a in agencies]))
    return str(path)


def step_load(manifest_file: str, fake_url: str, state_db: str) -> dict:
    from dev import embedded_db
    from library_integrations.clients.bokbasen.loans import BokbasenHook
    from library_integrations.pipelines.loan_report import steps as pipeline
    from library_integrations.pipelines.loan_report.payloads import AgencyReport
    from library_integrations.state.ledger import Ledger

    agencies = [a for a in map(AgencyReport.from_xcom, json.loads(Path(manifest_file).read_text())) if not a.error]
    embedded_db.drop_database(state_db)  # an empty ledger: every report is really sent
    state_dsn = embedded_db.ensure_database(state_db)
    ledger = Ledger(state_dsn)
    from dev.airflow_env import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    def hook():
        return BokbasenHook(
            endpoint=f"{fake_url}/reporting/v1/library-loans",
            client_id=DEMO_CLIENT_ID,
            client_secret=DEMO_CLIENT_SECRET,
            token_url=f"{fake_url}/oauth/token",
            ledger_dsn=state_dsn,
        )

    t = time.perf_counter()
    loans = 0
    for agency in agencies:
        result = pipeline.run_load(agency, hook_factory=hook, ledger=ledger)
        loans += result.loan_count
    return {"seconds": time.perf_counter() - t, "rows": loans, "agencies": len(agencies)}


STEPS = {"generate": step_generate, "copy": step_copy, "ours": step_ours, "load": step_load}


def _median(runs: list[dict]) -> dict:
    """The run with the median time (its other figures kept together); peak RSS is the maximum."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return chosen


def _run_step(name: str, **kwargs) -> dict:
    cmd = [sys.executable, "-m", "dev.bench", "--step", name, "--step-args", json.dumps(kwargs)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _step_main(name: str, kwargs: dict) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    result = STEPS[name](**kwargs)
    result["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(result))


# ----------------------------------------------------------------------------- driver
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--agencies", type=int, default=300)
    parser.add_argument("--small-loans", type=int, default=None, help="the smaller day (default loans/10)")
    parser.add_argument("--dag-loans", type=int, default=20_000, help="loans of the dag.test() day")
    parser.add_argument("--dag-agencies", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of baseline and ours; medians are shown")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the databases of the last run")
    parser.add_argument("--skip-dag", action="store_true")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--step-args", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        _step_main(args.step, json.loads(args.step_args))
        return 0

    from dev.airflow_env import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET

    small = args.small_loans or max(1, args.loans // 10)
    t_all = time.perf_counter()
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                     "loans": args.loans, "agencies": args.agencies, "sizes": {}}

    fake = subprocess.Popen(
        [sys.executable, "-m", "dev.fakes.bokbasen", "--port", "0", "--client-id", DEMO_CLIENT_ID,
         "--client-secret", DEMO_CLIENT_SECRET, "--quiet"],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    fake_url = ""
    while not fake_url:
        line = fake.stdout.readline()
        if not line:
            raise RuntimeError("the fake Bokbasen did not start")
        if line.startswith("BASE_URL="):
            fake_url = line.strip().split("=", 1)[1]
    try:
        for label, loans in (("small", small), ("large", args.loans)):
            db = f"bench_{loans}"
            size: dict = {"loans_generated": loans}
            if not args.skip_generate:
                print(f"generating {loans:,} loans over {args.agencies} agencies in database {db} ...", flush=True)
                size["generate"] = _run_step("generate", database=db, loans=loans, agencies=args.agencies)
            # Warm the database's cache once, then alternate baseline and ours; keep medians,
            # so neither side profits from running second on a busy 2-core machine.
            _run_step("copy", database=db)
            copies, ours = [], []
            # One staging directory for every round: each round replaces the previous one's
            # parts and writes the same report files, which the load step then sends.
            with tempfile.TemporaryDirectory(prefix="bench-staging-") as staging:
                for i in range(args.repeat):
                    print(f"[{label}] round {i + 1}/{args.repeat}: COPY baseline, then extract + transform + stage",
                          flush=True)
                    copies.append(_run_step("copy", database=db))
                    ours.append(_run_step("ours", database=db, staging=Path(staging).as_uri()))
                print(f"[{label}] load into the fake Bokbasen ...", flush=True)
                size["load"] = _run_step("load", manifest_file=ours[-1]["manifest_file"], fake_url=fake_url,
                                         state_db=f"{db}_state")
            size["copy"] = _median(copies)
            size["ours"] = _median(ours)
            size["copy_runs"] = [c["seconds"] for c in copies]
            size["ours_runs"] = [o["seconds"] for o in ours]
            results["sizes"][label] = size
        if not args.skip_dag:
            print(f"dag.test() on {args.dag_loans:,} loans over {args.dag_agencies} agencies ...", flush=True)
            results["dag"] = _dag_overhead(args.dag_loans, args.dag_agencies)
    finally:
        fake.terminate()
    results["wall_seconds"] = time.perf_counter() - t_all
    _report(results)
    return 0


def _dag_overhead(loans: int, agencies: int) -> dict:
    """Run the real DAG for one day with dag.test() in a subprocess, and the same steps directly."""
    cmd = [sys.executable, "-m", "dev.bench_dag", "--loans", str(loans), "--agencies", str(agencies)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(results: dict) -> None:
    lines = []
    header = f"{'size':<6} {'step':<28} {'loans':>10} {'seconds':>8} {'loans/s':>10} {'x COPY':>7} {'peak RSS MB':>11}"
    lines.append(header)
    lines.append("-" * len(header))
    for label, size in results["sizes"].items():
        copy = size["copy"]
        copy_rate = copy["rows"] / copy["seconds"]
        size["ratios"] = {}
        for key, title in (("copy", "COPY binary (baseline)"), ("ours", "extract+transform+stage"),
                           ("load", "load (fake Bokbasen)")):
            step = size[key]
            rate = step["rows"] / step["seconds"] if step["seconds"] else 0
            ratio = rate / copy_rate
            size["ratios"][key] = ratio
            lines.append(f"{label:<6} {title:<28} {step['rows']:>10,} {step['seconds']:>8.2f} {rate:>10,.0f} "
                         f"{ratio:>7.2f} {step['peak_rss_mb']:>11.0f}")
        ours = size["ours"]
        lines.append(f"{'':<6} {'  of which extract+stage':<28} {'':>10} {ours['extract_seconds']:>8.2f}")
        lines.append(f"{'':<6} {'  of which transform':<28} {'':>10} {ours['transform_seconds']:>8.2f}")
    if len(results["sizes"]) == 2:
        small, large = results["sizes"]["small"], results["sizes"]["large"]
        growth = large["ours"]["peak_rss_mb"] / small["ours"]["peak_rss_mb"]
        results["rss_growth_small_to_large"] = growth
        lines.append(f"peak RSS of extract+transform+stage grows {growth:.2f}x from "
                     f"{small['ours']['rows']:,} to {large['ours']['rows']:,} loans")
    if "dag" in results:
        d = results["dag"]
        lines.append(f"dag.test(): {d['dag_seconds']:.1f} s for {d['agencies']} agencies, {d['loans']:,} loans; "
                     f"same steps called directly {d['direct_seconds']:.1f} s; Airflow overhead "
                     f"{d['overhead_per_agency_seconds']:.2f} s per agency")
    for label, size in results["sizes"].items():
        lines.append(f"{label}: COPY runs {', '.join(f'{x:.2f}' for x in size['copy_runs'])} s; "
                     f"ours {', '.join(f'{x:.2f}' for x in size['ours_runs'])} s (medians above)")
    lines.append(f"benchmark wall time {results['wall_seconds']:.0f} s")
    text = "\n".join(lines)
    print()
    print(text)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS_DIR / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS_DIR / "latest.txt").write_text(text + "\n")
    print(f"\nfigures written to {RESULTS_DIR / f'bench-{stamp}.json'}")


if __name__ == "__main__":
    sys.exit(main())
