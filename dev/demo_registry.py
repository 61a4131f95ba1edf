"""The national patron registry sync in the demo: one night and the next morning against the fake registry.

:func:`run` expects what ``make demo`` (:func:`dev.demo.run`) has set up: a generated
library system in ``database`` and the Airflow environment (metadata database migrated).
It then

1. fills the registry tables (:func:`dev.generator_registry.generate_registry`): consenting
   and non-consenting patrons, local and national cards, a series near exhaustion, a queue
   with every status;
2. starts the fake registry (``dev.fakes.patron_registry``) with the registry's side: the
   population register and patrons already registered by another library;
3. runs ``patron_registry_export`` (the night), lets "another library" change a patron and
   the registry delete a card during the day, and runs ``patron_registry_import`` (the
   morning);
4. prints, per library and direction, what happened (outcome counts from the runs' XCom)
   and what the fake registry saw. No personal data is printed.

``python -m dev.demo_registry`` does the setup itself (a small library system) and runs it.
"""

from __future__ import annotations

import json
import os
import time

from dev import embedded_db

DEFAULT_FAKE_REGISTRY_PORT = 8091
DEMO_ISILS = ("NO-2000001", "NO-2000002")  # the libraries generate_registry enables


def connection_json(base_url: str | None = None, isils: tuple[str, ...] = DEMO_ISILS) -> str:
    """``AIRFLOW_CONN_PATRON_REGISTRY`` for the fake registry (demo vendor, demo auth codes)."""
    from dev.fakes.patron_registry import (
        DEFAULT_PATH,
        DEMO_PIN_KEY,
        DEMO_VENDOR_CODE,
        DEMO_VENDOR_SECRET,
        demo_auth_code,
    )

    base = base_url or f"http://127.0.0.1:{DEFAULT_FAKE_REGISTRY_PORT}"
    libraries = {isil: {"auth_code": demo_auth_code(isil.removeprefix("NO-"))} for isil in isils}
    return json.dumps({"conn_type": "http", "host": base + DEFAULT_PATH, "login": DEMO_VENDOR_CODE,
                       "password": DEMO_VENDOR_SECRET, "extra": {"pin_key": DEMO_PIN_KEY, "libraries": libraries}})


def _sync_results(dag_id: str, run_id: str) -> list[dict]:
    import psycopg

    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT value::text FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'sync' "
                            "AND key = 'return_value' ORDER BY map_index", (dag_id, run_id)).fetchall()
    values = [json.loads(v) for (v,) in rows]
    return [json.loads(v) if isinstance(v, str) else v for v in values]


def run(*, database: str = "lms", state_database: str = "loan_reporting", verbose: bool = False, seed: int = 42) -> int:
    import logging

    import pendulum

    from dev import generator_registry
    from dev.dag_runs import load_dag
    from dev.fakes.patron_registry import FakePatronRegistry
    from library_integrations.common.tables import format_table
    from library_integrations.pipelines.patron_registry.payloads import SyncResult
    from library_integrations.pipelines.patron_registry.steps import ordered_outcomes

    t0 = time.perf_counter()
    os.environ.setdefault("PATRON_REGISTRY_TASK_RETRIES", "0")  # dag.test() would wait out retry delays
    dsn = embedded_db.ensure_database(database)
    data = generator_registry.generate_registry(dsn, seed=seed)
    print(f"\nPatron registry: {data.persons} persons with national ids ({data.d_numbers} D-numbers), "
          f"{data.consenting} consenting; cards {data.cards}; queue {data.queue}", flush=True)
    fake = FakePatronRegistry().start()
    try:
        generator_registry.seed_fake_registry(fake, data)
        os.environ["AIRFLOW_CONN_PATRON_REGISTRY"] = connection_json(fake.base_url)
        _forget_watermarks(embedded_db.ensure_database(state_database))
        if not verbose:
            logging.getLogger("airflow").setLevel(logging.WARNING)
        night = pendulum.now("Europe/Oslo").replace(hour=1, minute=0, second=0, microsecond=0)
        print(f"Fake patron registry on {fake.endpoint}; running patron_registry_export (the night) ...", flush=True)
        export_run = load_dag("patron_registry_export").test(logical_date=night)
        # During the day: another library updates one of our patrons, the registry deletes a card.
        fake.advance(3600)
        synced = data.case(1, "synced")
        changed = _national_id(dsn, synced[0])
        fake.change_as(generator_registry.OTHER_LIBRARY, changed, epost="ny.adresse@example.no", tlf_mobil="40000000")
        fake.delete_in_registry(_national_id(dsn, synced[1]), remove="lnr")
        fake.advance(3600)
        print("Running patron_registry_import (the morning) ...", flush=True)
        import_run = load_dag("patron_registry_import").test(logical_date=night.replace(hour=6))
        for title, dagrun in (("Night: library system -> registry", export_run),
                              ("Morning: registry -> library system", import_run)):
            results = _sync_results(dagrun.dag_id, dagrun.run_id)
            keys = ordered_outcomes("export" if "export" in dagrun.dag_id else "import",
                                    [SyncResult.from_xcom(r) for r in results])
            rows = [{"library": r["label"], **{k: r["counts"].get(k, 0) for k in keys}} for r in results]
            columns = [{"outcome": k, **{row["library"].split()[0]: row[k] for row in rows}} for k in keys]
            print(f"\n{title} (run {getattr(dagrun.state, 'value', dagrun.state)}):")
            print(format_table(columns))
            for r in results:
                for failure in r["failures"]:
                    print(f"  {r['isil']} patron {failure['patron_id']} ({failure['change']}) kept queued: "
                          f"{failure['message']}")
        calls = fake.calls()
        ops = {op: sum(1 for c in calls if c.operation == op) for op in ("hent", "nyPost", "endre", "slett", "soekEndret")}
        print(f"\nThe fake registry answered {len(calls)} SOAP calls: {ops}; it holds {len(fake.all_patrons())} patrons")
        print(f"Patron registry demo: {time.perf_counter() - t0:.1f} s")
        states = [str(getattr(r.state, "value", r.state)) for r in (export_run, import_run)]
        return 0 if all(s == "success" for s in states) else 1
    finally:
        fake.stop()


def _national_id(dsn: str, patron_id: int) -> str:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT national_id FROM lms.patron WHERE id = %s", (patron_id,)).fetchone()[0]


def _forget_watermarks(state_dsn: str) -> None:
    """The demo regenerates its data, so its import starts without a watermark."""
    import psycopg

    from library_integrations.state import cursors
    from library_integrations.state.migrations import migrate

    migrate(state_dsn)
    with psycopg.connect(state_dsn) as conn:
        for isil in DEMO_ISILS:
            cursors.delete(conn, "patron_registry_import", isil)


def main() -> int:
    """Standalone: a small library system, the Airflow environment, then :func:`run`."""
    import subprocess
    import sys

    from dev import airflow_env, generator, lms_schema

    dsn = embedded_db.ensure_database("lms")
    lms_schema.create_reference_schema(dsn)
    generator.generate(dsn, agencies=4, loans_per_day=200, failing_agencies=False)
    os.environ.update(airflow_env.airflow_environment())
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=os.environ.copy(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run()


if __name__ == "__main__":
    raise SystemExit(main())
