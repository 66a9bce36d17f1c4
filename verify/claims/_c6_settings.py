"""C6's settings per budget (``testing`` for CI, seconds; ``quick`` about three minutes on
two cores; ``full`` about fifteen)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLAIM = NAME = "C6"
TITLE = "first-order Sobolev TD ([FS]): targets, LQ, curves, cost"
PAIR_TD3 = ("td3", "sobolev-td3")
PAIR_SAC = ("sac", "sobolev-sac")
CURVE_OPTIONS = {"hidden": [64, 64], "batch_size": 64}
START_STEPS = {"toy-1d": 500, "pendulum": 1000}
CONSISTENCY_CASES = tuple(
    (env_id, algo)
    for env_id in ("toy-1d", "point-mass:3", "pendulum")
    for algo in ("sobolev-td3", "sobolev-sac")
)


@dataclass(frozen=True)
class Settings:
    consistency_cases: tuple[tuple[str, str], ...]  # (env, algo) for targets vs finite differences
    consistency_points: int  # random points per case
    lq_critics: tuple[str, ...]  # "quadratic" and/or "mlp"
    lq_seeds: int  # paired seeds of the LQ policy evaluation
    lq_updates: int  # critic updates
    lq_evals: int  # error evaluations along the updates
    lq_datasets: tuple[int, ...]  # transitions in the fixed dataset
    lq_batch: int  # minibatch size
    curves: tuple  # (env, (baseline, candidate), steps, checkpoint fractions)
    curve_seeds: int  # training seeds per algorithm
    curve_options: dict[str, Any]  # --option values of the training runs
    curve_evals: int  # evaluations along each run
    eval_episodes: int  # episodes per evaluation
    pg_minibatches: int  # replay minibatches for the policy-gradient spread
    cost_envs: tuple[str, ...]  # envs timed for the update cost (none: skipped)
    cost_hidden: tuple[int, ...]  # hidden sizes of the timed networks
    cost_repeats: int  # timed updates
    n_boot: int  # bootstrap resamples


SETTINGS: dict[str, Settings] = {
    "testing": Settings(
        consistency_cases=(("toy-1d", "sobolev-sac"),),
        consistency_points=2,
        lq_critics=("quadratic",),
        lq_seeds=3,
        lq_updates=20,
        lq_evals=2,
        lq_datasets=(256,),
        lq_batch=32,
        curves=(("toy-1d", PAIR_TD3, 60, (1.0,)),),
        curve_seeds=1,
        curve_options={"hidden": [8, 8], "batch_size": 8, "start_steps": 30},
        curve_evals=1,
        eval_episodes=1,
        pg_minibatches=4,
        cost_envs=(),  # timing is covered by quick and full; two more compiles here
        cost_hidden=(16, 16),
        cost_repeats=3,
        n_boot=200,
    ),
    "quick": Settings(
        consistency_cases=(
            ("toy-1d", "sobolev-td3"),
            ("point-mass:3", "sobolev-sac"),
            ("pendulum", "sobolev-td3"),
        ),
        consistency_points=4,
        lq_critics=("quadratic", "mlp"),
        lq_seeds=6,
        lq_updates=1000,
        lq_evals=10,
        lq_datasets=(256,),
        lq_batch=128,
        curves=(("toy-1d", PAIR_TD3, 1000, (1.0,)),),
        curve_seeds=2,
        curve_options=CURVE_OPTIONS,
        curve_evals=5,
        eval_episodes=3,
        pg_minibatches=32,
        cost_envs=("toy-1d", "pendulum"),
        cost_hidden=(256, 256),
        cost_repeats=30,
        n_boot=2000,
    ),
    "full": Settings(
        consistency_cases=CONSISTENCY_CASES,
        consistency_points=8,
        lq_critics=("quadratic", "mlp"),
        lq_seeds=8,
        lq_updates=2000,
        lq_evals=10,
        lq_datasets=(128, 8192),
        lq_batch=128,
        curves=(
            ("toy-1d", PAIR_TD3, 4000, (0.5, 1.0)),
            ("pendulum", PAIR_TD3, 5000, (1.0,)),
            ("toy-1d", PAIR_SAC, 3000, (1.0,)),
        ),
        curve_seeds=3,
        curve_options=CURVE_OPTIONS,
        curve_evals=8,
        eval_episodes=3,
        pg_minibatches=32,
        cost_envs=("toy-1d", "pendulum"),
        cost_hidden=(256, 256),
        cost_repeats=100,
        n_boot=2000,
    ),
}
