"""Agent claims by training: a suite of runs, then one comparison per (env, noise, steps).

A comparison names two arms — an algorithm plus the cell options that pick its variant —
and a *relation* the candidate's final evaluation return is claimed to bear to the
baseline's. Each is scored as rliable recommends for few runs (Agarwal et al. 2021, "Deep
RL at the edge of the statistical precipice"): the IQM over seeds of each arm, the
stratified-bootstrap 95 % interval ``[lo, hi]`` of the IQM difference
``Δ = IQM(candidate) − IQM(baseline)`` (``verify.stats.compare`` with zero tolerance) and
the probability of improvement ``P(X > Y)`` over all seed pairs (ties count one half).

The verdict is three-state, read from ``[lo, hi]`` and the comparison's equivalence margin
``δ > 0`` (:func:`relation_outcome`):

    relation              supported                 contradicted              inconclusive
    better      (X > Y)   lo > 0                    hi < 0                    otherwise
    not-worse   (X ≥ Y)   lo > −δ                   hi < −δ                   otherwise
    equivalent  (X ≈ Y)   −δ < lo and hi < δ        lo > δ or hi < −δ         otherwise

``not-worse`` is a non-inferiority test and ``equivalent`` the interval form of the two
one-sided tests (TOST, each side at level 2.5 % with a 95 % interval): a small difference
the seeds cannot resolve is *inconclusive*, never *supported*, for ``better``; for
``equivalent`` it is *supported* only when the whole interval fits in ``±δ``. ``better``
takes no margin (``δ = 0``); the other two need ``δ > 0``, fixed with the claim before any
run is scored. One seed an arm is always inconclusive.

``run(settings, seed, folder)`` trains the suite's runs into ``folder/runs`` through the
regress executor (finished runs are reused, JAX cells train their seeds as one program) and
returns the findings; :func:`findings_from_folder` scores runs already on disk, from
``regress`` or ``train`` (the committed evidence records were scored this way).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from verify.claims._common import Finding, finding, outcome_of
from verify.stats import DEFAULT_N_BOOT, compare, iqm
from verify.suites import Suite, suite_tasks

__all__ = [
    "RELATIONS",
    "Arm",
    "Comparison",
    "Settings",
    "compare_runs",
    "findings_from_folder",
    "probability_of_improvement",
    "relation_outcome",
    "run",
]

RELATIONS = ("better", "not-worse", "equivalent")
_SYMBOLS = {"better": ">", "not-worse": "≥", "equivalent": "≈"}


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: ``algo`` and the variant options that pick its cell.

    A run belongs to the arm when its algorithm is ``algo`` and, among the *variant keys*
    (every option key some arm of the comparisons names), it sets exactly ``options``: the
    arm ``Arm("sobolev-td3")`` is the default variant, not one with ``lambda_s`` set.
    """

    algo: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return " ".join([self.algo, *(f"{k}={v}" for k, v in self.options)])

    def matches(self, settings: Mapping[str, Any], variant_keys: frozenset[str]) -> bool:
        options = settings.get("options", {})
        chosen = {key: options[key] for key in variant_keys if key in options}
        return settings["algo"] == self.algo and chosen == dict(self.options)


@dataclass(frozen=True)
class Comparison:
    """``candidate`` is claimed to bear ``relation`` to ``baseline`` (default ``better``: to
    end above it); ``margin`` is the equivalence margin ``δ`` of ``not-worse`` and
    ``equivalent`` in return units (module docstring); ``claim`` names the record's claim."""

    claim: str
    baseline: Arm
    candidate: Arm
    statement: str
    relation: str = "better"
    margin: float = 0.0

    def __post_init__(self):
        if self.relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}; got {self.relation!r}")
        margin = self.margin
        if isinstance(margin, bool) or not isinstance(margin, int | float) or margin != margin:
            raise ValueError(f"margin must be a number; got {margin!r}")
        if self.relation == "better" and margin != 0:
            raise ValueError(f"relation 'better' takes no margin (0); got {margin!r}")
        if self.relation != "better" and not 0 < margin < float("inf"):
            raise ValueError(
                f"relation {self.relation!r} needs a finite margin > 0; got {margin!r}"
            )


