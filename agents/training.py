"""The host training loop: one env, one agent, metrics, evaluation, checkpoints, resume.

An algorithm is an entry of :data:`agents.registry.AGENTS`, whose ``make_agent(env_info,
options)`` returns an :class:`agents.agent.Agent` (jitted ``init``, ``explore``, ``act``,
``update`` plus its hyperparameter dataclass). The loop below (and the device loop,
:mod:`agents.device_loop`) is the only place that touches the env, the replay buffer and the
files, so every algorithm is trained, evaluated, checkpointed and resumed the same way.

Files written to ``out_dir``:

- ``config.json``: the run settings, the algorithm's hyperparameters, the noise spec and
  the library versions;
- ``metrics.jsonl``: one JSON object per line, ``kind`` = ``episode`` (env steps, episode
  return and length), ``eval`` (env steps, mean evaluation return over ``eval_episodes``
  deterministic episodes, the mean of every loss since the previous evaluation, steps per
  second) or ``diverged``;
- ``checkpoint.pkl``: everything needed to continue (agent state, optimiser states, replay
  buffer, every random generator's state, counters), written atomically (temporary file,
  then ``os.replace``) at the first episode boundary after every ``checkpoint_every`` env
  steps and at the end;
- ``result.json``: written when the run finishes (final evaluation return, the evaluation
  curve, wall time).

Resume. Checkpoints are taken at episode boundaries, where the env's whole state is its
random generators (restored exactly); ``metrics.jsonl`` is cut back to its length at the
checkpoint. A resumed run therefore repeats exactly what the interrupted one would have
done: same parameters, same metrics (except wall-clock fields).

Divergence. After every update the loss values are checked: a non-finite value or one above
``max_abs_loss`` stops the run with :class:`TrainingDiverged`; no checkpoint is written
after the bad update, so the last good one is kept.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import platform
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.agent import Agent, env_info
from agents.envs import check_env_id, make_training_env
from agents.files import json_default, write_atomic, write_json
from agents.mujoco_fd import ENV_IDS
from agents.noise import check_noise_for_env
from agents.registry import agent_entry, make_agent
from agents.replay import ReplayBuffer

__all__ = [
    "TrainConfig",
    "TrainingDiverged",
    "check_same_run",
    "run_from_settings",
    "run_training",
]

_CHECKPOINT_VERSION = 1


class TrainingDiverged(RuntimeError):
    """A loss became non-finite or exceeded ``max_abs_loss``; the message says which and when."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    Attributes:
      algo: a name of :data:`agents.registry.AGENTS`.
      env: an env id of :func:`agents.envs.make_training_env`.
      noise: a noise spec (``none``, ``obs-mult:X``, ``dyn-gauss:σ``, ``act-gauss:σ``).
      steps: env steps to train for.
      seed: seeds the agent, the env, the noise and the replay sampling.
      eval_every: env steps between evaluations (and at the last step).
      eval_episodes: deterministic episodes per evaluation.
      checkpoint_every: env steps between checkpoints (taken at the next episode end).
      max_abs_loss: a loss above this (or non-finite) stops the run.
      options: the algorithm's hyperparameter overrides (field names of its dataclass).
    """

    algo: str
    env: str
    noise: str = "none"
    steps: int = 100_000
    seed: int = 0
    eval_every: int = 5_000
    eval_episodes: int = 5
    checkpoint_every: int = 10_000
    max_abs_loss: float = 1e10
    options: Mapping[str, Any] = field(default_factory=dict)

    def validate(self) -> TrainConfig:
        """``self`` if every field is valid, else ``ValueError`` naming the field."""
        agent_entry(self.algo)  # ValueError naming the accepted algos
        check_env_id(self.env)
        check_noise_for_env(self.noise, self.env, is_mujoco=self.env in ENV_IDS)
        for name in ("steps", "eval_every", "eval_episodes", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {self.seed!r}")
        if not (isinstance(self.max_abs_loss, int | float) and self.max_abs_loss > 0):
            raise ValueError(f"max_abs_loss must be a positive number; got {self.max_abs_loss!r}")
        if not isinstance(self.options, Mapping):
            raise ValueError(f"options must be a mapping; got {self.options!r}")
        return self

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "options": dict(self.options)}


# ----------------------------------------------------------------------------- files


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "optax", "numpy", "gymnasium", "mujoco"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _env_rngs(env) -> dict[str, Any]:
    states = {"env": env.unwrapped.np_random.bit_generator.state}
    if hasattr(env, "noise_rng"):
        states["noise"] = env.noise_rng.bit_generator.state
    return states


def _restore_env_rngs(env, states: Mapping[str, Any]) -> None:
    env.unwrapped.np_random.bit_generator.state = states["env"]
    if "noise" in states:
        env.noise_rng.bit_generator.state = states["noise"]


class _Progress:
    """A one-line progress bar on a terminal; a plain line per evaluation otherwise."""

    def __init__(self, total: int, enabled: bool | None):
        self.total = total
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self.last_draw = 0.0

    def update(self, steps: int, eval_return: float | None, rate: float) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if now - self.last_draw < 0.5 and steps < self.total:
            return
        self.last_draw = now
        filled = int(30 * steps / self.total)
        shown = "-" if eval_return is None else f"{eval_return:.1f}"
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {steps}/{self.total} steps  "
            f"eval {shown}  {rate:.0f} steps/s "
        )
        sys.stderr.flush()

    def line(self, text: str) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * 79 + "\r")
        print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ----------------------------------------------------------------------------- the loop


def _evaluate(agent: Agent, state, eval_env, seeds: list[int]) -> tuple[float, dict]:
    """Mean return of deterministic episodes, and for a goal env (the point mass) the success
    metric: the fraction of episodes that end at a goal and how many end at each."""
    returns, reached = [], []
    goal_reached = getattr(eval_env.unwrapped, "goal_reached", None)
    for seed in seeds:
        obs, _ = eval_env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            action = np.asarray(agent.act(state, jnp.asarray(obs, dtype=jnp.float32)))
            obs, reward, terminated, truncated, _ = eval_env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        if goal_reached is not None:
            reached.append(goal_reached())
    return float(np.mean(returns)), success_fields(
        reached, getattr(eval_env.unwrapped, "n_rewards", 0)
    )


def final_success(record: Mapping[str, Any]) -> dict[str, Any]:
    """``final_success`` and ``final_goals`` of a result from its last evaluation record."""
    return {f"final_{name}": record[name] for name in ("success", "goals") if name in record}


def success_fields(reached, n_goals: int) -> dict[str, Any]:
    """``{"success": fraction of episodes ending at a goal, "goals": episodes per goal}`` from
    each episode's goal index (``−1``: none); empty for an env without goals."""
    if not n_goals:
        return {}
    reached = np.asarray(reached, dtype=int)
    return {
        "success": float(np.mean(reached >= 0)),
        "goals": [int(np.sum(reached == k)) for k in range(n_goals)],
    }


