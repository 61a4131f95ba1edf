"""One token for all worker processes: the cache lives (encrypted) in the ledger database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dev import PROJECT_ROOT
from tests.fixtures.fake_bokbasen import make_report

# A separate Python process, like a per-agency load task: it imports the hook, reports
# "ready", waits for "go" on stdin, sends one report and prints what it did.
WORKER = """
import json, sys
from library_integrations.clients.bokbasen.loans import BokbasenHook, RetryPolicy
from tests.fixtures.fake_bokbasen import make_report
args = json.loads(sys.argv[1])
hook = BokbasenHook(endpoint=args["endpoint"], client_id=args["client_id"], client_secret=args["client_secret"],
                    token_url=args["token_url"], ledger_dsn=args["dsn"], retry=RetryPolicy(backoff_base=0.05))
print("ready", flush=True)
sys.stdin.readline()
result = hook.send_report(make_report(args["isil"]), isil=args["isil"], report_date="2026-11-20")
print(json.dumps({"status": result.status_code, "token_requests": hook.token_requests}), flush=True)
"""


def _start_worker(server, dsn: str, isil: str) -> subprocess.Popen:
    args = {
        "endpoint": server.loans_url,
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        "token_url": server.token_url,
        "dsn": dsn,
        "isil": isil,
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, json.dumps(args)],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _run_together(workers: list[subprocess.Popen]) -> list[dict]:
    for worker in workers:  # wait until every process has imported everything
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_token_fetched_once_across_processes(
    fresh_fake_bokbasen, clean_bokbasen_ledger, bokbasen_hook_factory
):
    server = fresh_fake_bokbasen
    hook = bokbasen_hook_factory()
    for isil in ("NO-1000001", "NO-1000002", "NO-1000003"):
        hook.send_report(make_report(isil), isil=isil, report_date="2026-11-20")
    assert server.token_request_count == 1
    (other,) = _run_together([_start_worker(server, clean_bokbasen_ledger.dsn, "NO-1000004")])
    assert other == {"status": 204, "token_requests": 0}
    assert server.token_request_count == 1
    assert len(server.reports()) == 4


def test_concurrent_processes_with_an_empty_cache_fetch_one_token(fresh_fake_bokbasen, clean_bokbasen_ledger):
    server = fresh_fake_bokbasen
    server.add_faults("token: slow 1")  # the first fetch takes a second: the other process must wait for it
    workers = [
        _start_worker(server, clean_bokbasen_ledger.dsn, isil) for isil in ("NO-1000005", "NO-1000006")
    ]
    results = _run_together(workers)
    assert [r["status"] for r in results] == [204, 204]
    assert sorted(r["token_requests"] for r in results) == [0, 1]
    assert server.token_request_count == 1
    assert {r["isil"] for r in server.reports()} == {"NO-1000005", "NO-1000006"}
