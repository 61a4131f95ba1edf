"""The session-end check of ``tests.fixtures.leftovers``: orphans stay in the session's tree
(subreaper), are found, and are stopped together with their parents."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
import pytest

from tests.fixtures.leftovers import become_subreaper, leftovers, stop_process_tree

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")

SLEEPER = "import time; time.sleep(120)"
START_SLEEPER = (  # its output goes nowhere: a pipe it inherited would keep our reader waiting
    f"import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', {SLEEPER!r}], "
    "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid, flush=True)"
)
ORPHANING = START_SLEEPER  # and exits at once: the sleeper is orphaned
PARENT = START_SLEEPER + "; p.wait()"  # and waits for it (a scheduler and its serve-logs)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_orphan_stays_in_the_session_tree_and_is_reported():
    assert become_subreaper()
    out = subprocess.run([sys.executable, "-c", ORPHANING], capture_output=True, text=True, check=True)
    orphan = int(out.stdout)
    try:
        assert psutil.Process(orphan).ppid() == os.getpid()  # re-parented to us, not to init
        found = {leftover.pid: leftover for leftover in leftovers(grace=0)}
        assert orphan in found and "time.sleep(120)" in found[orphan].command
    finally:
        psutil.Process(orphan).kill()
        psutil.Process(orphan).wait(10)
    assert orphan not in {leftover.pid for leftover in leftovers(grace=0)}


def test_killing_only_the_parent_leaves_its_child_and_stop_process_tree_does_not():
    for stop in ("parent only", "tree"):
        parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
        child = int(parent.stdout.readline())
        parent.stdout.close()
        if stop == "tree":
            stop_process_tree(parent, timeout=10)
            assert not _alive(child)
        else:
            parent.kill()
            parent.wait(10)
            assert _alive(child)  # what an orphaned serve-logs is
            psutil.Process(child).kill()
            psutil.Process(child).wait(10)