def _check_losses(losses: Mapping[str, float], limit: float, env_steps: int) -> str | None:
    for name, value in losses.items():
        if not math.isfinite(value) or abs(value) > limit:
            return f"loss {name!r} = {value!r} at env step {env_steps} (limit {limit:g})"
    return None


class _LossTally(NamedTuple):
    """Loss sums since the last evaluation and the first bad update, kept on the device.

    The host reads them only at episode ends and evaluations, so an env step costs no
    device-to-host transfer beyond its action. ``bad_step`` is ``-1`` until an update gives a
    non-finite loss or one above the limit; ``bad_losses`` are that update's losses.
    """

    sums: dict[str, jax.Array]
    count: jax.Array
    bad_step: jax.Array
    bad_losses: dict[str, jax.Array]


def _fused_steps(agent: Agent, limit: float):
    """Jitted ``explore(state, obs, key) -> (action, key)`` and ``update(state, batch, key,
    tally, env_steps) -> (state, key, tally)``: the key splits of the loop inside the programs
    (the same splits, so the same numbers), and the losses tallied on the device."""

    @jax.jit
    def explore(state, obs, key):
        key, act_key = jax.random.split(key)
        return agent.explore(state, obs, act_key), key

    @jax.jit
    def update(state, batch, key, tally: _LossTally, env_steps):
        key, update_key = jax.random.split(key)
        state, losses = agent.update(state, batch, update_key)
        bad = jnp.zeros((), bool)
        for value in losses.values():
            bad = bad | ~jnp.isfinite(value) | (jnp.abs(value) > limit)
        first = bad & (tally.bad_step < 0)
        tally = _LossTally(
            sums={name: tally.sums[name] + losses[name] for name in tally.sums},
            count=tally.count + 1,
            bad_step=jnp.where(first, env_steps, tally.bad_step),
            bad_losses={
                name: jnp.where(first, losses[name], tally.bad_losses[name])
                for name in tally.bad_losses
            },
        )
        return state, key, tally

    return explore, update


