"""The point mass's success metric: which goal an episode ends at, in NumPy, JAX and both loops."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np

from agents.device_loop import run_device_training
from agents.point_mass import make_point_mass
from agents.training import TrainConfig, run_training


def test_goal_reached_is_the_goal_within_one_width():
    env = make_point_mass(4).unwrapped
    goals, width = env.params.goals, env.params.reward_width
    for k, goal in enumerate(goals):
        at = np.concatenate([goal, [0.3, -0.2]])
        assert env.goal_reached(at) == k
        inside = np.concatenate([goal + np.array([0.0, 0.99 * width]), [0.0, 0.0]])
        outside = np.concatenate([goal + np.array([0.0, 1.01 * width]), [0.0, 0.0]])
        assert env.goal_reached(inside) == k
        assert env.goal_reached(outside) == -1  # negative control: just beyond one width
    assert env.goal_reached(np.zeros(4)) == -1
    rng = np.random.default_rng(0)
    for state in rng.uniform(-1, 1, (200, 4)):
        distances = np.linalg.norm(goals - state[:2], axis=1)
        expected = int(np.argmin(distances)) if distances.min() <= width else -1
        assert env.goal_reached(state) == expected == int(env.goal_reached_jax(jnp.asarray(state)))


def _evals(path):
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [row for row in rows if row["kind"] == "eval"]


def test_both_loops_report_success_and_goals_next_to_the_return(tmp_path):
    config = TrainConfig(
        algo="td3",
        env="point-mass:3",
        steps=40,
        seed=0,
        eval_every=20,
        eval_episodes=4,
        options={"hidden": [8, 8], "batch_size": 8, "start_steps": 20},
    )
    host = run_training(config, tmp_path / "host", progress=False)
    (device,) = run_device_training([config], [tmp_path / "device"], progress=False)
    for result, folder in ((host, "host"), (device, "device")):
        for row in _evals(tmp_path / folder):
            assert len(row["goals"]) == 3 and sum(row["goals"]) <= 4
            assert row["success"] == sum(row["goals"]) / 4
        assert result["final_success"] == _evals(tmp_path / folder)[-1]["success"]
