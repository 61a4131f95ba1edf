"""The demo's Bokbasen metadata step: a fake Export Service fed with the catalogue's ISBNs, one sync.

``make demo`` calls :func:`run` before the loan report days, so the reports it sends carry
Bokbasen's titles, authors and languages where the synthetic catalogue lacks them:

1. start the fake Export Service (:mod:`dev.fakes.bokbasen_export`) with a feed built from
   the library system's ISBNs (Bokbasen's titles for books the catalogue has none for, a
   few deletes and malformed products);
2. run the real DAG ``bokbasen_metadata_sync`` once with ``dag.test()`` (first run: no
   cursor, so it starts from ``after`` and says so);
3. print what it did and how many of the catalogue's gaps Bokbasen can fill.

The connection ``bokbasen_export`` points at the fake while the demo runs; the state
database is the demo's (``loan_reporting``).
"""

from __future__ import annotations

import json
import os

import psycopg

from dev.fakes.bokbasen_export import DEFAULT_PORT, FakeBokbasenExport, products_from_lms

CONN_ENV = "AIRFLOW_CONN_BOKBASEN_EXPORT"


def connection_json(base_url: str = f"http://127.0.0.1:{DEFAULT_PORT}") -> str:
    """The demo connection ``bokbasen_export`` (the fake on its default port unless told otherwise)."""
    from dev.airflow_env import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from dev.fakes.bokbasen_export import DEFAULT_EXPORT_PATH, DEFAULT_TOKEN_PATH

    return json.dumps({
        "conn_type": "http",
        "host": base_url + DEFAULT_EXPORT_PATH,
        "login": DEMO_CLIENT_ID,
        "password": DEMO_CLIENT_SECRET,
        "extra": {"token_url": base_url + DEFAULT_TOKEN_PATH, "subscription": "extended", "pagesize": 1000},
    })


def _catalogue_gaps(library_dsn: str, eans: set[str]) -> tuple[int, int]:
    """(manifestations with a valid ISBN but no title, how many of them Bokbasen knows)."""
    from stdnum import isbn as stdnum_isbn

    with psycopg.connect(library_dsn) as conn:
        rows = conn.execute("SELECT isbn FROM lms.manifestation WHERE isbn IS NOT NULL "
                            "AND (title IS NULL OR btrim(title) = '')").fetchall()
    untitled = known = 0
    for (isbn,) in rows:
        compact = "".join(ch for ch in isbn if ch.isalnum()).upper()
        if stdnum_isbn.is_valid(compact):
            untitled += 1
            known += stdnum_isbn.compact(stdnum_isbn.to_isbn13(compact)) in eans
    return untitled, known


def run(library_dsn: str, *, verbose: bool = False) -> str:
    """Sync Bokbasen's metadata for ``library_dsn``'s catalogue once; return the run's state.

    Expects the demo's Airflow environment to be set (``airflow_env.airflow_environment``).
    """
    from dev.dag_runs import load_dag

    products = products_from_lms(library_dsn)
    fake = FakeBokbasenExport(products=products, port=0, verbose=verbose).start()
    previous = os.environ.get(CONN_ENV)
    os.environ[CONN_ENV] = connection_json(fake.base_url)
    try:
        print(f"Fake Bokbasen Export Service on {fake.base_url}: {len(fake.events())} ONIX changes for "
              f"{len(products)} of the catalogue's books; running bokbasen_metadata_sync ...", flush=True)
        dagrun = load_dag("bokbasen_metadata_sync").test()
        state = str(getattr(dagrun.state, "value", dagrun.state))
        stats = fake.stats()
    finally:
        fake.stop()
        if previous is None:
            os.environ.pop(CONN_ENV, None)
        else:
            os.environ[CONN_ENV] = previous
    from library_integrations.state.connection import dsn_from_connection
    from library_integrations.state.metadata import table_counts

    with psycopg.connect(dsn_from_connection()) as conn:
        table = table_counts(conn)
    untitled, known = _catalogue_gaps(library_dsn, {p.ean for p in products})
    malformed = sum(1 for e in fake.events() if e.product.malformed)
    print(f"bokbasen_metadata_sync: run {state}, {stats['export_requests']} page request(s), "
          f"{stats['served_products']} ONIX products ({malformed} malformed, skipped and named in the task log); "
          f"pipeline_state.bokbasen_metadata holds {table.records} records ({table.deleted} deleted): "
          + ", ".join(f"{k} {v}" for k, v in table.formats.items()), flush=True)
    print(f"The catalogue has {untitled} book(s) with an ISBN but no title; Bokbasen knows {known} of them: "
          "the loan reports below carry Bokbasen's titles for those (see 'enriched' in each day's quality.json)",
          flush=True)
    return state
