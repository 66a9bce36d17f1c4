"""Sobolev-TD (``agents.sobolev_td``): gradient targets against finite differences, the
``λ = 0`` reduction to value-only TD, short training runs, option errors.

Derivative checks run in float64 (``jax.enable_x64(True)``, parameters cast) with central
differences of an independently written target ``y(s, a)``: the env's model, the frozen
target networks and the fixed policy noise, composed by hand rather than through
``sobolev_core.sobolev_target``.
"""

from __future__ import annotations

import functools
import json
import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from scipy import stats

from agents import sac
from agents import sobolev_td as st
from agents.agent import EnvInfo, env_info
from agents.common import actor_from_info, critic_value, smoothed_target_action
from agents.envs import make_training_env
from agents.networks import mlp_apply, mlp_init
from agents.registry import check_options, make_agent
from agents.training import TrainConfig, run_training
from sobolev_core import SobolevTarget, gradient_weights

TINY = {"hidden": [16, 16], "batch_size": 8, "gamma": 0.9}
FD_STEP = 1e-6
# Float64 central differences of smooth maps with |y| ~ 1-10: truncation ~h², rounding
# ~1e-16 |y| / h ~ 1e-9; ReLU kinks are not crossed at generic points.
FD_ATOL = 1e-6


def _fd_grads(function, obs, action, *fixed, step=FD_STEP):
    """Central differences of ``function(s, a, *fixed) -> scalar`` w.r.t. ``s`` and ``a``.

    ``obs (P, n)``, ``action (P, m)`` and each of ``fixed`` ``(P, ...)`` are ``P`` points;
    all ``2 (n + m) P`` perturbed evaluations run as one vmapped call (jit the caller).
    """
    n, m = obs.shape[1], action.shape[1]
    shifts = step * jnp.eye(n + m, dtype=obs.dtype)
    shifts = jnp.concatenate([shifts, -shifts])  # (2(n+m), n+m)
    moved_obs = obs[None] + shifts[:, None, :n]  # (2(n+m), P, n)
    moved_action = action[None] + shifts[:, None, n:]
    repeat = [jnp.broadcast_to(f, (2 * (n + m), *jnp.shape(f))) for f in fixed]
    values = jax.vmap(jax.vmap(function))(moved_obs, moved_action, *repeat)  # (2(n+m), P)
    grads = ((values[: n + m] - values[n + m :]) / (2 * step)).T  # (P, n+m)
    return grads[:, :n], grads[:, n:]


def _fd_grad_numpy(function, point, step):
    point = np.asarray(point, dtype=np.float64)
    grad = np.empty_like(point)
    for j in range(point.size):
        offset = np.zeros_like(point)
        offset[j] = step
        grad[j] = (function(point + offset) - function(point - offset)) / (2 * step)
    return grad


def _float64(tree):
    return jax.tree.map(
        lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree
    )


def _points(env_id, rng):
    """A state (observation), an action and a noise away from clipping and kinks."""
    if env_id == "toy-1d":
        return rng.uniform(-1.5, 1.5, 1), rng.uniform(-0.8, 0.8, 1), np.zeros(0)
    if env_id == "pendulum":
        theta, speed = rng.uniform(-2.5, 2.5), rng.uniform(-3, 3)
        obs = np.array([math.cos(theta), math.sin(theta), speed])
        return obs, rng.uniform(-1.5, 1.5, 1), np.zeros(0)
    state = np.concatenate([rng.uniform(-0.5, 0.5, 2), rng.uniform(-0.3, 0.3, 2)])
    return state, rng.uniform(-0.8, 0.8, 2), rng.normal(size=2)


def _model_item(model, obs, action, noise, done):
    next_obs, reward = model.transition(obs, action, noise)
    item = {
        "obs": obs,
        "action": action,
        "reward": reward,
        "next_obs": next_obs,
        "terminated": done,
    }
    if model.noise_dim:
        item["noise"] = noise
    return item


