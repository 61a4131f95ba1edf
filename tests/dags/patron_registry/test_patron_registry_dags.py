"""End to end: the real patron registry DAGs with dag.test(), the embedded PostgreSQL and the fake registry over HTTP.

One library system is generated for the module; every test starts from freshly generated
registry data (:func:`dev.generator_registry.generate_registry`, the same seed), a fake
registry holding the registry's side of it, and no watermarks. Library 1 (NO-2000001)
syncs card numbers and PINs; library 2 (NO-2000002) syncs card numbers only and has 2
numbers left in its national series.

The crash tests run the DAG in a child process and kill it (SIGKILL) at a chosen moment:
while the fake registry holds the answer to a write it has applied (the export), or while
the import waits for a row lock in the middle of a page.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pendulum
import psycopg
import pytest

from dev import generator, generator_registry
from library_integrations.state import cursors
from tests.fixtures.patron_registry import registry_connection

pytestmark = pytest.mark.slow

ISIL1, ISIL2 = "NO-2000001", "NO-2000002"
LIB1, LIB2, OTHER = "2000001", "2000002", generator_registry.OTHER_LIBRARY
EXPORT, IMPORT = "patron_registry_export", "patron_registry_import"
_runs = iter(range(1, 1000))
DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def library(lms_dsn):
    generator.generate(lms_dsn, seed=5, agencies=4, days=1, loans_per_day=50, failing_agencies=False)
    return lms_dsn


@pytest.fixture(scope="module")
def registry_env(airflow_db, library, fake_patron_registry, state_dsn):
    from library_integrations.state.migrations import migrate

    migrate(state_dsn)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PATRON_REGISTRY", json.dumps(registry_connection(fake_patron_registry, [ISIL1, ISIL2])))
        mp.setenv("PATRON_REGISTRY_TASK_RETRIES", "0")
        yield fake_patron_registry


def load(dag_id: str):
    """Parse one of this pipeline's DAG files (reading the PATRON_REGISTRY_* settings now)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


@pytest.fixture(scope="module")
def dags(registry_env):
    return {dag_id: load(dag_id) for dag_id in (EXPORT, IMPORT)}


@pytest.fixture()
def world(library, registry_env, state_dsn):
    """Fresh registry data in the library system and the fake, no watermarks."""
    fake = registry_env
    fake.reset()
    data = generator_registry.generate_registry(library, seed=7)
    generator_registry.seed_fake_registry(fake, data)
    with psycopg.connect(state_dsn) as conn:
        for isil in (ISIL1, ISIL2):
            cursors.delete(conn, IMPORT, isil)
    yield data
    fake.clear_faults()
    fake.release()


# ----------------------------------------------------------------------------- helpers
def logical_date():
    return pendulum.datetime(2026, 1, 1, 1, tz="Europe/Oslo").add(days=next(_runs))


def run(dag):
    return dag.test(logical_date=logical_date())


def state_of(dagrun) -> str:
    return str(getattr(dagrun.state, "value", dagrun.state))


def airflow_dsn() -> str:
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg://", "postgresql://")


def results(dagrun) -> dict[str, dict]:
    """The mapped ``sync`` tasks' results of a run, by ISIL."""
    with psycopg.connect(airflow_dsn()) as conn:
        rows = conn.execute("SELECT value::text FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = 'sync' "
                            "AND key = 'return_value'", (dagrun.dag_id, dagrun.run_id)).fetchall()
    values = [json.loads(v) for (v,) in rows]
    values = [json.loads(v) if isinstance(v, str) else v for v in values]
    return {v["isil"]: v for v in values}


def one(dsn, sql, *params):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchone()


def rows(dsn, sql, *params):
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def queue(dsn, patron_id):
    return one(dsn, "SELECT status, last_error, attempt_started_at, failed_attempts FROM lms.patron_registry_queue "
                    "WHERE patron_id = %s", patron_id)


def cards(dsn, patron_id) -> dict[str, list[tuple[str, bool]]]:
    out: dict[str, list[tuple[str, bool]]] = {"LOCAL": [], "NATIONAL": []}
    for number, kind, active in rows(dsn, "SELECT card_number, kind, active FROM lms.library_card WHERE patron_id = %s "
                                          "ORDER BY issued_at, card_number", patron_id):
        out[kind].append((number, active))
    return out


