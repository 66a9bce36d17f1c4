"""The on-device training loop: env, replay ring buffer, updates and evaluation in one program.

For an env whose dynamics are pure JAX functions (``point-mass:N``, ``pendulum``, ``toy-1d``,
``lq``; see :func:`functional_env`), the whole of training runs inside jitted ``lax.scan``
chunks, vmapped over seeds: exploration, the env step, the write into the replay ring buffer
(arrays in the scan carry), the ``updates_per_step`` agent updates and, at the chunk ends, the
evaluation episodes. The host only cuts the run into chunks and writes files between them.
Every algorithm runs here with the very ``init``/``explore``/``act``/``update`` functions of its
:class:`agents.agent.Agent`, the ones the host loop (:func:`agents.training.run_training`)
calls: no algorithm is written twice.

One env step ``t`` (``0 ≤ t < steps``) of one seed, as in the host loop:

1. the action is uniform in the action box while ``t < start_steps``, else ``explore``;
2. the env steps; the transition goes to ring slot ``t mod capacity``
   (``capacity = min(buffer_size, steps)``);
3. an episode that terminated or hit the time limit is reset;
4. once ``t + 1 ≥ max(start_steps, batch_size)`` an update runs on
   ``(updates_per_step, batch_size)`` transitions drawn uniformly with replacement from the
   filled part of the buffer.

The step counter is shared by every seed (they advance in lockstep), so the two conditions
above are ordinary branches, not per-seed selects.

Divergence, per seed. After every update the losses are checked as in the host loop
(non-finite, or ``|loss| > max_abs_loss``). A seed whose update fails keeps its last good
parameters and is frozen: it writes a ``diverged`` record, writes no more checkpoints, and
gets no ``result.json``. The other seeds go on, and their files are complete.

Files. With seeds ``s₁ … s_k`` and folders ``out_dirs``, each seed's folder gets the host
loop's files (``config.json`` with ``"loop": "device"``, ``metrics.jsonl``,
``checkpoint.pkl``, ``result.json``). Checkpoints are taken between chunks (every
``checkpoint_every`` env steps and at the end); the carry holds every random key, so a
resumed run repeats exactly what the interrupted one would have done. The random streams
are JAX keys, not the host loop's NumPy generators: the two loops sample the same
distributions but not the same numbers.

Noise: only ``none`` runs here; a noisy env uses the host loop.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.agent import EnvInfo
from agents.files import json_default, write_atomic, write_json
from agents.registry import make_agent
from agents.training import (
    TrainConfig,
    _Progress,
    _versions,
    check_same_run,
    final_success,
    success_fields,
)

__all__ = [
    "DEVICE_ENV_KINDS",
    "FunctionalEnv",
    "device_group",
    "device_loop_problem",
    "functional_env",
    "run_device_training",
    "run_seeds_from_settings",
]

DEVICE_ENV_KINDS = "point-mass:N, pendulum, toy-1d, lq"
_CHECKPOINT_VERSION = 1
_CHUNK_STEPS = 1_000  # longest chunk between two host syncs (progress, episode records)


class FunctionalEnv(NamedTuple):
    """An env as pure JAX functions of one example (batch with ``vmap``).

    Attributes:
      env_id: the training env id.
      obs_dim, action_dim, noise_dim: sizes; ``noise_dim`` is that of the stored ``ε``.
      action_low, action_high: the action box, float32 arrays ``(action_dim,)``.
      max_episode_steps: the time limit (truncation; the bootstrap is kept).
      reset: ``key -> state``.
      observe: ``state -> obs`` ``(obs_dim,)``.
      step: ``(state, action, key) -> (next_state, reward, terminated, noise)``: ``noise`` is
        the ``ε`` of the step (what the host env reports in ``info["noise"]``).
      n_goals: the number of goals of a goal env (the point mass), else 0.
      goal_reached: ``state -> k`` (int32), the goal the state is at or ``−1`` (goal envs).
    """

    env_id: str
    obs_dim: int
    action_dim: int
    noise_dim: int
    action_low: np.ndarray
    action_high: np.ndarray
    max_episode_steps: int
    reset: Callable[[jax.Array], jax.Array]
    observe: Callable[[jax.Array], jax.Array]
    step: Callable[[jax.Array, jax.Array, jax.Array], tuple]
    n_goals: int = 0
    goal_reached: Callable[[jax.Array], jax.Array] | None = None


def _point_mass(env_id: str) -> FunctionalEnv:
    from agents.point_mass import make_point_mass

    bare = make_point_mass(int(env_id.partition(":")[2])).unwrapped
    spread = bare.init_spread

    def reset(key):
        position = jax.random.uniform(key, (2,), minval=-spread, maxval=spread)
        return jnp.concatenate([position, jnp.zeros(2)])

    def step(state, action, key):
        noise = jax.random.normal(key, (2,))
        reward = bare.reward_jax(state, action)
        return bare.dynamics_jax(state, action, noise), reward, jnp.zeros((), bool), noise

    box = bare.action_space
    return FunctionalEnv(
        env_id,
        4,
        2,
        2,
        np.asarray(box.low, np.float32),
        np.asarray(box.high, np.float32),
        bare.episode_length,
        reset,
        lambda state: state,
        step,
        bare.n_rewards,
        bare.goal_reached_jax,
    )


def _jax_env(env_id: str) -> FunctionalEnv:
    from agents.envs import JaxGymEnv

    gym_env = JaxGymEnv(env_id)  # its action box (lq's is the actors' box, not the system's)
    env = gym_env.jax_env

    def step(state, action, key):
        noise = env.sample_noise(key)
        result = env.step(state, action, noise if env.noise_dim else None)
        return result.next_state, result.reward, result.terminated, noise

    return FunctionalEnv(
        env_id,
        env.obs_dim,
        env.action_dim,
        env.noise_dim,
        np.asarray(gym_env.action_space.low, np.float32),
        np.asarray(gym_env.action_space.high, np.float32),
        env.max_episode_steps,
        env.reset,
        env.observe,
        step,
    )


def functional_env(env_id: str) -> FunctionalEnv:
    """The :class:`FunctionalEnv` of ``env_id``; ``ValueError`` for an env without one."""
    from agents.envs import JAX_ENV_IDS, check_env_id

    check_env_id(env_id)
    if env_id in JAX_ENV_IDS:
        return _jax_env(env_id)
    if env_id.startswith("point-mass:"):
        return _point_mass(env_id)
    raise ValueError(
        f"env {env_id!r} has no pure-JAX step, so it cannot run in the device loop; "
        f"accepted: {DEVICE_ENV_KINDS} (use --loop host)"
    )


def device_loop_problem(config: TrainConfig) -> str | None:
    """Why ``config`` cannot run in the device loop, or ``None`` when it can."""
    try:
        functional_env(config.env)
    except ValueError as error:
        return str(error)
    if config.noise != "none":
        return (
            f"noise {config.noise!r} is applied by a host wrapper, so it cannot run in the device "
            "loop; accepted there: none (use --loop host)"
        )
    return None


def _env_info(env: FunctionalEnv) -> EnvInfo:
    from agents.envs import make_training_env

    diff_model = make_training_env(env.env_id, "none", 0).diff_model
    return EnvInfo(
        env.env_id, env.obs_dim, env.action_dim, env.action_low, env.action_high, diff_model, False
    )


# ----------------------------------------------------------------------------- the program


class SeedCarry(NamedTuple):
    """Everything one seed carries from step to step (all arrays; stacked over seeds)."""

    agent: Any
    buffer: dict[str, jax.Array]
    env_state: jax.Array
    obs: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    key: jax.Array
    loss_sums: dict[str, jax.Array]
    loss_count: jax.Array
    alive: jax.Array
    diverged_step: jax.Array
    diverged_losses: dict[str, jax.Array]


class _Program(NamedTuple):
    init: Callable  # keys (seeds, 2) -> SeedCarry stacked
    chunk: Callable  # (t0, carry, length) -> (carry, (done, episode_return, episode_length))
    evaluate: Callable  # (agent states, keys (seeds, episodes, 2)) -> (returns, goals) per episode
    loss_names: tuple[str, ...]


def _build_program(agent, env: FunctionalEnv, config: TrainConfig) -> _Program:
    hyper = agent.hyper
    capacity = min(hyper.buffer_size, config.steps)
    update_from = max(hyper.start_steps, hyper.batch_size)
    limit = float(config.max_abs_loss)
    low, high = jnp.asarray(env.action_low), jnp.asarray(env.action_high)
    fields = {
        "obs": (env.obs_dim,),
        "action": (env.action_dim,),
        "reward": (),
        "next_obs": (env.obs_dim,),
        "terminated": (),
        **dict(agent.extra_fields),
    }
    if agent.extras is not None or set(agent.info_fields) - {"noise"}:
        raise ValueError(
            f"{config.algo} reads host-side step data ({', '.join(agent.info_fields)}), so it "
            "cannot run in the device loop; use --loop host"
        )
    batch_shape = (hyper.updates_per_step, hyper.batch_size)

    def example_batch():
        return {
            name: jax.ShapeDtypeStruct((*batch_shape, *shape), jnp.float32)
            for name, shape in fields.items()
        }

    state_shape = jax.eval_shape(agent.init, jax.random.PRNGKey(0))
    _, loss_shape = jax.eval_shape(
        agent.update, state_shape, example_batch(), jax.random.PRNGKey(0)
    )
    loss_names = tuple(sorted(loss_shape))
    zero_losses = {name: jnp.zeros((), jnp.float32) for name in loss_names}

    def init_seed(seed_key):
        key, init_key = jax.random.split(seed_key)
        key, reset_key = jax.random.split(key)
        env_state = env.reset(reset_key)
        return SeedCarry(
            agent=agent.init(init_key),
            buffer={
                name: jnp.zeros((capacity, *shape), jnp.float32) for name, shape in fields.items()
            },
            env_state=env_state,
            obs=env.observe(env_state).astype(jnp.float32),
            episode_return=jnp.zeros((), jnp.float32),
            episode_length=jnp.zeros((), jnp.int32),
            key=key,
            loss_sums=zero_losses,
            loss_count=jnp.zeros((), jnp.int32),
            alive=jnp.ones((), bool),
            diverged_step=jnp.full((), -1, jnp.int32),
            diverged_losses=zero_losses,
        )

    def seed_step(t, carry: SeedCarry):
        key, act_key, env_key, reset_key, sample_key, update_key = jax.random.split(carry.key, 6)
        action = jax.lax.cond(
            t < hyper.start_steps,
            lambda: jax.random.uniform(act_key, low.shape, minval=low, maxval=high),
            lambda: agent.explore(carry.agent, carry.obs, act_key).astype(jnp.float32),
        )
        next_state, reward, terminated, noise = env.step(carry.env_state, action, env_key)
        next_obs = env.observe(next_state).astype(jnp.float32)
        item = {
            "obs": carry.obs,
            "action": action,
            "reward": reward,
            "next_obs": next_obs,
            "terminated": terminated,
        }
        if "noise" in fields:
            item["noise"] = noise
        slot = t % capacity
        buffer = {
            name: jax.lax.dynamic_update_index_in_dim(
                column, item[name].astype(jnp.float32), slot, 0
            )
            for name, column in carry.buffer.items()
        }
        episode_return = carry.episode_return + reward.astype(jnp.float32)
        episode_length = carry.episode_length + 1
        done = terminated | (episode_length >= env.max_episode_steps)
        reset_state = env.reset(reset_key)
        env_state = jnp.where(done, reset_state, next_state)
        obs = jnp.where(done, env.observe(reset_state).astype(jnp.float32), next_obs)
        record = (done, episode_return, episode_length)

        def update():
            size = jnp.minimum(t + 1, capacity)
            index = jax.random.randint(sample_key, batch_shape, 0, size)
            batch = {name: column[index] for name, column in buffer.items()}
            new_agent, losses = agent.update(carry.agent, batch, update_key)
            return new_agent, {name: losses[name] for name in loss_names}, jnp.ones((), bool)

        def no_update():
            return carry.agent, zero_losses, jnp.zeros((), bool)

        new_agent, losses, updated = jax.lax.cond(t + 1 >= update_from, update, no_update)
        bad = jnp.zeros((), bool)
        for value in losses.values():
            bad = bad | ~jnp.isfinite(value) | (jnp.abs(value) > limit)
        bad = updated & bad
        newly_bad = carry.alive & bad
        alive = carry.alive & ~bad
        agent_state = jax.tree.map(
            lambda new, old: jnp.where(alive, new, old), new_agent, carry.agent
        )
        counted = alive & updated
        carry = SeedCarry(
            agent=agent_state,
            buffer=buffer,
            env_state=env_state,
            obs=obs,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
            key=key,
            loss_sums={
                name: carry.loss_sums[name] + jnp.where(counted, losses[name], 0.0)
                for name in loss_names
            },
            loss_count=carry.loss_count + counted.astype(jnp.int32),
            alive=alive,
            diverged_step=jnp.where(newly_bad, t + 1, carry.diverged_step),
            diverged_losses={
                name: jnp.where(newly_bad, losses[name], carry.diverged_losses[name])
                for name in loss_names
            },
        )
        return carry, record

    def chunk(t0, carry, length):
        def body(inner, _):
            t, seeds = inner
            seeds, record = jax.vmap(seed_step, in_axes=(None, 0))(t, seeds)
            return (t + 1, seeds), record

        (_, carry), records = jax.lax.scan(body, (t0, carry), None, length=length)
        return carry, records

    def evaluate_episode(agent_state, key):
        reset_key, key = jax.random.split(key)
        start = env.reset(reset_key)

        def body(inner, step_key):
            state, total, running = inner
            action = agent.act(agent_state, env.observe(state).astype(jnp.float32))
            next_state, reward, terminated, _ = env.step(state, action, step_key)
            total = total + jnp.where(running, reward.astype(jnp.float32), 0.0)
            return (next_state, total, running & ~terminated), None

        keys = jax.random.split(key, env.max_episode_steps)
        (end, total, _), _ = jax.lax.scan(body, (start, jnp.zeros((), jnp.float32), True), keys)
        goal = env.goal_reached(end) if env.goal_reached else jnp.full((), -1, jnp.int32)
        return total, goal

    evaluate = jax.vmap(jax.vmap(evaluate_episode, in_axes=(None, 0)), in_axes=(0, 0))
    return _Program(
        init=jax.jit(jax.vmap(init_seed)),
        chunk=jax.jit(chunk, static_argnums=2, donate_argnums=1),
        evaluate=jax.jit(evaluate),
        loss_names=loss_names,
    )


# ----------------------------------------------------------------------------- the host side


def _boundaries(config: TrainConfig, start: int) -> list[int]:
    """The env-step counts where a chunk ends: evaluations, checkpoints, progress, the end."""
    marks = {config.steps}
    for every in (config.eval_every, config.checkpoint_every, _CHUNK_STEPS):
        marks.update(range(every, config.steps, every))
    return sorted(mark for mark in marks if mark > start)


def _slice(tree, index: int):
    return jax.tree.map(lambda leaf: leaf[index], tree)


def _stack(trees: Sequence[Any]):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def _eval_keys(seed: int, evals: int, episodes: int) -> jax.Array:
    return jax.random.split(
        jax.random.fold_in(jax.random.PRNGKey(seed + 1_000_003), evals), episodes
    )


class _SeedFiles:
    """One seed's folder: config, metrics, checkpoint, result (the host loop's layout)."""

    def __init__(self, config: TrainConfig, out: Path):
        self.config, self.out = config, out
        self.config_path, self.metrics_path = out / "config.json", out / "metrics.jsonl"
        self.checkpoint_path, self.result_path = out / "checkpoint.pkl", out / "result.json"

    def log(self, record: dict[str, Any]) -> None:
        with open(self.metrics_path, "a") as handle:
            handle.write(json.dumps(record, default=json_default) + "\n")

    def last_record(self) -> dict[str, Any] | None:
        if not self.metrics_path.exists():
            return None
        lines = self.metrics_path.read_text().splitlines()
        return json.loads(lines[-1]) if lines else None


def _prepare(files: _SeedFiles, agent, resume: bool, seeds: list[int]) -> str:
    """``"finished"``, ``"diverged"``, ``"checkpoint"`` or ``"fresh"``; writes config.json."""
    config, out = files.config, files.out
    if resume and files.config_path.exists():
        check_same_run(config, files.config_path, "device")
        if files.result_path.exists():
            return "finished"
        last = files.last_record()
        if last is not None and last.get("kind") == "diverged":
            return "diverged"
        if files.checkpoint_path.exists():
            return "checkpoint"
    elif files.config_path.exists():
        raise ValueError(
            f"out {str(out)!r} already holds a run; pass --resume to continue it or choose a "
            "new --out"
        )
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {str(out)!r} is a file; give a folder for the run")
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        files.config_path,
        {
            "run": config.as_dict(),
            "loop": "device",
            "seeds_in_program": seeds,
            "hyperparameters": dataclasses.asdict(agent.hyper),
            "noise": "none",
            "versions": _versions(),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        },
        sort_keys=False,
    )
    files.metrics_path.write_text("")
    return "fresh"


_COMPILED: dict[tuple, tuple[Any, _Program]] = {}


def _compiled(config: TrainConfig, build: Callable) -> tuple[Any, _Program]:
    """The agent and program of ``config`` (any seed), kept for reuse within the process.

    Seeds of one run, and later runs with the same settings, share the jitted functions and so
    their compilation. The key is everything the program depends on except the seed.
    """
    settings = {key: value for key, value in config.as_dict().items() if key != "seed"}
    key = (json.dumps(settings, sort_keys=True, default=json_default), build)
    if key not in _COMPILED:
        if len(_COMPILED) >= 8:
            _COMPILED.pop(next(iter(_COMPILED)))
        env = functional_env(config.env)
        agent = make_agent(config.algo, _env_info(env), config.options)
        _COMPILED[key] = (agent, build(agent, env, config))
    return _COMPILED[key]


def _check_same_run(configs: Sequence[TrainConfig]) -> None:
    first = {key: value for key, value in configs[0].as_dict().items() if key != "seed"}
    for config in configs[1:]:
        other = {key: value for key, value in config.as_dict().items() if key != "seed"}
        if other != first:
            raise ValueError(
                "the device loop trains seeds of one run: configs may differ in seed only"
            )
    seeds = [config.seed for config in configs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct; got {seeds}")


def run_device_training(
    configs: Sequence[TrainConfig],
    out_dirs: Sequence[str | os.PathLike],
    *,
    resume: bool = False,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Train the seeds of ``configs`` (equal but for ``seed``) as one vmapped program.

    Returns one dict per seed, in order: the ``result.json`` contents of a finished seed, or
    ``{"status": "diverged", "reason": ...}`` for a seed stopped by a bad update. Resume
    (``resume=True``) continues each seed from its checkpoint (seeds at the same step share a
    program), returns finished results and leaves diverged seeds as they are.
    """
    configs = [config.validate() for config in configs]
    if not configs or len(configs) != len(out_dirs):
        raise ValueError(
            f"give one out dir per config; got {len(configs)} configs, {len(out_dirs)} dirs"
        )
    _check_same_run(configs)
    problem = device_loop_problem(configs[0])
    if problem is not None:
        raise ValueError(problem)
    config = configs[0]
    agent, program = _compiled(config, _build_program)
    seeds = [item.seed for item in configs]
    files = [_SeedFiles(item, Path(out)) for item, out in zip(configs, out_dirs, strict=True)]
    states = [_prepare(item, agent, resume, seeds) for item in files]

    results: dict[int, dict[str, Any]] = {}
    groups: dict[int, list[int]] = {}
    checkpoints: dict[int, dict[str, Any]] = {}
    for index, state in enumerate(states):
        if state == "finished":
            results[index] = json.loads(files[index].result_path.read_text())
        elif state == "diverged":
            results[index] = {"status": "diverged", "reason": files[index].last_record()["reason"]}
        elif state == "checkpoint":
            payload = pickle.loads(files[index].checkpoint_path.read_bytes())
            if payload.get("version") != _CHECKPOINT_VERSION or payload.get("loop") != "device":
                raise ValueError(f"checkpoint {files[index].checkpoint_path} has an unknown format")
            checkpoints[index] = payload
            groups.setdefault(payload["env_steps"], []).append(index)
        else:
            groups.setdefault(0, []).append(index)
    for start, members in sorted(groups.items()):
        results.update(
            _run_group(
                program,
                config,
                functional_env(config.env).n_goals,
                [files[i] for i in members],
                members,
                start,
                checkpoints,
                progress,
            )
        )
    return [results[index] for index in range(len(configs))]


