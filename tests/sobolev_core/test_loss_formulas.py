"""The critic losses and ``truncate_top`` against their formulas in float64 NumPy.

The oracles are written from the docstrings' equations (docs/math.md#metrics, docs/agents.md) with explicit loops,
not from ``sobolev_core``; inputs are random, weights unequal. Tolerance ``1e-12`` relative:
the same float64 sums in another order.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sobolev_core as sc

RTOL = 1e-12


def test_sobolev_td_loss_is_its_formula_with_unequal_weights():
    rng = np.random.default_rng(0)
    q, y = rng.normal(), rng.normal()
    dq_ds, dy_ds, dq_da, dy_da = (rng.normal(size=size) for size in (3, 3, 2, 2))
    expected = (
        (q - y) ** 2
        + 0.3 * sum((dq_ds[i] - dy_ds[i]) ** 2 for i in range(3))
        + 2.5 * sum((dq_da[i] - dy_da[i]) ** 2 for i in range(2))
    )
    value = sc.sobolev_td_loss(
        np.float64(q), dq_ds, dq_da, np.float64(y), dy_ds, dy_da, lambda_s=0.3, lambda_a=2.5
    )
    assert float(value) == pytest.approx(expected, rel=RTOL)
    swapped = sc.sobolev_td_loss(
        np.float64(q), dq_ds, dq_da, np.float64(y), dy_ds, dy_da, lambda_s=2.5, lambda_a=0.3
    )
    assert float(swapped) != pytest.approx(expected, rel=1e-3)  # the weights are not symmetric


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_is_piecewise_quadratic_then_linear(delta):
    errors = np.array([-3.0, -delta, -0.2, 0.0, 0.3, delta, delta + 1e-3, 4.0])
    expected = [0.5 * e * e if abs(e) <= delta else delta * (abs(e) - 0.5 * delta) for e in errors]
    np.testing.assert_allclose(sc.huber(errors, delta), expected, rtol=RTOL)


def test_huber_sobolev_loss_is_its_formula():
    """``Huber_δ(Q − y) + w Huber_δ(‖∇_a Q − ∇_a y‖)``, both Huber branches exercised."""
    for q, y, dq, dy, w, delta in [
        (0.2, 0.5, [0.1, -0.3], [0.2, 0.1], 3.0, 0.7),  # quadratic branches
        (4.0, 0.5, [2.0, -3.0], [0.2, 0.1], 5.0, 1.0),  # linear branches
    ]:
        dq, dy = np.asarray(dq), np.asarray(dy)
        gap = math.sqrt(sum((a - b) ** 2 for a, b in zip(dq, dy, strict=True)))

        def h(e, delta=delta):
            return 0.5 * e * e if abs(e) <= delta else delta * (abs(e) - 0.5 * delta)

        expected = h(q - y) + w * h(gap)
        value = sc.huber_sobolev_loss(np.float64(q), dq, np.float64(y), dy, weight=w, delta=delta)
        assert float(value) == pytest.approx(expected, rel=RTOL)


def test_huber_sobolev_gradient_is_zero_not_nan_where_the_gradients_agree():
    grad = jax.grad(
        lambda dq: sc.huber_sobolev_loss(
            jnp.asarray(0.0), dq, jnp.asarray(0.0), jnp.array([0.5, -1.0])
        )
    )(jnp.array([0.5, -1.0]))
    np.testing.assert_array_equal(np.asarray(grad), [0.0, 0.0])


def multiquadric_mmd2(x, y, h, wx=None, wy=None):
    """Double-loop V-statistic MMD² with ``k = −sqrt(1 + h² |x − y|²)`` (docs/math.md#metrics)."""
    wx = np.full(len(x), 1 / len(x)) if wx is None else np.asarray(wx) / np.sum(wx)
    wy = np.full(len(y), 1 / len(y)) if wy is None else np.asarray(wy) / np.sum(wy)

    def k(a, b):
        return -math.sqrt(1 + h * h * float(np.sum((np.asarray(a) - np.asarray(b)) ** 2)))

    total = 0.0
    for points_a, w_a, points_b, w_b, sign in [
        (x, wx, x, wx, 1.0),
        (y, wy, y, wy, 1.0),
        (x, wx, y, wy, -2.0),
    ]:
        for i, a in enumerate(points_a):
            for j, b in enumerate(points_b):
                total += sign * w_a[i] * w_b[j] * k(a, b)
    return total


def test_mmd_loss_is_the_double_loop_formula_with_weights():
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(5, 3)), rng.normal(loc=0.4, size=(7, 3))
    wx, wy = rng.uniform(0.1, 1, 5), rng.uniform(0.1, 1, 7)
    kernel = sc.multiquadric(3.0)
    assert float(sc.mmd_loss(pred, target, kernel)) == pytest.approx(
        multiquadric_mmd2(pred, target, 3.0), rel=RTOL
    )
    assert float(sc.mmd_loss(pred, target, kernel, wx, wy)) == pytest.approx(
        multiquadric_mmd2(pred, target, 3.0, wx, wy), rel=RTOL
    )


