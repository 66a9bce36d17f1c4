"""The kernel battery through the pytest plugin, as a user runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _battery(*options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--pyargs",
            "properties",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("spec", ["energy:beta=1.5", "tests.sobolev_core.user_kernels:energy_like"])
def test_battery_passes_for_scale_sensitive_kernels(spec):
    result = _battery("--sobolev-kernel", spec)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "5 passed" in result.stdout


def test_battery_fails_the_gaussian_kernel_with_a_shrunk_counterexample():
    result = _battery("--sobolev-kernel", "gaussian:bandwidth=1")
    assert result.returncode == 1
    assert "not scale sensitive of order 0" in result.stdout
    assert "does not apply to gaussian:bandwidth=1.0" in result.stdout
    assert "Falsifying example" in result.stdout or "Failing test case" in result.stdout
    assert "3 passed" in result.stdout and "2 failed" in result.stdout


def test_bad_kernel_spec_is_a_usage_error():
    result = _battery("--sobolev-kernel", "nope:h=1")
    assert result.returncode == 4  # pytest's usage-error exit code
    assert "--sobolev-kernel: unknown kernel spec 'nope:h=1'; valid kernels" in result.stderr