def _run_group(
    program: _Program,
    config: TrainConfig,
    n_goals: int,
    files: list[_SeedFiles],
    members: list[int],
    start: int,
    checkpoints: dict[int, dict[str, Any]],
    progress: bool | None,
) -> dict[int, dict[str, Any]]:
    seeds = [item.config.seed for item in files]
    if start == 0:
        carry = program.init(jnp.stack([jax.random.PRNGKey(seed) for seed in seeds]))
        evals = [0] * len(files)
    else:
        for item, index in zip(files, members, strict=True):
            with open(item.metrics_path, "r+b") as handle:
                handle.truncate(checkpoints[index]["metrics_bytes"])
        carry = _stack([jax.tree.map(jnp.asarray, checkpoints[i]["carry"]) for i in members])
        evals = [checkpoints[i]["evals"] for i in members]
    running = [True] * len(files)
    outcome: dict[int, dict[str, Any]] = {}
    label = f"{config.algo} {config.env} seeds {','.join(map(str, seeds))}"
    bar = _Progress(config.steps, progress)
    if start:
        bar.line(f"{label}: resuming from env step {start}/{config.steps}")
    started = time.monotonic()
    t = start
    last_eval: float | None = None
    try:
        for end in _boundaries(config, start):
            carry, records = program.chunk(jnp.asarray(t, jnp.int32), carry, end - t)
            done, episode_returns, episode_lengths = jax.device_get(records)
            alive, diverged_step = jax.device_get((carry.alive, carry.diverged_step))
            for k, item in enumerate(files):
                if not running[k]:
                    continue
                stop = int(diverged_step[k]) if not alive[k] else end
                for row in np.flatnonzero(done[:, k]):
                    if t + row + 1 <= stop:
                        item.log(
                            {
                                "kind": "episode",
                                "env_steps": t + int(row) + 1,
                                "episode_return": float(episode_returns[row, k]),
                                "episode_length": int(episode_lengths[row, k]),
                            }
                        )
                if not alive[k]:
                    losses = jax.device_get(_slice(carry.diverged_losses, k))
                    bad = [
                        f"loss {name!r} = {float(value)!r}"
                        for name, value in losses.items()
                        if not np.isfinite(value) or abs(value) > config.max_abs_loss
                    ]
                    reason = f"{'; '.join(bad)} at env step {stop} (limit {config.max_abs_loss:g})"
                    item.log({"kind": "diverged", "env_steps": stop, "reason": reason})
                    kept = (
                        f"the last good checkpoint ({item.checkpoint_path}) is kept"
                        if item.checkpoint_path.exists()
                        else "no checkpoint had been written yet"
                    )
                    bar.line(
                        f"{config.algo} {config.env} seed {seeds[k]}: training stopped: {reason}; {kept}"
                    )
                    outcome[members[k]] = {"status": "diverged", "reason": reason}
                    running[k] = False
            t = end
            elapsed = time.monotonic() - started
            rate = (t - start) / max(elapsed, 1e-9)
            if t % config.eval_every == 0 or t == config.steps:
                keys = jnp.stack(
                    [
                        _eval_keys(seed, evals[k], config.eval_episodes)
                        for k, seed in enumerate(seeds)
                    ]
                )
                returns, goals = jax.device_get(program.evaluate(carry.agent, keys))
                sums, count = jax.device_get((carry.loss_sums, carry.loss_count))
                for k, item in enumerate(files):
                    if not running[k]:
                        continue
                    means = {
                        f"loss/{n}": float(sums[n][k]) / max(int(count[k]), 1)
                        for n in sums
                        if count[k]
                    }
                    item.log(
                        {
                            "kind": "eval",
                            "env_steps": t,
                            "eval_return": float(np.mean(returns[k])),
                            **success_fields(goals[k], n_goals),
                            **means,
                            "steps_per_second": rate,
                        }
                    )
                    evals[k] += 1
                last_eval = float(np.mean(returns[np.asarray(running)])) if any(running) else None
                shown = "-" if last_eval is None else f"{last_eval:.2f}"
                bar.line(
                    f"{label}: step {t}/{config.steps} mean eval return {shown} "
                    f"({rate:.0f} steps/s per seed, {rate * sum(running):.0f} in all)"
                )
                carry = carry._replace(
                    loss_sums=jax.tree.map(jnp.zeros_like, carry.loss_sums),
                    loss_count=jnp.zeros_like(carry.loss_count),
                )
            if t % config.checkpoint_every == 0 or t == config.steps:
                host_carry = jax.device_get(carry)
                for k, item in enumerate(files):
                    if running[k]:
                        payload = {
                            "version": _CHECKPOINT_VERSION,
                            "loop": "device",
                            "env_steps": t,
                            "carry": _slice(host_carry, k),
                            "evals": evals[k],
                            "metrics_bytes": item.metrics_path.stat().st_size,
                        }
                        write_atomic(
                            item.checkpoint_path,
                            pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL),
                        )
            bar.update(t, last_eval, rate)
            if not any(running):
                break
    finally:
        bar.close()

    wall = time.monotonic() - started
    episode_return, episode_length = jax.device_get((carry.episode_return, carry.episode_length))
    for k, item in enumerate(files):
        if not running[k]:
            continue
        if int(episode_length[k]) > 0:  # the host loop closes the last episode at the end
            item.log(
                {
                    "kind": "episode",
                    "env_steps": config.steps,
                    "episode_return": float(episode_return[k]),
                    "episode_length": int(episode_length[k]),
                }
            )
        evals = [
            record
            for record in map(json.loads, item.metrics_path.read_text().splitlines())
            if record["kind"] == "eval"
        ]
        curve = [[record["env_steps"], record["eval_return"]] for record in evals]
        result = {
            "status": "finished",
            "run": item.config.as_dict(),
            "loop": "device",
            "final_eval_return": curve[-1][1],
            **final_success(evals[-1]),
            "eval_curve": curve,
            "wall_seconds_last_session": wall,
        }
        write_json(item.result_path, result, sort_keys=False)
        outcome[members[k]] = result
    return outcome


