"""Training envs by id: the JAX envs behind Gymnasium, and their differentiable models."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agents.envs import JaxGymEnv, check_env_id, make_training_env


@pytest.mark.parametrize("env_id", ["pendulum", "toy-1d", "lq"])
def test_jax_gym_env_passes_check_env(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # check_env's advice on unbounded boxes / float64
        check_env(JaxGymEnv(env_id), skip_render_check=True)


@pytest.mark.parametrize("env_id", ["pendulum", "toy-1d", "lq", "point-mass:3"])
def test_diff_model_reproduces_the_env_step(env_id):
    """The model, fed the step's observation, action and ``info["noise"]``, gives the step."""
    made = make_training_env(env_id, "none", seed=4)
    env, model = made.env, made.diff_model
    obs, _ = env.reset(seed=4)
    rng = np.random.default_rng(0)
    transition = jax.jit(model.transition)
    for _ in range(20):
        action = rng.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        next_obs, reward, terminated, truncated, info = env.step(action)
        noise = info.get("noise", np.zeros(model.noise_dim))
        predicted_obs, predicted_reward = transition(
            jnp.asarray(obs, jnp.float32), jnp.asarray(action), jnp.asarray(noise, jnp.float32)
        )
        # float32 JAX against the env's float64 state: agreement to float32 rounding
        np.testing.assert_allclose(predicted_obs, next_obs, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(predicted_reward, reward, rtol=1e-4, atol=1e-5)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()


def test_mujoco_envs_have_no_diff_model_and_bad_ids_are_named():
    made = make_training_env("InvertedPendulum-v5", "obs-mult:0.2", seed=0)
    assert made.is_mujoco and made.diff_model is None
    assert made.env.noise_spec.spec == "obs-mult:0.2"
    for bad in ["Hoper-v5", "point-mass:0", "point-mass:x", "pendulm"]:
        with pytest.raises(ValueError, match=f"env '{bad}' is unknown; accepted: .*point-mass:N"):
            check_env_id(bad)
    for gymnasium_id, ours in [("pendulum-v1", "pendulum"), ("Hopper-v4", "Hopper-v5")]:
        with pytest.raises(ValueError, match=f"env '{gymnasium_id}' is called '{ours}' here"):
            check_env_id(gymnasium_id)
