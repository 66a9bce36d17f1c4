"""The gradient-step section of ``bench``: its FLOP count and its paired timing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from verify.bench_job import _gflop, _paired_seconds


def test_gflop_of_a_matmul_is_two_flops_per_multiply_add():
    """XLA counts an ``(n, k) @ (k, m)`` product as ``2 n k m`` FLOPs (closed form)."""
    n, k, m = 64, 32, 16
    count = _gflop(jax.jit(lambda a, b: a @ b), jnp.ones((n, k)), jnp.ones((k, m)))
    if count is None:
        pytest.skip("this backend gives no cost analysis (the bench then prints no FLOP ratio)")
    assert count * 1e9 == 2 * n * k * m


def test_paired_seconds_calls_both_sides_alike_and_reports_medians():
    calls = {"function": 0, "base": 0}

    def function():
        calls["function"] += 1

    def base():
        calls["base"] += 1

    times = _paired_seconds(function, base, repeats=5)
    assert calls == {"function": 6, "base": 6}  # one warm-up call each, then 5 alternated
    assert set(times) == {"wall", "cpu", "base_wall", "base_cpu"}
    assert all(value >= 0 for value in times.values())
