"""Cost of Sobolev-TD3's finite-difference Jacobians on MuJoCo, as a ratio to one env step.

A benchmark, not a test: nothing here asserts a speed. :func:`fd_jacobian_cost` walks one
random-action rollout per env and, at each state, times one plain ``env.step`` and one
:func:`agents.mujoco_rewards.obs_step_jacobians` call with each method of
:data:`agents.mujoco_fd.FD_METHODS` (``"sequential"``: the per-column ``mj_step`` loop
as before batching; ``"rollout"``: all perturbed steps in one ``mujoco.rollout`` call), in
alternating order, in this process, so machine load affects every side alike. Printing-free:
it returns numbers for ``sobolev-verify bench`` to print and save.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

__all__ = ["fd_jacobian_cost"]

_WARMUP_CALLS = 3  # JAX compiles the reward gradient and the lift cache fills on the first call


def fd_jacobian_cost(env_ids=("InvertedPendulum-v5", "Hopper-v5"), calls: int = 200) -> dict:
    """Median milliseconds of one FD Jacobian call per method and of one ``env.step``.

    Returns ``{env_id: row}`` with ``row`` holding ``calls``; ``env_step_ms``; for each method
    ``m``, ``{m}_ms`` and ``{m}_ratio = {m}_ms / env_step_ms`` (the cost in env steps);
    ``speedup = sequential_ms / rollout_ms``; ``whole_steps``, the ``2(k + act_dim) + 1``
    whole steps one call simulates (``k`` the state coordinates the observation determines),
    the cost floor of a central difference done by whole steps.

    Args:
      env_ids: ids of :data:`agents.mujoco_rewards.REWARD_ENV_IDS`.
      calls: timed states per env (each timed once per method and once for ``env.step``).
    """
    from agents.mujoco_fd import FD_METHODS, make_env
    from agents.mujoco_rewards import REWARD_ENV_IDS, obs_state_map, obs_step_jacobians

    env_ids = tuple(env_ids)
    unknown = [env_id for env_id in env_ids if env_id not in REWARD_ENV_IDS]
    if not env_ids or unknown:
        raise ValueError(
            f"env_ids must be a non-empty sequence of {', '.join(REWARD_ENV_IDS)}; got {env_ids!r}"
        )
    if not (isinstance(calls, int | np.integer) and not isinstance(calls, bool) and calls >= 1):
        raise ValueError(f"calls must be a positive integer; got {calls!r}")
    rows = {}
    for env_id in env_ids:
        env = make_env(env_id)
        try:
            env.reset(seed=0)
            rng = np.random.default_rng(0)
            sim = env.unwrapped
            times: dict[str, list[float]] = {method: [] for method in FD_METHODS}
            times["env_step"] = []
            for call in range(_WARMUP_CALLS + int(calls)):
                action = 0.5 * rng.uniform(env.action_space.low, env.action_space.high)
                order = FD_METHODS if call % 2 == 0 else FD_METHODS[::-1]
                for method in order:
                    start = time.perf_counter()
                    obs_step_jacobians(env, action, method=method)
                    times[method].append(time.perf_counter() - start)
                start = time.perf_counter()
                _, _, terminated, truncated, _ = env.step(action)
                times["env_step"].append(time.perf_counter() - start)
                if terminated or truncated:
                    env.reset()
            columns = obs_state_map(env_id, sim.model, sim.data.qpos).state_columns
        finally:
            env.close()
        milliseconds = {
            name: 1e3 * statistics.median(values[_WARMUP_CALLS:]) for name, values in times.items()
        }
        row = {"calls": int(calls), "env_step_ms": milliseconds["env_step"]}
        for method in FD_METHODS:
            row[f"{method}_ms"] = milliseconds[method]
            row[f"{method}_ratio"] = milliseconds[method] / milliseconds["env_step"]
        row["speedup"] = milliseconds["sequential"] / milliseconds["rollout"]
        row["whole_steps"] = 2 * (len(columns) + sim.model.nu) + 1
        rows[env_id] = row
    return rows
