"""Agent claims by training (verify/claims/_compare_runs.py, c6_learning.py, c7_mujoco.py)."""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest
from scipy import stats

from verify.claims import _compare_runs as cr
from verify.claims import c6_learning, c7_mujoco
from verify.records import EMPIRICAL_VERDICTS
from verify.suites import suite_tasks


def _runs(algo, finals, options=None, env="pendulum"):
    base = dict(env=env, noise="none", steps=1000, options=dict(options or {}))
    return [
        (dict(base, algo=algo, seed=seed), {"final_eval_return": float(value)})
        for seed, value in enumerate(finals)
    ]


PAIR = (cr.Comparison("C6", cr.Arm("td3"), cr.Arm("sobolev-td3"), "candidate above baseline"),)


def test_probability_of_improvement_counts_every_pair_with_ties_as_half():
    x, y = [1.0, 2.0, 3.0], [2.0, 0.0]
    pairs = list(itertools.product(x, y))
    expected = sum((a > b) + 0.5 * (a == b) for a, b in pairs) / len(pairs)
    assert cr.probability_of_improvement(x, y) == pytest.approx(expected)  # 4.5 / 6


@pytest.mark.parametrize(
    ("candidate", "outcome"),
    [
        (np.linspace(20, 30, 8), "supported"),
        (np.linspace(-30, -20, 8), "contradicted"),  # negative control: a worse candidate
        (np.linspace(-5, 5, 8), "inconclusive"),
    ],
)
def test_the_three_outcomes_follow_the_interval_of_the_iqm_difference(candidate, outcome):
    baseline = np.linspace(-5, 5, 8)
    results = _runs("td3", baseline) + _runs("sobolev-td3", candidate)
    (found,) = cr.compare_runs(results, PAIR, n_boot=500, seed=0)
    assert found.outcome == outcome and outcome in EMPIRICAL_VERDICTS
    # the IQM is the 25 %-trimmed mean (rliable); scipy computes it independently
    difference = stats.trim_mean(candidate, 0.25) - stats.trim_mean(baseline, 0.25)
    assert found.measured == pytest.approx(difference)
    low, high = found.details["difference_ci"]
    assert low <= found.measured <= high


def test_one_seed_an_arm_is_always_inconclusive():
    results = _runs("td3", [0.0]) + _runs("sobolev-td3", [100.0])
    (found,) = cr.compare_runs(results, PAIR, n_boot=100)
    assert found.outcome == "inconclusive"


def test_an_arm_is_the_default_variant_unless_it_names_its_options():
    results = (
        _runs("td3", [0.0, 1.0, 2.0])
        + _runs("sobolev-td3", [50.0, 51.0, 52.0])
        + _runs("sobolev-td3", [-50.0, -51.0, -52.0], {"lambda_s": 0.0})
    )
    named = cr.Comparison("C6", cr.Arm("td3"), cr.Arm("sobolev-td3", (("lambda_s", 0.0),)), "x")
    default, variant = cr.compare_runs(results, (*PAIR, named), n_boot=200)
    assert default.details["candidate_finals"] == [50.0, 51.0, 52.0]
    assert variant.details["candidate_finals"] == [-50.0, -51.0, -52.0]
    assert (default.outcome, variant.outcome) == ("supported", "contradicted")


def test_an_arm_matching_two_variants_is_refused():
    results = _runs("td3", [0.0, 1.0]) + _runs("sobolev-td3", [1.0, 2.0], {"gamma": 0.9})
    results += _runs("sobolev-td3", [1.0, 2.0], {"gamma": 0.95})
    with pytest.raises(ValueError, match="matches 2 cells with different options"):
        cr.compare_runs(results, PAIR, n_boot=50)


def test_a_folder_without_runs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="holds no finished runs"):
        cr.findings_from_folder(tmp_path, PAIR, n_boot=50)


