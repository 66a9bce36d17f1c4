"""SIGTERM to a ``regress`` driver: it ends its workers and keeps the finished runs.

A real driver process runs ``sobolev-verify regress smoke`` (through ``verify.cli.main``)
with the trainer replaced by :func:`sleepy_run`: the suite's first run returns at once, the
others sleep far longer than the test waits. Once the first run's file is on disk the test
sends SIGTERM to the driver alone (as a service manager or ``kill`` does; a terminal's
Ctrl-C would reach the whole process group) and checks that the driver exits with 143,
that no process it started survives it (spawned workers and multiprocessing's resource
tracker included), and that the finished run's file is kept, complete.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from verify.suites import SUITES, run_key, suite_tasks

ROOT = Path(__file__).resolve().parents[2]
FAST_RESULT = {"final_eval_return": 1.5, "eval_curve": [[1, 1.5]]}


def _first_task() -> dict:
    return suite_tasks(SUITES["smoke"])[0]


def sleepy_run(settings: dict, out_dir: str) -> dict:
    """A trainer: the suite's first run finishes at once, every other run sleeps 600 s."""
    if settings == _first_task():
        return dict(FAST_RESULT)
    time.sleep(600)
    return dict(FAST_RESULT)


_DRIVER = """
import sys
import verify.regress_job as regress_job
from tests.verify.test_signals import sleepy_run
regress_job._trainer = lambda run_fn: (sleepy_run, None)
from verify.cli import main
sys.exit(main(["regress", "smoke", "-j", sys.argv[1], "--out", sys.argv[2]]))
"""


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid``, from the parent ids in ``/proc/*/stat``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table in /proc")
@pytest.mark.parametrize("jobs", ["2", "1"])
def test_sigterm_ends_the_workers_and_keeps_finished_runs(tmp_path, jobs):
    out = tmp_path / "regress"
    finished = out / "runs" / f"{run_key(_first_task())}.json"
    driver = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_DRIVER), jobs, str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    try:
        deadline = time.monotonic() + 120  # spawning workers takes seconds on a busy machine
        while not finished.exists() and time.monotonic() < deadline:
            assert driver.poll() is None, driver.communicate()
            time.sleep(0.2)
        assert finished.exists(), "the fast run never finished"
        time.sleep(1.0)  # let the pool hand the next task to the freed worker
        started = _children(driver.pid)
        if jobs == "2":
            assert len(started) >= 3, started  # two workers and the resource tracker
        driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()
    assert driver.returncode == 143, err
    assert "Traceback" not in err and "terminated (SIGTERM)" in err, err
    deadline = time.monotonic() + 10  # the resource tracker exits when its pipe closes
    while any(map(_alive, started)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if _alive(pid)], "processes outlived the driver"
    stored = json.loads(finished.read_text())
    assert stored["result"] == FAST_RESULT and stored["settings"] == _first_task()
    others = [p.name for p in (out / "runs").iterdir() if p.name != finished.name]
    assert others == [], others  # runs in flight are neither results nor crashes
