"""C7 on the point mass ([DS], docs/claims.md#c7): the ordering of DSDPG's critic losses, by
training.

SPEC C7: on the stochastic 2-D point mass with ``N`` reward locations, "MSMMD-Sobolev ≥
MMD-Sobolev > Huber-Sobolev ≈ no-gradient critics as N grows", and removing the TQC-style
truncation costs the most. Each ordering is one comparison per ``point-mass:N`` of the
final evaluation return of ``dsdpg`` with one ``critic_loss`` against another (IQM
difference, stratified-bootstrap 95 % interval, probability of improvement; three-state,
:mod:`verify.claims._compare_runs`):

    MSMMD ≥ MMD                   not-worse,  margin δ
    MMD > Huber-Sobolev           better
    Huber-Sobolev ≈ no-gradient   equivalent, margin δ
    truncation p = 0.1 > p = 0    better      (dsdpg msmmd, ``truncate`` 0.1 against 0)

TD3 trains in every cell beside them, as the reference a reader checks learning against
(:func:`cell_summary` gives each arm's IQM and goal-success fraction); it is in no
comparison, since C7 makes no claim about it.

**The margin** ``δ = 5`` (return units), fixed with the claim before any C7 run was scored:
5 % of the toy's return scale (a step earns at most ``w_0 = 1``, an episode has 100 steps,
so returns lie in ``[0, 100]``), and below the return that separates holding at two
neighbouring goals at the largest ``N`` (weights differ by ``1/(2N) = 1/16`` at ``N = 8``,
about ``90/16 ≈ 5.6`` over an episode spent at a goal): arms called equivalent cannot be
settling on different goals. Where neither arm learns (returns near 0) ``≈`` and ``≥`` are
supported trivially; read them with the arms' IQMs and success fractions in the record.

Budgets (``SETTINGS``), every cell on the device loop with its seeds in one program:
``testing`` (CI: ``point-mass:1``, DSDPG with msmmd and mmd, the first ordering, 2 seeds ×
300 steps; inconclusive by design); ``quick`` (what two cores afford in about 35 minutes
alone: N ∈ {1, 4}, the six arms, 5 seeds × 8000 steps, ``-j 2``; measured, see
``QUICK_SUITE``); ``full`` (the issue's sweep: N ∈ {1, 2, 4, 8}, td3
and the five DSDPG arms, 10 seeds × 30 000 steps; ``bench --only c7`` projects 318 minutes
on two cores for the td3 and four-loss part, the ablation arm adds about a msmmd cell per
N).

``python -m verify.claims.c7_toy BUDGET --out DIR [--evidence FILE]`` trains a budget into
``DIR/runs`` (finished runs are reused), scores it from that folder and writes the records
with versions, machine, date and wall time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from verify.claims import _compare_runs
from verify.claims._common import Finding
from verify.claims._common import score as _score
from verify.claims._compare_runs import Arm, Comparison, Settings
from verify.records import Record
from verify.suites import Cell, Suite, options

NAME, TITLE = "C7-toy", "C7 — DSDPG's critic losses on the point mass (training)"
MARGIN = 5.0
NS = (1, 2, 4, 8)


def _dsdpg(loss: str, **extra) -> Arm:
    return Arm("dsdpg", (("critic_loss", loss), *sorted(extra.items())))


MSMMD, MMD, HUBER, NOGRAD = (_dsdpg(x) for x in ("msmmd", "mmd", "huber-sobolev", "mmd-nograd"))
NO_TRUNCATION = _dsdpg("msmmd", truncate=0.0)
COMPARISONS = (
    Comparison(
        "C7",
        MMD,
        MSMMD,
        "[DS]: MSMMD-Sobolev is at least as good as MMD-Sobolev (not worse by more than δ)",
        relation="not-worse",
        margin=MARGIN,
    ),
    Comparison("C7", HUBER, MMD, "[DS]: MMD-Sobolev ends above Huber-Sobolev"),
    Comparison(
        "C7",
        NOGRAD,
        HUBER,
        "[DS]: Huber-Sobolev is equivalent to the no-gradient MMD critic (within ±δ)",
        relation="equivalent",
        margin=MARGIN,
    ),
    Comparison(
        "C7",
        NO_TRUNCATION,
        MSMMD,
        "[DS]: the TQC-style truncation helps (DSDPG with its default truncation ends above "
        "truncation 0)",
    ),
)
# td3 and every DSDPG arm: (algo, cell options)
ARMS = (
    ("td3", ()),
    *((arm.algo, options(**dict(arm.options))) for arm in (MSMMD, MMD, HUBER, NOGRAD)),
    (NO_TRUNCATION.algo, options(**dict(NO_TRUNCATION.options))),
)


def _suite(name, summary, ns, arms, *, seeds, steps, eval_every, eval_episodes, base, dsdpg):
    return Suite(
        name=name,
        summary=summary,
        cells=tuple(
            Cell(f"point-mass:{n}", algo, seeds=seeds, steps=steps, options=variant)
            for n in ns
            for algo, variant in arms
        ),
        eval_every=eval_every,
        eval_episodes=eval_episodes,
        options=base,
        algo_options=(("dsdpg", dsdpg),),
    )


TESTING_SUITE = _suite(
    "c7-toy-testing",
    "CI: the C7-toy pipeline on point-mass:1, DSDPG with msmmd and mmd, 2 seeds × 300 steps",
    (1,),
    ARMS[1:3],
    seeds=(0, 1),
    steps=300,
    eval_every=300,
    eval_episodes=2,
    base=options(hidden=[16, 16], batch_size=16, start_steps=100, buffer_size=1000),
    dsdpg=options(updates_per_step=1, model_hidden=[16, 16]),
)
# quick, sized by measuring 5-seed point-mass:4 cells here (CPU seconds, which load does not
# inflate much): per seed-step msmmd 6.2 ms, mmd-nograd 1.8 ms, td3 ~0 (its cell is its ~15 s
# compile); mmd and huber-sobolev ~3.8 ms each (bench --only c7's 318-minute projection less
# those); ~25 s compile per DSDPG cell. 2 N × 5 seeds × 8000 steps × 21.7 ms (the six arms)
# + 12 cells' compiles ≈ 2040 CPU-s: about 35 min alone with -j 1, under 20 with -j 2. TD3
# on point-mass:1 starts to learn at 5000-8000 steps (5 seeds, eval IQM 8.7 at 6000).
QUICK_SUITE = _suite(
    "c7-toy-quick",
    "C7 on the point mass at a 2-core budget (about 35 min alone with -j 1): N in {1, 4}, td3 "
    "and five DSDPG arms, 5 seeds × 8000 steps, 64-64 networks",
    (1, 4),
    ARMS,
    seeds=tuple(range(5)),
    steps=8000,
    eval_every=2000,
    eval_episodes=10,
    base=options(hidden=[64, 64], batch_size=32, start_steps=500, buffer_size=50_000),
    dsdpg=options(updates_per_step=1, model_hidden=[64, 64]),
)
FULL_SUITE = _suite(
    "c7-toy-full",
    "C7 on the point mass, the issue's sweep: N in {1, 2, 4, 8}, td3 and five DSDPG arms, "
    "10 seeds × 30 000 steps, 64-64 networks (about 6 h on two cores; for --executor ray)",
    NS,
    ARMS,
    seeds=tuple(range(10)),
    steps=30_000,
    eval_every=3000,
    eval_episodes=10,
    base=options(hidden=[64, 64], batch_size=32, start_steps=1000, buffer_size=50_000),
    dsdpg=options(updates_per_step=1, model_hidden=[64, 64]),
)

SETTINGS = {
    "testing": Settings(TESTING_SUITE, COMPARISONS[:1], n_boot=200),
    "quick": Settings(QUICK_SUITE, COMPARISONS, jobs=2),
    "full": Settings(FULL_SUITE, COMPARISONS),
}


def run(settings: Settings, seed: int, folder: str | Path) -> list[Finding]:
    return _compare_runs.run(settings, seed, folder)


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    return _score(findings, versions)


def _arm_label(settings: Mapping[str, Any]) -> str:
    chosen = settings.get("options", {})
    picked = [f"{k}={chosen[k]}" for k in ("critic_loss", "truncate") if k in chosen]
    return " ".join([settings["algo"], *picked])


def cell_summary(folder: str | Path, *, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Every arm × env of the finished runs under ``folder``: its seeds, final returns, IQM
    with its stratified-bootstrap 95 % interval, and the mean final success fraction (the
    share of evaluation episodes ending within a bump width of a goal) with the episodes per
    goal summed over seeds."""
    from verify.stats import bootstrap_iqm_ci, iqm

    # a run is stored twice by regress (runs/KEY.json and its work folder's result.json):
    # one entry per seed
    groups: dict[tuple[str, str, int], dict[int, Mapping[str, Any]]] = {}
    for settings, result in _compare_runs._stored_results(Path(folder)):
        key = (settings["env"], _arm_label(settings), int(settings["steps"]))
        groups.setdefault(key, {})[int(settings["seed"])] = result
    rows = []
    for (env, arm, steps), by_seed in sorted(groups.items()):
        runs = sorted(by_seed.items())
        finals = [float(result["final_eval_return"]) for _, result in runs]
        success = [result.get("final_success") for _, result in runs]
        goals = [result.get("final_goals") for _, result in runs]
        rows.append(
            dict(
                cell=f"{arm} {env}",
                env=env,
                arm=arm,
                steps=steps,
                seeds=[s for s, _ in runs],
                finals=finals,
                iqm=iqm(finals),
                iqm_ci=list(bootstrap_iqm_ci(finals, n_boot=n_boot, seed=seed)),
                mean_final_success=(
                    float(np.mean(success)) if all(x is not None for x in success) else None
                ),
                final_goals=(
                    np.sum(goals, axis=0).astype(int).tolist()
                    if all(g is not None for g in goals)
                    else None
                ),
            )
        )
    return rows