@pytest.mark.parametrize("module", [c6_learning, c7_mujoco])
def test_every_budget_has_a_suite_holding_both_arms_of_each_comparison(module):
    assert set(module.SETTINGS) == {"testing", "quick", "full"}
    for settings in module.SETTINGS.values():
        tasks = suite_tasks(settings.suite)
        for comparison in settings.comparisons:
            for arm in (comparison.baseline, comparison.candidate):
                assert any(arm.algo == task["algo"] for task in tasks), (arm, settings.suite.name)


def test_the_training_claims_are_registered_under_their_modules_names():
    import verify.claims as claims

    for module_name, (name, _) in claims.TRAINING_CLAIMS.items():
        module = importlib.import_module(f"verify.claims.{module_name}")
        (claim,) = claims.select(name)
        assert (claim.name, claim.title) == (module.NAME, module.TITLE)
        assert claim.settings["testing"] is module.SETTINGS["testing"] and not claim.default


def test_c6_learning_testing_budget_through_the_cli(tmp_path):
    from verify.cli import main
    from verify.records import load_records

    out = tmp_path / "report"
    status = main(["report", "--claims", "C6-learning", "--budget", "testing", "--out", str(out)])
    (record,) = load_records(out / "records.json")
    assert record.case == "pendulum none: sobolev-td3 vs td3"
    assert status == {"supported": 0, "contradicted": 1, "inconclusive": 4}[record.verdict]
    assert len(record.details["candidate_finals"]) == 2
    comparisons = c6_learning.SETTINGS["testing"].comparisons
    (again,) = cr.findings_from_folder(out, comparisons, n_boot=200)
    assert again.measured == record.measured  # the stored runs score the same


def test_c7_mujoco_testing_budget_trains_and_scores(tmp_path):
    findings = c7_mujoco.run(c7_mujoco.SETTINGS["testing"], 0, tmp_path)
    (record,) = c7_mujoco.score(findings, {})
    assert record.case == "InvertedDoublePendulum-v5 obs-mult:0.2: dsdpg vs td3"
    assert record.verdict in EMPIRICAL_VERDICTS
    assert len(record.details["baseline_finals"]) == len(record.details["candidate_finals"]) == 2


def test_the_fidelity_claim_is_registered_and_stamps_the_versions():
    import verify.claims as claims
    from verify.claims import c7_fidelity
    from verify.records import Record

    (claim,) = claims.select("C7-fidelity")
    assert claim.settings["testing"] is c7_fidelity.SETTINGS["testing"] and not claim.default
    stub = Record(
        claim="C7", case="x", settings={}, seed=0, measured=0.0, bound=0.0, verdict="inconclusive"
    )
    original = c7_fidelity.score
    try:
        c7_fidelity.score = lambda result: [stub]
        (stamped,) = claim.score({}, {"jax": "1"})
    finally:
        c7_fidelity.score = original
    assert stamped.versions == {"jax": "1"} and stamped.verdict == "inconclusive"


def test_a_regress_folder_is_read_once_per_run(tmp_path):
    """regress keeps runs/KEY.json and the run's own work/.../result.json: one run, not two."""
    import json

    settings = dict(algo="td3", env="pendulum", noise="none", steps=10, seed=0, options={})
    (tmp_path / "runs").mkdir()
    stored = {"settings": settings, "result": {"final_eval_return": 1.0}}
    (tmp_path / "runs" / "td3.json").write_text(json.dumps(stored))
    work = tmp_path / "work" / "abc" / "td3"
    work.mkdir(parents=True)
    (work / "config.json").write_text(json.dumps({"run": settings}))
    (work / "result.json").write_text(json.dumps({"final_eval_return": 1.0}))
    assert len(cr._stored_results(tmp_path)) == 1
    # negative control: the same run twice outside work/ is refused when scored
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "config.json").write_text(json.dumps({"run": settings}))
    (tmp_path / "copy" / "result.json").write_text(json.dumps({"final_eval_return": 2.0}))
    results = cr._stored_results(tmp_path) + _runs("sobolev-td3", [1.0])
    with pytest.raises(ValueError, match="two runs of one seed"):
        cr.compare_runs(results, PAIR, n_boot=50)
