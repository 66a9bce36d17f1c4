"""Regression sweeps: suites as data, the local and Ray executors, the ``regress`` job.

The trainer is replaced by cheap module-level functions (so they pickle into worker
processes and Ray tasks). Each call appends a line to ``calls.log`` in its run folder, so
tests count calls from the files, across processes.
"""

from __future__ import annotations

import doctest
import hashlib
import json
import os
import time
from pathlib import Path

import pytest

import verify.suites
from verify import executors
from verify.cli import _Parser
from verify.executors import result_path, run_tasks
from verify.regress_job import add_regress_parser, regress_from_args, run_regress
from verify.suites import (
    ALGOS,
    SETTINGS_KEYS,
    SUITES,
    Cell,
    Suite,
    cell_key,
    estimate_minutes,
    options,
    run_key,
    suite_tasks,
)
from verify.usage import UsageError

# -- fake trainers (module level: they pickle by reference) --------------------------------------


def fake_run(settings: dict, out_dir: str, shift: float = 0.0) -> dict:
    """Deterministic in the seed: final return 100 + 5·seed + shift, a 3-point curve."""
    with open(Path(out_dir) / "calls.log", "a") as log:
        log.write("call\n")
    final = 100.0 + 5.0 * settings["seed"] + shift
    steps = settings["steps"]
    curve = [[steps // 3, 0.3 * final], [2 * steps // 3, 0.6 * final], [steps, final]]
    return {"final_eval_return": final, "eval_curve": curve}


def shifted_run(settings: dict, out_dir: str) -> dict:
    """A regression: every run loses 50 (half the reference level)."""
    return fake_run(settings, out_dir, shift=-50.0)


def crashy_run(settings: dict, out_dir: str) -> dict:
    if settings["seed"] == 1:
        fake_run(settings, out_dir)  # counted as a call
        raise ValueError(f"boom at seed {settings['seed']}")
    return fake_run(settings, out_dir)


def dying_run(settings: dict, out_dir: str) -> dict:
    if settings["seed"] == 1:
        os._exit(3)  # a worker killed outright (segfault, out of memory)
    return fake_run(settings, out_dir)


def interrupting_run(settings: dict, out_dir: str) -> dict:
    if settings["seed"] == 2:  # the third task
        raise KeyboardInterrupt
    return fake_run(settings, out_dir)


def _calls(out: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (out / "work").glob("*/*/calls.log"))


def _tasks(count: int) -> list[dict]:
    """``count`` runs of one cell, seeds 0..count-1, in seed order."""
    suite = Suite(
        name="tiny",
        summary="test",
        cells=(Cell("pendulum", "td3", seeds=tuple(range(count)), steps=30),),
        eval_every=10,
        eval_episodes=1,
    )
    return suite_tasks(suite)


def _quiet(line: str) -> None:
    pass


# -- suites --------------------------------------------------------------------------------------


def test_doctests_hold():
    assert doctest.testmod(verify.suites).failed == 0


@pytest.mark.parametrize("name", list(SUITES))
def test_suites_are_well_formed(name):
    suite = SUITES[name]
    tasks = suite_tasks(suite)
    keys = [run_key(t) for t in tasks]
    assert len(set(keys)) == len(keys) == sum(len(c.seeds) for c in suite.cells)
    assert len({cell_key(t) for t in tasks}) == len(suite.cells)
    for task in tasks:
        assert set(SETTINGS_KEYS) <= set(task)
        assert set(task) - set(SETTINGS_KEYS) == {"eval_every", "eval_episodes"}
        assert isinstance(task["seed"], int) and isinstance(task["steps"], int)
        assert isinstance(task["options"], dict)
        json.dumps(task, allow_nan=False)  # plain JSON: picklable, hashable as text
        assert "/" not in run_key(task) and ":" not in run_key(task)
    algos = {c.algo for c in suite.cells}
    if name in ("standard", "full"):
        assert algos == set(ALGOS)  # every algorithm is exercised
    if name == "smoke":
        assert len(algos) >= 5


def test_suite_values_agree_with_the_agents_package():
    """Cross-check against the trainer's own parsers (noise canonical, env known)."""
    noise = pytest.importorskip("agents.noise")
    envs = pytest.importorskip("agents.envs")
    for suite in SUITES.values():
        for cell in suite.cells:
            assert noise.parse_noise(cell.noise).spec == cell.noise
            assert envs.check_env_id(cell.env) == cell.env


def test_suite_budgets():
    assert estimate_minutes(SUITES["smoke"]) < 5
    assert 40 <= estimate_minutes(SUITES["standard"]) <= 75
    assert estimate_minutes(SUITES["full"]) > estimate_minutes(SUITES["standard"])
    assert all(c.steps <= 500 and len(c.seeds) == 2 for c in SUITES["smoke"].cells)
    assert 4 <= len(SUITES["smoke"].cells) <= 6


def test_run_keys_are_stable_and_shared_across_suites():
    settings = {
        "algo": "td3",
        "env": "point-mass:4",
        "noise": "obs-mult:0.2",
        "seed": 3,
        "steps": 300,
        "options": {"hidden": [64, 64]},
    }
    # a fixed value (SHA-256 of the sorted compact JSON, written out): a key must not change
    # between processes, machines or releases
    canonical = (
        '{"algo":"td3","env":"point-mass:4","noise":"obs-mult:0.2",'
        '"options":{"hidden":[64,64]},"seed":3,"steps":300}'
    )
    assert hashlib.sha256(canonical.encode()).hexdigest()[:12] == "51dec9b353d0"
    assert run_key(settings) == "td3-point-mass-4-obs-mult-0.2-s3-n300-51dec9b353d0"
    assert run_key(dict(reversed(list(settings.items())))) == run_key(settings)
    changed = {**settings, "options": {"hidden": [64, 32]}}
    assert run_key(changed) != run_key(settings)
    smoke = SUITES["smoke"]
    other = Suite(
        name="other",
        summary="shares one cell with smoke",
        cells=(smoke.cells[0], Cell("pendulum", "td3", seeds=(7,), steps=1000)),
        eval_every=smoke.eval_every,
        eval_episodes=smoke.eval_episodes,
        options=smoke.options,
    )
    assert run_key(suite_tasks(other)[0]) == run_key(suite_tasks(smoke)[0])


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: Cell("pendulum", "ddpg"), "algo 'ddpg'"),
        (lambda: Cell("Hopper", "td3"), "env 'Hopper'"),
        (lambda: Cell("Hopper-v5", "td3", "obs-mult:0.20"), "canonical"),
        (lambda: Cell("Hopper-v5", "td3", "obs-mult:1.5"), "obs-mult:1.5"),
        (lambda: Cell("point-mass:4", "td3", "dyn-gauss:0.05"), "not MuJoCo"),
        (lambda: Cell("pendulum", "td3", seeds=(0, 0)), "distinct"),
        (lambda: Cell("pendulum", "td3", steps=0), "steps"),
        (lambda: Cell("pendulum", "td3", options=(("Hidden", 1),)), "'Hidden'"),
        (lambda: Cell("pendulum", "td3", options=options(lr=float("nan"))), "'lr'"),
    ],
)
def test_bad_cells_name_the_value(make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make()


def test_duplicate_cells_are_rejected():
    with pytest.raises(ValueError, match="same settings"):
        Suite("dup", "", (Cell("pendulum", "td3"), Cell("pendulum", "td3")), 10, 1)


# -- local executor ------------------------------------------------------------------------------


def test_local_executor_runs_all_then_skips_finished(tmp_path):
    tasks = _tasks(4)
    outcomes = run_tasks(tasks, fake_run, tmp_path, jobs=2, fingerprint="a", log=_quiet)
    assert [o.status for o in outcomes] == ["done"] * 4
    assert _calls(tmp_path) == 4
    for task, outcome in zip(tasks, outcomes, strict=True):
        stored = json.loads(result_path(tmp_path, run_key(task)).read_text())
        assert stored["result"]["final_eval_return"] == 100 + 5 * task["seed"]
        assert stored["settings"] == task and outcome.result == stored["result"]
    again = run_tasks(tasks, fake_run, tmp_path, jobs=2, fingerprint="a", log=_quiet)
    assert [o.status for o in again] == ["reused"] * 4 and _calls(tmp_path) == 4
    # another code fingerprint: nothing is reused
    run_tasks(tasks, fake_run, tmp_path, jobs=1, fingerprint="b", log=_quiet)
    assert _calls(tmp_path) == 8


def test_a_crash_is_reported_not_fatal_and_retried(tmp_path):
    tasks = _tasks(3)
    lines = []
    outcomes = run_tasks(tasks, crashy_run, tmp_path, jobs=2, log=lines.append)
    assert [o.status for o in outcomes] == ["done", "crashed", "done"]
    assert "boom at seed 1" in outcomes[1].error
    error_file = tmp_path / "runs" / f"{run_key(tasks[1])}.error.json"
    assert "ValueError: boom at seed 1" in json.loads(error_file.read_text())["error"]
    assert any("CRASHED" in line and "boom" in line for line in lines)
    assert sum(line.startswith("[") for line in lines) == 3  # one line per finished run
    run_tasks(tasks, fake_run, tmp_path, jobs=1, log=_quiet)  # only the crashed one again
    assert _calls(tmp_path) == 4 and not error_file.exists()


def test_a_dead_worker_is_a_crash_and_the_pool_restarts(tmp_path):
    tasks = _tasks(5)
    outcomes = run_tasks(tasks, dying_run, tmp_path, jobs=2, log=_quiet)
    assert outcomes[1].status == "crashed" and "died" in outcomes[1].error
    assert outcomes[4].status == "done"  # submitted after the pool was restarted
    lost = [o for o in outcomes if o.status == "crashed"]
    before = _calls(tmp_path)
    run_tasks(tasks, fake_run, tmp_path, jobs=2, log=_quiet)
    assert _calls(tmp_path) - before == len(lost)


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_interruption_keeps_finished_runs(tmp_path, jobs):
    tasks = _tasks(6)
    with pytest.raises(KeyboardInterrupt):
        run_tasks(tasks, interrupting_run, tmp_path, jobs=jobs, log=_quiet)
    finished = [t for t in tasks if result_path(tmp_path, run_key(t)).exists()]
    assert {0, 1} <= {t["seed"] for t in finished}  # the runs before the interrupted one
    for task in finished:  # complete files only
        json.loads(result_path(tmp_path, run_key(task)).read_text())
    before = _calls(tmp_path)
    outcomes = run_tasks(tasks, fake_run, tmp_path, jobs=jobs, log=_quiet)
    assert _calls(tmp_path) - before == len(tasks) - len(finished)
    assert sum(o.status == "reused" for o in outcomes) == len(finished)


def test_bad_executor_arguments_raise():
    with pytest.raises(ValueError, match="executor must be one of"):
        run_tasks([], fake_run, "unused", executor="dask")
    with pytest.raises(ValueError, match="jobs"):
        run_tasks([], fake_run, "unused", jobs=0)


# -- the regress job -----------------------------------------------------------------------------


def _regress(tmp_path, out="out", **changes) -> int:
    arguments = dict(
        suite="smoke",
        out=str(tmp_path / out),
        jobs=1,
        executor="local",
        ray_address=None,
        references=str(tmp_path / "refs"),
        update_references=False,
        as_json=False,
        run_fn=fake_run,
    )
    return run_regress(**{**arguments, **changes})


def test_regress_records_references_then_passes_then_catches_a_regression(tmp_path, capsys):
    cells = SUITES["smoke"].cells
    assert _regress(tmp_path, update_references=True, jobs=2) == 0
    captured = capsys.readouterr()
    assert "wrote references for 5 cells" in captured.err
    document = json.loads((tmp_path / "refs" / "smoke.json").read_text())
    assert set(document) >= {"suite", "created", "versions", "machine", "cells"}
    assert document["machine"]["cpu_count"] >= 1 and "numpy" in document["versions"]
    first = next(iter(document["cells"].values()))
    assert {r["final_eval_return"] for r in first["runs"].values()} == {100.0, 105.0}

    assert _regress(tmp_path) == 0  # the same runs, reused
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 1 + len(cells)
    assert all(line.rstrip().endswith("pass") for line in table[1:])
    assert "102.5 [100, 105]" in table[1]  # reference IQM [CI] column
    records = json.loads((tmp_path / "out" / "smoke" / "records.json").read_text())
    assert {r["verdict"] for r in records} == {"holds"} and len(records) == len(cells)
    assert records[0]["details"]["curves"]["new"]["iqm"][-1] == pytest.approx(102.5)
    for name in ("index.html", "report.md", "plots/learning_curves.png"):
        assert (tmp_path / "out" / "smoke" / name).is_file()

    assert _regress(tmp_path, out="shifted", run_fn=shifted_run) == 1
    table = capsys.readouterr().out.splitlines()
    assert all(line.rstrip().endswith("regressed") for line in table[1:])
    markdown = (tmp_path / "shifted" / "smoke" / "report.md").read_text()
    assert "FAIL" in markdown and "regress" in markdown

    assert _regress(tmp_path, out="crashy", run_fn=crashy_run, as_json=True) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["status"] == "fail" and len(summary["crashed"]) == len(cells)
    assert "crashed (1 of 2 runs)" in captured.err


@pytest.mark.parametrize(
    "changes, fragment",
    [
        (dict(suite="huge"), "unknown suite 'huge'; accepted: smoke, standard, full"),
        (dict(jobs=0), "-j/--jobs must be an integer >= 1; got 0"),
        (dict(executor="dask"), "--executor must be one of local, ray; got 'dask'"),
        (dict(ray_address="auto"), "--ray-address 'auto' needs --executor ray"),
        (dict(), "regress smoke --update-references"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path, capsys, changes, fragment):
    assert _regress(tmp_path, **changes) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written


def test_stale_references_say_what_to_run(tmp_path, capsys):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "smoke.json").write_text(json.dumps({"cells": {}}))
    assert _regress(tmp_path) == 2
    err = capsys.readouterr().err
    assert "lack 5 of 5 cells" in err and "--update-references" in err


def test_the_parser_and_its_dispatch(tmp_path):
    parser = _Parser(prog="sobolev-verify")
    add_regress_parser(parser.add_subparsers(dest="command", parser_class=_Parser))
    args = parser.parse_args(
        [
            *("regress", "smoke", "--out", str(tmp_path / "o"), "-j", "1"),
            *("--update-references", "--references", str(tmp_path / "refs")),
            *("--seed-boot", "3", "--json"),
        ]
    )
    assert (args.suite, args.jobs, args.executor, args.seed_boot) == ("smoke", 1, "local", 3)
    assert regress_from_args(args, run_fn=fake_run) == 0
    with pytest.raises(UsageError, match="invalid int value"):
        parser.parse_args(["regress", "smoke", "-j", "x"])


def test_executor_module_documents_the_cluster_recipe():
    assert "ray start --head" in executors.__doc__
    assert "ray start --address" in executors.__doc__


# -- Ray -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray instance (2 CPUs), shut down when the module's tests are done."""
    ray = pytest.importorskip("ray")
    began = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning")
    print(f"ray.init: {time.perf_counter() - began:.1f} s")
    yield ray
    ray.shutdown()


def test_ray_executor_on_a_local_instance(local_ray, tmp_path):
    tasks = _tasks(4)
    lines = []
    outcomes = run_tasks(tasks, crashy_run, tmp_path, executor="ray", jobs=2, log=lines.append)
    assert [o.status for o in outcomes] == ["done", "crashed", "done", "done"]
    assert "boom at seed 1" in outcomes[1].error
    for task in (tasks[0], tasks[2], tasks[3]):  # written by the driver from return values
        stored = json.loads(result_path(tmp_path, run_key(task)).read_text())
        assert stored["result"]["final_eval_return"] == 100 + 5 * task["seed"]
    assert local_ray.is_initialized()  # an instance it did not start is left running
    again = run_tasks(tasks, fake_run, tmp_path, executor="ray", log=_quiet)
    assert [o.status for o in again] == ["reused", "done", "reused", "reused"]
    assert _calls(tmp_path) == 5


def test_regress_end_to_end_on_ray(local_ray, tmp_path, capsys):
    common = dict(suite="smoke", out=str(tmp_path / "out"), jobs=2, executor="ray")
    common.update(ray_address=None, references=str(tmp_path / "refs"), as_json=False)
    assert run_regress(**common, update_references=True, run_fn=fake_run) == 0
    assert run_regress(**common, update_references=False, run_fn=fake_run) == 0
    assert capsys.readouterr().out.count(" pass") == len(SUITES["smoke"].cells)