def _setup(env_id, algo):
    info = env_info(make_training_env(env_id, "none", 0))
    agent = make_agent(algo, info, TINY)
    init = jax.jit(agent.init)
    state = _float64(init(jax.random.key(7)))
    if algo == "sobolev-td3":  # targets different from the online networks
        state = state._replace(critic_target=_float64(init(jax.random.key(8)).critic))
    else:
        state = state._replace(log_alpha=jnp.asarray(math.log(0.3)))
    spec = actor_from_info(info.action_low, info.action_high)
    spec = spec._replace(**{k: v.astype(jnp.float64) for k, v in spec._asdict().items()})
    return info, agent, state, spec


def _min_q(critic_pair, obs, action):
    return jnp.minimum(
        critic_value(critic_pair[0], obs, action), critic_value(critic_pair[1], obs, action)
    )


def _by_hand_y(algo, info, agent, state, spec, key):
    """``y(s, a, ε, d)`` composed directly from the model and the frozen networks."""
    gamma, model = agent.hyper.gamma, info.diff_model

    def y(obs, action, noise, done):
        next_obs, reward = model.transition(obs, action, noise)
        if algo == "sobolev-td3":
            hyper = agent.hyper
            next_action = smoothed_target_action(
                spec,
                state.actor_target,
                next_obs,
                key,
                noise=hyper.policy_noise,
                noise_clip=hyper.noise_clip,
            )
            next_value = _min_q(state.critic_target, next_obs, next_action)
        else:
            xi = jax.random.normal(key, (info.action_dim,))
            next_action, log_prob = sac.squashed_gaussian(
                state.actor, next_obs, xi, spec.scale, spec.offset
            )
            next_value = (
                _min_q(state.critic_target, next_obs, next_action)
                - jnp.exp(state.log_alpha) * log_prob
            )
        return reward + gamma * (1.0 - done) * next_value

    return y


def _agent_target(algo, info, agent, state, spec, item, key):
    source = st.derivative_source(info)
    if algo == "sobolev-td3":
        return st.td3_target(state, item, key, actor=spec, source=source, hyper=agent.hyper)
    alpha = jnp.exp(state.log_alpha)
    return sac.sac_target(
        state, alpha, item, key, spec=spec, source=source, gamma=agent.hyper.gamma
    )


@pytest.mark.parametrize(
    "env_id, algo",
    [  # each env feature (noise ε: point mass; atan2 observation: pendulum) and each target
        # (TD3 smoothing, SAC entropy) at least once; verify.fs_claims runs all six pairs
        ("toy-1d", "sobolev-td3"),
        ("toy-1d", "sobolev-sac"),
        ("point-mass:3", "sobolev-sac"),
        ("pendulum", "sobolev-td3"),
        pytest.param("point-mass:3", "sobolev-td3", marks=pytest.mark.heavy),
        pytest.param("pendulum", "sobolev-sac", marks=pytest.mark.heavy),
    ],
)
def test_gradient_targets_equal_finite_differences_of_the_target(env_id, algo):
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        info, agent, state, spec = _setup(env_id, algo)
        obs, action, noise = (
            np.stack(part) for part in zip(*(_points(env_id, rng) for _ in range(4)), strict=True)
        )
        done = np.array([0.0, 1.0, 0.0, 0.0])
        key = jax.random.key(5)
        model_item = functools.partial(_model_item, info.diff_model)
        y = _by_hand_y(algo, info, agent, state, spec, key)

        @jax.jit
        def everything(obs, action, noise, done):
            item = jax.vmap(model_item)(obs, action, noise, done)
            target = jax.vmap(lambda one: _agent_target(algo, info, agent, state, spec, one, key))(
                item
            )
            reward = lambda s, a, e: info.diff_model.transition(s, a, e)[1]  # noqa: E731
            reward_grads = jax.vmap(jax.grad(reward, argnums=(0, 1)))(obs, action, noise)
            if algo == "sobolev-td3":
                value_only = target.value  # compared with td3 in the λ = 0 update test
            else:  # plain SAC's target, from the stored next observation
                value_only = jax.vmap(
                    lambda one: (
                        sac.sac_target(
                            state,
                            jnp.exp(state.log_alpha),
                            one,
                            key,
                            spec=spec,
                            source=None,
                            gamma=agent.hyper.gamma,
                        ).value
                    )
                )(item)
            return target, reward_grads, _fd_grads(y, obs, action, noise, done), value_only

        target, (dr_ds, dr_da), (fd_s, fd_a), value_only = everything(obs, action, noise, done)
        np.testing.assert_allclose(target.value, value_only, rtol=1e-12)
        np.testing.assert_allclose(target.value, jax.vmap(y)(obs, action, noise, done), rtol=1e-12)
        np.testing.assert_allclose(target.grad_state, fd_s, atol=FD_ATOL)
        np.testing.assert_allclose(target.grad_action, fd_a, atol=FD_ATOL)
        # terminal: only the reward's derivatives remain
        np.testing.assert_allclose(target.grad_state[1], dr_ds[1], atol=1e-12)
        np.testing.assert_allclose(target.grad_action[1], dr_da[1], atol=1e-12)
        # elsewhere the bootstrap contributes (a test that cannot pass by ignoring it)
        assert np.min(np.max(np.abs(target.grad_action - dr_da)[done == 0], axis=1)) > 1e-4


