"""C6's exact part: the gradient targets ``(g_s, g_a)`` of ``sobolev_core.sobolev_target``
equal float64 central differences of ``y(s, a)`` with frozen random networks (toy-1d,
point-mass, pendulum; TD3 and SAC targets; terminal rows), and, on the linear-quadratic
system with the exact ``Q^K`` as the frozen critic and ``ε = 0``, the closed-form ``∇Q^K``
(an independent oracle)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from agents import sac
from agents import sobolev_td as sobolev
from agents.agent import env_info
from agents.common import actor_from_info, critic_value, smoothed_target_action
from agents.envs import lq_system, make_training_env
from agents.jax_envs import linear_quadratic
from agents.registry import make_agent
from sobolev_core import sobolev_target
from verify.claims._c6_settings import CLAIM, Settings
from verify.claims._common import Finding, finding


def _float64(tree):
    return jax.tree.map(
        lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree
    )


def _central_differences(function, point, step):
    """Central-difference gradient of a scalar JAX ``function`` at ``point`` (one jitted call)."""
    size = point.shape[0]
    shifts = step * jnp.eye(size, dtype=point.dtype)
    values = jax.vmap(function)(jnp.concatenate([point + shifts, point - shifts]))
    return (values[:size] - values[size:]) / (2 * step)


def _consistency_case(env_id: str, algo: str, points: int, seed: int) -> dict[str, Any]:
    """Max |autodiff target gradient − central differences| over random points (float64)."""
    rng = np.random.default_rng([seed, len(env_id), len(algo)])
    info = env_info(make_training_env(env_id, "none", seed))
    agent = make_agent(algo, info, {"hidden": [32, 32], "gamma": 0.9})
    state = _float64(jax.jit(agent.init)(jax.random.key(seed)))
    if algo == "sobolev-td3":
        state = state._replace(
            critic_target=_float64(jax.jit(agent.init)(jax.random.key(99)).critic)
        )
    spec = actor_from_info(info.action_low, info.action_high)
    spec = spec._replace(**{k: v.astype(jnp.float64) for k, v in spec._asdict().items()})
    source = sobolev.derivative_source(info)
    model, gamma = info.diff_model, agent.hyper.gamma
    step, worst, scale = 1e-6, 0.0, 0.0

    def targets(obs, action, noise, done, key):
        next_obs, reward = model.transition(obs, action, noise)
        item = {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs}
        item.update(terminated=done, noise=noise)
        if algo == "sobolev-td3":
            return sobolev.td3_target(
                state, item, key, actor=spec, source=source, hyper=agent.hyper
            )
        alpha = jnp.exp(state.log_alpha)
        return sac.sac_target(state, alpha, item, key, spec=spec, source=source, gamma=gamma)

    def by_hand(obs, action, noise, done, key):  # y(s, a) composed without sobolev_target
        next_obs, reward = model.transition(obs, action, noise)
        if algo == "sobolev-td3":
            next_action = smoothed_target_action(
                spec,
                state.actor_target,
                next_obs,
                key,
                noise=agent.hyper.policy_noise,
                noise_clip=agent.hyper.noise_clip,
            )
            next_value = jnp.minimum(
                critic_value(state.critic_target[0], next_obs, next_action),
                critic_value(state.critic_target[1], next_obs, next_action),
            )
        else:
            xi = jax.random.normal(key, (info.action_dim,))
            next_action, log_prob = sac.squashed_gaussian(
                state.actor, next_obs, xi, spec.scale, spec.offset
            )
            next_value = (
                jnp.minimum(
                    critic_value(state.critic_target[0], next_obs, next_action),
                    critic_value(state.critic_target[1], next_obs, next_action),
                )
                - jnp.exp(state.log_alpha) * log_prob
            )
        return reward + gamma * (1.0 - done) * next_value

    @jax.jit
    def errors(obs, action, noise, done, key):
        target = targets(obs, action, noise, done, key)
        fd_s = _central_differences(lambda s: by_hand(s, action, noise, done, key), obs, step)
        fd_a = _central_differences(lambda a: by_hand(obs, a, noise, done, key), action, step)
        error = jnp.maximum(
            jnp.max(jnp.abs(target.grad_state - fd_s)), jnp.max(jnp.abs(target.grad_action - fd_a))
        )
        size = jnp.maximum(jnp.max(jnp.abs(fd_s)), jnp.max(jnp.abs(fd_a)))
        return error, size

    for index in range(points):
        if env_id == "toy-1d":
            obs, action = rng.uniform(-1.5, 1.5, 1), rng.uniform(-0.8, 0.8, 1)
        elif env_id == "pendulum":
            theta = rng.uniform(-2.5, 2.5)
            obs = np.array([math.cos(theta), math.sin(theta), rng.uniform(-3, 3)])
            action = rng.uniform(-1.5, 1.5, 1)
        else:
            obs = np.concatenate([rng.uniform(-0.5, 0.5, 2), rng.uniform(-0.3, 0.3, 2)])
            action = rng.uniform(-0.8, 0.8, 2)
        noise = rng.normal(size=model.noise_dim)
        done = float(index % 2)  # terminal rows too
        error, size = errors(
            jnp.asarray(obs), jnp.asarray(action), jnp.asarray(noise), done, jax.random.key(index)
        )
        worst, scale = max(worst, float(error)), max(scale, float(size))
    return {"max_abs_error": worst, "max_abs_gradient": scale}


def _lq_exact_case(seed: int, points: int) -> dict[str, Any]:
    """With the exact ``Q^K`` as the frozen critic, ``π = K s`` and ``ε = 0``, the gradient
    targets equal the closed-form ``∇Q^K``: ``Q^K(s, a) = r + γ E_ε V(s')`` with ``V(s') =
    Q^K(s', K s')`` quadratic, so ``∇V`` is affine in ``s' = As + Ba + Σ^½ε`` and the pathwise
    gradient at ``ε = 0`` equals its expectation over ``ε``, which is ``∇Q^K``."""
    env = linear_quadratic(**lq_system())
    gain, gamma = np.array([[-1.0, -2.0]]), 0.9
    exact = env.exact_q(gain, gamma)
    rng = np.random.default_rng([seed, 17])

    def critic(next_obs, next_action, noise=None):
        del noise
        return exact(next_obs, next_action).value

    def transition(obs, action, noise):
        step = env.step(obs, action, noise)
        return step.next_state, step.reward

    worst = scale = 0.0
    for _ in range(points):
        obs, action = rng.normal(size=2), rng.normal(size=1)
        target = sobolev_target(
            critic,
            lambda s: jnp.asarray(gain) @ s,
            transition,
            jnp.asarray(obs),
            jnp.asarray(action),
            jnp.zeros(2),
            None,
            0.0,
            gamma,
        )
        truth = exact(jnp.asarray(obs), jnp.asarray(action))
        error = max(
            float(jnp.max(jnp.abs(target.grad_state - truth.dq_ds))),
            float(jnp.max(jnp.abs(target.grad_action - truth.dq_da))),
        )
        worst = max(worst, error)
        scale = max(scale, float(jnp.max(jnp.abs(truth.dq_ds))))
    return {"max_abs_error": worst, "max_abs_gradient": scale}


def consistency_records(budget: Settings, seed: int = 0) -> list[Finding]:
    """C6's exact part: gradient targets vs finite differences and vs the LQ closed form."""
    records = []
    points = budget.consistency_points
    with jax.enable_x64(True):
        for env_id, algo in budget.consistency_cases:
            result = _consistency_case(env_id, algo, points, seed)
            tolerance = 1e-6 * max(1.0, result["max_abs_gradient"])
            records.append(
                finding(
                    CLAIM,
                    f"targets-vs-fd/{env_id}/{algo.removeprefix('sobolev-')}",
                    {"env": env_id, "algo": algo, "points": points, "fd_step": 1e-6},
                    seed,
                    result["max_abs_error"],
                    tolerance,
                    result["max_abs_error"] <= tolerance,
                    oracle="float64 central differences of y(s, a), terminal rows included",
                    **result,
                )
            )
        result = _lq_exact_case(seed, points)
        tolerance = 1e-9 * max(1.0, result["max_abs_gradient"])
        records.append(
            finding(
                CLAIM,
                "targets-vs-closed-form/lq",
                {"K": [[-1.0, -2.0]], "gamma": 0.9, "points": points},
                seed,
                result["max_abs_error"],
                tolerance,
                result["max_abs_error"] <= tolerance,
                oracle="exact ∇Q^K (LinearQuadraticEnv.exact_q) with Q^K as the frozen critic",
                **result,
            )
        )
    return records
