"""Training-loop throughput, measured in one process: device loop, host loop, update bound.

Every figure is a rate of the timed part only: each program runs once untimed (compilation)
before the timed call, and the host loop's rate is the difference quotient of two runs of
different length, so start-up and compilation cancel. Ratios are between figures measured in
the same call, so they share the machine's load.

- ``update_bound``: the agent's jitted ``update`` vmapped over seeds and scanned, on a fixed
  batch: the ceiling any loop has (seed-updates per second);
- ``device_rate``: :mod:`agents.device_loop` after its random phase (total env steps per
  second over all seeds: each step explores, steps the env, writes the ring buffer, samples
  and updates);
- ``host_rate``: :func:`agents.training.run_training`, one seed (env steps per second).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "LOOP_OPTIONS",
    "c7_sweep_projection",
    "device_rate",
    "host_against_sb3",
    "host_rate",
    "loop_figures",
]

# The comparison: 64-64 networks, batch 32, one update per env step.
LOOP_OPTIONS: dict[str, Any] = {"hidden": [64, 64], "batch_size": 32, "updates_per_step": 1}


def _config(algo: str, env: str, steps: int, options: dict, eval_every: int | None = None):
    from agents.training import TrainConfig

    return TrainConfig(
        algo=algo,
        env=env,
        steps=steps,
        seed=0,
        eval_every=eval_every or steps,
        eval_episodes=1,
        checkpoint_every=steps,
        options=options,
    ).validate()


def _device_program(algo: str, env_id: str, options: dict, steps: int):
    from agents import device_loop

    config = _config(algo, env_id, steps, options)
    return device_loop._compiled(config, device_loop._build_program)


def update_bound(algo: str, env_id: str, seeds: int, options: dict, length: int) -> float:
    """Seed-updates per second of ``vmap(update)`` scanned ``length`` times on a fixed batch."""
    agent, program = _device_program(algo, env_id, options, 10 * length)
    carry = program.init(jnp.stack([jax.random.PRNGKey(seed) for seed in range(seeds)]))
    hyper = agent.hyper
    warm = max(hyper.start_steps, hyper.batch_size)
    carry, _ = program.chunk(jnp.asarray(0, jnp.int32), carry, warm)  # real transitions
    index = jax.random.randint(
        jax.random.PRNGKey(1), (hyper.updates_per_step, hyper.batch_size), 0, warm
    )
    batch = jax.tree.map(lambda column: column[:, index], carry.buffer)  # (seeds, K, B, ...)

    @jax.jit
    def scanned(states, keys):
        def body(states, key):
            states, _ = jax.vmap(agent.update)(states, batch, jax.random.split(key, seeds))
            return states, None

        states, _ = jax.lax.scan(body, states, keys)
        return states

    keys = jax.random.split(jax.random.PRNGKey(2), length)
    jax.block_until_ready(scanned(carry.agent, keys))  # compile
    start = time.perf_counter()
    jax.block_until_ready(scanned(carry.agent, keys))
    return seeds * length / (time.perf_counter() - start)


def device_rate(algo: str, env_id: str, seeds: int, options: dict, length: int) -> float:
    """Total env steps per second (all seeds) of the device loop past its random phase."""
    agent, program = _device_program(algo, env_id, options, 10 * length)
    carry = program.init(jnp.stack([jax.random.PRNGKey(seed) for seed in range(seeds)]))
    warm = max(agent.hyper.start_steps, agent.hyper.batch_size)
    carry, _ = program.chunk(jnp.asarray(0, jnp.int32), carry, warm)
    carry, _ = program.chunk(jnp.asarray(warm, jnp.int32), carry, length)  # compile
    jax.block_until_ready(carry)
    start = time.perf_counter()
    carry, _ = program.chunk(jnp.asarray(warm + length, jnp.int32), carry, length)
    jax.block_until_ready(carry)
    return seeds * length / (time.perf_counter() - start)


def host_rate(algo: str, env_id: str, options: dict, length: int) -> float:
    """Env steps per second of the host loop, one seed, past its random phase and compiling.

    One run of ``warm + length`` steps evaluated (one episode) after ``warm`` steps and at the
    end; each evaluation record holds the run's mean rate so far, so the two give the wall
    time of the ``length`` steps between them (the last evaluation episode included, a
    small cost against the host loop).
    """
    import json

    from agents.registry import check_options
    from agents.training import run_training

    hyper = check_options(algo, options)
    warm = max(hyper.start_steps, hyper.batch_size) + 100
    config = _config(algo, env_id, warm + length, options, eval_every=warm)
    if length % warm:
        raise ValueError(f"length must be a multiple of {warm} (the warm-up); got {length}")
    folder = tempfile.mkdtemp(prefix="bench-host-")
    try:
        run_training(config, folder, progress=False)
        text = (Path(folder) / "metrics.jsonl").read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    evals = [row for row in map(json.loads, text.splitlines()) if row["kind"] == "eval"]
    first, last = evals[0], evals[-1]
    elapsed = (
        last["env_steps"] / last["steps_per_second"]
        - first["env_steps"] / first["steps_per_second"]
    )
    return (last["env_steps"] - first["env_steps"]) / elapsed


def loop_figures(env_id: str = "point-mass:4", *, seeds: int = 8, length: int = 2000) -> dict:
    """The device/host/update-bound figures and their ratios for td3 and dsdpg (msmmd)."""
    figures: dict[str, Any] = {"env": env_id, "seeds": seeds, "length": length}
    options = {**LOOP_OPTIONS, "start_steps": 200}
    for algo, extra in (("td3", {}), ("dsdpg", {"critic_loss": "msmmd"})):
        algo_options = {**options, **extra}
        steps = length if algo == "td3" else max(length // 10, 100)
        bound = update_bound(algo, env_id, seeds, algo_options, steps)
        device_many = device_rate(algo, env_id, seeds, algo_options, steps)
        device_one = device_rate(algo, env_id, 1, algo_options, steps)
        warm = max(algo_options["start_steps"], algo_options["batch_size"]) + 100
        host = host_rate(algo, env_id, algo_options, warm * max(1, steps // warm))
        figures[algo] = {
            "options": algo_options,
            "timed_steps": steps,
            "update_bound_seed_updates_per_s": bound,
            f"device_{seeds}_seeds_env_steps_per_s": device_many,
            "device_1_seed_env_steps_per_s": device_one,
            "host_1_seed_env_steps_per_s": host,
            "device_over_update_bound": device_many / bound,
            f"device_{seeds}_over_host_1": device_many / host,
            "device_1_over_host_1": device_one / host,
        }
    return figures


def c7_sweep_projection(*, seeds: int = 10, steps: int = 30_000, length: int = 300) -> dict:
    """Minutes a C7 sweep needs on this machine: td3 + the four DSDPG losses, N ∈ {1,2,4,8}.

    Each algorithm's device-loop rate is measured once with ``seeds`` seeds on
    ``point-mass:4`` (N changes only the reward, not the cost of a step) at the ``c7-toy``
    suite's sizes (64-64, batch 32, one update per step); a cell is one program over its
    seeds, so the sweep is ``Σ_algo 4 · seeds · steps / rate``. Compilation (once per cell)
    is measured too and added.
    """
    options = {**LOOP_OPTIONS, "start_steps": 1000}
    variants = {
        "td3": ("td3", {}),
        **{
            f"dsdpg-{loss}": ("dsdpg", {"critic_loss": loss})
            for loss in ("msmmd", "mmd", "huber-sobolev", "mmd-nograd")
        },
    }
    rates, compiles = {}, {}
    for name, (algo, extra) in variants.items():
        start = time.perf_counter()
        _device_program(algo, "point-mass:4", {**options, **extra}, 10 * length)
        rates[name] = device_rate(algo, "point-mass:4", seeds, {**options, **extra}, length)
        compiles[name] = time.perf_counter() - start - 2 * seeds * length / rates[name]
    per_cell = {name: seeds * steps / rate / 60 for name, rate in rates.items()}
    total = sum(4 * (minutes + compiles[name] / 60) for name, minutes in per_cell.items())
    return {
        "seeds": seeds,
        "steps": steps,
        "env_steps_per_s": rates,
        "compile_and_warm_up_s": compiles,
        "minutes_per_cell": per_cell,
        "sweep_minutes": total,
        "fits_in_90_minutes": total <= 90,
    }


def host_against_sb3(env_ids=("Hopper-v5", "InvertedPendulum-v5"), *, warm_ups: int = 4) -> dict:
    """TD3's host loop against stable-baselines3's TD3: same settings, same process.

    256-256 networks, batch 256, one update per env step, no evaluation in the timed part
    (ours: the mean rate between two evaluation records, ``warm_ups`` × 356 steps apart, one
    evaluation episode in between counted against us; SB3: ``learn`` after a warm-up).
    Without the ``compare`` extra the SB3 side says it was skipped.
    """
    from verify.bench_sb3 import sb3_missing_message, sb3_td3_steps_per_second

    options = {"hidden": [256, 256], "batch_size": 256, "start_steps": 200}
    warm = max(options["start_steps"], options["batch_size"]) + 100
    missing = sb3_missing_message()
    figures: dict[str, Any] = {"options": options}
    for env_id in env_ids:
        ours = host_rate("td3", env_id, options, warm * warm_ups)
        row: dict[str, Any] = {"toolkit_env_steps_per_s": ours}
        if missing is None:
            theirs = sb3_td3_steps_per_second(env_id, warm * warm_ups, 0)
            row.update(sb3_env_steps_per_s=theirs, toolkit_over_sb3=ours / theirs)
        else:
            row["sb3"] = missing
        figures[env_id] = row
    return figures
