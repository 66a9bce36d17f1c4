"""Interquartile means, stratified bootstrap intervals and regression verdicts for RL scores.

The statistics follow rliable (Agarwal et al. 2021, "Deep RL at the edge of the statistical
precipice", NeurIPS): the score of a set of runs is the **interquartile mean**

    IQM(x_1..x_n) = 1/(n − 2g) · Σ_{i=g+1}^{n−g} x_(i),     g = floor(n / 4),

the mean of the sorted scores with ``g`` dropped at each end (``scipy.stats.trim_mean(x,
0.25)``; rliable's ``aggregate_iqm``). Scores of several strata (tasks) are pooled before
trimming, as rliable does.

Its uncertainty is a **stratified bootstrap percentile interval**: each resample draws, within
every stratum s separately, n_s runs with replacement from that stratum's n_s runs, pools them
and takes the IQM; the interval is the (α/2, 1 − α/2) quantiles (NumPy's linear
interpolation) of the resampled IQMs, α = 1 − confidence.

**Draw order** (part of the reproducibility contract, so a reference loop with the same
generator reproduces every resample): for each score set in argument order, for each stratum
in order, one call ``rng.integers(0, n_s, size=(n_boot, n_s))``; row b is resample b.

Randomness is an argument: ``seed`` is an ``int`` or a ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "STATUSES",
    "CurveBand",
    "Verdict",
    "bootstrap_iqm_ci",
    "compare",
    "iqm",
    "iqm_curve",
]

STATUSES = ("pass", "regressed", "improved")
DEFAULT_N_BOOT = 2000
DEFAULT_TOLERANCE = 0.1
DEFAULT_ATOL = 1e-9


def _as_strata(scores, name: str) -> list[np.ndarray]:
    """A 1-D array (one stratum) or a sequence of 1-D arrays (one per stratum), as float64."""
    if isinstance(scores, np.ndarray) and scores.ndim == 1:
        strata = [scores]
    elif isinstance(scores, Sequence | np.ndarray) and len(scores) > 0:
        first = scores[0]
        nested = isinstance(first, Sequence | np.ndarray) and not isinstance(first, str)
        strata = list(scores) if nested else [scores]
    else:
        raise ValueError(
            f"{name} must be a non-empty 1-D array of scores or a sequence of 1-D arrays "
            f"(one per stratum); got {scores!r}"
        )
    out = []
    for index, stratum in enumerate(strata):
        try:
            values = np.asarray(stratum, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: stratum {index} is not numeric; got {stratum!r}") from None
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"{name}: stratum {index} must be a non-empty 1-D array; got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name}: stratum {index} has non-finite scores: {values.tolist()}")
        out.append(values)
    return out


def _check_boot(n_boot: int, confidence: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1; got {n_boot!r}")
    if not (isinstance(confidence, int | float) and 0 < confidence < 1):
        raise ValueError(f"confidence must be a number in (0, 1); got {confidence!r}")


def _iqm_rows(samples: np.ndarray) -> np.ndarray:
    """IQM of every row of ``samples`` ``(rows, n)``, or along axis 1 of ``(rows, n, T)``."""
    n = samples.shape[1]
    cut = n // 4
    ordered = np.sort(samples, axis=1)
    return ordered[:, cut : n - cut].mean(axis=1)


def iqm(scores) -> float:
    """Interquartile mean of ``scores`` (pooled over strata): rliable's ``aggregate_iqm``.

    ``IQM = mean(x_(g+1), …, x_(n−g))`` over the sorted scores, ``g = floor(n/4)``; equal to
    ``scipy.stats.trim_mean(x, 0.25)``. ``scores`` is a 1-D array or a sequence of 1-D arrays
    (strata, pooled). Raises ``ValueError`` for empty or non-finite input.

    >>> iqm([1.0, 2.0, 3.0, 100.0])  # drops 1 and 100
    2.5
    >>> iqm([5.0, 7.0])  # fewer than 4 scores: nothing is trimmed
    6.0
    """
    pooled = np.concatenate(_as_strata(scores, "scores"))
    return float(_iqm_rows(pooled[None, :])[0])


def _resample(strata: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, Σ n_s)``: every row a stratified resample (the module's draw order)."""
    blocks = []
    for stratum in strata:
        picks = rng.integers(0, stratum.size, size=(n_boot, stratum.size))
        blocks.append(stratum[picks])
    return np.concatenate(blocks, axis=1)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_iqm_ci(
    scores,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> tuple[float, float]:
    """Stratified bootstrap percentile interval of the IQM of ``scores``.

    For b = 1..n_boot: resample each stratum's runs with replacement (sizes kept), pool,
    ``θ*_b = IQM(pooled)``; return the (α/2, 1 − α/2) quantiles of θ*, α = 1 − confidence.
    ``scores``: a 1-D array (one stratum) or a sequence of 1-D arrays (one per stratum, sizes
    may differ; rliable's ``(runs, tasks)`` array is ``list(scores.T)``). A stratum of one run
    contributes a constant; all strata of one run give a zero-width interval.

    >>> bootstrap_iqm_ci([3.0, 3.0, 3.0], seed=0)
    (3.0, 3.0)
    """
    strata = _as_strata(scores, "scores")
    _check_boot(n_boot, confidence)
    rng = np.random.default_rng(seed)
    return _interval(_iqm_rows(_resample(strata, n_boot, rng)), confidence)


@dataclass(frozen=True)
class Verdict:
    """The comparison of a new set of runs with a reference set (see :func:`compare`).

    ``difference = new_iqm − reference_iqm``; ``difference_ci`` is its bootstrap interval;
    ``margin`` the practical threshold ``tolerance · |reference_iqm| + atol``.
    """

    status: str
    reference_iqm: float
    reference_ci: tuple[float, float]
    new_iqm: float
    new_ci: tuple[float, float]
    difference: float
    difference_ci: tuple[float, float]
    margin: float
    n_reference: int
    n_new: int

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}; got {self.status!r}")


