"""[FS] claim runners (``verify.fs_claims``) at the ``testing`` budget: well-formed records,
a negative control for the consistency check, the interval reading, the CLI's usage error."""

from __future__ import annotations

import json
import math

import pytest

from agents import sobolev_td
from sobolev_core import SobolevTarget
from verify import fs_claims
from verify.records import Record


@pytest.fixture(scope="module")
def testing_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fs")
    payload = fs_claims.run_claims("testing", out, seed=0)
    return out, payload


def test_the_testing_budget_writes_well_formed_records(testing_run):
    out, payload = testing_run
    assert json.loads((out / "fs_claims.json").read_text()) == payload
    records = payload["records"]
    cases = [record["case"] for record in records]
    assert len(cases) == len(set(cases))
    for record in records:
        typed = Record(**record)  # the fields of verify.records.Record
        assert typed.claim == "C6" and math.isfinite(typed.measured)
        outcome = record["details"].get("outcome")
        if outcome is not None:
            assert outcome in ("supported", "contradicted", "inconclusive")
            assert (record["verdict"] == "holds") == (outcome == "supported")
    by_prefix = {case.split("/")[0] for case in cases}
    assert by_prefix == {
        "targets-vs-fd",
        "targets-vs-closed-form",
        "lq-evaluation",
        "learning-curve",
        "policy-gradient-variance",
    }  # update-cost is skipped at the testing budget
    for record in records:
        details = record["details"]
        if record["case"].startswith("targets-vs"):  # exact claims must hold
            assert record["verdict"] == "holds", record
            assert details["max_abs_gradient"] > 1e-3  # a non-trivial comparison
        elif record["case"].startswith("lq-evaluation"):
            low, high = details["ratio_ci95"]
            assert low <= record["measured"] <= high
            assert len(details["curve_sobolev"]["iqm"]) == fs_claims.BUDGETS["testing"]["lq_evals"]
        elif record["case"].startswith("policy-gradient-variance"):
            assert all(value > 0 for values in details["trace_cov"].values() for value in values)
        elif record["case"].startswith("update-cost"):
            assert all(seconds > 0 for seconds in details["seconds"].values())
    assert (out / "runs").is_dir()


def test_a_target_without_the_bootstrap_gradient_fails_the_consistency_check(monkeypatch):
    """Negative control: dropping ``γ Fᵀ c`` from the gradient targets is detected."""
    real = sobolev_td.sobolev_target

    def without_bootstrap_gradient(critic, policy, transition, state, action, *args, **kw):
        full = real(critic, policy, transition, state, action, *args, **kw)
        reward_only = real(critic, policy, transition, state, action, *args[:3], 0.0, **kw)
        return SobolevTarget(full.value, reward_only.grad_state, reward_only.grad_action)

    monkeypatch.setattr(sobolev_td, "sobolev_target", without_bootstrap_gradient)
    budget = {
        **fs_claims.BUDGETS["testing"],
        "consistency_cases": (("toy-1d", "sobolev-td3"),),
        "consistency_points": 2,
    }
    records = fs_claims.consistency_records(budget, seed=0)
    broken = [r for r in records if r["case"].startswith("targets-vs-fd")]
    assert broken and all(r["verdict"] == "fails" for r in broken)
    assert broken[0]["measured"] > 100 * broken[0]["bound"]


@pytest.mark.parametrize(
    "low, high, better_below, outcome",
    [
        (-2.0, -1.0, True, "supported"),
        (1.0, 2.0, True, "contradicted"),
        (-1.0, 1.0, True, "inconclusive"),
        (1.0, 2.0, False, "supported"),
        (-2.0, -1.0, False, "contradicted"),
    ],
)
def test_outcome_reads_the_interval(low, high, better_below, outcome):
    assert fs_claims._outcome(low, high, better_below=better_below) == outcome


def test_an_unknown_budget_is_a_one_line_usage_error(tmp_path, capsys):
    assert fs_claims.main(["--budget", "huge", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--budget 'huge' is unknown" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="budget"):
        fs_claims.run_claims("huge", tmp_path)
