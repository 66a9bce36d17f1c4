"""Issue 13, "No tracebacks" and "Installs and processes": each case a new user hit ends in one
line on stderr and a documented exit status (2 usage or a missing extra, 3 internal error),
never a traceback. In-process cases call ``verify.cli.main``; the install and import-path
cases run real subprocesses (a blocked import stands in for a package pip did not install).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from verify.cli import main

ROOT = Path(__file__).resolve().parents[2]
PYTEST = Path(sys.executable).parent / "pytest"  # not `python -m pytest`: that adds the cwd


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--seed", "-1"],
        ["kernel", "energy:beta=1", "--seed", "-1"],
        ["fs-claims", "--budget", "testing", "--seed", "-1"],
        ["jacobians", "InvertedPendulum-v5", "--seed", "-1"],
    ],
)
def test_a_negative_seed_is_usage(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, but if it were: not in the repo
    assert main(argv) == 2
    err = _one_line(capsys.readouterr().err)
    assert "--seed: must be an integer >= 0; got -1" in err
    assert list(tmp_path.iterdir()) == []


RECORD = dict(claim="C1", case="x", settings={}, seed=0, measured=0.5, bound=1.0, verdict="holds")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ({}, "holds an object, not a list"),
        ([], "holds no records (an empty list)"),
        ("records", "holds a string, not a list"),
        ([1], "record 0 is int 1, not an object"),
        ([{"claim": "C1"}], "record 0 lacks case, settings, seed, measured, bound, verdict"),
        ([{**RECORD, "measured": "abc"}], "record 0: measured must be a number; got 'abc'"),
        ([RECORD, {**RECORD, "verdict": "ok"}], "record 1: verdict must be one of"),
        ([{**RECORD, "seed": True}], "record 0: seed must be an integer; got True"),
        ([{**RECORD, "settings": []}], "record 0: settings must be an object"),
        ([{**RECORD, "extra": 1}], "record 0 has unknown field(s) extra"),
    ],
)
def test_render_of_the_wrong_shape_says_what_is_expected(content, fragment, tmp_path, capsys):
    path = tmp_path / "records.json"
    path.write_text(json.dumps(content))
    assert main(["render", str(path), "--out", str(tmp_path / "out")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert fragment in err and "expected a JSON list of records" in err, err
    assert not (tmp_path / "out" / "index.html").exists()


def test_an_unexpected_exception_is_exit_3_not_1(monkeypatch, capsys):
    import verify.report_job as report_job

    def broken(**kwargs):
        raise RuntimeError("something\nunforeseen")

    monkeypatch.setattr(report_job, "run_report", broken)
    monkeypatch.delenv("SOBOLEV_VERIFY_DEBUG", raising=False)
    assert main(["report"]) == 3
    err = _one_line(capsys.readouterr().err)
    assert "internal error: RuntimeError: something unforeseen at test_usage_errors.py:" in err
    assert "SOBOLEV_VERIFY_DEBUG=1" in err
    monkeypatch.setenv("SOBOLEV_VERIFY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="unforeseen"):
        main(["report"])


def test_help_documents_exit_statuses_and_fs_claims_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for line in ("0    success", "1    a claim failed", "2    bad usage", "3    internal error"):
        assert line in text
    with pytest.raises(SystemExit):
        main(["fs-claims", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default sobolev-fs-claims)" in text and "testing (seconds; what CI runs)" in text


# -- user kernels: rejected at once when they cannot be traced by JAX --------------------------

NUMPY_KERNEL = "import numpy as np\n\ndef k(x, y):\n    return -np.abs(x - y)\n"
JAX_KERNEL = "import jax.numpy as jnp\n\ndef k(x, y):\n    return -jnp.abs(x - y)\n"
HOW = "Write it with jax.numpy functions (jnp.abs"


def test_kernel_command_rejects_a_numpy_kernel_at_once(tmp_path, monkeypatch, capsys):
    (tmp_path / "npkern.py").write_text(NUMPY_KERNEL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["kernel", "npkern:k"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "fails inside JAX tracing" in err and "TracerArrayConversionError" in err
    assert HOW in err


def _pytest_in(folder: Path, spec: str) -> subprocess.CompletedProcess:
    (folder / "test_uses_kernel.py").write_text(
        "def test_kernel(sobolev_kernel):\n    assert sobolev_kernel.name == 'kern:k'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(PYTEST), "-q", "-p", "no:cacheprovider", "--sobolev-kernel", spec],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plugin_imports_a_kernel_from_the_current_directory(tmp_path):
    (tmp_path / "kern.py").write_text(JAX_KERNEL)
    done = _pytest_in(tmp_path, "kern:k")
    assert done.returncode == 0, done.stdout + done.stderr


def test_plugin_rejects_a_numpy_kernel_before_any_test(tmp_path):
    (tmp_path / "kern.py").write_text(NUMPY_KERNEL)
    done = _pytest_in(tmp_path, "kern:k")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage-error status
    assert "fails inside JAX tracing" in done.stderr and HOW in done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "passed" not in done.stdout


# -- a plain `pip install .`: the agents' packages missing ---------------------------------------

_WITHOUT = """
import importlib.abc, os, sys