def _machine() -> dict[str, Any]:
    return dict(
        cpu_count=os.cpu_count(),
        platform=platform.platform(),
        processor=platform.processor(),
    )


def evidence(budget: str, folder: str | Path, *, seed: int = 0, wall_s: float | None = None):
    """The evidence document of a budget's runs under ``folder``: records scored from the
    folder (:func:`~verify.claims._compare_runs.findings_from_folder`), each arm's summary,
    versions, machine, date and the sweep's wall time."""
    from dataclasses import asdict

    from verify.records import library_versions

    settings = SETTINGS[budget]
    versions = library_versions()
    findings = _compare_runs.findings_from_folder(
        folder, settings.comparisons, n_boot=settings.n_boot, seed=seed
    )
    return dict(
        claim=NAME,
        budget=budget,
        suite=settings.suite.name,
        summary=settings.suite.summary,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        wall_time_s=wall_s,
        machine=_machine(),
        versions=versions,
        margin=MARGIN,
        records=[asdict(r) for r in score(findings, versions)],
        cells=cell_summary(folder, n_boot=settings.n_boot, seed=seed),
    )


def main(argv: list[str] | None = None) -> int:
    from agents.files import write_json

    parser = argparse.ArgumentParser(prog="python -m verify.claims.c7_toy", description=__doc__)
    parser.add_argument("budget", choices=tuple(SETTINGS))
    parser.add_argument("--out", required=True, help="run folder (runs/ inside is reused)")
    parser.add_argument("--evidence", help="write the evidence JSON here")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes")
    parser.add_argument("--score-only", action="store_true", help="score the runs in --out")
    args = parser.parse_args(argv)
    settings = SETTINGS[args.budget]
    if args.jobs is not None:
        settings = Settings(settings.suite, settings.comparisons, settings.n_boot, args.jobs)
    start = time.perf_counter()
    if not args.score_only:
        run(settings, 0, args.out)
    wall = None if args.score_only else time.perf_counter() - start
    document = evidence(args.budget, args.out, wall_s=wall)
    for record in document["records"]:
        low, high = record["details"]["difference_ci"]
        print(
            f"{record['verdict']:>12}  {record['case']}: Δ {record['measured']:+.2f} "
            f"[{low:+.2f}, {high:+.2f}], P = {record['details']['probability_of_improvement']:.2f}"
        )
    if args.evidence:
        write_json(Path(args.evidence), document, indent=1, sort_keys=True)
    if wall is not None:
        print(f"wall time {wall / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
