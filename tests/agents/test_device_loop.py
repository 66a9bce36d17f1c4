"""The on-device loop: the update it applies, reproducibility, exact resume, per-seed divergence.

The update check rebuilds the last env step and the batch from the checkpointed carry by the
loop's documented key protocol (``split(key, 6)`` → act, env, reset, sample, update keys) and
calls the agent's own jitted ``update`` directly, as the host loop does.
"""

from __future__ import annotations

import json
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import agents.device_loop as device_loop
from agents.device_loop import device_loop_problem, functional_env, run_device_training
from agents.registry import make_agent
from agents.training import TrainConfig, run_training

SMALL = {"hidden": [16, 16], "batch_size": 8, "start_steps": 30}


def _configs(algo="td3", env="point-mass:2", steps=60, seeds=(0, 1), **options):
    return [
        TrainConfig(
            algo=algo,
            env=env,
            steps=steps,
            seed=seed,
            eval_every=30,
            eval_episodes=2,
            checkpoint_every=30,
            options={**SMALL, **options},
        )
        for seed in seeds
    ]


def _metrics(path):
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("steps_per_second", None)
    return rows


def _params(path):
    return pickle.loads((path / "checkpoint.pkl").read_bytes())["carry"].agent


def test_the_loop_applies_the_agents_update_to_the_batch_it_samples(tmp_path):
    # start_steps = steps: every action is random and the only update is at the last step.
    steps = 40
    configs = [
        TrainConfig(
            algo="td3",
            env="point-mass:2",
            steps=steps,
            seed=3,
            eval_every=steps,
            eval_episodes=1,
            checkpoint_every=steps - 1,
            options={**SMALL, "start_steps": steps},
        )
    ]
    seen = []
    real_write = device_loop.write_atomic

    def keep_checkpoints(path, payload):
        if path.name == "checkpoint.pkl":
            seen.append(pickle.loads(payload))
        real_write(path, payload)

    device_loop.write_atomic = keep_checkpoints
    try:
        run_device_training(configs, [tmp_path / "run"], progress=False)
    finally:
        device_loop.write_atomic = real_write
    before, after = seen[0], seen[-1]
    assert (before["env_steps"], after["env_steps"]) == (steps - 1, steps)

    carry = jax.tree.map(jnp.asarray, before["carry"])
    env = functional_env("point-mass:2")
    agent = make_agent("td3", device_loop._env_info(env), configs[0].options)
    _, act_key, env_key, _, sample_key, update_key = jax.random.split(carry.key, 6)
    low, high = jnp.asarray(env.action_low), jnp.asarray(env.action_high)
    action = jax.random.uniform(act_key, low.shape, minval=low, maxval=high)
    next_state, reward, terminated, _ = env.step(carry.env_state, action, env_key)
    last = {
        "obs": carry.obs,
        "action": action,
        "reward": reward,
        "next_obs": env.observe(next_state),
        "terminated": terminated,
    }
    buffer = {name: column.at[steps - 1].set(last[name]) for name, column in carry.buffer.items()}
    index = jax.random.randint(sample_key, (1, SMALL["batch_size"]), 0, steps)
    batch = {name: column[index] for name, column in buffer.items()}
    expected, _ = agent.update(carry.agent, batch, update_key)

    got = after["carry"].agent
    assert int(got.step) == 1 and int(carry.agent.step) == 0
    for want, have in zip(jax.tree.leaves(expected), jax.tree.leaves(got), strict=True):
        # Same function on the same inputs; XLA may fuse differently inside the scan, so allow
        # float32 rounding (a few ulps of values of order 1).
        np.testing.assert_allclose(np.asarray(have), np.asarray(want), rtol=1e-5, atol=1e-6)
    moved = [
        np.abs(np.asarray(a) - np.asarray(b)).max()
        for a, b in zip(
            jax.tree.leaves(carry.agent.critic), jax.tree.leaves(got.critic), strict=True
        )
    ]
    assert max(moved) > 1e-6  # the update really changed the critic


def test_device_runs_are_reproducible_and_write_the_host_files(tmp_path):
    first = run_device_training(_configs(), [tmp_path / "a0", tmp_path / "a1"], progress=False)
    again = run_device_training(_configs(), [tmp_path / "b0", tmp_path / "b1"], progress=False)
    assert [r["eval_curve"] for r in first] == [r["eval_curve"] for r in again]
    for name in ("0", "1"):
        for file in ("config.json", "metrics.jsonl", "checkpoint.pkl", "result.json"):
            assert (tmp_path / f"a{name}" / file).is_file()
        assert _metrics(tmp_path / f"a{name}") == _metrics(tmp_path / f"b{name}")
    config = json.loads((tmp_path / "a0" / "config.json").read_text())
    assert config["loop"] == "device" and config["seeds_in_program"] == [0, 1]
    # Two seeds are two different runs, and the episode log covers every env step.
    assert first[0]["eval_curve"] != first[1]["eval_curve"]
    episodes = [r for r in _metrics(tmp_path / "a0") if r["kind"] == "episode"]
    assert sum(r["episode_length"] for r in episodes) == 60
    evals = [r for r in _metrics(tmp_path / "a0") if r["kind"] == "eval"]
    assert [r["env_steps"] for r in evals] == [30, 60] and "loss/critic" in evals[1]