def fnr_of(dsn, patron_id) -> str:
    return one(dsn, "SELECT national_id FROM lms.patron WHERE id = %s", patron_id)[0]


def national_card(dsn, patron_id) -> str | None:
    active = [n for n, a in cards(dsn, patron_id)["NATIONAL"] if a]
    return active[0] if active else None


def personal_values(dsn, fake) -> set[str]:
    """Every national id, name, address, e-mail, phone, PIN and card number the test data holds."""
    values: set[str] = set()
    for row in rows(dsn, "SELECT national_id, name, address_line1, address_line2, email, phone, pin_encrypted "
                         "FROM lms.patron"):
        values.update(v for v in row if v)
    values.update(r[0] for r in rows(dsn, "SELECT card_number FROM lms.library_card"))
    values.update(r[0] for r in rows(dsn, "SELECT encrypted_pin FROM lms.patron_registry_queue WHERE encrypted_pin "
                                          "IS NOT NULL"))
    for patron in fake.all_patrons():
        values.update(v for k, v in patron.items() if k in ("lnr", "fnr_hash", "navn", "p_adresse1", "epost",
                                                            "tlf_mobil", "pin") and v)
    return {v for v in values if len(v) >= 6}


def assert_nothing_personal(texts: list[str], values: set[str]) -> None:
    assert values, "the scan needs the test data's personal values"
    for text in texts:
        leaked = sorted(v for v in values if v in text)
        assert not leaked, f"personal data in logs/XCom/files: {len(leaked)} value(s), e.g. of length {len(leaked[0])}"


def xcom_texts(dag_ids=(EXPORT, IMPORT)) -> list[str]:
    with psycopg.connect(airflow_dsn()) as conn:
        return [v for (v,) in conn.execute("SELECT value::text FROM xcom WHERE dag_id = ANY(%s)", (list(dag_ids),))]


def staged_files() -> list[Path]:
    from library_integrations.common import settings

    base = Path(settings.load().staging_base.removeprefix("file://"))
    return [p for dag_id in (EXPORT, IMPORT) if (base / dag_id).exists() for p in (base / dag_id).rglob("*")
            if p.is_file()]


def writes(fake, *, fnr=None, lnr=None):
    """Answered, accepted write calls about a patron."""
    return [c for c in fake.writes(fnr=fnr, lnr=lnr) if c.status]


