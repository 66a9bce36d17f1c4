"""κ along visited states (verify/visited_kappa.py) against plain MuJoCo finite differences."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from agents.agent import env_info
from agents.registry import make_agent
from agents.training import TrainConfig, run_training
from verify.visited_kappa import kappa_summary, visited_kappa

ENV = "InvertedPendulum-v5"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sobolev-ip")
    config = TrainConfig(
        algo="sobolev-td3",
        env=ENV,
        steps=300,
        seed=0,
        eval_every=300,
        eval_episodes=1,
        options={"hidden": [16, 16], "batch_size": 16, "start_steps": 100, "buffer_size": 1000},
    )
    run_training(config, out, progress=False)
    return out


def _closed_loop_step(sim, policy, obs):
    """``s -> step(s, policy(s))`` of InvertedPendulum in plain MuJoCo (obs = qpos ++ qvel)."""
    mujoco.mj_resetData(sim.model, sim.data)
    nq = sim.model.nq
    sim.data.qpos[:] = obs[:nq]
    sim.data.qvel[:] = obs[nq:]
    sim.data.ctrl[:] = policy(obs)
    for _ in range(sim.frame_skip):
        mujoco.mj_step(sim.model, sim.data)
    return np.concatenate([sim.data.qpos, sim.data.qvel])


def test_closed_loop_norms_match_finite_differences_of_the_env_under_the_policy(run_dir):
    import pickle

    from agents.envs import make_training_env

    summary = visited_kappa(run_dir, windows=2)
    assert summary["all"]["closed_loop"]["states"] == 300
    checkpoint = pickle.loads((run_dir / "checkpoint.pkl").read_bytes())
    training_env = make_training_env(ENV, "none", 0)
    agent = make_agent(
        "sobolev-td3",
        env_info(training_env),
        {"hidden": [16, 16], "batch_size": 16, "start_steps": 100, "buffer_size": 1000},
    )
    state = checkpoint["agent"]

    def policy(obs):
        return np.asarray(agent.act(state, np.asarray(obs, np.float32)), np.float64)

    sim = gym.make(ENV).unwrapped
    rows = [150, 220, 299]
    obs_rows = checkpoint["buffer"].data["obs"][rows].astype(np.float64)
    actions = checkpoint["buffer"].data["action"][rows].astype(np.float64)
    from verify.visited_kappa import closed_loop_jacobians

    data = checkpoint["buffer"].data
    modelled = closed_loop_jacobians(
        agent.act,
        state,
        data["obs"][[150, 220, 299]],
        data["jac_obs"][[150, 220, 299]],
        data["jac_act"][[150, 220, 299]],
    )
    # central differences with a step large against the float32 policy's round-off (≈ 1e-7,
    # so ≈ 1e-4 after dividing by the step) and small for the truncation (O(step²) ≈ 1e-6)
    step = 1e-3
    open_loop = checkpoint["buffer"].data["jac_obs"][rows]
    for obs, action, jacobian, dynamics in zip(obs_rows, actions, modelled, open_loop, strict=True):
        # the Jacobian at the stored step: the explored action moves with π around the state
        def moved(s, obs=obs, action=action):
            return action + policy(s) - policy(obs)

        columns = []
        for i in range(obs.size):
            e = np.zeros_like(obs)
            e[i] = step
            plus = _closed_loop_step(sim, moved, obs + e)
            minus = _closed_loop_step(sim, moved, obs - e)
            columns.append((plus - minus) / (2 * step))
        reference = np.stack(columns, axis=1)
        # 1e-3: the reference's truncation and round-off above, plus the stored F_s, F_a being
        # taken at the float64 state the env held rather than its float32 observation
        np.testing.assert_allclose(jacobian, reference, atol=1e-3, rtol=1e-3)
        # negative control: the dynamics alone (the policy term dropped) miss the reference
        assert np.abs(dynamics - reference).max() > 10 * np.abs(jacobian - reference).max()


def test_summary_counts_expanding_states_against_a_direct_count():
    norms = np.array([0.5, 1.0, 1.05, 1.2, 2.0])
    summary = kappa_summary(norms, gamma=0.9)
    assert summary["frac_expanding"] == pytest.approx(2 / 5)  # 0.9·1.2, 0.9·2 > 1
    assert summary["quantiles"]["q50"] == 1.05 and summary["quantiles"]["q100"] == 2.0


def test_a_run_without_stored_jacobians_is_refused(tmp_path):
    config = TrainConfig(
        algo="td3",
        env=ENV,
        steps=60,
        eval_every=60,
        eval_episodes=1,
        options={"hidden": [8], "batch_size": 8, "start_steps": 30, "buffer_size": 100},
    )
    run_training(config, tmp_path, progress=False)
    with pytest.raises(ValueError, match="holds no jac_obs"):
        visited_kappa(tmp_path)


def test_a_folder_without_a_run_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"has no config\.json"):
        visited_kappa(tmp_path)
