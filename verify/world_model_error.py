"""The effect of DSDPG's world-model input normalisation on its one-step error (issue 12 §5).

Data: transitions of a Gymnasium MuJoCo env (``agents.envs``, Hopper-v5 by default) under a
uniformly random policy, a training set and a held-out set from different episodes; each
seed collects its own data (env seed ``seed``, held-out env seed ``seed + 10⁴``).

Models: DSDPG's cVAE world model with DSDPG's defaults (``model_hidden``, ``model_lr``,
``batch_size``), trained by DSDPG's own model step (``agents.dsdpg.make_parts(...)
.model_update``, so exactly what the agent runs) for the same number of steps on the same
minibatches, once with ``model_normalisation = "running"`` and once with ``"none"``.
Seeds run side by side under ``jax.vmap``.

Held-out one-step error, per transition, of the model's predictive mean (the mean of
``samples`` model samples ``(ŝ', r̂)``):

- ``state_mse``: ``mean_j (ŝ'_j − s'_j)²`` in raw units, and ``state_nmse``: the same per
  coordinate divided by the held-out variance of the true ``s'_j − s_j`` (1 = no better than
  predicting the mean change; coordinates with large raw scales do not dominate it);
- ``reward_mse`` and ``reward_nmse`` (divided by the held-out reward variance);
- ``nll``: the held-out negative ELBO per transition (raw units, comparable across the two).

Summary per setting: mean over seeds with a Student-t 95% interval, and the paired
difference none − running with its t interval (pairs share data and minibatches).

Run: ``python -m verify.world_model_error [testing|quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["SETTINGS", "collect", "evaluate", "run", "summarise", "train"]

SETTINGS: dict[str, dict[str, Any]] = {
    # testing: seconds, for CI (a small model on few transitions); quick: the quoted figures.
    "testing": dict(
        env="Hopper-v5",
        seeds=2,
        train=600,
        held_out=300,
        steps=40,
        samples=4,
        options={"model_hidden": [16], "batch_size": 32},
    ),
    "quick": dict(
        env="Hopper-v5",
        seeds=5,
        train=30_000,
        held_out=10_000,
        steps=4_000,
        samples=16,
        options={},
    ),
}
NORMALISATIONS = ("running", "none")


def collect(env_id: str, count: int, seed: int) -> dict[str, np.ndarray]:
    """``count`` transitions under a uniformly random policy (episodes restarted on end)."""
    from agents.envs import make_training_env

    env = make_training_env(env_id, "none", seed).env
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list] = {name: [] for name in ("obs", "action", "reward", "next_obs")}
    while len(rows["obs"]) < count:
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for name, value in zip(rows, (obs, action, reward, next_obs), strict=True):
            rows[name].append(value)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return {name: np.asarray(values, np.float32) for name, values in rows.items()}


def _parts(obs_dim: int, action_dim: int, normalisation: str, options: dict):
    from agents.agent import EnvInfo
    from agents.dsdpg import make_parts

    info = EnvInfo(
        env_id="world-model-error",
        obs_dim=obs_dim,
        action_dim=action_dim,
        action_low=-np.ones(action_dim, np.float32),
        action_high=np.ones(action_dim, np.float32),
        diff_model=None,
        is_mujoco=True,
    )
    return make_parts(info, {**options, "model_normalisation": normalisation})


def train(data: dict[str, jax.Array], normalisation: str, settings: dict, keys: jax.Array):
    """Model parameters after ``settings["steps"]`` DSDPG model steps, one run per key.

    ``data`` holds per-seed arrays ``(seeds, n, ·)``; ``keys`` ``(seeds,)``. Minibatch
    indices come from ``fold_in(key, 1)`` and are the same for both normalisations.
    """
    import optax

    from agents.common import ActorCriticState
    from agents.world_models import init_moments

    obs_dim, action_dim = data["obs"].shape[-1], data["action"].shape[-1]
    parts = _parts(obs_dim, action_dim, normalisation, settings["options"])
    batch, steps = parts.hyper.batch_size, settings["steps"]
    optimizer = optax.adam(parts.hyper.model_lr)

    def one_run(run_data, key):
        params = parts.model.init(jax.random.fold_in(key, 0))
        extra = (params, optimizer.init(params))
        if normalisation == "running":
            extra = (*extra, init_moments(params))
        indices = jax.random.randint(
            jax.random.fold_in(key, 1), (steps, batch), 0, run_data["obs"].shape[0]
        )
        step_keys = jax.random.split(jax.random.fold_in(key, 2), steps)

        def body(extra, inputs):
            rows, step_key = inputs
            minibatch = {name: values[rows] for name, values in run_data.items()}
            state = ActorCriticState(None, None, None, None, None, None, None, extra)
            extra, losses = parts.model_update(state, minibatch, step_key)
            return extra, losses["model"]

        extra, losses = jax.lax.scan(body, extra, (indices, step_keys))
        return extra[0], losses

    return jax.jit(jax.vmap(one_run))(data, keys)


def evaluate(params, held_out: dict[str, jax.Array], normalisation: str, settings: dict, keys):
    """The module docstring's held-out errors per seed (arrays of shape ``(seeds,)``)."""
    obs_dim, action_dim = held_out["obs"].shape[-1], held_out["action"].shape[-1]
    parts = _parts(obs_dim, action_dim, normalisation, settings["options"])
    model, samples = parts.model, settings["samples"]

    def one_seed(params, data, key):
        n = data["obs"].shape[0]
        sample_keys = jax.random.split(jax.random.fold_in(key, 3), (n, samples))

        def predictive_mean(obs, action, keys):
            next_obs, reward = jax.vmap(model.sample, in_axes=(None, None, None, 0))(
                params, obs, action, keys
            )
            return jnp.mean(next_obs, axis=0), jnp.mean(reward)

        next_obs, reward = jax.lax.map(
            lambda args: predictive_mean(*args),
            (data["obs"], data["action"], sample_keys),
            batch_size=512,
        )
        delta_var = jnp.var(data["next_obs"] - data["obs"], axis=0)
        delta_var = jnp.where(delta_var < 1e-12, 1.0, delta_var)
        state_sq = (next_obs - data["next_obs"]) ** 2
        reward_sq = (reward - data["reward"]) ** 2
        loss_keys = jax.random.split(jax.random.fold_in(key, 4), n)
        nll = jax.vmap(model.loss, in_axes=(None, 0, 0, 0, 0, 0))(
            params, data["obs"], data["action"], data["next_obs"], data["reward"], loss_keys
        )
        return {
            "state_mse": jnp.mean(state_sq),
            "state_nmse": jnp.mean(state_sq / delta_var),
            "reward_mse": jnp.mean(reward_sq),
            "reward_nmse": jnp.mean(reward_sq) / jnp.var(data["reward"]),
            "nll": jnp.mean(nll),
        }

    figures = jax.jit(jax.vmap(one_seed))(params, held_out, keys)
    return {name: np.asarray(values, float) for name, values in figures.items()}


