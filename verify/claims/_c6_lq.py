"""C6, policy evaluation on the linear-quadratic system: value-only TD (``λ = 0``) against
Sobolev TD (``λ_s = λ_a = 1``) on the same transitions, initialisation and minibatches
(paired seeds), scored against ``LinearQuadraticEnv.exact_q`` (c6.py's docstring, item 2)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agents import sobolev_td as sobolev
from agents.common import critic_value, polyak
from agents.envs import lq_system
from agents.jax_envs import linear_quadratic
from agents.networks import mlp_apply, mlp_init
from sobolev_core import sobolev_target
from verify.claims._c6_settings import CLAIM, Settings
from verify.claims._common import Finding, finding, outcome_of
from verify.stats import bootstrap_iqm_ci, iqm, iqm_curve

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
    budget: Settings,
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
    size, batch = dataset, budget.lq_batch
    updates, evals = budget.lq_updates, budget.lq_evals
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
                return sobolev.twin_critics_sobolev_loss(
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
    keys = jax.random.split(jax.random.key(seed), budget.lq_seeds)
    run = jax.jit(jax.vmap(jax.vmap(train, in_axes=(None, 0)), in_axes=(0, None)))
    value_errors, grad_errors = run(lambdas, keys)
    steps = [every * (index + 1) for index in range(evals)]
    return np.asarray(value_errors, np.float64), np.asarray(grad_errors, np.float64), steps


def iqm_band(curves: np.ndarray, steps: Sequence[int], n_boot: int, seed: int) -> dict[str, Any]:
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


def lq_records(budget: Settings, seed: int = 0) -> list[Finding]:
    """Value-only vs Sobolev policy evaluation on the LQ system (module docstring, item 2)."""
    records = []
    for kind in budget.lq_critics:
        for dataset in budget.lq_datasets:
            records.extend(_lq_kind_records(kind, dataset, budget, seed))
    return records


def _lq_kind_records(kind: str, dataset: int, budget: Settings, seed: int):
    records, n_boot = [], budget.n_boot
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
        outcome = outcome_of(low, high, better_below=True)
        records.append(
            finding(
                CLAIM,
                f"lq-evaluation/{kind}/n{dataset}/{name}-error",
                {
                    "critic": kind,
                    "K": _LQ_GAIN.tolist(),
                    "gamma": _LQ_GAMMA,
                    "seeds": budget.lq_seeds,
                    "updates": budget.lq_updates,
                    "dataset": dataset,
                    "batch": budget.lq_batch,
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
                curve_value_only=iqm_band(curves[0], steps, n_boot, seed),
                curve_sobolev=iqm_band(curves[1], steps, n_boot, seed),
                wall_seconds=wall,
            )
        )
    return records