@dataclass(frozen=True)
class Settings:
    suite: Suite
    comparisons: tuple[Comparison, ...]
    n_boot: int = DEFAULT_N_BOOT
    jobs: int = 1


def probability_of_improvement(candidate, baseline) -> float:
    """``P(X > Y)`` for ``X`` a candidate run and ``Y`` a baseline run, ties one half."""
    x = np.asarray(candidate, dtype=float)[:, None]
    y = np.asarray(baseline, dtype=float)[None, :]
    return float(np.mean((x > y) + 0.5 * (x == y)))


def relation_outcome(relation: str, low: float, high: float, margin: float = 0.0) -> str:
    """The three-state verdict of ``relation`` from the interval ``[low, high]`` of
    ``Δ = IQM(candidate) − IQM(baseline)`` and the margin ``δ`` (the module docstring's table).

    >>> relation_outcome("better", 0.5, 2.0)
    'supported'
    >>> relation_outcome("not-worse", -0.5, 2.0, margin=1.0)  # at most δ below: supported
    'supported'
    >>> relation_outcome("equivalent", -0.5, 2.0, margin=1.0)  # reaches past +δ
    'inconclusive'
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}; got {relation!r}")
    if not low <= high:
        raise ValueError(f"the interval must have low <= high; got [{low!r}, {high!r}]")
    if relation == "better":
        return outcome_of(low, high, better_below=False)
    if not margin > 0:
        raise ValueError(f"relation {relation!r} needs a margin > 0; got {margin!r}")
    if relation == "not-worse":
        return outcome_of(low + margin, high + margin, better_below=False)
    if -margin < low and high < margin:
        return "supported"
    if low > margin or high < -margin:
        return "contradicted"
    return "inconclusive"


def _group(results: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]):
    """``{(env, noise, steps): [(settings, final return), ...]}`` of the finished runs."""
    groups: dict[tuple[str, str, int], list[tuple[Mapping[str, Any], float]]] = {}
    for settings, result in results:
        key = (settings["env"], settings["noise"], int(settings["steps"]))
        groups.setdefault(key, []).append((settings, float(result["final_eval_return"])))
    return groups


def _arm_scores(arm: Arm, runs, keys: frozenset[str], where: str) -> dict[int, float]:
    chosen = [(s, score) for s, score in runs if arm.matches(s, keys)]
    variants = {json.dumps(s.get("options", {}), sort_keys=True) for s, _ in chosen}
    if len(variants) > 1:
        raise ValueError(
            f"{where}: arm {arm.label!r} matches {len(variants)} cells with different options; "
            "name the option that tells them apart"
        )
    seeds = [int(s["seed"]) for s, _ in chosen]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{where}: arm {arm.label!r} holds two runs of one seed; one run a seed")
    return {int(s["seed"]): score for s, score in chosen}


def compare_runs(
    results: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]],
    comparisons: Iterable[Comparison],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> list[Finding]:
    """One finding per comparison and (env, noise, steps) group holding both arms."""
    findings = []
    groups = _group(results)
    comparisons = tuple(comparisons)
    keys = frozenset(
        key for c in comparisons for arm in (c.baseline, c.candidate) for key, _ in arm.options
    )
    for comparison in comparisons:
        for (env, noise, steps), runs in sorted(groups.items()):
            where = f"{env} {noise} {steps}"
            base = _arm_scores(comparison.baseline, runs, keys, where)
            cand = _arm_scores(comparison.candidate, runs, keys, where)
            if not base or not cand:
                continue
            base_scores = [base[s] for s in sorted(base)]
            cand_scores = [cand[s] for s in sorted(cand)]
            verdict = compare(
                base_scores, cand_scores, seed=seed, n_boot=n_boot, tolerance=0.0, atol=0.0
            )
            low, high = verdict.difference_ci
            relation, margin = comparison.relation, float(comparison.margin)
            outcome = (
                "inconclusive"
                if min(len(base_scores), len(cand_scores)) < 2
                else relation_outcome(relation, low, high, margin)
            )
            findings.append(
                finding(
                    comparison.claim,
                    f"{env} {noise}: {comparison.candidate.label} vs {comparison.baseline.label}",
                    dict(env=env, noise=noise, steps=steps, n_boot=n_boot),
                    seed,
                    verdict.difference,
                    -margin if relation == "not-worse" else margin,
                    outcome != "contradicted",
                    outcome=outcome,
                    statement=comparison.statement,
                    baseline=comparison.baseline.label,
                    candidate=comparison.candidate.label,
                    baseline_iqm=iqm(base_scores),
                    baseline_ci=list(verdict.reference_ci),
                    candidate_iqm=iqm(cand_scores),
                    candidate_ci=list(verdict.new_ci),
                    difference_ci=[low, high],
                    probability_of_improvement=probability_of_improvement(cand_scores, base_scores),
                    baseline_finals=base_scores,
                    candidate_finals=cand_scores,
                    baseline_seeds=sorted(base),
                    candidate_seeds=sorted(cand),
                    **_relation_details(relation, margin),
                )
            )
    return findings


def _relation_details(relation: str, margin: float) -> dict[str, Any]:
    """What a finding says about its relation; ``better`` findings keep their earlier note."""
    note = "measured: IQM difference (candidate − baseline) of the final evaluation return; "
    if relation == "better":
        return dict(note=note + "bound: 0")
    bounds = {
        "not-worse": f"bound: −δ = {-margin:g} (supported when the interval lies above it)",
        "equivalent": f"bound: ±δ = ±{margin:g} (supported when the interval lies inside)",
    }
    return dict(
        relation=relation, symbol=_SYMBOLS[relation], margin=margin, note=note + bounds[relation]
    )


def _stored_results(folder: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(settings, result)`` of every finished run under ``folder``: the ``runs/*.json`` that
    ``regress`` stores, and any ``.../result.json`` beside the ``config.json`` that ``train``
    writes (``train --seeds`` puts one per ``seed-S/`` folder). ``regress`` also leaves each
    run's own files under ``work/``; those are the runs of ``runs/`` and are not read twice."""
    found = []
    for path in sorted(folder.glob("runs/*.json")):
        if path.name.endswith(".error.json"):
            continue
        stored = json.loads(path.read_text())
        if stored.get("result"):
            found.append((stored["settings"], stored["result"]))
    work = folder / "work"
    for path in sorted(folder.rglob("result.json")):
        if work in path.parents:
            continue
        config = path.with_name("config.json")
        if config.is_file():
            found.append((json.loads(config.read_text())["run"], json.loads(path.read_text())))
    return found