BLOCKED = set(os.environ["BLOCKED"].split(","))


class Block(importlib.abc.MetaPathFinder):  # a package pip did not install
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Block())
if os.environ.get("CLAIMS"):  # a fast claim and the one that needs the agents extra
    import verify.claims as claims

    keep = os.environ["CLAIMS"].split(",")
    claims.CLAIMS = tuple(claim for claim in claims.CLAIMS if claim.name in keep)
from verify.cli import main

sys.exit(main(sys.argv[1:]))
"""
NO_EXTRAS = "gymnasium,mujoco,optax,torch,ray,hypothesis,pytest"


def _without_extras(argv, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_WITHOUT), *argv],
        cwd=cwd,
        env={**os.environ, "BLOCKED": NO_EXTRAS, "JAX_PLATFORMS": "cpu", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_report_without_the_agents_extra_skips_that_claim_and_writes_the_report(tmp_path):
    # The quick budget needs no agents code at all (kappa-mujoco has no envs there) ...
    quick = _without_extras(["report", "--out", "q"], tmp_path, CLAIMS="C5,kappa-mujoco")
    assert quick.returncode == 0 and "skipped at budget 'quick'" in quick.stderr, quick.stderr
    # ... the full one does, and skips that claim, naming the extra.
    done = _without_extras(
        ["report", "--budget", "full", "--out", "rep"], tmp_path, CLAIMS="C5,kappa-mujoco"
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "kappa-mujoco" in done.stderr and "SKIPPED" in done.stderr
    assert "pip install 'sobolev-verify[agents]'" in done.stderr
    assert (tmp_path / "rep" / "index.html").exists()
    assert "skipped claims: kappa-mujoco" in (tmp_path / "rep" / "report.md").read_text()
    assert not (tmp_path / "rep" / ".partial" / "kappa-mujoco.json").exists()  # runs on resume


@pytest.mark.parametrize(
    "argv, extra",
    [
        (["jacobians", "Hopper-v5"], "agents"),
        (["fs-claims", "--budget", "testing", "--out", "fs"], "agents"),
        (["train", "--algo", "td3", "--env", "pendulum", "--out", "run"], "agents"),
        (["regress", "smoke", "--out", "sweep"], "agents"),
    ],
)
def test_a_command_needing_a_missing_extra_says_which(argv, extra, tmp_path):
    done = _without_extras(argv, tmp_path)
    assert done.returncode == 2, done.stderr
    err = _one_line(done.stderr)
    assert f"install the {extra!r} extra: pip install 'sobolev-verify[{extra}]'" in err


def test_a_failing_kernel_without_hypothesis_still_gets_its_verdict(tmp_path):
    done = _without_extras(["kernel", "gaussian:bandwidth=1"], tmp_path)
    assert done.returncode == 1, done.stderr  # the kernel fails validation, as it should
    assert "verdict: FAIL" in done.stdout and "Traceback" not in done.stderr
    assert "no shrunk counterexample" in done.stdout and "sobolev-verify[test]" in done.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["regress", "smoke"],
        ["train", "--algo", "td3", "--env", "point-mass:1", "--option", "start_steps=10"],
        ["bench", "--only", "fd"],
    ],
)
def test_an_out_that_cannot_be_written_is_one_line_naming_the_option(command, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # bench writes one JSON file, so its folder is checked; the others write a folder
    out = blocker / "sub" / ("b.json" if command[0] == "bench" else "")
    assert main([*command, "--out", str(out)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"cannot write to --out '{blocker / 'sub'}'" in err, err
    assert blocker.read_text() == "x"  # nothing ran, nothing was written


def test_bench_refuses_a_folder_as_out(tmp_path, capsys):
    assert main(["bench", "--only", "fd", "--out", str(tmp_path)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"--out {str(tmp_path)!r} is a folder; give the JSON file to write" in err