def test_value_anchor_keeps_the_stored_target_and_the_model_derivatives():
    """A stored transition that the model does not reproduce (noise wrappers): ``y`` is the
    stored one; the derivatives are ``∂r + γ Fᵀ c`` with the model's ``F`` and ``∂r`` at
    ``(s₀, a₀)`` and the critic's ``c`` at the STORED next observation."""
    with jax.enable_x64(True):
        info, agent, state, spec = _setup("toy-1d", "sobolev-td3")
        item = _model_item(
            info.diff_model, jnp.array([0.3]), jnp.array([0.5]), jnp.zeros(0), jnp.asarray(0.0)
        )
        shifted = {**item, "next_obs": item["next_obs"] + 0.05, "reward": item["reward"] - 0.2}
        key = jax.random.key(0)
        anchored = jax.jit(
            lambda one: _agent_target("sobolev-td3", info, agent, state, spec, one, key)
        )(shifted)

        def next_value(next_obs):
            next_action = smoothed_target_action(
                spec, state.actor_target, next_obs, key, noise=0.2, noise_clip=0.5
            )
            return _min_q(state.critic_target, next_obs, next_action)

        stored_y = shifted["reward"] + 0.9 * next_value(shifted["next_obs"])
        assert float(anchored.value) == pytest.approx(float(stored_y), abs=1e-12)
        model = lambda s, a: info.diff_model.transition(s, a, jnp.zeros(0))  # noqa: E731
        jac_s, jac_a = jax.jacobian(lambda s, a: model(s, a)[0], argnums=(0, 1))(
            item["obs"], item["action"]
        )
        dr_ds, dr_da = jax.grad(lambda s, a: model(s, a)[1], argnums=(0, 1))(
            item["obs"], item["action"]
        )
        c = jax.grad(next_value)(shifted["next_obs"])
        np.testing.assert_allclose(anchored.grad_state, dr_ds + 0.9 * jac_s.T @ c, atol=1e-12)
        np.testing.assert_allclose(anchored.grad_action, dr_da + 0.9 * jac_a.T @ c, atol=1e-12)


