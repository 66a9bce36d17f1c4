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


COUNTED_KERNEL = """
import numpy as np

PROBES = []  # calls on the 5x5 NumPy probe with which kernel_from_spec checks a user function


def kernel(x, y):
    if isinstance(x, np.ndarray) and np.array_equal(x, np.linspace(-1.0, 1.0, 5)[:, None]):
        PROBES.append(1)
    return -(abs(x - y) ** 1.5)
"""

USES_THE_FIXTURE = """
import counted_kernel


def test_the_spec_was_parsed_once(sobolev_kernel):
    assert sobolev_kernel.spec == "counted_kernel:kernel"
    assert len(counted_kernel.PROBES) == 1
"""


def test_the_kernel_option_is_parsed_once_per_run(tmp_path):
    """The spec is parsed at configure and the fixture hands out that kernel: one probe call."""
    (tmp_path / "counted_kernel.py").write_text(COUNTED_KERNEL)
    (tmp_path / "test_counted.py").write_text(USES_THE_FIXTURE)
    options = ["--sobolev-kernel", "counted_kernel:kernel"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_counted.py",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
