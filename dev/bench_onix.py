"""``make bench-onix``: the metadata sync's ONIX parse + upsert throughput and memory.

In one run on one machine:

* writes two ONIX 3.0 feeds (reference tags, as the fake Export Service writes them) to
  files: ``--products`` (default 200,000) and a quarter of it, with Bokbasen-like products
  (contributors, titles, audience, dates), 2 % malformed products and 2 % deletes;
* **baseline**: ``lxml.etree.iterparse`` alone over the same file, each ``Product`` cleared
  and dropped as it ends: the rate at which the XML can be read at all;
* **parse**: our streaming parser (``clients.bokbasen.onix.iter_products``) building the
  typed records, malformed products named;
* **parse + upsert**: what the sync does with each page: the parsed products upserted by
  EAN into ``pipeline_state.bokbasen_metadata`` of the embedded PostgreSQL, 1000 per page
  (the service's page size), each page with its cursor in one transaction.

Every step runs in a fresh subprocess, so its peak RSS is its own; throughput is the median
of ``--rounds`` rounds on the large feed, with the steps alternating. The small feed's
steps run once, for memory: flat as the feed grows means the parser streams. Figures are
printed as a table (products per second, and each step as a ratio to the baseline of the
same run) and written as JSON to ``bench-results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from dev import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "bench-results"
STATE_DB = "bench_onix_state"
PAGE = 1000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ean13(body12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


# ----------------------------------------------------------------------------- steps
def step_write(path: str, products: int, seed: int) -> dict:
    """Stream an ONIX message of ``products`` products to ``path`` (never all in memory)."""
    from dataclasses import replace

    from dev.fakes.bokbasen_export import (
        MALFORMED_KINDS,
        ONIX_NAMESPACE,
        ChangeEvent,
        _describe,
        _product_xml,
    )

    rng = random.Random(seed)
    at = datetime.now(UTC)
    t0 = time.perf_counter()
    with open(path, "w", encoding="utf-8") as out:
        out.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<ONIXMessage release="3.0" xmlns="{ONIX_NAMESPACE}">'
                  "<Header><Sender><SenderName>Bokbasen AS</SenderName></Sender></Header>\n")
        for i in range(products):
            if i >= 100 and i % 50 == 7:  # a delete of an earlier product
                product, notification = _describe(rng, _ean13(f"978{rng.randrange(i):09d}")), "05"
            else:
                product, notification = _describe(rng, _ean13(f"978{i:09d}")), "03"
                if i % 50 == 23:
                    product = replace(product, malformed=MALFORMED_KINDS[i % len(MALFORMED_KINDS)])
            out.write(_product_xml(ChangeEvent(i + 1, at, product, notification)))
            out.write("\n")
        out.write("</ONIXMessage>\n")
    return {"seconds": time.perf_counter() - t0, "bytes": os.path.getsize(path), "products": products}


def step_baseline(path: str) -> dict:
    """iterparse alone: each Product cleared and dropped when it ends, nothing else."""
    from lxml import etree

    tag = "{http://ns.editeur.org/onix/3.0/reference}Product"
    t0 = time.perf_counter()
    n = 0
    for _, element in etree.iterparse(path, events=("end",), tag=tag, resolve_entities=False, no_network=True):
        n += 1
        element.clear(keep_tail=False)
        parent = element.getparent()
        while element.getprevious() is not None:
            del parent[0]
    return {"seconds": time.perf_counter() - t0, "products": n, "peak_rss_mb": _peak_rss_mb()}


def step_parse(path: str) -> dict:
    """Our parser: typed records, malformed products named."""
    from library_integrations.clients.bokbasen import onix

    t0 = time.perf_counter()
    n = malformed = 0
    for item in onix.iter_products(path):
        n += 1
        malformed += isinstance(item, onix.MalformedProduct)
    return {"seconds": time.perf_counter() - t0, "products": n, "malformed": malformed, "peak_rss_mb": _peak_rss_mb()}


def step_parse_upsert(path: str) -> dict:
    """Parse and upsert, a page of 1000 products and its cursor per transaction, as the sync does."""
    import psycopg

    from dev import embedded_db
    from library_integrations.clients.bokbasen import onix
    from library_integrations.state import cursors, metadata
    from library_integrations.state.migrations import migrate

    dsn = embedded_db.ensure_database(STATE_DB)
    migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE pipeline_state.bokbasen_metadata")
        conn.execute("DELETE FROM pipeline_state.cursor WHERE pipeline = %s", (metadata.PIPELINE,))
        t0 = time.perf_counter()
        counts = metadata.UpsertCounts()
        n = malformed = pages = 0
        current = None
        page: list = []

        def commit(page_products: list) -> None:
            nonlocal current, pages
            pages += 1
            cursor = f"bench-cursor-{pages}"
            with conn.transaction():
                counts.add(metadata.upsert_products(conn, page_products))
                cursors.set(conn, metadata.PIPELINE, "bench", cursor, expected=current)
            current = cursor

        for item in onix.iter_products(path):
            n += 1
            if isinstance(item, onix.MalformedProduct):
                malformed += 1
            else:
                page.append(item)
            if n % PAGE == 0:
                commit(page)
                page = []
        if page or n % PAGE:
            commit(page)
        seconds = time.perf_counter() - t0
        records = metadata.table_counts(conn)
    return {"seconds": seconds, "products": n, "malformed": malformed, "pages": pages, "new": counts.new,
            "updated": counts.updated, "deleted": counts.deleted, "records": records.records,
            "peak_rss_mb": _peak_rss_mb()}


STEPS = {"write": step_write, "baseline": step_baseline, "parse": step_parse, "parse_upsert": step_parse_upsert}


def _run_step(name: str, **kwargs) -> dict:
    cmd = [sys.executable, "-m", "dev.bench_onix", "--step", name, "--step-args", json.dumps(kwargs)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict]) -> dict:
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["rounds"] = [round(r["seconds"], 3) for r in runs]
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.bench_onix", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=200_000, help="products in the large feed (default 200000)")
    parser.add_argument("--small", type=int, default=0, help="products in the small feed (default a quarter)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on the large feed (median; default 3)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--step-args", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(STEPS[args.step](**json.loads(args.step_args or "{}"))))
        return 0

    small = args.small or max(1000, args.products // 4)
    results: dict = {"products": args.products, "small_products": small, "page_size": PAGE,
                     "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()}}
    with tempfile.TemporaryDirectory(prefix="bench-onix-") as tmp:
        feeds = {}
        for label, n in (("large", args.products), ("small", small)):
            path = str(Path(tmp) / f"feed-{n}.xml")
            written = _run_step("write", path=path, products=n, seed=11)
            feeds[label] = path
            results[f"{label}_feed_mb"] = round(written["bytes"] / 1e6, 1)
            print(f"wrote {n:,} products ({written['bytes'] / 1e6:.1f} MB) in {written['seconds']:.1f} s", flush=True)
        runs: dict[str, list[dict]] = {name: [] for name in ("baseline", "parse", "parse_upsert")}
        for round_number in range(args.rounds):
            order = list(runs) if round_number % 2 == 0 else list(reversed(runs))
            for name in order:
                runs[name].append(_run_step(name, path=feeds["large"]))
                print(f"round {round_number + 1} {name}: {runs[name][-1]['seconds']:.2f} s", flush=True)
        large = {name: _median(r) for name, r in runs.items()}
        small_runs = {name: _run_step(name, path=feeds["small"]) for name in runs}
    base = large["baseline"]["seconds"]
    rows = []
    for name, label in (("baseline", "iterparse alone (baseline)"), ("parse", "parse into typed records"),
                        ("parse_upsert", "parse + upsert (1000/page, cursor per page)")):
        r = large[name]
        rows.append({
            "step": label,
            "products/s": f"{r['products'] / r['seconds']:,.0f}",
            "seconds": f"{r['seconds']:.2f}",
            "x baseline": f"{r['seconds'] / base:.2f}",
            f"peak RSS MB ({small:,})": f"{small_runs[name]['peak_rss_mb']:.0f}",
            f"peak RSS MB ({args.products:,})": f"{r['peak_rss_mb']:.0f}",
        })
        results[name] = {"large": r, "small": small_runs[name],
                         "products_per_second": round(r["products"] / r["seconds"]),
                         "ratio_to_baseline": round(r["seconds"] / base, 2)}
    from library_integrations.common.tables import format_table

    print()
    print(format_table(rows))
    upsert = large["parse_upsert"]
    print(f"\n{upsert['products']:,} products: {upsert['malformed']:,} malformed (named, skipped), "
          f"{upsert['new']:,} new, {upsert['updated']:,} updated, {upsert['deleted']:,} deleted, "
          f"{upsert['pages']} pages; {upsert['records']:,} records stored. "
          f"Load average during the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs.")
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"onix-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"Results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