# ----------------------------------------------------------------------------- the night and the morning
def test_a_night_and_a_morning_follow_every_rule(dags, world, registry_env, library, capfd, caplog):
    import logging

    caplog.set_level(logging.INFO)
    fake, dsn, data = registry_env, library, world
    case1, case2 = data.cases[1], data.cases[2]
    series_next = data.series[1]["next"]

    night = run(dags[EXPORT])
    assert state_of(night) == "success"  # patron failures are kept queued, they do not fail the run
    tis = {ti.map_index: ti for ti in night.get_task_instances() if ti.task_id == "sync"}
    assert sorted(ti.rendered_map_index for ti in tis.values()) == [f"{ISIL1} Deichman Bjørvika",
                                                                     f"{ISIL2} Bergen Offentlige Bibliotek"]
    out = results(night)
    calls = fake.calls()

    # Consent first: nothing about a patron without consent is sent or fetched; their change waits.
    for pid in case1["new_without_consent"] + case1["edited_without_consent"] + case2["new_without_consent"]:
        values = {fnr_of(dsn, pid), *[n for n, _ in cards(dsn, pid)["NATIONAL"] + cards(dsn, pid)["LOCAL"]]}
        assert not [c for c in calls if values & ({c.fnr, c.lnr} | set(c.sent.values()))], pid
        assert queue(dsn, pid)[0] in ("new", "edited")
    assert out[ISIL1]["counts"]["skipped_no_consent"] == 3

    # Found by national id: the registry's national card beside the local one, this library's relation added.
    for pid in case1["new_found_in_registry"]:
        fnr = fnr_of(dsn, pid)
        registered = fake.patron(fnr)
        assert registered["relations"] == sorted([LIB1, OTHER])
        assert national_card(dsn, pid) == registered["lnr"] and len(cards(dsn, pid)["LOCAL"]) == 1
        assert [c.operation for c in writes(fake, fnr=fnr)] == ["endre"]  # linked, never created twice
        assert one(dsn, "SELECT pin_encrypted FROM lms.patron WHERE id = %s", pid)[0] == registered["pin"]
        assert queue(dsn, pid)[0] == "synced"
    assert out[ISIL1]["counts"]["linked"] == 2

    # Not found: the next numbers of the library's own series, checked (hent) before issuing, then created.
    created = case1["new_not_found"] + case1["new_local_card_only"] + case1["new_with_queued_pin"]
    issued = sorted(national_card(dsn, pid) for pid in created)
    first = int(series_next[1:])
    assert issued == [f"N{n:09d}" for n in range(first, first + len(created))]
    assert one(dsn, "SELECT next_number FROM lms.card_number_series WHERE agency_id = 1 AND kind = 'NATIONAL'")[0] \
        == f"N{first + len(created):09d}"
    for pid in created:
        number, fnr = national_card(dsn, pid), fnr_of(dsn, pid)
        checked = [i for i, c in enumerate(calls) if c.operation == "hent" and c.lnr == number]
        made = [i for i, c in enumerate(calls) if c.operation == "nyPost" and c.fnr == fnr and c.status]
        assert checked and made and checked[0] < made[0], pid
        assert fake.patron(fnr)["relations"] == [LIB1] and queue(dsn, pid)[0] == "synced"
    assert out[ISIL1]["counts"]["created"] == out[ISIL1]["counts"]["card_issued"] == len(created)
    # The queued PIN travelled encrypted; patrons without one got a default PIN they must change.
    (queued_pin,) = one(dsn, "SELECT encrypted_pin FROM lms.patron_registry_queue WHERE patron_id = %s",
                        case1["new_with_queued_pin"][0])
    assert fake.patron(fnr_of(dsn, case1["new_with_queued_pin"][0]))["pin"] == queued_pin
    for pid in case1["new_not_found"]:
        pin, must_change = one(dsn, "SELECT pin_encrypted, pin_must_change FROM lms.patron WHERE id = %s", pid)
        assert must_change is True and fake.patron(fnr_of(dsn, pid))["pin"] == pin

    # Local cards are never sent, and the patron with only a local card now holds both.
    local_numbers = {r[0] for r in rows(dsn, "SELECT card_number FROM lms.library_card WHERE kind = 'LOCAL'")}
    sent_numbers = {c.lnr for c in calls} | {c.sent.get("lnr") for c in calls}
    assert not local_numbers & sent_numbers
    assert all(re.fullmatch(r"N\d{9}", n) for n in sent_numbers if n)
    for pid in case1["new_local_card_only"]:
        assert len(cards(dsn, pid)["LOCAL"]) == 1 and national_card(dsn, pid)

    # An exhausted series fails that patron clearly; the library's other patrons are synced.
    failed2 = {f["patron_id"]: f["message"] for f in out[ISIL2]["failures"]}
    exhausted = [pid for pid, message in failed2.items() if "series is exhausted" in message]
    assert len(exhausted) == 4 and out[ISIL2]["counts"]["card_issued"] == 2
    for pid in exhausted:
        status, error, _, attempts = queue(dsn, pid)
        assert (status, attempts) == ("new", 1) and "exhausted" in error and not cards(dsn, pid)["NATIONAL"]
    assert queue(dsn, case2["edited"][0])[0] == "synced"
    # Library 2 does not sync PINs: none was sent; new patrons got a local default PIN to change.
    assert not [c for c in calls if c.library == LIB2 and c.sent.get("pin")]

    # Edited: the local value overwrote the registry's. Delete: only this library's relation went.
    for pid in case1["edited"]:
        email = one(dsn, "SELECT email FROM lms.patron WHERE id = %s", pid)[0]
        assert fake.patron(fnr_of(dsn, pid))["epost"] == email and queue(dsn, pid)[0] == "synced"
    for pid in case1["delete"]:
        registered = fake.patron(fnr_of(dsn, pid))
        assert registered is not None and registered["relations"] == [OTHER]
        assert queue(dsn, pid)[0] == "synced"
    # A patron whose national id is not valid fails clearly, without a call.
    (bad,) = case1["invalid_national_id"]
    assert "no valid national id" in queue(dsn, bad)[1]
    assert not [c for c in calls if c.fnr == fnr_of(dsn, bad)]

    # ---- during the day: another library changes a patron, the registry deletes a card,
    # another library gives a consenting local-only patron of ours a national card.
    fake.advance(600)
    changed, deleted = case1["synced"][0], case1["synced"][1]
    fake.change_as(OTHER, fnr_of(dsn, changed), epost="from.another.library@example.no", tlf_mobil="41234567")
    fake.delete_in_registry(fnr_of(dsn, deleted), remove="lnr")
    local_only = next(pid for pid in case1["not_queued"]
                      if one(dsn, "SELECT registry_consent FROM lms.patron WHERE id = %s", pid)[0])
    fake.add_patron(fnr_of(dsn, local_only), "N900555001", libraries=[LIB1, OTHER], by=OTHER)
    fake.advance(600)

    morning = run(dags[IMPORT])
    assert state_of(morning) == "success"
    got = results(morning)[ISIL1]
    assert one(dsn, "SELECT email, phone FROM lms.patron WHERE id = %s", changed) == \
        ("from.another.library@example.no", "41234567")  # the registry's values overwrote the local ones
    assert cards(dsn, deleted)["NATIONAL"] and national_card(dsn, deleted) is None  # inactive, patron kept
    assert one(dsn, "SELECT count(*) FROM lms.patron WHERE id = %s", deleted)[0] == 1
    assert national_card(dsn, local_only) == "N900555001" and len(cards(dsn, local_only)["LOCAL"]) == 1
    # This library's own changes of the night came back and were skipped, not applied again.
    night1 = out[ISIL1]["counts"]
    assert got["counts"]["skipped_own_change"] == night1["created"] + night1["linked"] + night1["updated"]
    assert got["counts"]["national_card_deactivated"] == 1 and got["counts"]["national_card_added"] >= 1
    edited_email = one(dsn, "SELECT email FROM lms.patron WHERE id = %s", case1["edited"][0])[0]
    assert edited_email.startswith("changed.")  # the library's own edit, not overwritten by its echo
    stored = one(state_dsn_of(), "SELECT value FROM pipeline_state.cursor WHERE pipeline = %s AND name = %s",
                 IMPORT, ISIL1)[0]
    assert stored == got["watermark_after"] and stored >= fake.patron(fnr_of(dsn, changed))["sist_endret"]

    # Nothing personal in the task logs, XCom or staged files.
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text
    assert "Export result for NO-2000001" in logs and "Import result for NO-2000001" in logs
    assert "XCom not found" not in logs  # the summary reads exactly the results that exist
    assert_nothing_personal([logs, *xcom_texts()], personal_values(dsn, fake))
    assert staged_files() == []  # the sync stages no files: patrons never leave the two databases


