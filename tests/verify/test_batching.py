"""``run_tasks`` with a :class:`Batching`: a group of runs is one job, each run its own record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from verify.executors import Batching, result_path, run_tasks
from verify.suites import run_key


def _tasks(seeds=(0, 1, 2), env="point-mass:2"):
    return [
        {"algo": "td3", "env": env, "noise": "none", "seed": s, "steps": 10, "options": {}}
        for s in seeds
    ]


def lone_run(settings, out_dir):
    Path(out_dir, "calls").write_text("lone")
    return {"final_eval_return": float(settings["seed"]), "pid": os.getpid()}


def by_env(settings):
    return settings["env"] if settings["env"].startswith("point-mass") else None


def group_run(settings_list, out_dirs):
    """Seed 1 fails alone; every run of the group is trained in this one call."""
    seeds = [settings["seed"] for settings in settings_list]
    results = []
    for settings, out_dir in zip(settings_list, out_dirs, strict=True):
        Path(out_dir, "calls").write_text(json.dumps(seeds))
        if settings["seed"] == 1:
            results.append(RuntimeError("seed 1 diverged"))
        else:
            results.append({"final_eval_return": 10.0 + settings["seed"], "group": seeds})
    return results


def broken_group_run(settings_list, out_dirs):
    raise ValueError("the whole program failed")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_group_trains_in_one_call_and_each_run_keeps_its_own_outcome(tmp_path, jobs):
    tasks = [*_tasks(), *_tasks(seeds=(5,), env="toy-1d")]
    outcomes = run_tasks(
        tasks, lone_run, tmp_path, jobs=jobs, batching=Batching(by_env, group_run), log=print
    )
    assert [o.status for o in outcomes] == ["done", "crashed", "done", "done"]
    assert outcomes[0].result == {"final_eval_return": 10.0, "group": [0, 1, 2]}
    assert outcomes[2].result["group"] == [0, 1, 2]
    assert "RuntimeError: seed 1 diverged" in outcomes[1].error
    assert outcomes[3].result["final_eval_return"] == 5.0  # no group: the lone trainer
    assert result_path(tmp_path, run_key(tasks[0])).is_file()
    # Rerun: the finished runs are reused, the crashed one is retried alone in its group.
    again = run_tasks(
        tasks, lone_run, tmp_path, jobs=jobs, batching=Batching(by_env, group_run), log=print
    )
    assert [o.status for o in again] == ["reused", "crashed", "reused", "reused"]


def test_a_failing_group_crashes_each_of_its_runs(tmp_path):
    outcomes = run_tasks(
        _tasks(), lone_run, tmp_path, batching=Batching(by_env, broken_group_run), log=print
    )
    assert [o.status for o in outcomes] == ["crashed"] * 3
    assert all("ValueError: the whole program failed" in o.error for o in outcomes)
