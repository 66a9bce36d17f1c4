"""``sobolev-verify train`` as a newcomer meets it: seeds, loops, warnings, one-line errors."""

from __future__ import annotations

import json

import pytest

from verify.cli import main

TINY = ["--option", "hidden=[8,8]", "--option", "batch_size=8", "--option", "start_steps=20"]


def _usage_error(capsys, argv, fragment):
    assert main(["train", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err and "Traceback" not in err, err


def test_bad_train_usage_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    base = ["--algo", "td3", "--env", "point-mass:1"]
    _usage_error(capsys, [*base, "--out", str(blocker)], "is a file; give a folder")
    _usage_error(capsys, [*base, "--seeds", "3-1", "--out", "o"], "--seeds '3-1' is invalid")
    _usage_error(capsys, [*base, "--seeds", "a,b", "--out", "o"], "--seeds 'a,b' is invalid")
    _usage_error(capsys, [*base, "--seed", "-1", "--out", "o"], "--seed must be >= 0")
    _usage_error(
        capsys,
        ["--algo", "td3", "--env", "Hopper-v5", "--loop", "device", "--out", "o"],
        "--loop device: env 'Hopper-v5' has no pure-JAX step",
    )
    _usage_error(
        capsys,
        ["--algo", "td3", "--env", "Pendulum-v1", "--out", "o"],
        "env 'Pendulum-v1' is called 'pendulum' here",
    )


def test_train_help_names_every_algorithm_and_the_loops(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for name in ("td3", "sac", "mage", "dsdpg", "sobolev-td3", "sobolev-sac", "--loop", "--seeds"):
        assert name in text
    assert "start_steps" in text


def test_seeds_on_the_device_loop_write_one_folder_each(tmp_path, capsys):
    argv = ["train", "--algo", "td3", "--env", "toy-1d", "--steps", "40", "--eval-every", "40"]
    code = main([*argv, *TINY, "--seeds", "0-1", "--out", str(tmp_path), "--no-progress", "--json"])
    assert code == 0
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [r["run"]["seed"] for r in results] == [0, 1]
    assert "device loop" in captured.err
    for seed in (0, 1):
        config = json.loads((tmp_path / f"seed-{seed}" / "config.json").read_text())
        assert config["loop"] == "device" and config["run"]["seed"] == seed


def test_short_runs_are_warned_and_resumes_say_where_they_start(tmp_path, capsys):
    argv = ["train", "--algo", "td3", "--env", "toy-1d", "--steps", "60", "--loop", "host"]
    small = ["--option", "hidden=[8,8]", "--option", "batch_size=8"]
    out = ["--out", str(tmp_path / "r"), "--no-progress", "--eval-every", "30"]
    assert main([*argv, *small, *out, "--checkpoint-every", "30"]) == 0
    err = capsys.readouterr().err
    assert "warning: --steps 60 <= start_steps 25000 of td3" in err
    # Cut the finished run back to its first checkpoint's state, then resume it.
    run = tmp_path / "r"
    (run / "result.json").unlink()
    assert main([*argv, *small, *out, "--checkpoint-every", "30", "--resume"]) == 0
    assert "resuming from env step" in capsys.readouterr().err
