"""The training loop: files, exact resume after an interruption, the divergence stop."""

from __future__ import annotations

import json
import pickle

import jax
import numpy as np
import pytest

from agents import training
from agents.envs import make_training_env
from agents.training import TrainConfig, TrainingDiverged, run_training
from verify.cli import main

SMALL = {"hidden": [32, 32], "batch_size": 32, "start_steps": 150}


def _config(**changes) -> TrainConfig:
    settings = dict(
        algo="td3",
        env="point-mass:2",
        noise="obs-mult:0.1",
        steps=600,
        seed=3,
        eval_every=200,
        eval_episodes=1,
        checkpoint_every=100,
        options=SMALL,
    )
    settings.update(changes)
    return TrainConfig(**settings)


def _records(path):
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        line.pop("steps_per_second", None)
    return lines


class _Interrupt:
    """A ``make_training_env`` whose training env raises KeyboardInterrupt at a given step."""

    def __init__(self, at_step: int):
        self.at_step = at_step
        self.calls = 0

    def __call__(self, env_id, noise, seed):
        made = make_training_env(env_id, noise, seed)
        self.calls += 1
        if self.calls > 1:  # the evaluation env is left alone
            return made
        env, at_step = made.env, self.at_step
        original_step = env.step
        count = {"steps": 0}

        def step(action):
            count["steps"] += 1
            if count["steps"] == at_step:
                raise KeyboardInterrupt
            return original_step(action)

        env.step = step
        return made


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    whole = run_training(_config(), tmp_path / "whole", progress=False)

    monkeypatch.setattr(training, "make_training_env", _Interrupt(at_step=351))
    with pytest.raises(KeyboardInterrupt):
        run_training(_config(), tmp_path / "cut", progress=False)
    saved = pickle.loads((tmp_path / "cut" / "checkpoint.pkl").read_bytes())
    assert saved["loop"]["env_steps"] == 300  # the last episode boundary before the cut
    assert not (tmp_path / "cut" / "result.json").exists()
    monkeypatch.undo()

    resumed = run_training(_config(), tmp_path / "cut", resume=True, progress=False)
    assert resumed["eval_curve"] == whole["eval_curve"]
    assert _records(tmp_path / "cut" / "metrics.jsonl") == _records(
        tmp_path / "whole" / "metrics.jsonl"
    )
    final_whole = pickle.loads((tmp_path / "whole" / "checkpoint.pkl").read_bytes())["agent"]
    final_cut = pickle.loads((tmp_path / "cut" / "checkpoint.pkl").read_bytes())["agent"]
    leaves_whole, leaves_cut = jax.tree.leaves(final_whole), jax.tree.leaves(final_cut)
    assert len(leaves_whole) == len(leaves_cut)
    for left, right in zip(leaves_whole, leaves_cut, strict=True):
        np.testing.assert_array_equal(left, right)  # bitwise: the same computation


def test_files_are_well_formed(tmp_path):
    result = run_training(_config(steps=400, noise="none"), tmp_path / "run", progress=False)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["noise"] == "none" and config["run"]["algo"] == "td3"
    assert config["hyperparameters"]["hidden"] == [32, 32]
    assert {"jax", "numpy", "gymnasium", "mujoco", "optax"} <= set(config["versions"])
    records = _records(tmp_path / "run" / "metrics.jsonl")
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["env_steps"] for r in evals] == [200, 400]
    assert all(np.isfinite(r["loss/critic"]) and np.isfinite(r["loss/actor"]) for r in evals)
    episodes = [r for r in records if r["kind"] == "episode"]
    assert [r["episode_length"] for r in episodes] == [100] * 4  # point-mass episodes
    assert result["final_eval_return"] == evals[-1]["eval_return"]
    # a finished run is returned as it is; a second run into the same folder is refused
    assert run_training(_config(steps=400, noise="none"), tmp_path / "run", resume=True) == result
    with pytest.raises(ValueError, match="already holds a run"):
        run_training(_config(steps=400, noise="none"), tmp_path / "run")
    with pytest.raises(ValueError, match=r"differ .* in steps"):
        run_training(_config(steps=500, noise="none"), tmp_path / "run", resume=True)


def test_a_diverging_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    # Adam moves every weight by about the learning rate per step: with 1e6 the critic's
    # outputs, and its squared error, pass the 1e10 limit within a few updates.
    config = _config(options={**SMALL, "critic_lr": 1e6, "actor_lr": 1e6}, noise="none")
    with pytest.raises(TrainingDiverged, match=r"loss '.*' = .* at env step 1\d\d .*kept"):
        run_training(config, tmp_path / "run", progress=False)
    saved = pickle.loads((tmp_path / "run" / "checkpoint.pkl").read_bytes())
    assert saved["loop"]["env_steps"] == 100
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(saved["agent"]))
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "diverged"


def test_cli_train_exit_codes(tmp_path, capsys):
    out = str(tmp_path / "bad")
    for argv, fragment in [
        (["--algo", "td4", "--env", "Hopper-v5"], "algo 'td4' is unknown"),
        (["--algo", "td3", "--env", "Hoper-v5"], "env 'Hoper-v5' is unknown"),
        (["--algo", "td3", "--env", "Hopper-v5", "--noise", "obs-mult:2"], "outside 0 <= X < 1"),
        (["--algo", "td3", "--env", "Hopper-v5", "--option", "hiden=[3]"], "'hiden' unknown"),
        (["--algo", "td3", "--env", "Hopper-v5", "--steps", "0"], "steps must be a positive"),
    ]:
        assert main(["train", *argv, "--out", out]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and fragment in err, err
    diverging = ["--option", "critic_lr=1e6", "--option", "actor_lr=1e6"]
    small = [
        "--option",
        "hidden=[16,16]",
        "--option",
        "batch_size=16",
        "--option",
        "start_steps=150",
    ]
    argv = ["train", "--algo", "td3", "--env", "point-mass:1", "--steps", "300"]
    assert main([*argv, *small, *diverging, "--out", str(tmp_path / "d"), "--no-progress"]) == 1
    assert "training stopped: loss" in capsys.readouterr().err
