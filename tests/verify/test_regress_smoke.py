"""The smoke suite against its committed references, with the real trainer (CI's regress run)."""

from __future__ import annotations

import json

import pytest

from agents.registry import check_options
from verify.regress_job import run_regress
from verify.suites import SUITES, suite_tasks


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_suite_run_has_valid_options_for_its_algorithm(name):
    for task in suite_tasks(SUITES[name]):
        check_options(task["algo"], task["options"])


def test_smoke_suite_passes_against_its_references(tmp_path, capsys, monkeypatch):
    """Every smoke run trains with the real agents and scores as recorded (exit 0).

    The runs are deterministic for given library versions when XLA runs single-threaded
    (threaded reductions may sum in another order), which is how the references in
    verify/references/smoke.json were recorded; the spawned workers inherit the setting.
    A verdict other than pass means the agents' behaviour changed.
    """
    monkeypatch.setenv(
        "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )
    status = run_regress(
        suite="smoke",
        out=str(tmp_path),
        jobs=2,
        executor="local",
        ray_address=None,
        references=None,
        update_references=False,
        as_json=True,
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0, summary
    assert (tmp_path / "smoke" / "index.html").exists()