def _empty_tally(names, sums: Mapping[str, float] | None = None, count: int = 0) -> _LossTally:
    sums = sums or {}
    zeros = {name: jnp.zeros((), jnp.float32) for name in names}
    return _LossTally(
        sums={name: jnp.asarray(sums.get(name, 0.0), jnp.float32) for name in names},
        count=jnp.asarray(count, jnp.int32),
        bad_step=jnp.asarray(-1, jnp.int32),
        bad_losses=zeros,
    )


def check_same_run(config: TrainConfig, config_path: Path, loop: str) -> None:
    """``ValueError`` unless the run recorded in ``config_path`` has ``config``'s settings and
    was trained by ``loop`` (``host`` or ``device``; a run from before the loops were recorded
    is a host run): what ``--resume`` needs."""
    saved = json.loads(config_path.read_text())
    differing = [key for key, value in config.as_dict().items() if saved["run"].get(key) != value]
    if saved.get("loop", "host") != loop:
        differing.append(f"loop ({saved.get('loop', 'host')}, not {loop})")
    if differing:
        raise ValueError(
            f"--resume: the settings differ from the run in {config_path.parent} in "
            f"{', '.join(differing)}; resume with the same settings or choose a new --out"
        )


def run_training(
    config: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    resume: bool = False,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train ``config.algo`` on ``config.env``; write the files of the module docstring.

    Returns the ``result.json`` contents. ``resume=True`` continues from ``checkpoint.pkl``
    (or returns the finished result); without it, an ``out_dir`` that already holds a run is
    refused. ``progress``: ``None`` draws a bar when stderr is a terminal.
    """
    config.validate()
    out = Path(out_dir)
    config_path, metrics_path = out / "config.json", out / "metrics.jsonl"
    checkpoint_path, result_path = out / "checkpoint.pkl", out / "result.json"
    if resume:
        if config_path.exists():
            check_same_run(config, config_path, "host")
        if result_path.exists():
            return json.loads(result_path.read_text())
    elif config_path.exists():
        raise ValueError(
            f"out {str(out)!r} already holds a run; pass --resume to continue it or choose a "
            "new --out"
        )
    out.mkdir(parents=True, exist_ok=True)

    training_env = make_training_env(config.env, config.noise, config.seed)
    eval_env = make_training_env(config.env, config.noise, config.seed + 1_000_003).env
    info = env_info(training_env)

    agent = make_agent(config.algo, info, config.options)
    hyper = agent.hyper
    env = training_env.env
    if not config_path.exists():
        write_json(
            config_path,
            {
                "run": config.as_dict(),
                "hyperparameters": dataclasses.asdict(hyper),
                "noise": training_env.noise.spec,
                "versions": _versions(),
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            },
            sort_keys=False,
        )

    fields = {
        "obs": (info.obs_dim,),
        "action": (info.action_dim,),
        "reward": (),
        "next_obs": (info.obs_dim,),
        "terminated": (),
        **dict(agent.extra_fields),
    }
    checkpoint = None
    if resume and checkpoint_path.exists():
        checkpoint = pickle.loads(checkpoint_path.read_bytes())
        if checkpoint.get("version") != _CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint {checkpoint_path} has an unknown format")

    obs, _ = env.reset(seed=config.seed)
    if checkpoint is None:
        key = jax.random.PRNGKey(config.seed)
        key, init_key = jax.random.split(key)
        state = agent.init(init_key)
        rng = np.random.default_rng(config.seed)
        buffer = ReplayBuffer(fields, min(hyper.buffer_size, config.steps))
        loop = {"env_steps": 0, "episodes": 0, "evals": 0, "loss_sums": {}, "loss_count": 0}
        metrics_path.write_text("")
    else:
        state = jax.tree.map(jnp.asarray, checkpoint["agent"])
        key = jnp.asarray(checkpoint["key"])
        rng = np.random.default_rng()
        rng.bit_generator.state = checkpoint["rng"]
        buffer = checkpoint["buffer"]
        loop = checkpoint["loop"]
        with open(metrics_path, "r+b") as handle:
            handle.truncate(checkpoint["metrics_bytes"])
        _restore_env_rngs(env, checkpoint["env_rngs"])
        obs, _ = env.reset()

    batch_spec = {
        name: jax.ShapeDtypeStruct((hyper.updates_per_step, hyper.batch_size, *shape), jnp.float32)
        for name, shape in fields.items()
    }
    _, loss_spec = jax.eval_shape(agent.update, state, batch_spec, key)
    loss_names = sorted(loss_spec)
    tally = _empty_tally(loss_names, loop["loss_sums"], loop["loss_count"])
    fused_explore, fused_update = _fused_steps(agent, float(config.max_abs_loss))

    bar = _Progress(config.steps, progress)
    if checkpoint is not None:
        bar.line(
            f"{config.algo} {config.env} seed {config.seed}: resuming from env step "
            f"{loop['env_steps']}/{config.steps}"
        )
    last_eval: float | None = None
    started = time.monotonic()
    start_steps_done = loop["env_steps"]
    last_checkpoint = loop["env_steps"]
    episode_return, episode_length = 0.0, 0
    low, high = info.action_low, info.action_high

    def stop_if_diverged() -> None:
        """Raise :class:`TrainingDiverged` if an update since the last look went bad."""
        bad_step, bad_losses = jax.device_get((tally.bad_step, tally.bad_losses))
        if bad_step < 0:
            return
        losses = {name: float(value) for name, value in bad_losses.items()}
        problem = _check_losses(losses, config.max_abs_loss, int(bad_step))
        log({"kind": "diverged", "env_steps": int(bad_step), "reason": problem})
        kept = (
            f"the last good checkpoint ({checkpoint_path}) is kept"
            if checkpoint_path.exists()
            else "no checkpoint had been written yet"
        )
        raise TrainingDiverged(f"training stopped: {problem}; {kept}")

    def save_checkpoint() -> None:
        sums, count = jax.device_get((tally.sums, tally.count))
        loop["loss_sums"] = {name: float(value) for name, value in sums.items()}
        loop["loss_count"] = int(count)
        payload = {
            "version": _CHECKPOINT_VERSION,
            "agent": jax.device_get(state),
            "key": np.asarray(key),
            "rng": rng.bit_generator.state,
            "buffer": buffer,
            "loop": loop,
            "env_rngs": _env_rngs(env),
            "metrics_bytes": metrics_path.stat().st_size,
        }
        write_atomic(checkpoint_path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))

    def log(record: dict[str, Any]) -> None:
        with open(metrics_path, "a") as handle:
            handle.write(json.dumps(record, default=json_default) + "\n")

    try:
        while loop["env_steps"] < config.steps:
            if loop["env_steps"] < hyper.start_steps:
                action = rng.uniform(low, high).astype(np.float32)
            else:
                action, key = fused_explore(state, np.asarray(obs, dtype=np.float32), key)
                action = np.asarray(action)
            extras = agent.extras(training_env, obs, action) if agent.extras else {}
            next_obs, reward, terminated, truncated, step_info = env.step(action)
            for name in agent.info_fields:
                extras[name] = step_info[name]
            buffer.add(
                {
                    "obs": obs,
                    "action": action,
                    "reward": reward,
                    "next_obs": next_obs,
                    "terminated": float(terminated),
                    **extras,
                }
            )
            obs = next_obs
            loop["env_steps"] += 1
            episode_return += float(reward)
            episode_length += 1
            env_steps = loop["env_steps"]

            if env_steps >= hyper.start_steps and len(buffer) >= hyper.batch_size:
                batch = buffer.sample(rng, (hyper.updates_per_step, hyper.batch_size))
                state, key, tally = fused_update(state, batch, key, tally, env_steps)

            if env_steps % config.eval_every == 0 or env_steps == config.steps:
                stop_if_diverged()
                seeds = [
                    config.seed + 1_000_003 + loop["evals"] * config.eval_episodes + index
                    for index in range(config.eval_episodes)
                ]
                last_eval, success = _evaluate(agent, state, eval_env, seeds)
                sums, count = jax.device_get((tally.sums, tally.count))
                sums = {name: float(value) for name, value in sums.items()} if count else {}
                count = max(int(count), 1)
                elapsed = time.monotonic() - started
                rate = (env_steps - start_steps_done) / max(elapsed, 1e-9)
                log(
                    {
                        "kind": "eval",
                        "env_steps": env_steps,
                        "eval_return": last_eval,
                        **success,
                        **{f"loss/{n}": value / count for n, value in sums.items()},
                        "steps_per_second": rate,
                    }
                )
                bar.line(
                    f"{config.algo} {config.env} seed {config.seed}: step {env_steps}/"
                    f"{config.steps} eval return {last_eval:.2f} ({rate:.0f} steps/s)"
                )
                loop["evals"] += 1
                tally = _empty_tally(loss_names)

            if terminated or truncated or env_steps == config.steps:
                stop_if_diverged()
                log(
                    {
                        "kind": "episode",
                        "env_steps": env_steps,
                        "episode_return": episode_return,
                        "episode_length": episode_length,
                    }
                )
                loop["episodes"] += 1
                episode_return, episode_length = 0.0, 0
                if (
                    env_steps - last_checkpoint >= config.checkpoint_every
                    or env_steps == config.steps
                ):
                    save_checkpoint()
                    last_checkpoint = env_steps
                if env_steps < config.steps:
                    obs, _ = env.reset()
            elapsed = time.monotonic() - started
            bar.update(env_steps, last_eval, (env_steps - start_steps_done) / max(elapsed, 1e-9))
    finally:
        bar.close()

    wall = time.monotonic() - started
    evals = [
        record
        for record in map(json.loads, metrics_path.read_text().splitlines())
        if record["kind"] == "eval"
    ]
    curve = [[record["env_steps"], record["eval_return"]] for record in evals]
    result = {
        "status": "finished",
        "run": config.as_dict(),
        "final_eval_return": curve[-1][1],
        **final_success(evals[-1]),
        "eval_curve": curve,
        "wall_seconds_last_session": wall,
    }
    write_json(result_path, result, sort_keys=False)
    return result


def run_from_settings(settings: Mapping[str, Any], out_dir: str | os.PathLike) -> dict[str, Any]:
    """:func:`run_training` from a plain settings dict (the regression sweeps' run function).

    Keys: those of :class:`TrainConfig`. A run already in ``out_dir`` is resumed or, when
    finished, its result returned. A run the device loop can take
    (:func:`agents.device_loop.device_loop_problem`) runs there, as ``train`` does by default.
    """
    from agents.device_loop import device_loop_problem, run_seeds_from_settings

    config = TrainConfig(**dict(settings)).validate()
    if device_loop_problem(config) is None:
        (result,) = run_seeds_from_settings([config.as_dict()], [out_dir])
        if isinstance(result, Exception):
            raise result
        return result
    return run_training(config, out_dir, resume=True, progress=False)
