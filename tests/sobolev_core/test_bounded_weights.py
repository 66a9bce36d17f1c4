"""The ``bounded`` gradient normalisation of the Sobolev TD loss, against its formula in
float64 NumPy (sobolev_core.gradient_weights, docs/agents.md)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import sobolev_core as sc


def _formula(y, g_s, g_a, s, a, lam_s, lam_a):
    y, g_s, g_a, s, a = (np.asarray(v, np.float64) for v in (y, g_s, g_a, s, a))
    size = np.mean(np.sum(g_s**2, 1)) + np.mean(np.sum(g_a**2, 1))
    relative = (np.var(y) + 1e-6) / (size + 1e-6)
    spread = np.var(s, axis=0).sum() + np.var(a, axis=0).sum()
    return lam_s * min(relative, spread), lam_a * min(relative, spread), relative, spread


@pytest.mark.parametrize("gradient_size", [1e-3, 10.0])  # the cap binds / does not bind
def test_bounded_is_relative_capped_by_the_input_spread(gradient_size):
    rng = np.random.default_rng(0)
    y = rng.normal(size=32) * 5.0
    g_s, g_a = gradient_size * rng.normal(size=(32, 3)), gradient_size * rng.normal(size=(32, 2))
    s, a = rng.normal(size=(32, 3)) * 0.3, rng.uniform(-1, 1, size=(32, 2))
    w_s, w_a = sc.gradient_weights(
        *map(jnp.asarray, (y, g_s, g_a)),
        lambda_s=0.5,
        lambda_a=2.0,
        normalization="bounded",
        inputs=(jnp.asarray(s), jnp.asarray(a)),
    )
    want_s, want_a, relative, spread = _formula(y, g_s, g_a, s, a, 0.5, 2.0)
    # float32 sums of 32 terms: relative error ≈ 1e-6
    assert float(w_s) == pytest.approx(want_s, rel=1e-5)
    assert float(w_a) == pytest.approx(want_a, rel=1e-5)
    unbounded_s, _ = sc.gradient_weights(
        *map(jnp.asarray, (y, g_s, g_a)), lambda_s=0.5, lambda_a=2.0, normalization="relative"
    )
    if relative > spread:  # negative control: relative alone exceeds the cap here
        assert float(unbounded_s) > 100 * float(w_s)
    else:
        assert float(unbounded_s) == pytest.approx(float(w_s), rel=1e-6)


def test_the_loss_uses_the_bounded_weights():
    rng = np.random.default_rng(1)
    b, n, m = 8, 2, 1
    q, y = rng.normal(size=b), rng.normal(size=b)
    dq_s, dq_a, g_s, g_a = (1e-2 * rng.normal(size=(b, d)) for d in (n, m, n, m))
    s, a = rng.normal(size=(b, n)), rng.normal(size=(b, m))
    w_s, w_a, _, _ = _formula(y, g_s, g_a, s, a, 1.0, 1.0)
    want = np.mean(
        (q - y) ** 2 + w_s * np.sum((dq_s - g_s) ** 2, 1) + w_a * np.sum((dq_a - g_a) ** 2, 1)
    )
    got = sc.sobolev_critic_loss(
        *map(jnp.asarray, (q, dq_s, dq_a, y, g_s, g_a)),
        lambda_s=1.0,
        lambda_a=1.0,
        normalization="bounded",
        inputs=(jnp.asarray(s), jnp.asarray(a)),
    )
    assert float(got) == pytest.approx(want, rel=1e-5)


def test_bounded_needs_the_inputs():
    zeros = jnp.zeros((4, 1))
    with pytest.raises(ValueError, match="needs inputs"):
        sc.gradient_weights(
            jnp.zeros(4), zeros, zeros, lambda_s=1.0, lambda_a=1.0, normalization="bounded"
        )
    with pytest.raises(ValueError, match=r"inputs\[0\] must have shape \(B, d\)"):
        sc.gradient_weights(
            jnp.zeros(4),
            zeros,
            zeros,
            lambda_s=1.0,
            lambda_a=1.0,
            normalization="bounded",
            inputs=(jnp.zeros((3, 1)), zeros),
        )
