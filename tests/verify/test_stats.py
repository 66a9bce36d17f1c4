"""IQM, stratified bootstrap and regression verdicts against independent oracles.

Oracles: ``scipy.stats.trim_mean(x, 0.25)`` for the IQM; for the bootstrap, a slow explicit
loop that draws the same indices from the same generator (the draw order documented in
``verify.stats``) and recomputes every resample with scipy and the quantiles with the
textbook linear-interpolation formula; coverage on synthetic data with a known IQM.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from scipy.stats import trim_mean

import verify.stats
from verify.stats import bootstrap_iqm_ci, compare, iqm, iqm_curve


def _quantile(values: list[float], level: float) -> float:
    """Linear-interpolation quantile, written out: position h = (B − 1)·level."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * level
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (position - below) * (ordered[above] - ordered[below])


def _loop_resamples(strata: list[np.ndarray], n_boot: int, rng) -> list[float]:
    """IQM of each stratified resample, one at a time, with scipy as the IQM."""
    picks = [rng.integers(0, len(s), size=(n_boot, len(s))) for s in strata]
    iqms = []
    for b in range(n_boot):
        pooled = []
        for stratum, chosen in zip(strata, picks, strict=True):
            pooled += [float(stratum[i]) for i in chosen[b]]
        iqms.append(float(trim_mean(pooled, 0.25)))
    return iqms


def test_doctests_hold():
    assert doctest.testmod(verify.stats).failed == 0


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 40])
def test_iqm_is_scipy_trim_mean(n):
    scores = np.random.default_rng(n).standard_t(df=2, size=n) * 50
    assert iqm(scores) == pytest.approx(trim_mean(scores, 0.25), rel=1e-12, abs=1e-12)


def test_iqm_pools_strata_and_has_the_closed_form():
    first, second = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0, 8.0]
    assert iqm([first, second]) == pytest.approx(trim_mean(first + second, 0.25))
    # n = 8: g = 2 dropped at each end, mean of 3, 4, 5, 6
    assert iqm([8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 5.0, 4.0]) == pytest.approx(4.5)
    assert iqm([-1e9, 0.0, 1.0, 1e9]) == pytest.approx(0.5)  # outliers do not move it


def test_bootstrap_interval_equals_the_explicit_loop():
    gen = np.random.default_rng(7)
    strata = [gen.normal(0, 1, 5), gen.normal(3, 2, 3), gen.exponential(1, 8)]
    low, high = bootstrap_iqm_ci(strata, n_boot=400, confidence=0.9, seed=11)
    iqms = _loop_resamples(strata, 400, np.random.default_rng(11))
    assert low == pytest.approx(_quantile(iqms, 0.05), rel=1e-12)
    assert high == pytest.approx(_quantile(iqms, 0.95), rel=1e-12)


def test_stratification_keeps_every_stratum_in_every_resample():
    # two strata far apart: a stratified resample always holds 4 of each, so its IQM stays
    # between the strata; pooled resampling would sometimes draw one stratum only
    strata = [np.zeros(4), np.full(4, 100.0)]
    low, high = bootstrap_iqm_ci(strata, n_boot=2000, seed=0)
    assert 0 < low <= high < 100


def test_compare_equals_the_explicit_loop():
    gen = np.random.default_rng(3)
    reference, new = gen.normal(100, 10, 6), gen.normal(90, 10, 5)
    verdict = compare(reference, new, seed=5, n_boot=300)
    rng = np.random.default_rng(5)
    reference_iqms = _loop_resamples([reference], 300, rng)  # reference first, then new
    new_iqms = _loop_resamples([new], 300, rng)
    differences = [n - r for n, r in zip(new_iqms, reference_iqms, strict=True)]
    expected = {
        "reference_ci": (_quantile(reference_iqms, 0.025), _quantile(reference_iqms, 0.975)),
        "new_ci": (_quantile(new_iqms, 0.025), _quantile(new_iqms, 0.975)),
        "difference_ci": (_quantile(differences, 0.025), _quantile(differences, 0.975)),
    }
    for name, interval in expected.items():
        assert getattr(verdict, name) == pytest.approx(interval, rel=1e-12), name
    assert verdict.reference_iqm == pytest.approx(trim_mean(reference, 0.25))
    assert verdict.new_iqm == pytest.approx(trim_mean(new, 0.25))
    assert verdict.margin == pytest.approx(0.1 * abs(verdict.reference_iqm) + 1e-9)


def test_iqm_curve_equals_the_explicit_loop():
    gen = np.random.default_rng(2)
    steps = [100, 200, 300]
    curves = [[[s, float(v)] for s, v in zip(steps, gen.normal(size=3), strict=True)]]
    curves += [[[s, float(v)] for s, v in zip(steps, gen.normal(size=3), strict=True)]]
    curves += [[[s, float(v)] for s, v in zip(steps, gen.normal(size=3), strict=True)]]
    band = iqm_curve(curves, n_boot=200, seed=4)
    picks = np.random.default_rng(4).integers(0, 3, size=(200, 3))
    for t in range(3):
        column = [curve[t][1] for curve in curves]
        iqms = [float(trim_mean([column[i] for i in picks[b]], 0.25)) for b in range(200)]
        assert band.iqm[t] == pytest.approx(trim_mean(column, 0.25))
        assert band.low[t] == pytest.approx(_quantile(iqms, 0.025), rel=1e-12)
        assert band.high[t] == pytest.approx(_quantile(iqms, 0.975), rel=1e-12)
    assert band.steps == (100.0, 200.0, 300.0)


