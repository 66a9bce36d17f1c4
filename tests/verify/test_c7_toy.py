"""C7 on the point mass (verify/claims/c7_toy.py) and the comparison relations it reads
(verify/claims/_compare_runs.py: better, not-worse, equivalent).

The oracles are independent of ``verify.stats``: the IQM is ``scipy.stats.trim_mean(x,
0.25)``, the interval a stratified bootstrap written here from rliable's definition with the
draw order ``verify.stats`` documents (baseline first, then candidate, one
``rng.integers(0, n, (n_boot, n))`` each), and the verdicts are checked on synthetic arms
placed far from every boundary of the rule.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from verify.claims import _compare_runs as cr
from verify.claims import c7_toy
from verify.records import EMPIRICAL_VERDICTS
from verify.suites import suite_tasks

N_BOOT = 1000
MARGIN = 10.0
BASELINE = np.linspace(-5.0, 5.0, 8)  # IQM 0; its bootstrap IQM spreads over about ±3


def _runs(finals, options):
    base = dict(algo="dsdpg", env="point-mass:4", noise="none", steps=1000, options=options)
    return [
        (dict(base, seed=seed), {"final_eval_return": float(value)})
        for seed, value in enumerate(finals)
    ]


def _compare(relation, candidate, margin=MARGIN, baseline=BASELINE):
    comparison = cr.Comparison(
        "C7",
        cr.Arm("dsdpg", (("critic_loss", "mmd"),)),
        cr.Arm("dsdpg", (("critic_loss", "msmmd"),)),
        "synthetic",
        relation=relation,
        margin=0.0 if relation == "better" else margin,
    )
    results = _runs(baseline, {"critic_loss": "mmd"}) + _runs(candidate, {"critic_loss": "msmmd"})
    (found,) = cr.compare_runs(results, (comparison,), n_boot=N_BOOT, seed=0)
    return found


def _oracle_interval(baseline, candidate, n_boot=N_BOOT, seed=0):
    """The 95 % percentile interval of trim_mean(candidate*) − trim_mean(baseline*)."""
    rng = np.random.default_rng(seed)
    baseline, candidate = np.asarray(baseline), np.asarray(candidate)
    base_rows = baseline[rng.integers(0, baseline.size, size=(n_boot, baseline.size))]
    cand_rows = candidate[rng.integers(0, candidate.size, size=(n_boot, candidate.size))]
    differences = stats.trim_mean(cand_rows, 0.25, axis=1) - stats.trim_mean(
        base_rows, 0.25, axis=1
    )
    return tuple(np.quantile(differences, [0.025, 0.975]))


# Each case: (relation, candidate shift from the baseline, expected verdict). With δ = 10 and
# an interval about ±4 wide around the shift, every shift is at least 4 from a boundary of
# its rule except the inconclusive ones, which sit on a boundary (0, −δ or +δ).
CASES = [
    ("better", 20.0, "supported"),
    ("better", -20.0, "contradicted"),  # negative control: a clearly worse candidate
    ("better", 0.0, "inconclusive"),  # negative control: the same arm is not "better"
    ("not-worse", 0.0, "supported"),  # level arms are at least as good
    ("not-worse", -5.0, "supported"),  # worse, but by less than δ
    ("not-worse", -30.0, "contradicted"),  # negative control: worse by more than δ
    ("not-worse", -10.0, "inconclusive"),  # on the margin
    ("equivalent", 0.0, "supported"),
    ("equivalent", 30.0, "contradicted"),  # negative control: far above
    ("equivalent", -30.0, "contradicted"),  # negative control: far below
    ("equivalent", 10.0, "inconclusive"),  # on the margin
    ("equivalent", -10.0, "inconclusive"),
]


@pytest.mark.parametrize(("relation", "shift", "expected"), CASES)
def test_each_relation_reads_the_interval_of_the_iqm_difference(relation, shift, expected):
    candidate = BASELINE + shift
    found = _compare(relation, candidate)
    assert found.outcome == expected and expected in EMPIRICAL_VERDICTS
    difference = stats.trim_mean(candidate, 0.25) - stats.trim_mean(BASELINE, 0.25)
    assert found.measured == pytest.approx(difference, abs=1e-12)  # float64 round-off
    low, high = _oracle_interval(BASELINE, candidate)
    # same resamples, same arithmetic up to summation order: round-off only
    assert found.details["difference_ci"] == pytest.approx([low, high], abs=1e-9)
    # the verdict follows the rule of the module docstring, applied to the oracle interval
    rule = {
        "better": (low > 0, high < 0),
        "not-worse": (low > -MARGIN, high < -MARGIN),
        "equivalent": (-MARGIN < low and high < MARGIN, low > MARGIN or high < -MARGIN),
    }[relation]
    oracle = "supported" if rule[0] else "contradicted" if rule[1] else "inconclusive"
    assert found.outcome == oracle


def test_every_finding_names_its_relation_margin_and_probability_of_improvement():
    candidate = BASELINE[::-1] + 3.0  # seeds paired in another order than sorted
    found = _compare("equivalent", candidate)
    pairs = list(itertools.product(candidate, BASELINE))
    assert found.details["probability_of_improvement"] == pytest.approx(
        sum((x > y) + 0.5 * (x == y) for x, y in pairs) / len(pairs)
    )
    assert (found.details["relation"], found.details["margin"]) == ("equivalent", MARGIN)
    assert found.bound == MARGIN
    assert _compare("not-worse", candidate).bound == -MARGIN
    assert "relation" not in _compare("better", candidate).details  # "better" unchanged
    assert _compare("better", candidate).bound == 0.0


def test_a_small_resolved_difference_is_better_and_equivalent_at_once():
    """The relations answer different questions: +2 with a tight spread is clearly above
    (better: supported) and inside the ±δ band (equivalent: supported)."""
    baseline = np.linspace(-0.5, 0.5, 10)
    candidate = baseline + 2.0
    better = _compare("better", candidate, baseline=baseline)
    equivalent = _compare("equivalent", candidate, baseline=baseline)
    assert (better.outcome, equivalent.outcome) == ("supported", "supported")


def test_one_seed_an_arm_is_inconclusive_for_every_relation():
    for relation in cr.RELATIONS:
        found = _compare(relation, [0.0], baseline=[0.0])
        assert found.outcome == "inconclusive", relation


@pytest.mark.parametrize(
    ("relation", "margin", "message"),
    [
        ("above", 0.0, "relation must be one of"),
        ("better", 1.0, "takes no margin"),
        ("not-worse", 0.0, "needs a finite margin > 0"),
        ("equivalent", float("inf"), "needs a finite margin > 0"),
        ("equivalent", float("nan"), "margin must be a number"),
    ],
)
def test_a_comparison_with_a_bad_relation_or_margin_is_refused(relation, margin, message):
    arm = cr.Arm("td3")
    with pytest.raises(ValueError, match=message):
        cr.Comparison("C7", arm, arm, "x", relation=relation, margin=margin)


@pytest.mark.parametrize(
    ("relation", "interval", "expected"),
    [
        ("better", (1e-9, 5.0), "supported"),
        ("better", (0.0, 5.0), "inconclusive"),  # touching 0 is not above it
        ("better", (-5.0, -1e-9), "contradicted"),
        ("not-worse", (-0.999, 5.0), "supported"),
        ("not-worse", (-1.0, 5.0), "inconclusive"),
        ("not-worse", (-5.0, -1.001), "contradicted"),
        ("equivalent", (-0.999, 0.999), "supported"),
        ("equivalent", (-0.5, 1.0), "inconclusive"),
        ("equivalent", (1.001, 3.0), "contradicted"),
        ("equivalent", (-3.0, -1.001), "contradicted"),
    ],
)
def test_relation_outcome_at_the_boundaries(relation, interval, expected):
    margin = 0.0 if relation == "better" else 1.0
    assert cr.relation_outcome(relation, *interval, margin=margin) == expected


# -- the claim module ------------------------------------------------------------------------


def test_every_budget_holds_both_arms_of_each_comparison_in_every_env():
    assert set(c7_toy.SETTINGS) == {"testing", "quick", "full"}
    for settings in c7_toy.SETTINGS.values():
        tasks = suite_tasks(settings.suite)
        keys = frozenset(
            key
            for c in settings.comparisons
            for arm in (c.baseline, c.candidate)
            for key, _ in arm.options
        )
        for env in {task["env"] for task in tasks}:
            for comparison in settings.comparisons:
                for arm in (comparison.baseline, comparison.candidate):
                    held = [t for t in tasks if t["env"] == env and arm.matches(t, keys)]
                    assert len(held) >= 2, (arm.label, env, settings.suite.name)


def test_full_budget_is_the_issue_sweep():
    suite = c7_toy.SETTINGS["full"].suite
    tasks = suite_tasks(suite)
    assert {t["env"] for t in tasks} == {f"point-mass:{n}" for n in (1, 2, 4, 8)}
    assert {t["seed"] for t in tasks} == set(range(10))
    arms = {
        (t["algo"], t["options"].get("critic_loss"), t["options"].get("truncate")) for t in tasks
    }
    assert arms == {
        ("td3", None, None),
        ("dsdpg", "msmmd", None),
        ("dsdpg", "mmd", None),
        ("dsdpg", "huber-sobolev", None),
        ("dsdpg", "mmd-nograd", None),
        ("dsdpg", "msmmd", 0.0),
    }
    relations = [(c.relation, c.margin) for c in c7_toy.SETTINGS["full"].comparisons]
    assert relations == [
        ("not-worse", c7_toy.MARGIN),
        ("better", 0.0),
        ("equivalent", c7_toy.MARGIN),
        ("better", 0.0),
    ]


def test_testing_budget_trains_scores_and_rescores_from_its_folder(tmp_path):
    settings = c7_toy.SETTINGS["testing"]
    findings = c7_toy.run(settings, 0, tmp_path)
    records = c7_toy.score(findings, {})
    assert len(records) == len(settings.comparisons)
    for record in records:
        assert record.verdict in EMPIRICAL_VERDICTS
        assert (
            len(record.details["baseline_finals"]) == len(record.details["candidate_finals"]) == 2
        )
    again = cr.findings_from_folder(tmp_path, settings.comparisons, n_boot=settings.n_boot)
    assert [f.measured for f in again] == [r.measured for r in records]
    summary = c7_toy.cell_summary(tmp_path, n_boot=200)
    for row in summary:  # each seed once, though regress stores every run twice
        assert row["seeds"] == [0, 1] and len(row["finals"]) == 2
        assert row["iqm"] == pytest.approx(stats.trim_mean(row["finals"], 0.25))
    assert {row["cell"] for row in summary} >= {
        r.details["candidate"] + " point-mass:1" for r in records
    }