def test_msmmd_loss_is_the_sliced_formula_at_the_searched_direction_and_its_gradient():
    """``MMD²(θ*#pred, θ*#target)`` with ``θ*`` the search's direction (same key, budget);
    it dominates every screened direction's value; its gradient is the fixed-``θ*`` one
    (Danskin), checked by central differences of the NumPy formula (h = 1e-6, float64:
    error ~h² + 1e-16/h ≪ 1e-6)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        pred = jnp.asarray(rng.normal(size=(4, 3)))
        target = jnp.asarray(rng.normal(loc=0.3, size=(6, 3)))
        kernel, key = sc.multiquadric(2.0), jax.random.key(9)
        budget = dict(n_candidates=8, n_restarts=2, n_steps=5, step_size=0.5, final_step=1e-2)
        value = sc.msmmd_loss(pred, target, kernel, key, **budget)
        theta, _ = sc.max_sliced_direction(pred, target, kernel, key, **budget)
        theta = np.asarray(theta) / np.linalg.norm(np.asarray(theta))

        def sliced(points_pred, direction):
            return multiquadric_mmd2(
                (np.asarray(points_pred) @ direction)[:, None],
                (np.asarray(target) @ direction)[:, None],
                2.0,
            )

        assert float(value) == pytest.approx(sliced(pred, theta), rel=1e-10)
        for direction in rng.normal(size=(20, 3)):
            assert float(value) >= sliced(pred, direction / np.linalg.norm(direction)) - 1e-3
        grad = np.asarray(jax.grad(lambda p: sc.msmmd_loss(p, target, kernel, key, **budget))(pred))
        step = 1e-6
        for i in range(4):
            for j in range(3):
                bump = np.zeros((4, 3))
                bump[i, j] = step
                central = (sliced(pred + bump, theta) - sliced(pred - bump, theta)) / (2 * step)
                assert grad[i, j] == pytest.approx(central, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.3, 0.7, 0.95])
@pytest.mark.parametrize("dimension", [None, 3])
def test_truncate_top_keeps_the_lowest_returns(fraction, dimension):
    """Keeps ``N − floor(fraction · N)`` samples with the lowest column-0 values, sorted."""
    rng = np.random.default_rng(3)
    n = 10
    samples = rng.normal(size=n if dimension is None else (n, dimension))
    returns = samples if dimension is None else samples[:, 0]
    keep = n - math.floor(fraction * n)
    order = sorted(range(n), key=lambda i: returns[i])[:keep]
    expected = np.stack([samples[i] for i in order])
    np.testing.assert_array_equal(sc.truncate_top(samples, fraction), expected)
    np.testing.assert_array_equal(
        np.asarray(sc.truncate_top(jnp.asarray(samples), fraction)), expected.astype(np.float32)
    )