def test_an_interrupted_device_run_resumes_exactly(tmp_path):
    whole = run_device_training(_configs(), [tmp_path / "w0", tmp_path / "w1"], progress=False)
    real_write, written = device_loop.write_atomic, []

    def interrupt_second_checkpoint(path, payload):
        if path.name == "checkpoint.pkl":
            written.append(path)
            if len(written) > 2:  # both seeds' step-30 checkpoints are on disk
                raise KeyboardInterrupt
        real_write(path, payload)

    device_loop.write_atomic = interrupt_second_checkpoint
    try:
        with pytest.raises(KeyboardInterrupt):
            run_device_training(_configs(), [tmp_path / "c0", tmp_path / "c1"], progress=False)
    finally:
        device_loop.write_atomic = real_write
    assert not (tmp_path / "c0" / "result.json").exists()
    resumed = run_device_training(
        _configs(), [tmp_path / "c0", tmp_path / "c1"], resume=True, progress=False
    )
    assert [r["eval_curve"] for r in resumed] == [r["eval_curve"] for r in whole]
    for k in ("0", "1"):
        assert _metrics(tmp_path / f"c{k}") == _metrics(tmp_path / f"w{k}")
        for a, b in zip(
            jax.tree.leaves(_params(tmp_path / f"c{k}")),
            jax.tree.leaves(_params(tmp_path / f"w{k}")),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)  # bitwise: the carry holds every key
    # A finished run resumes to its result; other settings are refused.
    assert (
        run_device_training(
            _configs(), [tmp_path / "c0", tmp_path / "c1"], resume=True, progress=False
        )
        == resumed
    )
    with pytest.raises(ValueError, match="settings differ"):
        run_device_training(
            _configs(steps=90), [tmp_path / "c0", tmp_path / "c1"], resume=True, progress=False
        )
    # The host loop cannot continue a device run (its checkpoint holds a carry, not a buffer).
    with pytest.raises(ValueError, match=r"loop \(device, not host\)"):
        run_training(_configs()[0], tmp_path / "c0", resume=True, progress=False)


def test_one_diverging_seed_stops_alone(tmp_path):
    real_build = device_loop._build_program

    def poison_seed_one(*args):
        program = real_build(*args)

        def init(keys):
            carry = program.init(keys)
            critic = jax.tree.map(lambda leaf: leaf.at[1].set(jnp.nan), carry.agent.critic)
            return carry._replace(agent=carry.agent._replace(critic=critic))

        return program._replace(init=init)

    device_loop._build_program = poison_seed_one
    try:
        results = run_device_training(
            _configs(seeds=(0, 1, 2)), [tmp_path / f"s{k}" for k in range(3)], progress=False
        )
    finally:
        device_loop._build_program = real_build
    assert [r["status"] for r in results] == ["finished", "diverged", "finished"]
    assert "loss 'critic' = nan at env step 30" in results[1]["reason"]
    assert not (tmp_path / "s1" / "result.json").exists()
    assert _metrics(tmp_path / "s1")[-1]["kind"] == "diverged"
    assert not (tmp_path / "s1" / "checkpoint.pkl").exists()  # diverged before the first one
    for k in (0, 2):
        assert (tmp_path / f"s{k}" / "result.json").is_file()
    # The healthy seeds learn as they do without the poisoned neighbour (a program over two
    # seeds may round differently from one over three: float32 relative tolerance).
    alone = run_device_training(
        _configs(seeds=(0, 2)), [tmp_path / "a0", tmp_path / "a2"], progress=False
    )
    for mine, theirs in zip(alone, (results[0], results[2]), strict=True):
        assert np.asarray(mine["eval_curve"]) == pytest.approx(
            np.asarray(theirs["eval_curve"]), rel=1e-4, abs=1e-4
        )
    # Resuming leaves the diverged seed as it is.
    again = run_device_training(
        _configs(seeds=(0, 1, 2)),
        [tmp_path / f"s{k}" for k in range(3)],
        resume=True,
        progress=False,
    )
    assert [r["status"] for r in again] == ["finished", "diverged", "finished"]


def test_which_runs_the_device_loop_takes():
    assert device_loop_problem(_configs(env="pendulum")[0]) is None
    assert "no pure-JAX step" in device_loop_problem(_configs(env="Hopper-v5")[0])
    noisy = TrainConfig(algo="td3", env="toy-1d", noise="act-gauss:0.1")
    assert "host wrapper" in device_loop_problem(noisy)
    with pytest.raises(ValueError, match="differ in seed only"):
        run_device_training([*_configs(seeds=(0,)), *_configs(steps=90, seeds=(1,))], ["a", "b"])


ALGORITHMS = ["td3", "sac", "sobolev-td3", "sobolev-sac", "mage", "dsdpg"]
DSDPG_VARIANTS = [
    {"critic_loss": "mmd"},
    {"critic_loss": "huber-sobolev"},
    {"critic_loss": "mmd-nograd"},
    {"world_model": "flow"},
]


def _smoke(tmp_path, algo, env, **options):
    configs = [
        TrainConfig(
            algo=algo,
            env=env,
            steps=24,
            seed=seed,
            eval_every=24,
            eval_episodes=1,
            options={"hidden": [8, 8], "batch_size": 8, "start_steps": 12, **options},
        )
        for seed in (0, 1)
    ]
    results = run_device_training(configs, [tmp_path / "s0", tmp_path / "s1"], progress=False)
    assert [r["status"] for r in results] == ["finished", "finished"]
    for result in results:
        assert np.isfinite(result["final_eval_return"])
        assert "final_success" not in result  # an env without goals has no success metric
    evals = [r for r in _metrics(tmp_path / "s0") if r["kind"] == "eval"]
    assert np.isfinite(evals[-1]["loss/critic"])


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_every_algorithm_runs_in_the_device_loop(tmp_path, algo):
    _smoke(tmp_path, algo, "toy-1d")


@pytest.mark.heavy
@pytest.mark.parametrize("options", DSDPG_VARIANTS, ids=lambda o: "-".join(o.values()))
def test_every_dsdpg_variant_runs_in_the_device_loop(tmp_path, options):
    _smoke(tmp_path, "dsdpg", "point-mass:2", **options)