def test_mujoco_targets_are_those_of_the_finite_difference_linearisation():
    env_id = "InvertedPendulum-v5"
    with jax.enable_x64(True):
        training_env = make_training_env(env_id, "none", 0)
        info = env_info(training_env)
        agent = make_agent("sobolev-td3", info, TINY)
        assert set(agent.extra_fields) == {"jac_obs", "jac_act", "dr_dobs", "dr_da"}
        state = _float64(agent.init(jax.random.key(1)))
        spec = actor_from_info(info.action_low, info.action_high)
        env, sim = training_env.env, training_env.env.unwrapped
        obs, _ = env.reset(seed=4)
        for _ in range(3):
            obs, *_ = env.step(np.array([0.3]))
        action = np.array([0.4])
        saved = np.empty(mujoco.mj_stateSize(sim.model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(sim.model, sim.data, saved, mujoco.mjtState.mjSTATE_INTEGRATION)
        extras = agent.extras(training_env, obs, action)
        next_obs, reward, terminated, _, _ = env.step(action)
        item = {
            name: jnp.asarray(value, jnp.float64)
            for name, value in dict(
                extras, obs=obs, action=action, reward=reward, next_obs=next_obs
            ).items()
        }
        item["terminated"] = jnp.asarray(float(terminated))
        key = jax.random.key(2)
        source = st.derivative_source(info)
        target = jax.jit(
            lambda one: st.td3_target(state, one, key, actor=spec, source=source, hyper=agent.hyper)
        )(item)

        def next_value(next_obs_in):
            next_action = smoothed_target_action(
                spec, state.actor_target, next_obs_in, key, noise=0.2, noise_clip=0.5
            )
            return _min_q(state.critic_target, next_obs_in, next_action)

        def y_linear(obs_in, action_in):
            delta_s, delta_a = obs_in - item["obs"], action_in - item["action"]
            next_in = item["next_obs"] + item["jac_obs"] @ delta_s + item["jac_act"] @ delta_a
            r_in = item["reward"] + item["dr_dobs"] @ delta_s + item["dr_da"] @ delta_a
            return r_in + 0.9 * next_value(next_in)

        assert float(target.value) == pytest.approx(float(y_linear(item["obs"], item["action"])))
        fd_s, fd_a = jax.jit(functools.partial(_fd_grads, y_linear))(
            jnp.asarray(obs)[None], jnp.asarray(action)[None]
        )
        np.testing.assert_allclose(target.grad_state, fd_s[0], atol=FD_ATOL)
        np.testing.assert_allclose(target.grad_action, fd_a[0], atol=FD_ATOL)

        # The action gradient against differences of the real env step (state restored).
        def y_env(action_in):
            mujoco.mj_setState(sim.model, sim.data, saved, mujoco.mjtState.mjSTATE_INTEGRATION)
            next_in, r_in, *_ = sim.step(np.asarray(action_in))
            return r_in + 0.9 * float(next_value(jnp.asarray(next_in)))

        fd_a = _fd_grad_numpy(y_env, action, step=1e-5)
        np.testing.assert_allclose(target.grad_action, fd_a, rtol=1e-3, atol=1e-5)
        assert np.max(np.abs(target.grad_action)) > 1e-3


def test_squashed_gaussian_log_density_is_the_change_of_variables():
    with jax.enable_x64(True):
        params = _float64(mlp_init(jax.random.key(0), (3, 8, 4)))
        obs, noise = jnp.array([0.2, -0.4, 1.0]), jnp.array([0.7, -1.3])
        scale, offset = jnp.array([2.0, 0.5]), jnp.array([0.0, 1.0])
        action, log_prob = jax.jit(sac.squashed_gaussian)(params, obs, noise, scale, offset)
        out = np.asarray(mlp_apply(params, obs))
        mean, std = out[:2], np.exp(np.clip(out[2:], -20, 2))
        pre_tanh = mean + std * np.asarray(noise)
        np.testing.assert_allclose(action, offset + scale * np.tanh(pre_tanh), rtol=1e-12)
        expected = np.sum(
            stats.norm.logpdf(pre_tanh, mean, std)
            - np.log(np.asarray(scale) * (1 - np.tanh(pre_tanh) ** 2))
        )
        assert float(log_prob) == pytest.approx(expected, rel=1e-10)


# ----------------------------------------------------------------------------- λ = 0


def _random_targets(rng, batch, n, m):
    return SobolevTarget(
        jnp.asarray(rng.normal(size=batch) * 3 + 5, jnp.float32),
        jnp.asarray(rng.normal(size=(batch, n)), jnp.float32),
        jnp.asarray(rng.normal(size=(batch, m)), jnp.float32),
    )


@pytest.mark.parametrize("normalization", st.GRAD_NORMALIZATIONS)
def test_zero_lambdas_give_the_value_only_td_loss(normalization):
    rng = np.random.default_rng(0)
    critic = tuple(mlp_init(jax.random.key(i), (5, 16, 1)) for i in range(2))
    obs, action = jnp.asarray(rng.normal(size=(12, 3))), jnp.asarray(rng.normal(size=(12, 2)))
    target = _random_targets(rng, 12, 3, 2)
    loss, _ = st.twin_critics_sobolev_loss(
        critic, obs, action, target, lambda_s=0.0, lambda_a=0.0, normalization=normalization
    )
    value_only = sum(
        np.mean(
            (np.asarray(jax.vmap(critic_value, (None, 0, 0))(p, obs, action)) - target.value) ** 2
        )
        for p in critic
    )
    assert float(loss) == pytest.approx(float(value_only), rel=1e-6)
    with_grads, _ = st.twin_critics_sobolev_loss(
        critic, obs, action, target, lambda_s=1.0, lambda_a=1.0, normalization=normalization
    )
    assert float(with_grads) > float(loss) + 1e-3


def _weights(target, normalization):
    return gradient_weights(
        target.value,
        target.grad_state,
        target.grad_action,
        lambda_s=2.0,
        lambda_a=3.0,
        normalization=normalization,
    )


def test_gradient_weights_follow_their_formulas_and_relative_is_scale_free():
    target = _random_targets(np.random.default_rng(1), 64, 3, 2)
    size_s = float(np.mean(np.sum(np.asarray(target.grad_state) ** 2, -1)))
    size_a = float(np.mean(np.sum(np.asarray(target.grad_action) ** 2, -1)))
    spread = float(np.var(np.asarray(target.value))) + 1e-6
    assert _weights(target, "none") == (2.0, 3.0)
    np.testing.assert_allclose(
        _weights(target, "batch"),
        (2 / (size_s + 1e-6), 3 / (size_a + 1e-6)),
        rtol=1e-5,
    )
    joint = spread / (size_s + size_a + 1e-6)  # one factor for both blocks
    np.testing.assert_allclose(_weights(target, "relative"), (2 * joint, 3 * joint), rtol=1e-5)
    # 'relative': rescaling the rewards (values and gradients by c) and shifting the values
    # leave the weights unchanged, so the loss scales by c² and λ is dimensionless.
    scaled = SobolevTarget(
        40.0 * target.value - 7.0, 40.0 * target.grad_state, 40.0 * target.grad_action
    )
    np.testing.assert_allclose(
        _weights(scaled, "relative"),
        _weights(target, "relative"),
        rtol=1e-4,
    )


def _model_batch(info, rng, rows, batch):
    obs = rng.uniform(-1.5, 1.5, (rows, batch, info.obs_dim))
    action = rng.uniform(-0.9, 0.9, (rows, batch, info.action_dim))
    step = jax.vmap(jax.vmap(lambda s, a: info.diff_model.transition(s, a, jnp.zeros(0))))
    next_obs, reward = step(jnp.asarray(obs, jnp.float32), jnp.asarray(action, jnp.float32))
    terminated = (rng.uniform(size=(rows, batch)) < 0.2).astype(np.float32)
    return {
        "obs": obs.astype(np.float32),
        "action": action.astype(np.float32),
        "reward": np.asarray(reward),
        "next_obs": np.asarray(next_obs),
        "terminated": terminated,
    }


def test_sobolev_td3_with_zero_lambdas_updates_exactly_as_td3():
    info = env_info(make_training_env("toy-1d", "none", 0))
    options = {**TINY, "policy_delay": 1}
    td3 = make_agent("td3", info, options)
    sobolev = make_agent("sobolev-td3", info, {**options, "lambda_s": 0.0, "lambda_a": 0.0})
    state = td3.init(jax.random.key(0))
    batch = _model_batch(info, np.random.default_rng(0), 2, 8)
    new_td3, losses_td3 = td3.update(state, batch, jax.random.key(5))
    new_sobolev, losses_sobolev = sobolev.update(state, batch, jax.random.key(5))
    for name in ("critic", "actor", "q_mean"):
        assert float(losses_sobolev[name]) == pytest.approx(float(losses_td3[name]), rel=1e-5)
    for left, right in zip(jax.tree.leaves(new_td3), jax.tree.leaves(new_sobolev), strict=True):
        np.testing.assert_allclose(left, right, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize(
    "algo, env_id",
    [
        ("sobolev-td3", "toy-1d"),
        ("sobolev-sac", "toy-1d"),
        ("sac", "toy-1d"),
        ("sobolev-sac", "pendulum"),
        # Covered in the default run by the FD tests (targets) and the runs above (loop);
        # heavy only to keep the file near 90 s on two shared cores.
        pytest.param("sobolev-td3", "pendulum", marks=pytest.mark.heavy),
        pytest.param("sac", "pendulum", marks=pytest.mark.heavy),
    ],
)
def test_short_training_runs_finish_with_finite_losses(tmp_path, algo, env_id):
    config = TrainConfig(
        algo=algo,
        env=env_id,
        steps=150,
        seed=1,
        eval_every=150,
        eval_episodes=1,
        options={"hidden": [32, 32], "batch_size": 32, "start_steps": 100},  # 50 updates
    )
    result = run_training(config, tmp_path, progress=False)
    assert result == json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "finished" and result["run"]["algo"] == algo
    assert math.isfinite(result["final_eval_return"])
    assert [step for step, _ in result["eval_curve"]] == [150]
    evaluation = [
        json.loads(line)
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
        if '"eval"' in line
    ][-1]
    losses = {k: v for k, v in evaluation.items() if k.startswith("loss/")}
    assert {"loss/critic", "loss/actor"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values())
    if algo.startswith("sobolev"):
        assert {"loss/grad_state_error", "loss/grad_action_error", "loss/weight_s"} <= set(losses)
    else:
        assert losses["loss/alpha"] > 0


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    "algo, options, named",
    [
        ("sobolev-td3", {"lambda_s": -1.0}, "lambda_s"),
        ("sobolev-td3", {"lambda_a": float("nan")}, "lambda_a"),
        ("sobolev-sac", {"grad_normalization": "max"}, "grad_normalization"),
        ("sobolev-sac", {"fd_eps": 0.0}, "fd_eps"),
        ("sobolev-td3", {"lambda_s": "big"}, "lambda_s"),
        ("sac", {"lambda_a": 1.0}, "lambda_a"),
        ("sac", {"init_alpha": 0.0}, "init_alpha"),
        ("sac", {"tau": 2.0}, "tau"),
        ("sobolev-sac", {"gamma": 1.0}, "gamma"),
    ],
)
def test_bad_options_name_the_option(algo, options, named):
    with pytest.raises(ValueError, match=named):
        check_options(algo, options)


def test_an_env_without_derivatives_is_refused_by_name():
    info = EnvInfo("Humanoid-v5", 348, 17, -np.ones(17), np.ones(17), None, True)
    for algo in ("sobolev-td3", "sobolev-sac"):
        with pytest.raises(ValueError, match="Humanoid-v5"):
            make_agent(algo, info, {})
    assert make_agent("sac", info, {}).extras is None  # plain SAC needs none
