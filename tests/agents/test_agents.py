"""TD3, MAGE and DSDPG: smoke runs on a MuJoCo env and on the toy, and DSDPG's targets."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.agent import env_info
from agents.common import actor_from_info
from agents.dsdpg import hyperparameters_for, make_agent, pooled_targets
from agents.envs import make_training_env
from agents.training import TrainConfig, run_training
from agents.world_models import make_world_model

SMALL = {"hidden": [32, 32], "batch_size": 32, "start_steps": 100, "buffer_size": 1000}
MODEL = {"model_hidden": [32, 32], "updates_per_step": 2}
DSDPG_SMALL = {**MODEL, "n_target_samples": 4, "n_critic_samples": 4}

CASES = [
    ("td3", "InvertedPendulum-v5", "obs-mult:0.2", {}),
    ("td3", "point-mass:2", "none", {}),
    ("mage", "Hopper-v5", "dyn-gauss:0.05", {**MODEL, "ensemble_size": 2}),
    ("mage", "point-mass:2", "none", {**MODEL, "ensemble_size": 2}),
    ("dsdpg", "Hopper-v5", "obs-mult:0.2", DSDPG_SMALL),
    ("dsdpg", "point-mass:2", "none", {**DSDPG_SMALL, "critic_loss": "mmd", "world_model": "flow"}),
    ("dsdpg", "point-mass:2", "none", {**DSDPG_SMALL, "critic_loss": "huber-sobolev"}),
    ("dsdpg", "point-mass:2", "act-gauss:0.1", {**DSDPG_SMALL, "critic_loss": "mmd-nograd"}),
]


@pytest.mark.parametrize(("algo", "env", "noise", "options"), CASES)
def test_smoke_run_has_finite_losses_and_well_formed_files(tmp_path, algo, env, noise, options):
    config = TrainConfig(
        algo=algo,
        env=env,
        noise=noise,
        steps=200,
        eval_every=100,
        eval_episodes=1,
        checkpoint_every=100,
        options={**SMALL, **options},
    )
    result = run_training(config, tmp_path, progress=False)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["env_steps"] for r in evals] == [100, 200]
    losses = {key: value for key, value in evals[-1].items() if key.startswith("loss/")}
    assert {"loss/critic", "loss/actor"} <= set(losses)
    if algo != "td3":
        assert "loss/model" in losses
    assert all(np.isfinite(value) for value in losses.values()), losses
    assert np.isfinite(result["final_eval_return"])
    assert json.loads((tmp_path / "config.json").read_text())["noise"] == noise
    assert (tmp_path / "checkpoint.pkl").exists()


@pytest.mark.parametrize("world_model", ["cvae", "flow"])
@pytest.mark.parametrize("terminated", [0.0, 1.0])
def test_dsdpg_gradient_samples_are_finite_differences_of_the_target(world_model, terminated):
    """Each pooled sample's ``∇_a y`` equals central differences of its ``y`` in ``a``.

    float64, frozen random networks and fixed noise (the model sample, ξ'): the target is a
    smooth function of the action, so central differences with h = 1e-6 are accurate to
    about h² times its third derivative plus 1e-16/h round-off; 1e-6 relative is ample.
    """
    with jax.enable_x64(True):
        info = env_info(make_training_env("point-mass:2", "none", 0))
        options = {"hidden": [16, 16], "model_hidden": [16, 16], "n_target_samples": 3}
        options["world_model"] = world_model
        hyper = hyperparameters_for("dsdpg", options)
        state = make_agent(info, options).init(jax.random.PRNGKey(0))
        actor = actor_from_info(info.action_low, info.action_high)
        model = make_world_model(world_model, info.obs_dim, info.action_dim, hidden=(16, 16))
        obs = jnp.array([0.1, -0.2, 0.3, 0.05])
        action = jnp.array([0.4, -0.7])
        key = jax.random.PRNGKey(7)

        def samples(action_in):
            transition = {"obs": obs, "action": action_in, "terminated": terminated}
            return pooled_targets(hyper, actor, model, state, transition, key)

        pooled = samples(action)
        assert pooled.shape == (6, 3) and pooled.dtype == jnp.float64
        step = 1e-6
        for j in range(2):
            shift = jnp.zeros(2).at[j].set(step)
            central = (samples(action + shift)[:, 0] - samples(action - shift)[:, 0]) / (2 * step)
            np.testing.assert_allclose(pooled[:, 1 + j], central, rtol=1e-6, atol=1e-9)
