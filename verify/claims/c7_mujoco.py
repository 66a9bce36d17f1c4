"""C7 on MuJoCo ([DS], docs/claims.md#c7): DSDPG against TD3 and MAGE under noise, by training.

[DS] reports that under multiplicative observation noise ``U[0.8, 1.2]`` (``obs-mult:0.2``)
and under Gaussian dynamics noise (``dyn-gauss``) DSDPG leads on about half the tasks. Here:
InvertedDoublePendulum-v5 and Hopper-v5 under both noises; ``td3``, ``mage`` and ``dsdpg``;
each comparison is the IQM difference of the final evaluation return with its
stratified-bootstrap 95 % interval and the probability of improvement
(:mod:`verify.claims._compare_runs`), three-state.

Budgets (``SETTINGS``): ``testing`` (CI: InvertedDoublePendulum under ``obs-mult:0.2``, TD3
and DSDPG, 2 seeds × 200 steps: it exercises the pipeline, its verdict is inconclusive by
design); ``quick`` (what two cores afford: both envs × both noises × 3 algorithms × 5
seeds × 3000 steps, 64-64 networks, about 75 minutes with ``-j 1``); ``full`` (the
paper-scale sweep for ``--executor ray``: 100k steps on InvertedDoublePendulum, 300k on
Hopper, the algorithms' own defaults).
"""

from __future__ import annotations

from pathlib import Path

from verify.claims import _compare_runs
from verify.claims._common import Finding
from verify.claims._common import score as _score
from verify.claims._compare_runs import Arm, Comparison, Settings
from verify.records import Record
from verify.suites import SUITES, Cell, Suite, options

NAME, TITLE = "C7-mujoco", "C7 — DSDPG under noise on MuJoCo (training)"
_STATEMENT = "[DS]: under observation or dynamics noise DSDPG ends above {baseline}"
COMPARISONS = tuple(
    Comparison("C7", Arm(baseline), Arm("dsdpg"), _STATEMENT.format(baseline=baseline))
    for baseline in ("td3", "mage")
)

TESTING_SUITE = Suite(
    name="c7-mujoco-testing",
    summary="CI: the C7-mujoco pipeline on InvertedDoublePendulum, 2 seeds × 200 steps",
    cells=tuple(
        Cell("InvertedDoublePendulum-v5", algo, "obs-mult:0.2", seeds=(0, 1), steps=200)
        for algo in ("td3", "dsdpg")
    ),
    eval_every=200,
    eval_episodes=1,
    options=options(hidden=[16, 16], batch_size=16, start_steps=100, buffer_size=1000),
    algo_options=(("dsdpg", options(updates_per_step=1, model_hidden=[16, 16])),),
)
QUICK_SUITE = SUITES["noisy-mujoco"]  # verify/suites.py: also `regress noisy-mujoco`
FULL_SUITE = SUITES["noisy-mujoco-full"]

SETTINGS = {
    "testing": Settings(TESTING_SUITE, COMPARISONS[:1], n_boot=200),
    "quick": Settings(QUICK_SUITE, COMPARISONS),
    "full": Settings(FULL_SUITE, COMPARISONS),
}


def run(settings: Settings, seed: int, folder: str | Path) -> list[Finding]:
    return _compare_runs.run(settings, seed, folder)


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    return _score(findings, versions)
