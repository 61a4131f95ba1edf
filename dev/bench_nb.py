"""``make bench-nb``: the NB month's aggregate + file step against a plain GROUP BY, at full scale.

In one run on one machine:

* **generate**: a library system of 300 libraries (the base generator: a long tail of library
  sizes, ~150,000 materials, ~240,000 patrons, plus its day of loans in February) and the NB
  additions, every library consenting; then a month (March 2026, the spring DST switch) of
  ``--loans`` loans (default 10,000,000) made **inside the database** with ``INSERT ... SELECT``
  over ``generate_series`` (hash-based, deterministic), not row by row from Python;
* **baseline**: ``COPY (SELECT agency_id, manifestation_id, count(*) ... GROUP BY 1, 2) TO STDOUT``
  of the month's loans, discarded: what a plain aggregation by library and manifestation costs
  (with the same ``work_mem``, 256MB, as our step's transaction);
* **aggregate + file**: our real step (``steps.run_select`` + ``steps.run_aggregate``): the
  category mapping, the ISBN normalisation per distinct value, the grouped rows, the sorted
  CSV written to the staging directory with its sha256;
* **check**: our ``steps.run_check`` (reading the file back and recounting per library).

Each measured step runs in a fresh subprocess, so its peak RSS (``ru_maxrss``) is its own (the
PostgreSQL server's memory is not in it). Baseline and step alternate over ``--rounds`` rounds;
the table shows the medians and the ratio to the baseline; JSON goes to ``bench-results/``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from dev import PROJECT_ROOT

MONTH = date(2026, 3, 1)
RESULTS_DIR = PROJECT_ROOT / "bench-results"
DATABASE = "bench_nb"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dsn() -> str:
    from dev import embedded_db

    return embedded_db.ensure_database(DATABASE)


# ----------------------------------------------------------------------------- steps
def step_generate(loans: int, agencies: int) -> dict:
    import psycopg

    from dev import generator, generator_nb
    from dev import lms_schema as schema
    from library_integrations.pipelines.nb_statistics.steps import month_window

    dsn = _dsn()
    schema.create_reference_schema(dsn)
    t = time.perf_counter()
    generator.generate(dsn, agencies=agencies, days=1, loans_per_day=1_200_000, start_date=date(2026, 2, 10),
                       failing_agencies=False)
    generator_nb.fill(dsn, seed=42)
    base_seconds = time.perf_counter() - t
    start, end = month_window(MONTH)
    t = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO lms.nb_statistics_consent (agency_id, delivery_consent, publication_consent, "
                     "decided_at, decided_by) SELECT id, true, true, '2026-01-05', 'bench' FROM lms.agency "
                     "ON CONFLICT (agency_id) DO UPDATE SET delivery_consent = true, publication_consent = true")
        (first_id,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM lms.loan").fetchone()
        (n_items,) = conn.execute("SELECT count(*) FROM lms.item").fetchone()
        (n_patrons,) = conn.execute("SELECT count(*) FROM lms.patron").fetchone()
        conn.execute("DROP INDEX IF EXISTS lms.loan_loaned_at_agency_idx")
        conn.execute("SET session_replication_role = replica")  # no per-row FK triggers while loading
        span = int((end - start).total_seconds())
        chunk = 1_000_000
        for lo in range(0, loans, chunk):
            n = min(chunk, loans - lo)
            # Opening hours in Oslo: seconds into the month, weighted towards the day by folding the
            # night onto it; deterministic (hashes of the row number, no random()).
            conn.execute(
                """INSERT INTO lms.loan (id, item_id, patron_id, agency_id, loaned_at)
                   SELECT %(first)s + g, i.id, 1 + abs(hashint8(g * 31 + 7)) %% %(patrons)s, i.agency_id,
                          %(start)s::timestamptz + make_interval(secs => abs(hashint8(g * 7919 + 3)) %% %(span)s)
                   FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
                   JOIN lms.item i ON i.id = 1 + abs(hashint8(g)) %% %(items)s""",
                {"first": first_id, "patrons": n_patrons, "start": start, "span": span, "lo": lo, "hi": lo + n - 1,
                 "items": n_items})
            print(f"  {lo + n:,} of {loans:,} loans inserted ({time.perf_counter() - t:.0f} s)", flush=True)
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute("CREATE INDEX loan_loaned_at_agency_idx ON lms.loan (loaned_at, agency_id)")
        conn.execute("VACUUM ANALYZE lms.loan")
        (in_month,) = conn.execute("SELECT count(*) FROM lms.loan WHERE loaned_at >= %s AND loaned_at < %s",
                                   (start, end)).fetchone()
    return {"base_seconds": base_seconds, "loans_seconds": time.perf_counter() - t, "loans_in_month": in_month,
            "agencies": agencies, "items": n_items, "patrons": n_patrons}


def step_baseline() -> dict:
    import psycopg

    from library_integrations.pipelines.nb_statistics.steps import month_window

    start, end = month_window(MONTH)
    query = ("SELECT l.agency_id, i.manifestation_id, count(*) FROM lms.loan l JOIN lms.item i ON i.id = l.item_id "
             "WHERE l.loaned_at >= %(start)s AND l.loaned_at < %(end)s GROUP BY 1, 2")
    with psycopg.connect(_dsn()) as conn:
        conn.execute("SET work_mem = '256MB'")  # as our step's transaction gets (NB_STATISTICS_WORK_MEM)
        t = time.perf_counter()
        rows = 0
        with conn.cursor() as cur:
            with cur.copy(f"COPY ({query}) TO STDOUT", {"start": start, "end": end}) as copy:  # noqa: S608
                for block in copy:
                    rows += bytes(block).count(b"\n")
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def step_aggregate(out_dir: str) -> dict:
    import logging

    import psycopg
    from airflow.sdk import ObjectStoragePath

    from library_integrations.pipelines.nb_statistics import steps
    from library_integrations.pipelines.nb_statistics.config import load_categories, load_file_format

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("library_integrations").setLevel(logging.WARNING)  # the step's tables: not here
    fmt, categories = load_file_format(), load_categories()
    with psycopg.connect(_dsn()) as conn:
        t = time.perf_counter()
        selection = steps.run_select(conn, MONTH)
        staged = steps.run_aggregate(conn, selection, ObjectStoragePath(Path(out_dir).as_uri()), fmt, categories,
                                     "Bench")
        seconds = time.perf_counter() - t
        t = time.perf_counter()
        steps.run_check(conn, staged, fmt)
        check_seconds = time.perf_counter() - t
    return {"seconds": seconds, "check_seconds": check_seconds, "rows": staged.rows, "loans": staged.loans,
            "without_isbn": staged.without_isbn, "bytes": staged.csv_bytes, "libraries": len(staged.libraries),
            "unmapped_codes": len(staged.unmapped_categories), "sha256": staged.csv_sha256,
            "peak_rss_mb": _peak_rss_mb()}


STEPS = {"generate": step_generate, "baseline": step_baseline, "aggregate": step_aggregate}


def _run_step(name: str, *args) -> dict:
    """Run a step in a fresh interpreter; return its JSON result."""
    cmd = [sys.executable, "-m", "dev.bench_nb", "--step", name, *map(str, args)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=PROJECT_ROOT)
    for line in out.stdout.splitlines():
        if not line.startswith("RESULT "):
            print(line, flush=True)
    return json.loads(next(line for line in reversed(out.stdout.splitlines()) if line.startswith("RESULT "))[7:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="NB statistics benchmark (make bench-nb)")
    parser.add_argument("--loans", type=int, default=10_000_000)
    parser.add_argument("--agencies", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data of the last run")
    parser.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        typed = [int(a) if a.isdigit() else a for a in args.args]
        print("RESULT " + json.dumps(STEPS[args.step](*typed)), flush=True)
        return 0

    started = datetime.now(UTC)
    generated = None
    if not args.skip_generate:
        print(f"Generating 300 libraries and {args.loans:,} loans in {MONTH:%Y-%m} in database '{DATABASE}' ...",
              flush=True)
        generated = _run_step("generate", args.loans, args.agencies)
        print(f"  generated in {generated['base_seconds']:.0f} s (library system) + "
              f"{generated['loans_seconds']:.0f} s ({generated['loans_in_month']:,} loans in the month)", flush=True)
    baseline, ours = [], []
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp:
        for i in range(args.rounds):
            print(f"Round {i + 1}/{args.rounds}: baseline ...", flush=True)
            baseline.append(_run_step("baseline"))
            print(f"Round {i + 1}/{args.rounds}: aggregate + file ...", flush=True)
            ours.append(_run_step("aggregate", f"{tmp}/round{i}"))
    b = statistics.median(r["seconds"] for r in baseline)
    o = statistics.median(r["seconds"] for r in ours)
    c = statistics.median(r["check_seconds"] for r in ours)
    last = ours[-1]
    same_bytes = len({r["sha256"] for r in ours}) == 1
    print()
    print(f"NB statistics benchmark: {last['loans']:,} loans of {last['libraries']} libraries in {MONTH:%Y-%m} "
          f"-> {last['rows']:,} rows ({last['bytes'] / 1e6:.0f} MB CSV), {last['without_isbn']:,} uten_isbn; "
          f"medians of {args.rounds} round(s)")
    print(f"{'step':<34}{'seconds':>9}{'x baseline':>12}{'loans/s':>12}{'peak RSS MB':>13}")
    print(f"{'baseline: GROUP BY library, mat.':<34}{b:>9.1f}{1:>12.2f}{last['loans'] / b:>12,.0f}"
          f"{max(r['peak_rss_mb'] for r in baseline):>13.0f}")
    print(f"{'aggregate + file (our step)':<34}{o:>9.1f}{o / b:>12.2f}{last['loans'] / o:>12,.0f}"
          f"{max(r['peak_rss_mb'] for r in ours):>13.0f}")
    print(f"{'check (read back + recount)':<34}{c:>9.1f}{c / b:>12.2f}")
    print(f"Same bytes in every round: {same_bytes} (sha256 {last['sha256'][:16]})")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"nb-{started:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"generated": generated, "baseline": baseline, "aggregate": ours,
                               "median_seconds": {"baseline": b, "aggregate": o, "check": c},
                               "ratio": o / b}, indent=2))
    print(f"Results: {out}")
    return 0 if same_bytes else 1


if __name__ == "__main__":
    raise SystemExit(main())
