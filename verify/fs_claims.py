"""Claim runners for first-order Sobolev TD ([FS], docs/claims.md#c6): settings -> run -> records.

Four measurements, each returning plain-dict records with the fields of
:class:`verify.records.Record` (``claim``, ``case``, ``settings``, ``seed``, ``measured``,
``bound``, ``verdict``, ``expected``, ``details``):

1. :func:`consistency_records` — the gradient targets ``(g_s, g_a)`` of
   ``sobolev_core.sobolev_target`` equal float64 central differences of ``y(s, a)`` with
   frozen random networks (toy-1d, point-mass, pendulum; TD3 and SAC targets; terminal
   rows), and, on the linear-quadratic system with the exact ``Q^K`` as the frozen critic
   and ``ε = 0``, equal the closed-form ``∇Q^K`` (an independent oracle). Exact claims.
2. :func:`lq_records` — policy evaluation of a fixed linear policy on ``agents.envs.
   lq_system()``: one critic trained by value-only TD (``λ = 0``) and one by Sobolev TD
   (``λ_s = λ_a = 1``, the agents' default normalisation) on the same transitions, the same
   initialisation and the same minibatches (paired seeds), scored against
   ``LinearQuadraticEnv.exact_q`` over the updates. Critics: ``quadratic`` (features
   ``1, z, z_i z_j`` of ``z = (s, a)``: the exact ``Q`` is representable) and ``mlp`` (the
   agents' ReLU MLP critic).
   Claim: Sobolev TD converges faster, measured as the per-seed ratio (Sobolev / value-only)
   of the mean over the evaluation grid of the relative value error (and, separately, of
   the relative gradient error); it holds when the 95 % bootstrap interval of the IQM of the
   log-ratio lies below 0.
3. :func:`curve_records` — learning curves of ``sobolev-td3`` vs ``td3`` (and ``sobolev-sac``
   vs ``sac``) through :func:`agents.training.run_training`; claim: the Sobolev agent's
   mean evaluation return over the curve is not below the baseline's (IQM difference, 95 %
   interval; ``verify.stats.compare`` with zero tolerance). With the seeds an affordable
   budget allows this is mostly "inconclusive", and the records say so.
4. Policy-gradient variance, from the same runs' checkpoints: the actor objective's
   gradient ``∇_θ J`` on ``K`` independent minibatches of the replay buffer, ``tr Cov =
   (1/(K−1)) Σ_k ‖g_k − ḡ‖²`` and its ratio to ``‖ḡ‖²``; claim: Sobolev's is lower (IQM of
   log tr Cov, difference interval below 0).
5. :func:`cost_records` — the wall time of one jitted update of ``sobolev-td3`` over
   ``td3`` on the same batch in the same process (informational; the bound is a budget).

Empirical verdicts carry ``details["outcome"]``: ``supported`` (the interval is on the
claimed side), ``contradicted`` (on the other side) or ``inconclusive``; ``verdict`` is
``holds`` only when supported. Budgets: ``testing`` (CI, seconds), ``quick`` (about three
minutes on two cores), ``full`` (about fifteen).

CLI: ``python -m verify.fs_claims --budget quick|full|testing --out DIR [--seed N]`` writes
``DIR/fs_claims.json`` (the records) and keeps the training runs under ``DIR/runs``
(finished runs are reused when the command is repeated).
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agents import sobolev_td as sobolev
from agents.common import actor_from_info, critic_value, polyak, smoothed_target_action
from agents.envs import lq_system, make_training_env
from agents.jax_envs import linear_quadratic
from agents.networks import mlp_apply, mlp_init
from agents.training import TrainConfig, env_info, make_agent, run_training
from sobolev_core import sobolev_target
from verify.stats import bootstrap_iqm_ci, compare, iqm, iqm_curve

__all__ = [
    "BUDGETS",
    "consistency_records",
    "cost_records",
    "curve_records",
    "lq_records",
    "main",
    "run_claims",
]

CLAIM = "C6"
_PAIR_TD3 = ("td3", "sobolev-td3")
_PAIR_SAC = ("sac", "sobolev-sac")
_CURVE_OPTIONS = {"hidden": [64, 64], "batch_size": 64}
_START_STEPS = {"toy-1d": 500, "pendulum": 1000}
_CONSISTENCY_CASES = tuple(
    (env_id, algo)
    for env_id in ("toy-1d", "point-mass:3", "pendulum")
    for algo in ("sobolev-td3", "sobolev-sac")
)

BUDGETS: dict[str, dict[str, Any]] = {
    "testing": dict(
        consistency_cases=(("toy-1d", "sobolev-sac"),),
        consistency_points=2,
        lq_critics=("quadratic",),
        lq_seeds=3,
        lq_updates=20,
        lq_evals=2,
        lq_datasets=(256,),
        lq_batch=32,
        curves=(("toy-1d", _PAIR_TD3, 60, (1.0,)),),
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
    "quick": dict(
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
        curves=(("toy-1d", _PAIR_TD3, 1000, (1.0,)),),
        curve_seeds=2,
        curve_options=_CURVE_OPTIONS,
        curve_evals=5,
        eval_episodes=3,
        pg_minibatches=32,
        cost_envs=("toy-1d", "pendulum"),
        cost_hidden=(256, 256),
        cost_repeats=30,
        n_boot=2000,
    ),
    "full": dict(
        consistency_cases=_CONSISTENCY_CASES,
        consistency_points=8,
        lq_critics=("quadratic", "mlp"),
        lq_seeds=8,
        lq_updates=2000,
        lq_evals=10,
        lq_datasets=(128, 8192),
        lq_batch=128,
        curves=(
            ("toy-1d", _PAIR_TD3, 4000, (0.5, 1.0)),
            ("pendulum", _PAIR_TD3, 5000, (1.0,)),
            ("toy-1d", _PAIR_SAC, 3000, (1.0,)),
        ),
        curve_seeds=3,
        curve_options=_CURVE_OPTIONS,
        curve_evals=8,
        eval_episodes=3,
        pg_minibatches=32,
        cost_envs=("toy-1d", "pendulum"),
        cost_hidden=(256, 256),
        cost_repeats=100,
        n_boot=2000,
    ),
}


def _record(case, settings, seed, measured, bound, ok, **details) -> dict[str, Any]:
    return {
        "claim": CLAIM,
        "case": case,
        "settings": settings,
        "seed": int(seed),
        "measured": float(measured),
        "bound": float(bound),
        "verdict": "holds" if ok else "fails",
        "expected": "holds",
        "details": details,
    }


def _outcome(low: float, high: float, *, better_below: bool) -> str:
    """``supported`` / ``contradicted`` / ``inconclusive`` for an interval around 0."""
    if (high < 0) if better_below else (low > 0):
        return "supported"
    if (low > 0) if better_below else (high < 0):
        return "contradicted"
    return "inconclusive"


def _float64(tree):
    return jax.tree.map(
        lambda x: x.astype(jnp.float64) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree
    )


# ----------------------------------------------------------------------------- 1. consistency


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
        return sobolev.sac_target(state, alpha, item, key, spec=spec, source=source, gamma=gamma)

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
            next_action, log_prob = sobolev.squashed_gaussian(
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


def consistency_records(budget: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """C6's exact part: gradient targets vs finite differences and vs the LQ closed form."""
    records = []
    points = budget["consistency_points"]
    with jax.enable_x64(True):
        for env_id, algo in budget["consistency_cases"]:
            result = _consistency_case(env_id, algo, points, seed)
            tolerance = 1e-6 * max(1.0, result["max_abs_gradient"])
            records.append(
                _record(
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
            _record(
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


# ----------------------------------------------------------------------------- 2. LQ evaluation

_LQ_GAIN = np.array([[-1.0, -2.0]])
_LQ_GAMMA = 0.9
_LQ_BEHAVIOUR_STD = 0.5  # exploration around K s, so Q's action dependence is identified
_LQ_TAU = 0.02
_LQ_LR = {"quadratic": 1e-2, "mlp": 1e-3, "mlp-swish": 1e-3}


def _quadratic_features(obs, action):
    z = jnp.concatenate([obs, action])
    rows, cols = np.triu_indices(z.shape[0])
    return jnp.concatenate([jnp.ones(1), z, z[rows] * z[cols]])


def _quadratic_value(weights, obs, action):
    return _quadratic_features(obs, action) @ weights


def _lq_critic(kind: str, n: int, m: int):
    if kind == "quadratic":
        size = 1 + (n + m) + (n + m) * (n + m + 1) // 2
        return (lambda key: 0.01 * jax.random.normal(key, (size,))), _quadratic_value
    if kind == "mlp":
        return (lambda key: mlp_init(key, (n + m, 64, 64, 1))), critic_value
    if kind == "mlp-swish":

        def swish_value(params, obs, action):
            return mlp_apply(params, jnp.concatenate([obs, action]), act="swish")[0]

        return (lambda key: mlp_init(key, (n + m, 64, 64, 1))), swish_value
    raise ValueError(f"critic must be 'quadratic', 'mlp' or 'mlp-swish'; got {kind!r}")


def _lq_curves(
    kind: str,
    budget: dict[str, Any],
    seed: int,
    *,
    lambdas: Sequence[float] = (0.0, 1.0),
    normalization: str | None = None,
    dataset: int,
):
    """Relative value and gradient errors ``(len(lambdas), seeds, evals)`` and the eval steps.

    ``lambdas``: ``λ_s = λ_a`` of each method (0 is value-only TD); ``normalization``: the
    agents' default if None; ``dataset``: the number of transitions.
    """
    env = linear_quadratic(**lq_system())
    n, m = env.state_dim, env.action_dim
    exact = env.exact_q(_LQ_GAIN, _LQ_GAMMA)
    gain = jnp.asarray(_LQ_GAIN, jnp.float32)
    init, value_fn = _lq_critic(kind, n, m)
    optimizer = optax.adam(_LQ_LR[kind])
    size, batch = dataset, budget["lq_batch"]
    updates, evals = budget["lq_updates"], budget["lq_evals"]
    every = max(updates // evals, 1)
    normalization = normalization or sobolev.SobolevTD3Config().grad_normalization

    def transition(obs, action, noise):
        step = env.step(obs, action, noise)
        return step.next_state, step.reward

    def sample_pairs(key, count):
        state_key, action_key = jax.random.split(key)
        obs = jax.random.normal(state_key, (count, n))
        action = obs @ gain.T + _LQ_BEHAVIOUR_STD * jax.random.normal(action_key, (count, m))
        return obs, action

    def errors(params, eval_obs, eval_action, truth):
        q, (dq_ds, dq_da) = jax.vmap(
            jax.value_and_grad(value_fn, argnums=(1, 2)), in_axes=(None, 0, 0)
        )(params, eval_obs, eval_action)
        value = jnp.sqrt(jnp.mean((q - truth.value) ** 2)) / jnp.std(truth.value)
        grad_error = jnp.sum((dq_ds - truth.dq_ds) ** 2, -1) + jnp.sum(
            (dq_da - truth.dq_da) ** 2, -1
        )
        grad_size = jnp.sum(truth.dq_ds**2, -1) + jnp.sum(truth.dq_da**2, -1)
        return value, jnp.sqrt(jnp.mean(grad_error) / jnp.mean(grad_size))

    def train(lambdas, key):
        data_key, noise_key, eval_key, init_key, batch_key = jax.random.split(key, 5)
        obs, action = sample_pairs(data_key, size)
        noise = jax.random.normal(noise_key, (size, n))
        eval_obs, eval_action = sample_pairs(eval_key, 1024)
        truth = jax.vmap(exact)(eval_obs, eval_action)
        params = init(init_key)
        start = (params, params, optimizer.init(params))

        def one_update(carry, key):
            params, target_params, opt_state = carry
            index = jax.random.randint(key, (batch,), 0, size)

            def target(s, a, e):
                return sobolev_target(
                    lambda s2, a2, _: value_fn(target_params, s2, a2),
                    lambda s2: gain @ s2,
                    transition,
                    s,
                    a,
                    e,
                    None,
                    0.0,
                    _LQ_GAMMA,
                )

            targets = jax.vmap(target)(obs[index], action[index], noise[index])

            def loss(p):
                return sobolev.sobolev_critic_loss(
                    (p,),
                    obs[index],
                    action[index],
                    targets,
                    lambda_s=lambdas[0],
                    lambda_a=lambdas[1],
                    normalization=normalization,
                    value_fn=value_fn,
                )[0]

            grads = jax.grad(loss)(params)
            step, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, step)
            return (params, polyak(target_params, params, _LQ_TAU), opt_state), None

        def block(carry, keys):
            carry, _ = jax.lax.scan(one_update, carry, keys)
            return carry, errors(carry[0], eval_obs, eval_action, truth)

        keys = jax.random.split(batch_key, evals * every).reshape(evals, every)
        _, (value_errors, grad_errors) = jax.lax.scan(block, start, keys)
        return value_errors, grad_errors

    lambdas = jnp.array([[value, value] for value in lambdas])
    keys = jax.random.split(jax.random.key(seed), budget["lq_seeds"])
    run = jax.jit(jax.vmap(jax.vmap(train, in_axes=(None, 0)), in_axes=(0, None)))
    value_errors, grad_errors = run(lambdas, keys)
    steps = [every * (index + 1) for index in range(evals)]
    return np.asarray(value_errors, np.float64), np.asarray(grad_errors, np.float64), steps


def _band(curves: np.ndarray, steps: Sequence[int], n_boot: int, seed: int) -> dict[str, Any]:
    band = iqm_curve(
        [[[step, float(v)] for step, v in zip(steps, row, strict=True)] for row in curves],
        n_boot=n_boot,
        seed=seed,
    )
    return {
        "steps": list(band.steps),
        "iqm": list(band.iqm),
        "low": list(band.low),
        "high": list(band.high),
    }


def lq_records(budget: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """Value-only vs Sobolev policy evaluation on the LQ system (module docstring, item 2)."""
    records = []
    for kind in budget["lq_critics"]:
        for dataset in budget["lq_datasets"]:
            records.extend(_lq_kind_records(kind, dataset, budget, seed))
    return records


def _lq_kind_records(kind: str, dataset: int, budget: dict[str, Any], seed: int):
    records, n_boot = [], budget["n_boot"]
    started = time.monotonic()
    value_errors, grad_errors, steps = _lq_curves(kind, budget, seed, dataset=dataset)
    wall = time.monotonic() - started
    for name, curves in (("value", value_errors), ("gradient", grad_errors)):
        # Per seed: mean error over the evaluation grid (area under the curve), paired.
        area = curves.mean(axis=2)  # (2, seeds)
        log_ratio = np.log(area[1] / area[0])
        low, high = bootstrap_iqm_ci(log_ratio, n_boot=n_boot, seed=seed)
        final = curves[:, :, -1]
        final_ratio = np.log(final[1] / final[0])
        final_low, final_high = bootstrap_iqm_ci(final_ratio, n_boot=n_boot, seed=seed)
        outcome = _outcome(low, high, better_below=True)
        records.append(
            _record(
                f"lq-evaluation/{kind}/n{dataset}/{name}-error",
                {
                    "critic": kind,
                    "K": _LQ_GAIN.tolist(),
                    "gamma": _LQ_GAMMA,
                    "seeds": budget["lq_seeds"],
                    "updates": budget["lq_updates"],
                    "dataset": dataset,
                    "batch": budget["lq_batch"],
                    "lr": _LQ_LR[kind],
                    "tau": _LQ_TAU,
                    "lambda_sobolev": 1.0,
                    "grad_normalization": sobolev.SobolevTD3Config().grad_normalization,
                },
                seed,
                math.exp(iqm(log_ratio)),
                1.0,
                outcome == "supported",
                outcome=outcome,
                statistic="Sobolev / value-only ratio of the mean relative "
                f"{name} error over the updates (IQM over paired seeds of the log-ratio, "
                "exponentiated)",
                ratio_ci95=[math.exp(low), math.exp(high)],
                final_ratio=math.exp(iqm(final_ratio)),
                final_ratio_ci95=[math.exp(final_low), math.exp(final_high)],
                final_value_only=iqm(final[0]),
                final_sobolev=iqm(final[1]),
                curve_value_only=_band(curves[0], steps, n_boot, seed),
                curve_sobolev=_band(curves[1], steps, n_boot, seed),
                wall_seconds=wall,
            )
        )
    return records


# ----------------------------------------------------------------------------- 3-4. training


def _run_settings(env_id, algo, steps, seed, budget) -> dict[str, Any]:
    options = dict(budget["curve_options"])
    options.setdefault("start_steps", min(_START_STEPS.get(env_id, 1000), steps // 3))
    evals = budget["curve_evals"]
    return {
        "algo": algo,
        "env": env_id,
        "steps": steps,
        "seed": seed,
        "eval_every": max(steps // evals, 1),
        "eval_episodes": budget["eval_episodes"],
        "checkpoint_every": steps,
        "options": options,
    }


def _policy_gradient_spread(settings: dict[str, Any], run_dir: Path, minibatches: int, seed: int):
    """``tr Cov`` and ``‖ḡ‖²`` of ``∇_θ J`` over ``minibatches`` replay minibatches."""
    checkpoint = pickle.loads((run_dir / "checkpoint.pkl").read_bytes())
    state = jax.tree.map(jnp.asarray, checkpoint["agent"])
    buffer = checkpoint["buffer"]
    info = env_info(make_training_env(settings["env"], "none", settings["seed"]))
    agent = make_agent(settings["algo"], info, settings["options"])
    spec = actor_from_info(info.action_low, info.action_high)
    rng = np.random.default_rng([seed, settings["seed"], settings["steps"]])
    batches = buffer.sample(rng, (minibatches, agent.hyper.batch_size))["obs"]

    if settings["algo"] in _PAIR_TD3:

        def objective(actor_params, obs, key):
            del key
            actions = jax.vmap(lambda o: spec.apply(actor_params, o))(obs)
            return jnp.mean(jax.vmap(critic_value, (None, 0, 0))(state.critic[0], obs, actions))

    else:

        def objective(actor_params, obs, key):
            loss, _ = sobolev.sac_actor_loss(
                actor_params, state.critic, jnp.exp(state.log_alpha), obs, key, spec=spec
            )
            return -loss

    def flat_gradient(obs, key):
        grads = jax.grad(objective)(state.actor, obs, key)
        return jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree.leaves(grads)])

    keys = jax.random.split(jax.random.key(seed), minibatches)
    grads = np.asarray(jax.jit(jax.vmap(flat_gradient))(jnp.asarray(batches), keys), np.float64)
    mean = grads.mean(axis=0)
    trace = float(np.sum((grads - mean) ** 2) / (minibatches - 1))
    return {"trace_cov": trace, "mean_norm2": float(mean @ mean)}


def _compare_groups(baseline, candidate, n_boot, seed, *, better_below):
    """``verify.stats.compare`` with zero tolerance; one seed a side is always inconclusive."""
    verdict = compare(baseline, candidate, seed=seed, n_boot=n_boot, tolerance=0.0, atol=0.0)
    if min(len(baseline), len(candidate)) < 2:
        return verdict, "inconclusive"
    low, high = verdict.difference_ci
    return verdict, _outcome(low, high, better_below=better_below)


def curve_records(
    budget: dict[str, Any], out_dir: str | Path, seed: int = 0
) -> list[dict[str, Any]]:
    """Learning curves and policy-gradient variance (module docstring, items 3 and 4)."""
    out = Path(out_dir)
    records = []
    n_boot, minibatches = budget["n_boot"], budget["pg_minibatches"]
    seeds = [seed + index for index in range(budget["curve_seeds"])]
    for env_id, pair, steps, checkpoints in budget["curves"]:
        curves: dict[str, list] = {algo: [] for algo in pair}
        spread: dict[tuple[str, float], list[dict]] = {}
        started = time.monotonic()
        for run_seed in seeds:
            for algo in pair:
                for fraction in sorted(checkpoints):
                    run_steps = max(round(fraction * steps), 1)
                    settings = _run_settings(env_id, algo, run_steps, run_seed, budget)
                    run_dir = out / "runs" / f"{env_id}_{algo}_s{run_seed}_{run_steps}"
                    # The host loop: the spread below reads its checkpoint's replay buffer.
                    config = TrainConfig(**settings).validate()
                    result = run_training(config, run_dir, resume=True, progress=False)
                    if fraction == 1.0:
                        curves[algo].append(result["eval_curve"])
                    spread.setdefault((algo, fraction), []).append(
                        _policy_gradient_spread(settings, run_dir, minibatches, seed)
                    )
        wall = time.monotonic() - started
        baseline, candidate = pair
        area = {
            algo: np.array([np.mean([point[1] for point in curve]) for curve in curves[algo]])
            for algo in pair
        }
        final = {algo: np.array([curve[-1][1] for curve in curves[algo]]) for algo in pair}
        verdict, outcome = _compare_groups(
            area[baseline], area[candidate], n_boot, seed, better_below=False
        )
        final_verdict, final_outcome = _compare_groups(
            final[baseline], final[candidate], n_boot, seed, better_below=False
        )
        settings = _run_settings(env_id, candidate, steps, seeds[0], budget)
        common = {"env": env_id, "steps": steps, "seeds": seeds, "options": settings["options"]}
        records.append(
            _record(
                f"learning-curve/{env_id}/{candidate}-vs-{baseline}",
                {**common, "algos": list(pair)},
                seed,
                verdict.difference,
                0.0,
                outcome == "supported",
                outcome=outcome,
                statistic="IQM over seeds of the mean evaluation return over the curve, "
                f"{candidate} minus {baseline}",
                difference_ci95=list(verdict.difference_ci),
                area_iqm={baseline: verdict.reference_iqm, candidate: verdict.new_iqm},
                final_iqm={baseline: final_verdict.reference_iqm, candidate: final_verdict.new_iqm},
                final_ci95={
                    baseline: list(final_verdict.reference_ci),
                    candidate: list(final_verdict.new_ci),
                },
                final_difference_ci95=list(final_verdict.difference_ci),
                final_outcome=final_outcome,
                finals={algo: final[algo].tolist() for algo in pair},
                curves={
                    algo: _band(
                        np.array([[point[1] for point in curve] for curve in curves[algo]]),
                        [point[0] for point in curves[algo][0]],
                        n_boot,
                        seed,
                    )
                    for algo in pair
                },
                wall_seconds=wall,
            )
        )
        for fraction in sorted(checkpoints):
            traces = {a: np.array([s["trace_cov"] for s in spread[(a, fraction)]]) for a in pair}
            relative = {
                a: np.array(
                    [s["trace_cov"] / max(s["mean_norm2"], 1e-30) for s in spread[(a, fraction)]]
                )
                for a in pair
            }
            log_verdict, log_outcome = _compare_groups(
                np.log(traces[baseline]), np.log(traces[candidate]), n_boot, seed, better_below=True
            )
            rel_verdict, rel_outcome = _compare_groups(
                np.log(relative[baseline]),
                np.log(relative[candidate]),
                n_boot,
                seed,
                better_below=True,
            )
            records.append(
                _record(
                    f"policy-gradient-variance/{env_id}/{candidate}-vs-{baseline}/"
                    f"at-{round(fraction * steps)}",
                    {
                        **common,
                        "algos": list(pair),
                        "minibatches": minibatches,
                        "fraction": fraction,
                    },
                    seed,
                    math.exp(log_verdict.difference),
                    1.0,
                    log_outcome == "supported",
                    outcome=log_outcome,
                    statistic=f"ratio {candidate} / {baseline} of the IQM over seeds of "
                    "tr Cov_k[∇_θ J] (log scale)",
                    ratio_ci95=[math.exp(v) for v in log_verdict.difference_ci],
                    relative_ratio=math.exp(rel_verdict.difference),
                    relative_ratio_ci95=[math.exp(v) for v in rel_verdict.difference_ci],
                    relative_outcome=rel_outcome,
                    trace_cov={a: traces[a].tolist() for a in pair},
                    trace_over_mean_norm2={a: relative[a].tolist() for a in pair},
                )
            )
    return records


# ----------------------------------------------------------------------------- 5. cost


def cost_records(budget: dict[str, Any], seed: int = 0) -> list[dict[str, Any]]:
    """Seconds per jitted update (one minibatch), ``sobolev-td3`` over ``td3``, same process."""
    records = []
    options = {"hidden": list(budget["cost_hidden"]), "batch_size": 256}
    for env_id in budget["cost_envs"]:
        info = env_info(make_training_env(env_id, "none", seed))
        rng = np.random.default_rng(seed)
        batch = {
            "obs": rng.normal(size=(1, 256, info.obs_dim)),
            "action": rng.uniform(-1, 1, size=(1, 256, info.action_dim)),
            "reward": rng.normal(size=(1, 256)),
            "next_obs": rng.normal(size=(1, 256, info.obs_dim)),
            "terminated": np.zeros((1, 256)),
        }
        if info.diff_model is not None and info.diff_model.noise_dim:
            batch["noise"] = rng.normal(size=(1, 256, info.diff_model.noise_dim))
        batch = {name: jnp.asarray(value, jnp.float32) for name, value in batch.items()}
        seconds = {}
        for algo in _PAIR_TD3:
            agent = make_agent(algo, info, options)
            state = agent.init(jax.random.key(seed))
            jax.block_until_ready(agent.update(state, batch, jax.random.key(0)))  # compile
            timings = []
            for index in range(budget["cost_repeats"]):
                begin = time.perf_counter()
                jax.block_until_ready(agent.update(state, batch, jax.random.key(index)))
                timings.append(time.perf_counter() - begin)
            seconds[algo] = float(np.median(timings))
        ratio = seconds["sobolev-td3"] / seconds["td3"]
        records.append(
            _record(
                f"update-cost/{env_id}",
                {"env": env_id, **options, "repeats": budget["cost_repeats"]},
                seed,
                ratio,
                5.0,
                ratio <= 5.0,
                statistic="median seconds per jitted update, sobolev-td3 / td3 (same process); "
                "the bound is a budget, not a claim of the paper",
                seconds=seconds,
            )
        )
    return records


# ----------------------------------------------------------------------------- runner, CLI


def run_claims(budget_name: str, out_dir: str | Path, seed: int = 0) -> dict[str, Any]:
    """Every [FS] record at ``budget_name``; writes ``out_dir/fs_claims.json``."""
    if budget_name not in BUDGETS:
        raise ValueError(f"budget {budget_name!r} is unknown; accepted: {', '.join(BUDGETS)}")
    budget = BUDGETS[budget_name]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    timings, records = {}, []
    for name, run in (
        ("consistency", lambda: consistency_records(budget, seed)),
        ("lq", lambda: lq_records(budget, seed)),
        ("curves", lambda: curve_records(budget, out, seed)),
        ("cost", lambda: cost_records(budget, seed)),
    ):
        begin = time.monotonic()
        records.extend(run())
        timings[name] = time.monotonic() - begin
    payload = {
        "claim": CLAIM,
        "budget": budget_name,
        "seed": seed,
        "wall_seconds": time.monotonic() - started,
        "section_seconds": timings,
        "records": records,
    }
    path = out / "fs_claims.json"
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2))
    temporary.replace(path)
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verify.fs_claims", description="[FS] claim records (C6)."
    )
    from verify.usage import seed_value

    parser.add_argument(
        "--budget", default="quick", help="testing (seconds), quick (default) or full"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=seed_value, default=0, help="seed >= 0 (default 0)")
    args = parser.parse_args(argv)
    if args.budget not in BUDGETS:
        print(
            f"error: --budget {args.budget!r} is unknown; accepted: {', '.join(BUDGETS)}",
            file=sys.stderr,
        )
        return 2
    payload = run_claims(args.budget, args.out, args.seed)
    for record in payload["records"]:
        outcome = record["details"].get("outcome", "")
        print(f"{record['case']}: {record['verdict']} {outcome} measured {record['measured']:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
