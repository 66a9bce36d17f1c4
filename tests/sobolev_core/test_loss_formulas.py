"""The critic losses (per example and per minibatch: ``gradient_weights``,
``sobolev_critic_loss``) and ``truncate_top`` against their formulas in float64 NumPy.

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


def _minibatch(rng, batch=7, n=3, m=2):
    """Targets ``y (B,), g_s (B, n), g_a (B, m)`` and a critic's ``Q, ∇_s Q, ∇_a Q``, float64."""
    y = rng.normal(loc=4.0, scale=3.0, size=batch)
    grad_s, grad_a = rng.normal(size=(batch, n)), 0.1 * rng.normal(size=(batch, m))
    q, dq_ds, dq_da = (
        y + rng.normal(size=batch),
        rng.normal(size=(batch, n)),
        rng.normal(size=(batch, m)),
    )
    return q, dq_ds, dq_da, y, grad_s, grad_a


def gradient_weights_formula(y, grad_s, grad_a, lambda_s, lambda_a, normalization):
    """``(w_s, w_a)`` of docs/agents.md by loops: ``|g|² = (1/B) Σ_b Σ_i g_bi²``, ``ε = 1e-6``;
    ``batch``: ``λ / (|g|² + ε)`` per block; ``relative``: ``λ (var y + ε) / (|g_s|² + |g_a|² +
    ε)`` with the population variance ``(1/B) Σ_b (y_b − ȳ)²``."""
    batch = len(y)
    size_s = sum(sum(v * v for v in row) for row in grad_s) / batch
    size_a = sum(sum(v * v for v in row) for row in grad_a) / batch
    if normalization == "none":
        return lambda_s, lambda_a
    if normalization == "batch":
        return lambda_s / (size_s + 1e-6), lambda_a / (size_a + 1e-6)
    mean = sum(y) / batch
    spread = sum((v - mean) ** 2 for v in y) / batch
    scale = (spread + 1e-6) / (size_s + size_a + 1e-6)
    return lambda_s * scale, lambda_a * scale


@pytest.mark.parametrize("normalization", ["none", "batch", "relative"])
def test_gradient_weights_are_their_formulas_with_unequal_lambdas(normalization):
    with jax.enable_x64(True):
        _, _, _, y, grad_s, grad_a = _minibatch(np.random.default_rng(5))
        weights = sc.gradient_weights(
            jnp.asarray(y),
            jnp.asarray(grad_s),
            jnp.asarray(grad_a),
            lambda_s=0.3,
            lambda_a=2.5,
            normalization=normalization,
        )
        expected = gradient_weights_formula(y, grad_s, grad_a, 0.3, 2.5, normalization)
        np.testing.assert_allclose(np.asarray(weights, float), expected, rtol=RTOL)
        if normalization == "batch":  # per block: the small action block gets the large weight
            assert float(weights[1]) > 10 * float(weights[0])
        if normalization == "relative":  # one factor: the ratio stays λ_a / λ_s
            assert float(weights[1] / weights[0]) == pytest.approx(2.5 / 0.3, rel=RTOL)


@pytest.mark.parametrize("normalization", ["none", "batch", "relative"])
def test_sobolev_critic_loss_is_the_minibatch_mean_of_its_formula(normalization):
    """``mean_b [(Q_b − y_b)² + w_s |∇_s Q_b − g_s,b|² + w_a |∇_a Q_b − g_a,b|²]`` by loops, with
    the weights of the formula above; swapping λ_s and λ_a changes it (negative control)."""
    with jax.enable_x64(True):
        q, dq_ds, dq_da, y, grad_s, grad_a = _minibatch(np.random.default_rng(6))
        weight_s, weight_a = gradient_weights_formula(y, grad_s, grad_a, 0.3, 2.5, normalization)
        expected = sum(
            (q[b] - y[b]) ** 2
            + weight_s * sum((dq_ds[b, i] - grad_s[b, i]) ** 2 for i in range(3))
            + weight_a * sum((dq_da[b, i] - grad_a[b, i]) ** 2 for i in range(2))
            for b in range(len(y))
        ) / len(y)
        arrays = [jnp.asarray(a) for a in (q, dq_ds, dq_da, y, grad_s, grad_a)]
        loss = sc.sobolev_critic_loss(
            *arrays, lambda_s=0.3, lambda_a=2.5, normalization=normalization
        )
        assert float(loss) == pytest.approx(expected, rel=RTOL)
        swapped = sc.sobolev_critic_loss(
            *arrays, lambda_s=2.5, lambda_a=0.3, normalization=normalization
        )
        assert float(swapped) != pytest.approx(expected, rel=1e-3)


def test_the_minibatch_losses_refuse_mismatched_shapes_and_unknown_normalizations():
    q, dq_ds, dq_da, y, grad_s, grad_a = (
        jnp.asarray(a) for a in _minibatch(np.random.default_rng(7))
    )
    weights = dict(lambda_s=1.0, lambda_a=1.0)
    with pytest.raises(
        ValueError, match=r"dy_ds must have shape \(B, d\) with B = 7; got shape \(6, 3\)"
    ):
        sc.gradient_weights(y, grad_s[:6], grad_a, **weights)
    with pytest.raises(ValueError, match=r"y must have shape \(B,\); got shape \(7, 1\)"):
        sc.gradient_weights(y[:, None], grad_s, grad_a, **weights)
    with pytest.raises(ValueError, match=r"normalization must be one of none, batch, relative"):
        sc.gradient_weights(y, grad_s, grad_a, normalization="max", **weights)
    with pytest.raises(
        ValueError, match=r"q must have shape \(B,\) with B = 7; got shape \(7, 1\)"
    ):
        sc.sobolev_critic_loss(q[:, None], dq_ds, dq_da, y, grad_s, grad_a, **weights)
    with pytest.raises(ValueError, match=r"dq_da must have shape \(B, d\)"):
        sc.sobolev_critic_loss(q, dq_ds, dq_da[:, 0], y, grad_s, grad_a, **weights)


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
