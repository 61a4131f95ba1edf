"""Micro-benchmark of the report builder: one synthetic 1 M-loan day, 10 chunks of 100 k.

    .venv/bin/python bench/builder_bench.py [--rows 1000000] [--chunks 10] [--agencies 50]

Builds the rows in memory (no database): 125 k manifestations (ISBN-13, hyphenated,
ISBN-10, ISMN, ISSN-EAN, a few invalid or missing), lent with a skewed popularity like
``dev.generator`` (``--uniform``: every manifestation equally likely, the worst
case for the per-ISBN validation), 17 material types, persons and organisations; then
times ``add_chunk`` over the chunks and ``finish``, and prints the payload sizes. Run it on
the target machine after changing the builder.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from library_integrations.common.oslo_time import oslo_day_window  # noqa: E402
from library_integrations.common.reference_data import ReferenceData  # noqa: E402
from library_integrations.library_system.contracts import LOAN_ROW_SCHEMA, AgencySettings  # noqa: E402
from library_integrations.pipelines.loan_report.report.builder import ReportBuilder  # noqa: E402
from library_integrations.pipelines.loan_report.report.formats import load_material_formats  # noqa: E402

MATERIALS = [
    "BOOK", "BOOK", "BOOK", "BOOK", "BOOK", "BOOK", "LARGE_PRINT", "AUDIOBOOK_CD", "AUDIOBOOK_ONLINE",
    "AUDIOBOOK_DAISY", "EBOOK", "EBOOK", "SERIAL", "MUSICAL_SCORE", "DVD", "BLURAY", "VIDEO_GAME",
]  # fmt: skip


def _ean13(prefix: str, body: int, width: int) -> str:
    digits = prefix + str(body).zfill(width)
    check = (10 - sum((3 if i % 2 else 1) * int(d) for i, d in enumerate(digits))) % 10
    return digits + str(check)


def manifestations(n: int, rng: np.random.Generator) -> pa.Table:
    isbns, titles, authors, languages = [], [], [], []
    for i in range(n):
        kind = rng.integers(0, 100)
        if kind < 60:
            isbn = _ean13("97882", 1_000_000 + i, 7)
        elif kind < 75:
            e = _ean13("97882", 1_000_000 + i, 7)
            isbn = f"{e[:3]}-{e[3:5]}-{e[5:8]}-{e[8:12]}-{e[12]}"
        elif kind < 85:
            body = f"82{str(1_000_000 + i).zfill(7)}"
            check = sum((j + 1) * int(d) for j, d in enumerate(body)) % 11
            isbn = body + ("X" if check == 10 else str(check))
        elif kind < 90:
            isbn = _ean13("9790", 100_000 + i, 8)
        elif kind < 93:
            isbn = _ean13("977", 1_000_000 + i, 9)
        elif kind < 97:
            isbn = _ean13("97882", 1_000_000 + i, 7)[:-1] + "0"  # often a bad check digit
        else:
            isbn = None
        isbns.append(isbn)
        quote = '"' if i % 20 == 0 else ""  # a few titles need JSON escaping
        titles.append(f"Tittel nummer {i} – «Sult» og {quote}annet{quote}" if i % 7 else None)
        authors.append([f"Forfatter {i % 5000}, Ola", "Nordmann, Kari"][: 1 + i % 2] if i % 11 else None)
        languages.append(["nob", "NNO", "eng", " sme ", None, "xx"][i % 6])
    return pa.table(
        {
            "isbn": pa.array(isbns, pa.string()),
            "title": pa.array(titles, pa.string()),
            "authors": pa.array(authors, pa.list_(pa.string())),
            "language": pa.array(languages, pa.string()),
            "material_type_code": pa.array([MATERIALS[i % len(MATERIALS)] for i in range(n)], pa.string()),
        }
    )


def loans(
    rows: int, day: date, agencies: int, pool: pa.Table, rng: np.random.Generator, uniform: bool = False
) -> pa.Table:
    start, end = oslo_day_window(day)
    span_us = int((end - start) / timedelta(microseconds=1))
    start_us = int((start - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    if uniform:
        which = rng.integers(0, pool.num_rows, rows)
    else:  # popularity as in dev.generator: a long tail
        which = (rng.pareto(1.2, size=rows) * pool.num_rows / 20).astype(np.int64) % pool.num_rows
    picked = pool.take(pa.array(which))
    kinds = np.array(["PERSON"] * 18 + ["ORGANISATION", "LIBRARY"])
    genders = np.array(["M", "F", "K", "X", None, "m "], dtype=object)
    return pa.table(
        {
            "loan_id": pa.array(np.arange(10_000_000, 10_000_000 + rows, dtype=np.int64)),
            "agency_id": pa.array(rng.integers(1, agencies + 1, rows).astype(np.int64)),
            "loaned_at": pa.array(start_us + rng.integers(0, span_us, rows), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "isbn": picked["isbn"],
            "title": picked["title"],
            "authors": picked["authors"],
            "language": picked["language"],
            "material_type_code": picked["material_type_code"],
            "patron_kind": pa.array(kinds[rng.integers(0, len(kinds), rows)]),
            "gender": pa.array(genders[rng.integers(0, len(genders), rows)], pa.string()),
            "age": pa.array(rng.integers(-2, 125, rows).astype(np.int32)),
        },
        schema=LOAN_ROW_SCHEMA,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunks", type=int, default=10)
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--manifestations", type=int, default=125_000)
    parser.add_argument("--uniform", action="store_true", help="uniform popularity (most distinct ISBNs)")
    parser.add_argument("--memory", action="store_true", help="trace peak Python+Arrow allocations (slower)")
    args = parser.parse_args()
    rng = np.random.default_rng(20261120)
    day = date(2026, 11, 20)

    t0 = time.perf_counter()
    table = loans(args.rows, day, args.agencies, manifestations(args.manifestations, rng), rng, args.uniform)
    distinct = len(pa.compute.unique(table["isbn"]))
    print(
        f"synthetic rows: {table.num_rows:,} ({distinct:,} distinct ISBN values) "
        f"in {time.perf_counter() - t0:.1f} s ({table.nbytes / 1e6:.0f} MB)"
    )

    agencies = [
        AgencySettings(
            i, f"NO-{2000000 + i}", f"Agency {i}", True, f"Bibliotek {i}", "Folkebibliotek", None, None, None
        )
        for i in range(1, args.agencies + 1)
    ]
    chunk = -(-table.num_rows // args.chunks)
    if args.memory:
        tracemalloc.start()
    pool = pa.default_memory_pool()
    t0 = time.perf_counter()
    builder = ReportBuilder(
        day,
        agencies,
        formats=load_material_formats(),
        reference=ReferenceData.unavailable("benchmark"),
        installation_namespace="bench",
    )
    for offset in range(0, table.num_rows, chunk):
        builder.add_chunk(table.slice(offset, chunk))
    t1 = time.perf_counter()
    results = builder.finish()
    t2 = time.perf_counter()
    reported = sum(r.loan_count for r in results)
    size = sum(len(r.payload or b"") for r in results)
    print(f"add_chunk x{args.chunks}: {t1 - t0:.2f} s; finish: {t2 - t1:.2f} s; total {t2 - t0:.2f} s")
    print(f"reported {reported:,} of {table.num_rows:,} loans; payload bytes {size / 1e6:.0f} MB")
    print(f"arrow pool peak {pool.max_memory() / 1e6:.0f} MB")
    if args.memory:
        print(f"python peak {tracemalloc.get_traced_memory()[1] / 1e6:.0f} MB")
    excluded: dict[str, int] = {}
    for r in results:
        for k, v in r.quality.excluded.items():
            excluded[k] = excluded.get(k, 0) + v
    print("excluded:", dict(sorted(excluded.items())))


if __name__ == "__main__":
    main()