def test_iqm_curve_interpolates_other_grids():
    band = iqm_curve([[[0, 0.0], [10, 10.0]], [[0, 0.0], [5, 5.0], [10, 10.0]]], n_boot=10)
    assert band.iqm == (0.0, 10.0)


def test_bootstrap_interval_covers_the_known_iqm():
    """Coverage of the 95 % interval on data whose population IQM is known to be 0.

    Two strata of 15 runs, N(−1, 1) and N(+1, 1): their equal-weight mixture is symmetric
    about 0, so its interquartile mean is 0, and stratified resampling keeps the equal
    weights. 200 independent data sets (fixed seeds, so the test is deterministic): the
    binomial standard error of the coverage is sqrt(0.95·0.05/200) ≈ 0.015, and percentile
    bootstraps under-cover a little at this size, so accept [0.88, 0.99] (4.5 standard errors
    below nominal, 2.6 above): a wrong quantile level or a broken stratification (coverage
    near 0.6 or 1.0) falls outside.
    """
    trials, covered = 200, 0
    for trial in range(trials):
        gen = np.random.default_rng(1000 + trial)
        strata = [gen.normal(-1, 1, 15), gen.normal(1, 1, 15)]
        low, high = bootstrap_iqm_ci(strata, n_boot=1000, seed=trial)
        covered += low <= 0.0 <= high
    assert 0.88 <= covered / trials <= 0.99, covered / trials


def test_a_clearly_shifted_distribution_is_regressed():
    """Negative control: the verdict must catch a drop of 40 % with 10 seeds."""
    gen = np.random.default_rng(0)
    reference = gen.normal(100, 10, 10)
    verdict = compare(reference, gen.normal(60, 10, 10), seed=0)
    assert verdict.status == "regressed"
    assert verdict.difference_ci[1] < -verdict.margin


def test_same_distribution_passes_and_a_rise_is_improved():
    gen = np.random.default_rng(1)
    reference = gen.normal(100, 10, 10)
    assert compare(reference, gen.normal(100, 10, 10), seed=0).status == "pass"
    assert compare(reference, gen.normal(140, 10, 10), seed=0).status == "improved"


def test_identical_scores_pass_with_a_zero_width_difference():
    scores = [3.0, -1.0, 7.5]
    verdict = compare(scores, scores, seed=0)
    assert verdict.status == "pass" and verdict.difference == 0.0
    assert verdict.new_iqm == verdict.reference_iqm


def test_the_margin_forgives_a_small_but_certain_drop():
    # a 5 % drop, far outside seed noise: the interval is below 0 but above −10 % of 100
    gen = np.random.default_rng(2)
    reference = 100 + gen.normal(0, 0.1, 8)
    small = compare(reference, 95 + gen.normal(0, 0.1, 8), seed=0)
    assert small.difference_ci[1] < 0 and small.status == "pass"
    assert compare(reference, 85 + gen.normal(0, 0.1, 8), seed=0).status == "regressed"
    assert compare(reference, 95 + gen.normal(0, 0.1, 8), tolerance=0.0).status == "regressed"


def test_two_seeds_regress_only_when_every_pairing_is_worse():
    assert compare([100.0, 102.0], [80.0, 81.0], seed=0).status == "regressed"
    assert compare([100.0, 102.0], [80.0, 101.0], seed=0).status == "pass"


def test_negative_returns_use_the_size_of_the_reference():
    # pendulum-like returns: -200 → -300 is a 50 % drop
    assert compare([-200.0, -205.0, -198.0], [-300.0, -310.0, -305.0]).status == "regressed"
    assert compare([-200.0, -205.0, -198.0], [-205.0, -202.0, -199.0]).status == "pass"


def test_seed_reproduces_and_a_generator_is_accepted():
    reference, new = [1.0, 4.0, 2.0, 8.0], [2.0, 3.0, 9.0, 1.0]
    assert compare(reference, new, seed=3) == compare(reference, new, seed=3)
    from_generator = compare(reference, new, seed=np.random.default_rng(3))
    assert from_generator == compare(reference, new, seed=3)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: iqm([]), "non-empty"),
        (lambda: iqm([1.0, math.nan]), "non-finite"),
        (lambda: iqm([[1.0], []]), "stratum 1"),
        (lambda: bootstrap_iqm_ci([1.0], n_boot=0), "n_boot"),
        (lambda: bootstrap_iqm_ci([1.0], confidence=1.0), "confidence"),
        (lambda: compare([1.0], [1.0], tolerance=-0.1), "tolerance"),
        (lambda: compare([1.0], ["x"]), "new_scores"),
        (lambda: iqm_curve([[[0, 1.0, 2.0]]]), "curves[0]"),
    ],
)
def test_bad_input_names_the_argument(call, fragment):
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        call()