# ----------------------------------------------------------------------------- sweeps


def device_group(settings: dict[str, Any]) -> str | None:
    """The key under which runs of a sweep train as one program (``None``: the host loop).

    Runs whose settings are equal but for ``seed`` share a key when the device loop can run
    them (:func:`device_loop_problem`); :func:`run_seeds_from_settings` trains such a group.
    """
    try:
        config = TrainConfig(**dict(settings)).validate()
    except (TypeError, ValueError):
        return None  # the run itself reports what is wrong with its settings
    if device_loop_problem(config) is not None:
        return None
    rest = {key: value for key, value in config.as_dict().items() if key != "seed"}
    return json.dumps(rest, sort_keys=True, default=json_default)


def run_seeds_from_settings(
    settings_list: Sequence[dict[str, Any]], out_dirs: Sequence[str | os.PathLike]
) -> list[dict[str, Any] | Exception]:
    """Train the runs of one :func:`device_group` as one vmapped program (a sweep's trainer).

    Returns each run's result, or a :class:`agents.training.TrainingDiverged` for a seed that
    diverged (the others' results are kept). Runs already in ``out_dirs`` resume.
    """
    from agents.training import TrainingDiverged

    configs = [TrainConfig(**dict(settings)).validate() for settings in settings_list]
    results = run_device_training(configs, out_dirs, resume=True, progress=False)
    return [
        TrainingDiverged(f"training stopped: {result['reason']}")
        if result.get("status") == "diverged"
        else result
        for result in results
    ]