def findings_from_folder(
    folder: str | Path, comparisons: Iterable[Comparison], *, n_boot: int, seed: int = 0
) -> list[Finding]:
    """Score the runs a ``regress`` sweep, :func:`run` or ``train`` left under ``folder``."""
    folder = Path(folder)
    results = _stored_results(folder) if folder.is_dir() else []
    if not results:
        raise ValueError(
            f"folder {str(folder)!r} holds no finished runs (regress's runs/*.json or "
            "train's result.json beside config.json)"
        )
    return compare_runs(results, comparisons, n_boot=n_boot, seed=seed)


def run(settings: Settings, seed: int, folder: str | Path) -> list[Finding]:
    """Train ``settings.suite`` into ``folder/runs`` (reusing finished runs), then compare."""
    from agents.device_loop import device_group, run_seeds_from_settings
    from agents.training import run_from_settings
    from verify.executors import Batching, run_tasks

    folder = Path(folder)
    tasks = suite_tasks(settings.suite)
    outcomes = run_tasks(
        tasks,
        run_from_settings,
        folder,
        jobs=settings.jobs,
        batching=Batching(device_group, run_seeds_from_settings),
    )
    crashed = [o for o in outcomes if o.status == "crashed"]
    if crashed:
        raise RuntimeError(f"{len(crashed)} of {len(outcomes)} runs crashed; see {folder}/runs")
    results = [(o.settings, o.result) for o in outcomes]
    return compare_runs(results, settings.comparisons, n_boot=settings.n_boot, seed=seed)