def state_dsn_of() -> str:
    from library_integrations.state.connection import dsn_from_connection

    return dsn_from_connection("loan_reporting_db")


# ----------------------------------------------------------------------------- faults
def test_a_5xx_and_a_refusal_leave_the_others_synced_and_that_patron_queued(dags, world, registry_env, library,
                                                                             capfd, caplog, monkeypatch):
    import logging

    caplog.set_level(logging.INFO)
    fake, dsn, case1 = registry_env, library, world.cases[1]
    # Library 2's auth code is stale (the operator refreshes them daily): that library fails alone.
    conn = registry_connection(fake, [ISIL1, ISIL2])
    conn["extra"]["libraries"][ISIL2]["auth_code"] = "yesterdays-code"
    monkeypatch.setenv("AIRFLOW_CONN_PATRON_REGISTRY", json.dumps(conn))
    down, refused, hiccup = case1["new_not_found"][0], case1["edited"][0], case1["edited"][1]
    fake.add_faults(
        {"action": "status", "status": 503, "operation": "nyPost", "match": fnr_of(dsn, down), "repeat": -1},
        {"action": "refuse", "operation": "endre", "match": national_card(dsn, refused),
         "melding": f"Ugyldig e-postadresse for {national_card(dsn, refused)}"},
        {"action": "status", "status": 503, "operation": "endre", "match": national_card(dsn, hiccup)},
    )
    dagrun = run(dags[EXPORT])
    assert state_of(dagrun) == "failed"  # the summary fails the run: library 2 was not synced at all
    tis = {ti.task_id: ti for ti in dagrun.get_task_instances() if ti.map_index in (-1, 1)}
    assert "failed" in str(tis["sync"].state) and "failed" in str(tis["summary"].state)
    assert set(results(dagrun)) == {ISIL1}
    assert not [c for c in fake.calls() if c.library == LIB2]  # refused at the door: 401, no patron touched
    assert all(queue(dsn, pid)[0] != "synced" for pid in world.cases[2]["new_not_found"])
    out = results(dagrun)[ISIL1]
    failures = {f["patron_id"]: f["message"] for f in out["failures"]}
    assert set(failures) == {down, refused, *case1["invalid_national_id"]}
    status, error, in_doubt, attempts = queue(dsn, down)
    assert (status, attempts) == ("new", 1) and "HTTP 503" in error and in_doubt is not None
    status, error, in_doubt, attempts = queue(dsn, refused)
    assert (status, in_doubt) == ("edited", None)
    assert error == "the registry refused updating the patron (endre): Ugyldig e-postadresse for ***"
    assert queue(dsn, hiccup)[0] == "synced"  # one 503, retried by the client, then accepted
    consenting = [pid for case in ("new_found_in_registry", "new_not_found", "new_local_card_only",
                                   "new_with_queued_pin", "edited", "delete") for pid in case1[case]]
    synced = {pid for pid in consenting if queue(dsn, pid)[0] == "synced"}
    assert synced == set(consenting) - {down, refused}
    output = capfd.readouterr()
    logs = output.out + output.err + caplog.text
    assert "Ugyldig e-postadresse for ***" in logs and "XCom not found" not in logs
    summary_line = re.search(r"1 of 2 libraries failed: NO-2000002 Bergen Offentlige Bibliotek[^\n]*", logs)
    assert summary_line, "the summary names the failed library"
    assert re.search(r"NO-2000002 Bergen Offentlige Bibliotek\s+FAILED.*refused the credentials of NO-2000002", logs)
    assert_nothing_personal([logs, *xcom_texts()], personal_values(dsn, fake))