def compare(
    reference_scores,
    new_scores,
    *,
    seed: int | np.random.Generator = 0,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    tolerance: float = DEFAULT_TOLERANCE,
    atol: float = DEFAULT_ATOL,
) -> Verdict:
    """Verdict for one cell: did ``new_scores`` regress from ``reference_scores``?

    Both sets are resampled independently (stratified, reference first, then new, with one
    generator), giving ``θ*_ref,b`` and ``θ*_new,b``; ``Δ*_b = θ*_new,b − θ*_ref,b`` and
    ``[Δ_lo, Δ_hi]`` is its percentile interval. With ``m = tolerance · |IQM_ref| + atol``:

        regressed   if Δ_hi < −m     (the whole interval lies below −m)
        improved    if Δ_lo > +m
        pass        otherwise

    Why both an interval and a margin: the interval alone over-reacts with the few seeds a
    regression suite affords (percentile bootstraps under-cover at small n, so an unchanged
    agent on another machine or library version would fail too often), and the margin alone
    ignores seed spread. Requiring both means a regression is flagged only when it is clear
    given the seeds *and* larger than ``tolerance`` (default 10 %) of the reference's size.
    ``atol`` keeps the margin positive at ``IQM_ref = 0``. Identical score sets give
    ``Δ* ≡ 0`` and always pass. With 2 seeds per set the rule amounts to "every new seed is
    worse than every reference seed by more than m" (the bootstrap interval then spans nearly
    all pairings). ``reference_ci`` and ``new_ci`` come from the same resamples.

    >>> compare([10.0, 11.0, 12.0], [10.0, 11.0, 12.0]).status
    'pass'
    >>> compare([10.0, 11.0, 12.0], [1.0, 2.0, 3.0]).status
    'regressed'
    """
    reference = _as_strata(reference_scores, "reference_scores")
    new = _as_strata(new_scores, "new_scores")
    _check_boot(n_boot, confidence)
    if not (isinstance(tolerance, int | float) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0; got {tolerance!r}")
    if not (isinstance(atol, int | float) and math.isfinite(atol) and atol >= 0):
        raise ValueError(f"atol must be a finite number >= 0; got {atol!r}")
    rng = np.random.default_rng(seed)
    reference_boot = _iqm_rows(_resample(reference, n_boot, rng))
    new_boot = _iqm_rows(_resample(new, n_boot, rng))
    reference_iqm, new_iqm = iqm(reference), iqm(new)
    low, high = _interval(new_boot - reference_boot, confidence)
    margin = tolerance * abs(reference_iqm) + atol
    status = "regressed" if high < -margin else "improved" if low > margin else "pass"
    return Verdict(
        status=status,
        reference_iqm=reference_iqm,
        reference_ci=_interval(reference_boot, confidence),
        new_iqm=new_iqm,
        new_ci=_interval(new_boot, confidence),
        difference=new_iqm - reference_iqm,
        difference_ci=(low, high),
        margin=margin,
        n_reference=sum(s.size for s in reference),
        n_new=sum(s.size for s in new),
    )


@dataclass(frozen=True)
class CurveBand:
    """IQM learning curve over seeds with its pointwise bootstrap interval, all ``(T,)``."""

    steps: tuple[float, ...]
    iqm: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]


def iqm_curve(
    curves: Sequence[Sequence[Sequence[float]]],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = 0.95,
    seed: int | np.random.Generator = 0,
) -> CurveBand:
    """IQM over seeds of evaluation curves, with a pointwise bootstrap percentile band.

    ``curves[i]`` is seed i's list of ``[env_steps, return]``. Every curve is put on the step
    grid of the first (``np.interp``; equal grids are left untouched). The band resamples
    whole seeds (one ``rng.integers(0, n, size=(n_boot, n))`` call), so each resampled curve
    is a set of real seeds' curves: ``IQM*_b(t)`` over the seeds of resample b, quantiles
    over b at each t.
    """
    _check_boot(n_boot, confidence)
    if not isinstance(curves, Sequence) or len(curves) == 0:
        raise ValueError(f"curves must be a non-empty list of per-seed curves; got {curves!r}")
    arrays = []
    for index, curve in enumerate(curves):
        points = np.asarray(curve, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
            raise ValueError(
                f"curves[{index}] must be a non-empty list of [env_steps, return]; "
                f"got shape {points.shape}"
            )
        if not np.all(np.isfinite(points)):
            raise ValueError(f"curves[{index}] has non-finite entries")
        arrays.append(points)
    grid = arrays[0][:, 0]
    values = np.stack(
        [
            p[:, 1] if np.array_equal(p[:, 0], grid) else np.interp(grid, p[:, 0], p[:, 1])
            for p in arrays
        ]
    )  # (seeds, T)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(arrays), size=(n_boot, len(arrays)))
    boot = _iqm_rows(values[picks])  # (n_boot, T)
    alpha = 1.0 - confidence
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    centre = _iqm_rows(values[None, :, :])[0]
    return CurveBand(
        steps=tuple(grid.tolist()),
        iqm=tuple(centre.tolist()),
        low=tuple(low.tolist()),
        high=tuple(high.tolist()),
    )
