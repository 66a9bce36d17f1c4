"""C6's cost: the wall time of one jitted update of ``sobolev-td3`` over ``td3`` on the
same batch in the same process (informational; the bound is a budget)."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from agents.agent import env_info
from agents.envs import make_training_env
from agents.registry import make_agent
from verify.claims._c6_settings import CLAIM, PAIR_TD3, Settings
from verify.claims._common import Finding, finding


def cost_records(budget: Settings, seed: int = 0) -> list[Finding]:
    """Seconds per jitted update (one minibatch), ``sobolev-td3`` over ``td3``, same process."""
    records = []
    options = {"hidden": list(budget.cost_hidden), "batch_size": 256}
    for env_id in budget.cost_envs:
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
        for algo in PAIR_TD3:
            agent = make_agent(algo, info, options)
            state = agent.init(jax.random.key(seed))
            jax.block_until_ready(agent.update(state, batch, jax.random.key(0)))  # compile
            timings = []
            for index in range(budget.cost_repeats):
                begin = time.perf_counter()
                jax.block_until_ready(agent.update(state, batch, jax.random.key(index)))
                timings.append(time.perf_counter() - begin)
            seconds[algo] = float(np.median(timings))
        ratio = seconds["sobolev-td3"] / seconds["td3"]
        records.append(
            finding(
                CLAIM,
                f"update-cost/{env_id}",
                {"env": env_id, **options, "repeats": budget.cost_repeats},
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