# ----------------------------------------------------------------------------- crash safety
def _child(dag_id: str, output_path) -> subprocess.Popen:
    """Run the DAG with ``dag.test()`` in a worker process of its own, to be killed; output to a file."""
    script = (
        "import pendulum\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS_DIR / (dag_id + '.py'))!r})\n"
        f"bag.dags[{dag_id!r}].test(logical_date=pendulum.parse({logical_date().isoformat()!r}))\n"
    )
    with open(output_path, "w") as out:
        return subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ), stdout=out,
                                stderr=subprocess.STDOUT)


def _kill(child: subprocess.Popen, output_path) -> str:
    child.kill()
    child.wait(timeout=60)
    return output_path.read_text(encoding="utf-8", errors="replace")


def test_export_killed_half_way_then_rerun_sends_every_patron_once(dags, world, registry_env, library, tmp_path):
    fake, dsn, case1 = registry_env, library, world.cases[1]
    order = [pid for (pid,) in rows(dsn, "SELECT q.patron_id FROM lms.patron_registry_queue q JOIN lms.patron p "
                                         "ON p.id = q.patron_id WHERE q.agency_id = 1 AND q.status <> 'synced' "
                                         "AND p.registry_consent ORDER BY q.changed_at, q.patron_id")]
    sendable = [pid for pid in order if pid not in case1["invalid_national_id"] + case1["delete"]]
    victim = sendable[len(sendable) // 2]
    seeded = fake.patron(fnr_of(dsn, victim))
    match = (national_card(dsn, victim) or seeded["lnr"]) if seeded else fnr_of(dsn, victim)
    fake.add_faults({"action": "hang_after", "operation": "endre" if seeded else "nyPost", "match": match,
                     "seconds": 120})

    child = _child(EXPORT, tmp_path / "export.log")
    try:
        assert fake.hanging.wait(timeout=180), "the export never reached the patron in the middle of the queue"
    finally:
        output = _kill(child, tmp_path / "export.log")
    fake.release()
    # The registry applied the victim's write; the library system never stored the answer.
    assert writes(fake, fnr=fnr_of(dsn, victim)) or writes(fake, lnr=match)
    status, _, in_doubt, _ = queue(dsn, victim)
    assert status != "synced" and in_doubt is not None
    before = order.index(victim)
    assert all(queue(dsn, pid)[0] == "synced" for pid in order[:before] if pid in sendable)
    assert all(queue(dsn, pid)[0] != "synced" for pid in order[before + 1:] if pid in sendable)

    rerun = run(dags[EXPORT])
    assert state_of(rerun) == "success"
    out = results(rerun)[ISIL1]
    assert out["counts"]["confirmed_after_interruption"] == 1
    for pid in sendable + case1["delete"]:
        fnr, number = fnr_of(dsn, pid), national_card(dsn, pid)
        accepted = {id(c): c for c in writes(fake, fnr=fnr) + (writes(fake, lnr=number) if number else [])}
        assert len(accepted) == 1, (pid, [c.operation for c in accepted.values()])  # sent once, across both runs
        assert queue(dsn, pid)[0] == "synced" and queue(dsn, pid)[2] is None
    assert_nothing_personal([output], personal_values(dsn, fake))


def test_import_killed_mid_page_resumes_from_its_watermark(registry_env, world, library, state_dsn, monkeypatch,
                                                          tmp_path):
    fake, dsn = registry_env, library
    monkeypatch.setenv("PATRON_REGISTRY_PAGE_SIZE", "4")
    monkeypatch.setenv("PATRON_REGISTRY_OVERLAP_MINUTES", "0")
    fake.advance(60)
    with psycopg.connect(state_dsn) as conn:
        cursors.set(conn, IMPORT, ISIL1, fake.now())  # everything older is synced already
    fake.advance(60)
    # Ten consenting patrons of library 1, changed in the registry by another library, a minute apart.
    patients = [pid for (pid,) in rows(dsn, "SELECT id FROM lms.patron WHERE registry_consent AND national_id IS NOT "
                                            "NULL AND id NOT IN (SELECT patron_id FROM lms.patron_registry_queue) "
                                            "ORDER BY id LIMIT 10")]
    assert len(patients) == 10
    for i, pid in enumerate(patients):
        fake.add_patron(fnr_of(dsn, pid), f"N9001{i:05d}", libraries=[LIB1, OTHER], by=OTHER,
                        epost=f"registry.{i}@example.no")
        fake.advance(60)
    expected_times = [fake.patron(fnr_of(dsn, pid))["sist_endret"] for pid in patients]

    def applied():
        return [one(dsn, "SELECT email FROM lms.patron WHERE id = %s", pid)[0] == f"registry.{i}@example.no"
                for i, pid in enumerate(patients)]

    with psycopg.connect(dsn) as blocker:
        blocker.execute("SELECT id FROM lms.patron WHERE id = %s FOR UPDATE", (patients[5],))  # page 2, 2nd record
        child = _child(IMPORT, tmp_path / "import.log")
        try:
            deadline = time.monotonic() + 180
            while not one(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")[0]:
                assert child.poll() is None and time.monotonic() < deadline, "the import never reached page 2"
                time.sleep(0.2)
        finally:
            output = _kill(child, tmp_path / "import.log")
        blocker.rollback()
    stored = one(state_dsn, "SELECT value FROM pipeline_state.cursor WHERE pipeline = %s AND name = %s",
                 IMPORT, ISIL1)[0]
    assert stored == expected_times[3]  # page 1 committed, its watermark stored
    assert applied() == [True] * 4 + [False] * 6  # page 2 rolled back with the kill, record 5 too

    rerun = load(IMPORT).test(logical_date=logical_date())  # parsed with page size 4 and no overlap
    assert state_of(rerun) == "success"
    got = results(rerun)[ISIL1]
    assert got["watermark_before"] == expected_times[3]
    assert got["counts"]["fetched"] == 7  # from the watermark on: record 4 again (overlap 0, same second) and 5..10
    assert applied() == [True] * 10  # no change missed
    assert_nothing_personal([output], personal_values(dsn, fake))


def test_generated_registry_data_covers_every_case(world, library):
    dsn, data = library, world
    assert data.queue == {"new": 22, "edited": 8, "delete": 4, "synced": 6}
    assert data.cards["NATIONAL"] == 18 and data.consenting > 0 and data.d_numbers > 0
    from stdnum.no import fodselsnummer

    ids = [r[0] for r in rows(dsn, "SELECT national_id FROM lms.patron WHERE national_id IS NOT NULL")]
    invalid = {fnr_of(dsn, pid) for agency in (1, 2) for pid in data.case(agency, "invalid_national_id")}
    assert {i for i in ids if not fodselsnummer.is_valid(i)} == invalid
    again = generator_registry.generate_registry(dsn, seed=7)
    assert again.cases == data.cases and again.population == data.population


# ----------------------------------------------------------------------------- the steps without a scheduler
def _export_library_1(dsn, fake, registry=None):
    from library_integrations.clients.registry.config import resolve_config
    from library_integrations.clients.registry.soap import SoapPatronRegistry
    from library_integrations.library_system.patrons import registry_libraries
    from library_integrations.pipelines.patron_registry.export import run_export

    conn_info = registry_connection(fake, [ISIL1])
    client = registry or SoapPatronRegistry(resolve_config(isil=ISIL1, host=conn_info["host"], login=conn_info["login"],
                                                           password=conn_info["password"], extra=conn_info["extra"]))
    with psycopg.connect(dsn, autocommit=True) as conn:
        library = next(lib for lib in registry_libraries(conn) if lib.isil == ISIL1)
        return run_export(conn, client, library, max_transport_failures=3)


def test_the_registry_down_stops_the_library_after_three_patrons_and_keeps_the_rest_queued(world, registry_env,
                                                                                            library):
    from library_integrations.pipelines.patron_registry.export import LibraryAborted

    fake, dsn = registry_env, library
    fake.add_faults({"action": "status", "status": 503, "repeat": -1})
    with pytest.raises(LibraryAborted, match="could not be reached for 3 patrons in a row"):
        _export_library_1(dsn, fake)
    fake.clear_faults()
    queued = rows(dsn, "SELECT status, last_error FROM lms.patron_registry_queue WHERE agency_id = 1 "
                       "AND status <> 'synced'")
    tried = [error for _, error in queued if error and "HTTP 503" in error]
    assert len(tried) == 3 and all(status != "synced" for status, _ in queued)
    assert len([e for _, e in queued if e is None]) >= 5  # not reached: untouched, sent next run


def test_a_change_made_while_the_export_runs_is_sent_again_next_night(world, registry_env, library):
    from library_integrations.clients.registry.config import resolve_config
    from library_integrations.clients.registry.soap import SoapPatronRegistry

    fake, dsn = registry_env, library
    edited = world.cases[1]["edited"][0]
    conn_info = registry_connection(fake, [ISIL1])
    real = SoapPatronRegistry(resolve_config(isil=ISIL1, host=conn_info["host"], login=conn_info["login"],
                                             password=conn_info["password"], extra=conn_info["extra"]))

    class LibrarianEditsDuringTheWrite:
        """The registry client, while a librarian changes the patron again (the library system re-queues it)."""

        def __getattr__(self, name):
            return getattr(real, name)

        def update(self, card_number, patron):
            if card_number == national_card(dsn, edited):
                with psycopg.connect(dsn) as conn:
                    conn.execute("UPDATE lms.patron SET email = 'again@example.no' WHERE id = %s", (edited,))
                    conn.execute("UPDATE lms.patron_registry_queue SET status = 'edited', changed_at = now() "
                                 "WHERE patron_id = %s", (edited,))
            return real.update(card_number, patron)

    result = _export_library_1(dsn, fake, LibrarianEditsDuringTheWrite())
    assert result.counts["superseded"] == 1
    status, error, in_doubt, _ = queue(dsn, edited)
    assert (status, error, in_doubt) == ("edited", None, None)  # this write is stored; the new edit waits
    _export_library_1(dsn, fake)
    assert queue(dsn, edited)[0] == "synced" and fake.patron(fnr_of(dsn, edited))["epost"] == "again@example.no"