def _interval(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values, float)
    n = len(values)
    mean = float(values.mean())
    if n < 2:
        return {"mean": mean, "ci": [mean, mean], "n": n}
    from scipy.stats import t

    half = float(t.ppf(0.975, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
    return {"mean": mean, "ci": [mean - half, mean + half], "n": n}


def summarise(per_setting: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Mean and t interval per metric and setting, and the paired difference none − running."""
    summary: dict[str, Any] = {
        setting: {name: _interval(values) for name, values in figures.items()}
        for setting, figures in per_setting.items()
    }
    summary["none_minus_running"] = {
        name: _interval(per_setting["none"][name] - per_setting["running"][name])
        for name in per_setting["running"]
    }
    return summary


def run(settings: dict, seed: int = 0) -> dict[str, Any]:
    """Collect, train both settings, evaluate; returns per-seed figures, summary, wall time."""
    started = time.perf_counter()
    seeds = [seed + index for index in range(settings["seeds"])]
    train_sets = [collect(settings["env"], settings["train"], s) for s in seeds]
    held_sets = [collect(settings["env"], settings["held_out"], s + 10_000) for s in seeds]
    stack = lambda sets: {name: jnp.stack([d[name] for d in sets]) for name in sets[0]}  # noqa: E731
    train_data, held_out = stack(train_sets), stack(held_sets)
    keys = jnp.stack([jax.random.key(s) for s in seeds])
    collected = time.perf_counter() - started
    per_setting = {}
    for normalisation in NORMALISATIONS:
        params, losses = train(train_data, normalisation, settings, keys)
        figures = evaluate(params, held_out, normalisation, settings, keys)
        figures["final_train_loss"] = np.asarray(jnp.mean(losses[:, -100:], axis=1), float)
        per_setting[normalisation] = figures
    return {
        "settings": settings,
        "seeds": seeds,
        "per_seed": {k: {n: v.tolist() for n, v in f.items()} for k, f in per_setting.items()},
        "summary": summarise(per_setting),
        "wall_s": {"collect": collected, "total": time.perf_counter() - started},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("budget", nargs="?", default="quick", choices=sorted(SETTINGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args(argv)
    result = run(SETTINGS[args.budget], args.seed)
    for name, cell in result["summary"]["none_minus_running"].items():
        running, none = result["summary"]["running"][name], result["summary"]["none"][name]
        print(
            f"{name:16s} running {running['mean']:.4g} [{running['ci'][0]:.4g}, "
            f"{running['ci'][1]:.4g}]  none {none['mean']:.4g} [{none['ci'][0]:.4g}, "
            f"{none['ci'][1]:.4g}]  none-running {cell['mean']:.4g} "
            f"[{cell['ci'][0]:.4g}, {cell['ci'][1]:.4g}]"
        )
    print(
        f"wall time {result['wall_s']['total']:.1f} s (collect {result['wall_s']['collect']:.1f})"
    )
    if args.json:
        from agents.files import write_json

        write_json(args.json, result)


if __name__ == "__main__":
    main()
