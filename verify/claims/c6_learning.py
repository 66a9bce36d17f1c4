"""C6 in learning ([FS], docs/claims.md#c6): Sobolev agents against their value-only
baselines at budgets where the baselines learn, by training.

[FS] claims faster critic convergence and more stable policy gradients than value-only TD.
Here each Sobolev agent is compared with its baseline on the final evaluation return (IQM
difference, stratified-bootstrap 95 % interval, probability of improvement; three-state,
:mod:`verify.claims._compare_runs`): Sobolev-TD3 against TD3 and Sobolev-SAC against SAC on
``pendulum`` (15k steps: TD3 solves it, IQM above −200) and ``toy-1d``, and on
InvertedPendulum-v5 Sobolev-TD3 with its default gradient weights (``bounded``), with the
uncapped ``relative`` normalisation (the default before issue 12, which collapses there),
without normalisation (``none``) and with action gradients only (``lambda_s=0``), against
TD3.

Budgets (``SETTINGS``): ``testing`` (CI: pendulum, TD3 and Sobolev-TD3, 2 seeds × 300 steps
on the device loop; inconclusive by design); ``quick`` (the ``c6-learning`` suite, 10 seeds,
about 5 minutes on two cores); ``full`` (``quick`` plus the InvertedPendulum cells, 10 seeds
× 8000 steps, about 25 minutes more).
"""

from __future__ import annotations

from pathlib import Path

from verify.claims import _compare_runs
from verify.claims._common import Finding
from verify.claims._common import score as _score
from verify.claims._compare_runs import Arm, Comparison, Settings
from verify.records import Record
from verify.suites import SUITES, Cell, Suite, options

NAME, TITLE = "C6-learning", "C6 — Sobolev agents against value-only ones (training)"
_SEEDS = tuple(range(10))
C6_LEARNING = SUITES["c6-learning"]
_NO_NORMALISATION = (("grad_normalization", "none"),)
_UNBOUNDED = (("grad_normalization", "relative"),)
_ACTION_ONLY = (("lambda_s", 0.0),)
COMPARISONS = (
    Comparison("C6", Arm("td3"), Arm("sobolev-td3"), "[FS]: Sobolev-TD3 ends above TD3"),
    Comparison("C6", Arm("sac"), Arm("sobolev-sac"), "[FS]: Sobolev-SAC ends above SAC"),
    Comparison(
        "C6",
        Arm("td3"),
        Arm("sobolev-td3", _UNBOUNDED),
        "[FS]: Sobolev-TD3 with the uncapped relative gradient normalisation ends above TD3",
    ),
    Comparison(
        "C6",
        Arm("td3"),
        Arm("sobolev-td3", _NO_NORMALISATION),
        "[FS]: Sobolev-TD3 without gradient normalisation ends above TD3",
    ),
    Comparison(
        "C6",
        Arm("td3"),
        Arm("sobolev-td3", _ACTION_ONLY),
        "[FS]: Sobolev-TD3 with action gradients only ends above TD3",
    ),
)

TESTING_SUITE = Suite(
    name="c6-learning-testing",
    summary="CI: the C6-learning pipeline on pendulum, 2 seeds × 300 steps",
    cells=tuple(Cell("pendulum", algo, seeds=(0, 1), steps=300) for algo in ("td3", "sobolev-td3")),
    eval_every=300,
    eval_episodes=1,
    options=options(hidden=[16, 16], batch_size=16, start_steps=100, buffer_size=1000),
)
FULL_SUITE = SUITES["c6-learning-full"]  # verify/suites.py: also `regress c6-learning-full`

SETTINGS = {
    "testing": Settings(TESTING_SUITE, COMPARISONS[:1], n_boot=200),
    "quick": Settings(C6_LEARNING, COMPARISONS[:2]),
    "full": Settings(FULL_SUITE, COMPARISONS),
}


def run(settings: Settings, seed: int, folder: str | Path) -> list[Finding]:
    return _compare_runs.run(settings, seed, folder)


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    return _score(findings, versions)
