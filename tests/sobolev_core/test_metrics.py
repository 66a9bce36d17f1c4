"""Metrics (docs/math.md#metrics): MMD², sliced and max-sliced MMD, Wasserstein, input validation.

Oracles: explicit float64 double loops (``reference.py``), POT (``ot.emd2`` on a cost built
here with ``scipy.spatial.distance.cdist``), ``scipy.stats.wasserstein_distance``, a
hand-written quantile formula, closed forms (Diracs, translations, Gaussians, energy-kernel
scaling) and central finite differences for gradients.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import ot
import pytest
import scipy.stats
from scipy.spatial.distance import cdist

from sobolev_core import (
    MaxSlicedMMD,
    energy,
    gaussian,
    inverse_multiquadric,
    kernel_from_spec,
    laplacian,
    max_sliced_mmd,
    mmd,
    mmd2,
    multiquadric,
    sliced_mmd2,
    wasserstein,
)
from tests.sobolev_core.reference import (
    formula,
    kernel_scale,
    mmd2_double_loop,
    sliced_mmd2_many,
    wasserstein_1d_quantiles,
)

EPS32 = float(np.finfo(np.float32).eps)

KERNELS = [
    multiquadric(100.0),
    multiquadric(1.0),
    inverse_multiquadric(2.0),
    gaussian(0.5),
    laplacian(0.7),
    energy(0.5),
    energy(1.0),
    energy(1.5),
]


def _phi(kernel):
    """The hand-written oracle formula for a built-in ``Kernel``."""
    (value,) = dict(kernel.params).values()
    return formula(kernel.name, value)


def _pair(rng, n, m, dim):
    x = rng.normal(size=(n, dim))
    y = rng.normal(size=(m, dim)) * 1.3 + 0.4
    return (x[:, 0], y[:, 0]) if dim == 1 else (x, y)


# Tolerance used for float64 MMD² comparisons against the double loop: both sum at most
# (n + m)² products bounded by max|k| in a different order, so they differ by at most
# ~(n + m)²·eps·max|k| ~ 1e-13·max|k| for n + m <= 20; 1e-12·max|k| leaves margin.
F64_RTOL_OF_SCALE = 1e-12


# ---------------------------------------------------------------------------------------
# mmd2


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("weighted", [False, True], ids=["uniform", "weighted"])
def test_mmd2_matches_double_loop(kernel, dim, weighted):
    rng = np.random.default_rng(dim + 10 * weighted)
    x, y = _pair(rng, 7, 5, dim)
    x_weights = rng.uniform(0.1, 2.0, size=7) if weighted else None
    y_weights = rng.uniform(0.1, 2.0, size=5) if weighted else None
    got = mmd2(x, y, kernel, x_weights, y_weights)
    want = mmd2_double_loop(x, y, _phi(kernel), x_weights, y_weights)
    scale = kernel_scale(x, y, _phi(kernel))
    assert abs(float(got) - want) <= F64_RTOL_OF_SCALE * scale
    # Strictly positive for these distinct laws (all kernels here are characteristic).
    assert want > 1e-6 * scale


def test_mmd2_one_dimensional_shapes_agree():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=6), rng.normal(size=4)
    kernel = multiquadric(100.0)
    # (n,) is documented as (n, 1): identical computation, identical bits.
    assert float(mmd2(x, y, kernel)) == float(mmd2(x[:, None], y[:, None], kernel))


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_mmd2_between_diracs_closed_form(kernel):
    a, b = np.array([[0.3, -1.0]]), np.array([[1.0, -1.0]])  # |a - b| = 0.7
    phi = _phi(kernel)
    want = 2.0 * (float(phi(0.0)) - float(phi(0.7)))
    # MMD²(δa, δb) = k(0) + k(0) - 2 k(a - b); a handful of roundings.
    assert float(mmd2(a, b, kernel)) == pytest.approx(want, rel=1e-13, abs=1e-15)
    assert mmd(a, b, kernel) == pytest.approx(math.sqrt(want), rel=1e-13)


def test_mmd2_nonnegative_for_negated_multiquadric_on_many_inputs():
    # The sign convention bug (docs/math.md#metrics): a negated multiquadric is conditionally positive
    # definite, so the V-statistic is >= 0. Float64 cancellation among terms of size
    # max|k| is ~(n + m)²·eps·max|k| <= 1e-13·max|k|; -1e-9·max|k| is a generous floor
    # that still catches any sign error (which would give values of order -max|k|).
    kernel = multiquadric(100.0)
    rng = np.random.default_rng(3)
    smallest = np.inf
    for _ in range(300):
        n, m, dim = rng.integers(1, 10), rng.integers(1, 10), rng.integers(1, 5)
        x = rng.normal(size=(n, dim)) * rng.choice([1e-3, 0.1, 1.0, 10.0])
        y = x[rng.integers(0, n, size=m)] + rng.normal(size=(m, dim)) * rng.choice([0.0, 1e-2, 1.0])
        x_weights = rng.uniform(0.0, 1.0, size=n) + (rng.uniform(size=n) < 0.5)
        y_weights = None if rng.uniform() < 0.5 else rng.uniform(0.01, 1.0, size=m)
        value = float(mmd2(x, y, kernel, x_weights, y_weights))
        scale = kernel_scale(x, y, _phi(kernel))
        assert value >= -1e-9 * scale, (value, scale)
        smallest = min(smallest, value / scale)
    assert smallest < 1e-3  # some near-equal laws were drawn, so the floor was exercised


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_mmd2_of_equal_laws_is_zero(kernel):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(9, 2))
    weights = rng.uniform(0.1, 1.0, size=9)
    # Same points, same order: the three Gram forms are bit-identical, a + a - 2a = 0.
    assert float(mmd2(x, x, kernel)) == 0.0
    assert float(mmd2(x, x.copy(), kernel, weights, weights)) == 0.0
    # Same law, different order / split atoms: equal up to summation order.
    scale = kernel_scale(x, x, _phi(kernel))
    order = rng.permutation(9)
    assert abs(float(mmd2(x, x[order], kernel, weights, weights[order]))) <= 1e-12 * scale
    split = np.concatenate([x, x[:3]])
    split_weights = np.concatenate([weights[:3] / 2, weights[3:], weights[:3] / 2])
    assert abs(float(mmd2(x, split, kernel, weights, split_weights))) <= 1e-12 * scale


@pytest.mark.parametrize("kernel", [multiquadric(100.0), energy(1.0), gaussian(0.5)], ids=repr)
def test_mmd2_weights_normalised_and_zero_weights_ignored(kernel):
    rng = np.random.default_rng(5)
    x, y = _pair(rng, 8, 6, 3)
    x_weights, y_weights = rng.uniform(0.1, 1.0, size=8), rng.uniform(0.1, 1.0, size=6)
    base = float(mmd2(x, y, kernel, x_weights, y_weights))
    scale = kernel_scale(x, y, _phi(kernel))
    # w / Σw and 3w / Σ3w differ by at most an ulp per weight.
    assert abs(float(mmd2(x, y, kernel, 3.0 * x_weights, 3.0 * y_weights)) - base) <= (
        F64_RTOL_OF_SCALE * scale
    )
    # Uniform weights None == explicit ones == explicit 1/n.
    uniform = float(mmd2(x, y, kernel))
    assert abs(float(mmd2(x, y, kernel, np.ones(8), np.full(6, 7.0))) - uniform) <= (
        F64_RTOL_OF_SCALE * scale
    )
    # Far-away particles with weight zero contribute exact zeros to every sum.
    junk = rng.normal(size=(4, 3)) * 100.0
    padded = np.concatenate([x, junk])
    padded_weights = np.concatenate([x_weights, np.zeros(4)])
    assert abs(float(mmd2(padded, y, kernel, padded_weights, y_weights)) - base) <= (
        F64_RTOL_OF_SCALE * scale
    )


@pytest.mark.parametrize("beta", [0.5, 1.0, 1.5, 1.9])
@pytest.mark.parametrize("c", [1e-3, 0.1, 0.5, 3.0, 7.3])
def test_energy_mmd2_scales_exactly(beta, c):
    # Closed form: |cu - cv|^beta = c^beta |u - v|^beta, so MMD²(cU, cV) = c^beta MMD²(U, V).
    # Each term picks up ~2 eps of relative error; MMD² here is >= 5% of max|k| (checked
    # for these draws), so the relative error is <= (n + m)²·eps·20 ~ 1e-12; 1e-10 is the
    # required bound.
    rng = np.random.default_rng(6)
    x, y = _pair(rng, 9, 8, 2)
    weights = rng.uniform(0.2, 1.0, size=9)
    kernel = energy(beta)
    base = float(mmd2(x, y, kernel, weights))
    scaled = float(mmd2(c * x, c * y, kernel, weights))
    assert scaled == pytest.approx(c**beta * base, rel=1e-10)


@pytest.mark.parametrize(
    ("kernel", "dim"), [(multiquadric(100.0), 3), (energy(1.0), 1), (gaussian(1.0), 3)], ids=repr
)
def test_mmd2_on_jax_float32_matches_numpy_float64(kernel, dim):
    rng = np.random.default_rng(7)
    x32 = rng.normal(size=(12, dim)).astype(np.float32)
    y32 = (rng.normal(size=(10, dim)) * 1.3 + 0.4).astype(np.float32)
    w32 = rng.uniform(0.1, 1.0, size=12).astype(np.float32)
    # Jitted: the same ops as eager JAX, one compilation instead of one per primitive and
    # shape (eager validation is covered by test_non_finite_jax_samples_rejected).
    jitted = jax.jit(lambda x, y, w: mmd2(x, y, kernel, w))
    got = jitted(jnp.asarray(x32), jnp.asarray(y32), jnp.asarray(w32))
    assert isinstance(got, jax.Array) and got.dtype == jnp.float32
    # Same points in both (float32-exact inputs), so only float32 arithmetic differs: each
    # kernel value carries <= ~16 eps32 relative error (d² roundings amplified by the
    # profile's log-derivative, <= ~8 here), and each bilinear form w@K@w accumulates
    # <= 2·max(n, m) roundings; the three forms total <= 4·max|k|.
    want = mmd2(x32.astype(np.float64), y32.astype(np.float64), kernel, w32.astype(np.float64))
    scale = kernel_scale(x32, y32, _phi(kernel))
    assert abs(float(got) - float(want)) <= 4.0 * scale * EPS32 * (2 * 12 + 16)
    # Equal laws (same points, same weights): the three Gram forms are identical programs.
    same = jax.jit(lambda x, w: mmd2(x, x, kernel, w, w))
    assert float(same(jnp.asarray(x32), jnp.asarray(w32))) == 0.0


def test_mmd2_user_kernel_from_spec_matches_double_loop():
    kernel = kernel_from_spec("tests.sobolev_core.user_kernels:my_kernel")
    rng = np.random.default_rng(8)
    x, y = _pair(rng, 6, 5, 3)
    want = mmd2_double_loop(x, y, lambda d: 1.0 / (1.0 + d**2))
    # Kernel values are <= 1; see F64_RTOL_OF_SCALE.
    assert abs(float(mmd2(x, y, kernel)) - want) <= F64_RTOL_OF_SCALE
    got32 = jax.jit(lambda u, v: mmd2(u, v, kernel))(
        jnp.asarray(x, dtype=jnp.float32), jnp.asarray(y, dtype=jnp.float32)
    )
    # float32 inputs (rounded, relative eps32/2, sensitivity <= 2) and arithmetic, |k| <= 1.
    assert abs(float(got32) - want) <= 4.0 * EPS32 * (2 * 6 + 16)


@pytest.mark.parametrize(
    "kernel", [gaussian(0.8), multiquadric(3.0), energy(1.5), energy(1.0)], ids=repr
)
def test_mmd2_gradient_matches_finite_differences(kernel):
    rng = np.random.default_rng(9)
    x, y = _pair(rng, 5, 4, 2)
    weights = rng.uniform(0.2, 1.0, size=5)
    with jax.enable_x64(True):
        # jit: one compilation instead of one per primitive (keeps the file fast).
        gradient = jax.jit(jax.grad(lambda u, v, w: mmd2(u, v, kernel, w)))
        grad = np.asarray(gradient(jnp.asarray(x), jnp.asarray(y), jnp.asarray(weights)))
    assert grad.dtype == np.float64
    step = 1e-5
    central = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        bump = np.zeros_like(x)
        bump[index] = step
        plus = float(mmd2(x + bump, y, kernel, weights))
        minus = float(mmd2(x - bump, y, kernel, weights))
        central[index] = (plus - minus) / (2.0 * step)
    # Truncation step²/6·|f'''| ~ 1e-10/6·O(10) and rounding (81 terms)·eps·max|k|/step
    # ~ 1e-14·10/1e-5 ~ 1e-8 (points are >= 0.05 apart, so no kink of energy(1) is
    # crossed); gradients are O(0.1-1): atol 1e-6 and rtol 1e-5 leave margin.
    np.testing.assert_allclose(grad, central, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel", [energy(1.0), energy(0.5), laplacian(1.0)], ids=repr)
def test_mmd2_gradient_finite_at_coincident_points(kernel):
    # Zero distances sit on the Gram diagonal and between repeated particles; the gradient
    # must not be NaN there (sqrt and |d|^beta are not differentiable at 0).
    x = jnp.asarray([[0.0, 0.0], [0.0, 0.0], [1.0, 2.0]])
    y = jnp.asarray([[0.0, 0.0], [1.0, 2.0]])
    grad_x, grad_y = jax.jit(jax.grad(lambda u, v: mmd2(u, v, kernel), argnums=(0, 1)))(x, y)
    assert np.all(np.isfinite(np.asarray(grad_x))) and np.all(np.isfinite(np.asarray(grad_y)))


# ---------------------------------------------------------------------------------------
# sliced_mmd2


@pytest.mark.parametrize("kernel", [multiquadric(100.0), energy(1.0), gaussian(0.5)], ids=repr)
@pytest.mark.parametrize("weighted", [False, True], ids=["uniform", "weighted"])
def test_sliced_mmd2_equals_mmd2_of_projections(kernel, weighted):
    rng = np.random.default_rng(10)
    x, y = _pair(rng, 8, 6, 3)
    x_weights = rng.uniform(0.1, 1.0, size=8) if weighted else None
    y_weights = rng.uniform(0.1, 1.0, size=6) if weighted else None
    theta = rng.normal(size=3)
    unit = theta / np.linalg.norm(theta)
    got = float(sliced_mmd2(x, y, kernel, theta, x_weights, y_weights))
    want = mmd2_double_loop(x @ unit, y @ unit, _phi(kernel), x_weights, y_weights)
    scale = kernel_scale(x @ unit, y @ unit, _phi(kernel))
    assert abs(got - want) <= F64_RTOL_OF_SCALE * scale
    # theta is normalised first: 5·theta, -theta and a list give the same value (the unit
    # vectors differ by an ulp, which moves each kernel value by ~eps relative).
    for variant in (5.0 * theta, -theta, list(theta)):
        again = float(sliced_mmd2(x, y, kernel, variant, x_weights, y_weights))
        assert abs(again - got) <= F64_RTOL_OF_SCALE * scale


def test_sliced_mmd2_closed_forms():
    kernel = multiquadric(100.0)
    origin, point = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]])
    # Diracs: MMD²(θ#δ0, θ#δa) = 2 (k(0) - k(<θ, a>)), <(0.6, 0.8), (3, 4)> = 5.
    want = 2.0 * (-1.0 + math.sqrt(1.0 + 100.0**2 * 25.0))
    assert float(sliced_mmd2(origin, point, kernel, [0.6, 0.8])) == pytest.approx(want, rel=1e-13)
    # A direction orthogonal to the shift sees identical projections: exactly zero.
    rng = np.random.default_rng(11)
    x = rng.normal(size=(7, 2))
    shifted = x + np.array([2.5, 0.0])
    assert float(sliced_mmd2(x, shifted, kernel, [0.0, 1.0])) == 0.0
    # In one dimension slicing is the identity (theta = ±1).
    u, v = rng.normal(size=5), rng.normal(size=6)
    assert float(sliced_mmd2(u, v, kernel, [-2.0])) == pytest.approx(
        float(mmd2(u, v, kernel)), rel=1e-13
    )


def test_sliced_mmd2_on_jax_matches_numpy():
    rng = np.random.default_rng(12)
    x, y = _pair(rng, 8, 6, 3)
    x, y = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    theta = np.array([0.5, -0.25, 1.0])
    kernel = energy(1.0)
    sliced = jax.jit(lambda u, v, t: sliced_mmd2(u, v, kernel, t))
    got = sliced(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.asarray(theta))
    want = float(sliced_mmd2(x, y, kernel, theta))
    scale = kernel_scale(x, y, _phi(kernel))
    # Projection adds ~3 eps32 per coordinate to the float32 budget of the mmd2 test.
    assert abs(float(got) - want) <= 4.0 * scale * EPS32 * (2 * 8 + 32)


# ---------------------------------------------------------------------------------------
# max_sliced_mmd
#
# Every call below uses n, m in 9..16 (one padding bucket) and the default budget, so the
# jitted search compiles once per (kernel, dimension): keeps the file fast.


def _unit_circle(count):
    angles = np.linspace(0.0, np.pi, count, endpoint=False)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _random_pair(seed, dim):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rng.integers(9, 17), dim))
    mixing = rng.normal(size=(dim, dim)) * 0.6
    y = rng.normal(size=(rng.integers(9, 17), dim)) @ mixing + rng.normal(size=dim) * 0.3
    return x, y


@pytest.mark.parametrize("kernel", [multiquadric(100.0), energy(1.0)], ids=repr)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_sliced_mmd_2d_matches_dense_angle_grid(kernel, seed):
    x, y = _random_pair(100 + seed, 2)
    result = max_sliced_mmd(x, y, kernel, seed=seed)
    grid = float(np.max(sliced_mmd2_many(x, y, _unit_circle(20000), _phi(kernel))))
    # The grid (spacing Δ = π/20000 ~ 1.6e-4 rad) misses the sup by ½·|f''|·(Δ/2)² at a smooth
    # maximum and by |f'|·Δ/2 at a kink (energy beta = 1); observed gaps are <= 2e-6
    # relative. 1e-3 is the target for a converged search: it flags a search stuck at a
    # worse local maximum (gaps of 5-30% seen with random directions) without flaking.
    assert abs(result.squared - grid) <= 1e-3 * grid, (result.squared, grid)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_max_sliced_mmd_7d_never_below_random_directions(seed):
    kernel = multiquadric(100.0)
    x, y = _random_pair(200 + seed, 7)
    result = max_sliced_mmd(x, y, kernel, seed=seed)
    rng = np.random.default_rng(300 + seed)
    thetas = rng.normal(size=(4000, 7))
    thetas /= np.linalg.norm(thetas, axis=1, keepdims=True)
    best_random = float(np.max(sliced_mmd2_many(x, y, thetas, _phi(kernel))))
    scale = kernel_scale(x, y, _phi(kernel))
    # Both are float64 evaluations of the same function; allow only rounding.
    assert result.squared >= best_random - F64_RTOL_OF_SCALE * scale, (result.squared, best_random)


def test_max_sliced_mmd_result_fields():
    kernel = multiquadric(100.0)
    x, y = _random_pair(400, 7)
    result = max_sliced_mmd(x, y, kernel, seed=5)
    assert isinstance(result, MaxSlicedMMD)
    assert result.direction.shape == (7,)
    assert np.linalg.norm(result.direction) == pytest.approx(1.0, abs=1e-12)  # a few ulp
    assert result.is_lower_bound is True
    assert "lower bound" in result.method
    assert result.value == math.sqrt(result.squared)
    # The reported value is the float64 sliced MMD² at the reported direction.
    assert result.squared == pytest.approx(
        float(sliced_mmd2(x, y, kernel, result.direction)), rel=1e-12
    )
    # The float32 search saw (nearly) the same value at its best restart: float32 error
    # budget as in the jax mmd2 test, 4·max|k|·eps32·(2·16 + 32).
    scale = kernel_scale(x, y, _phi(kernel))
    assert len(result.restart_values) == 8
    assert abs(max(result.restart_values) - result.squared) <= 4.0 * scale * EPS32 * 64
    # Same seed, same answer, bit for bit.
    again = max_sliced_mmd(x, y, kernel, seed=5)
    assert again.squared == result.squared
    np.testing.assert_array_equal(again.direction, result.direction)


def test_max_sliced_mmd_of_equal_laws_is_zero():
    x, _ = _random_pair(500, 2)
    result = max_sliced_mmd(x, x.copy(), multiquadric(100.0))
    assert result.squared == 0.0 and result.value == 0.0
    assert np.linalg.norm(result.direction) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kernel", [multiquadric(100.0), energy(1.0), gaussian(0.5)], ids=repr)
def test_max_sliced_mmd_exact_in_one_dimension(kernel):
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=11), rng.normal(size=7) + 0.5
    weights = rng.uniform(0.1, 1.0, size=11)
    result = max_sliced_mmd(x, y, kernel, x_weights=weights)
    assert result.is_lower_bound is False
    assert "exact" in result.method
    np.testing.assert_array_equal(result.direction, [1.0])
    # Same float64 computation as mmd2 in one dimension.
    assert result.squared == float(mmd2(x, y, kernel, weights))
    assert result.value == mmd(x, y, kernel, weights)
    assert result.value == math.sqrt(result.squared)


@pytest.mark.filterwarnings("ignore:Explicitly requested dtype:UserWarning")  # jax astype
def test_max_sliced_mmd_value_is_float64_for_jax_weights():
    x, y = _random_pair(100, 2)
    weights = np.random.default_rng(23).uniform(0.1, 1.0, size=len(x))
    jax_weights = jnp.asarray(weights)  # float32 unless x64 is enabled
    with_numpy = max_sliced_mmd(x, y, energy(1.0), x_weights=np.asarray(jax_weights, dtype=float))
    with_jax = max_sliced_mmd(x, y, energy(1.0), x_weights=jax_weights)
    # Same weights and the same float32 search either way, then a float64 evaluation:
    # equal to float64 rounding (a float32 evaluation would differ by ~1e-7).
    assert with_jax.squared == pytest.approx(with_numpy.squared, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_candidates", 0),
        ("n_candidates", -3),
        ("n_candidates", 2.5),
        ("n_restarts", 0),
        ("n_steps", 0),
        ("n_steps", "100"),
    ],
)
def test_max_sliced_mmd_bad_budget(name, value):
    x, y = _random_pair(600, 2)
    with pytest.raises(ValueError) as info:
        max_sliced_mmd(x, y, multiquadric(100.0), **{name: value})
    assert name in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"), [("step_size", 0.0), ("step_size", -0.5), ("final_step", -1e-3)]
)
def test_max_sliced_mmd_bad_step_sizes(name, value):
    x, y = _random_pair(600, 2)
    with pytest.raises(ValueError, match=name):
        max_sliced_mmd(x, y, multiquadric(100.0), **{name: value})


def test_max_sliced_mmd_accepts_numpy_integer_budget():
    x, y = _random_pair(600, 2)
    max_sliced_mmd(x, y, multiquadric(100.0), n_candidates=np.int64(256))


# ---------------------------------------------------------------------------------------
# wasserstein


def _emd_oracle(x, y, p, x_weights=None, y_weights=None):
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    a = np.full(len(x), 1.0 / len(x)) if x_weights is None else x_weights / x_weights.sum()
    b = np.full(len(y), 1.0 / len(y)) if y_weights is None else y_weights / y_weights.sum()
    # cdist takes the differences directly (no |x|² + |y|² - 2<x, y> cancellation).
    return float(ot.emd2(a, b, cdist(x, y) ** p)) ** (1.0 / p)


@pytest.mark.parametrize("p", [1, 2, 3.5])
@pytest.mark.parametrize("weighted", [False, True], ids=["uniform", "weighted"])
def test_wasserstein_matches_pot_emd_in_3d(p, weighted):
    rng = np.random.default_rng(14)
    x, y = _pair(rng, 9, 7, 3)
    x_weights = rng.uniform(0.1, 1.0, size=9) if weighted else None
    y_weights = rng.uniform(0.1, 1.0, size=7) if weighted else None
    got = wasserstein(x, y, p, x_weights, y_weights)
    assert isinstance(got, float)
    # Same LP solved exactly; the costs differ only by rounding of |x - y| at unit scale.
    assert got == pytest.approx(_emd_oracle(x, y, p, x_weights, y_weights), rel=1e-9)


@pytest.mark.parametrize("weighted", [False, True], ids=["uniform", "weighted"])
def test_wasserstein_1d_matches_scipy_and_quantiles(weighted):
    rng = np.random.default_rng(15)
    x, y = _pair(rng, 11, 8, 1)
    x_weights = rng.uniform(0.1, 1.0, size=11) if weighted else None
    y_weights = rng.uniform(0.1, 1.0, size=8) if weighted else None
    # Exact piecewise-constant CDF integrals on both sides: agreement to rounding.
    scipy_w1 = scipy.stats.wasserstein_distance(x, y, x_weights, y_weights)
    assert wasserstein(x, y, 1, x_weights, y_weights) == pytest.approx(scipy_w1, rel=1e-12)
    for p in (1, 2, 3):
        want = wasserstein_1d_quantiles(x, y, p, x_weights, y_weights)
        assert wasserstein(x, y, p, x_weights, y_weights) == pytest.approx(want, rel=1e-12)
        assert want == pytest.approx(_emd_oracle(x, y, p, x_weights, y_weights), rel=1e-9)


def test_wasserstein_identity_symmetry_and_jax_inputs():
    rng = np.random.default_rng(16)
    for dim in (1, 3):
        x, y = _pair(rng, 10, 8, dim)
        for p in (1, 2):
            assert wasserstein(x, x, p) == 0.0
            # Symmetric: the same LP transposed; the cost matrix is built in another order.
            assert wasserstein(x, y, p) == pytest.approx(wasserstein(y, x, p), rel=1e-12)
            assert wasserstein(x, y, p) > 0.1
    x = rng.normal(size=12)
    assert wasserstein(x, x.copy()) == 0.0
    assert wasserstein(x, x[rng.permutation(12)], 2) == 0.0
    # JAX inputs are computed in float64 NumPy (float32 values are exact in float64).
    x32 = rng.normal(size=(6, 2)).astype(np.float32)
    y32 = rng.normal(size=(5, 2)).astype(np.float32)
    got = wasserstein(jnp.asarray(x32), jnp.asarray(y32), 2)
    assert isinstance(got, float)
    assert got == wasserstein(x32.astype(np.float64), y32.astype(np.float64), 2)


def test_wasserstein_precise_for_equal_copies_and_far_from_origin():
    # Guards against building the cost with ot.dist(metric="euclidean"), which expands
    # |x|² + |y|² - 2<x, y> and leaves ~1e-8 between coinciding points after the sqrt.
    rng = np.random.default_rng(17)
    x = rng.normal(size=(30, 3))
    # Identity of indiscernibles for a copy / a permutation of the same particles.
    assert wasserstein(x, x.copy(), 1) <= 1e-12
    assert wasserstein(x, x[rng.permutation(30)], 2) <= 1e-12
    # Translation invariance: W is a function of differences only; with direct differences
    # (cdist) the relative error is ~eps·|x|/|x - y| ~ 1e-9 at offset 1e4 and spread 1e-3.
    far = 1e4 + rng.normal(size=(20, 3)) * 1e-3
    near = far + rng.normal(size=(20, 3)) * 1e-3
    assert wasserstein(far, near, 1) == pytest.approx(_emd_oracle(far, near, 1), rel=1e-6)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("dim", [1, 3])
def test_wasserstein_closed_form_diracs_and_translations(p, dim):
    rng = np.random.default_rng(18 + dim)
    a, b = rng.normal(size=(1, dim)), rng.normal(size=(1, dim))
    # W_p(δa, δb) = |a - b| for every p.
    assert wasserstein(a, b, p) == pytest.approx(float(np.linalg.norm(a - b)), rel=1e-12)
    # W_p(μ, μ + v) = |v|: >= |E X - E Y| = |v| by Jensen, attained by the translation.
    x = rng.normal(size=(12, dim))
    shift = rng.normal(size=dim)
    weights = rng.uniform(0.1, 1.0, size=12)
    got = wasserstein(x, x + shift, p, weights, weights)
    assert got == pytest.approx(float(np.linalg.norm(shift)), rel=1e-9)


def test_wasserstein_2_between_gaussians_closed_form():
    # W2(N(m1, s1²), N(m2, s2²)) = sqrt((m1 - m2)² + (s1 - s2)²). Discretise by the midpoint
    # quantiles z_i = Φ⁻¹((i + 1/2)/n): the monotone coupling gives exactly
    # (m1 - m2)² + (s1 - s2)²·mean(z²), and 1 - mean(z²) ~ 1.3/n = 3.3e-4 for n = 4000
    # (tail truncation), so the relative error is <= 2e-4; 1e-3 allowed. Cross-checked
    # against POT's Bures-Wasserstein closed form.
    n = 4000
    z = scipy.stats.norm.ppf((np.arange(n) + 0.5) / n)
    m1, s1, m2, s2 = 0.3, 1.0, -1.2, 2.5
    closed = math.sqrt((m1 - m2) ** 2 + (s1 - s2) ** 2)
    bures = float(
        ot.gaussian.bures_wasserstein_distance(
            np.array([m1]), np.array([m2]), np.array([[s1**2]]), np.array([[s2**2]])
        )
    )
    assert bures == pytest.approx(closed, rel=1e-10)
    # Reversed order: the solver must sort.
    assert wasserstein(m1 + s1 * z, m2 + s2 * z[::-1], 2) == pytest.approx(closed, rel=1e-3)


# ---------------------------------------------------------------------------------------
# Bad input at the public boundary


def _theta_for(x):
    shape = np.shape(x)
    return np.ones(shape[1] if len(shape) == 2 else 1)


METRICS = {
    "mmd2": lambda x, y, **kw: mmd2(x, y, multiquadric(100.0), **kw),
    "mmd": lambda x, y, **kw: mmd(x, y, energy(1.0), **kw),
    "sliced_mmd2": lambda x, y, **kw: sliced_mmd2(x, y, energy(1.0), _theta_for(x), **kw),
    "max_sliced_mmd": lambda x, y, **kw: max_sliced_mmd(x, y, multiquadric(100.0), **kw),
    "wasserstein": lambda x, y, **kw: wasserstein(x, y, 2, **kw),
}


@pytest.fixture(params=sorted(METRICS))
def metric(request):
    return METRICS[request.param]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_name_the_argument(metric, bad):
    rng = np.random.default_rng(19)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    x[2, 1] = bad
    with pytest.raises(ValueError, match=r"^x must be finite.*\(5, 2\)"):
        metric(x, y)
    with pytest.raises(ValueError, match=r"^y must be finite"):
        metric(y, x)


def test_non_finite_jax_samples_rejected():
    x = jnp.asarray([[0.0, 1.0], [jnp.nan, 0.0]])
    with pytest.raises(ValueError, match=r"^x must be finite"):
        mmd2(x, jnp.zeros((3, 2)), energy(1.0))


def test_dimension_mismatch_shows_both_shapes(metric):
    rng = np.random.default_rng(20)
    with pytest.raises(ValueError) as info:
        metric(rng.normal(size=(5, 2)), rng.normal(size=(4, 3)))
    assert "(5, 2)" in str(info.value) and "(4, 3)" in str(info.value)


@pytest.mark.parametrize(
    ("x_weights", "pattern"),
    [
        (np.array([0.5, -0.1, 0.3, 0.2, 0.1]), r"x_weights must be non-negative.*-0\.1"),
        (np.array([0.5, 0.5, 0.5, 0.5]), r"x_weights must have shape \(5,\).*\(4,\)"),
        (np.ones((5, 1)), r"x_weights must have shape \(5,\).*\(5, 1\)"),
        (np.zeros(5), r"x_weights must have a positive sum"),
        (np.array([1.0, np.nan, 1.0, 1.0, 1.0]), r"x_weights must be finite"),
    ],
    ids=["negative", "short", "column", "zero-sum", "nan"],
)
def test_bad_weights_name_the_argument(metric, x_weights, pattern):
    rng = np.random.default_rng(21)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    with pytest.raises(ValueError, match=pattern):
        metric(x, y, x_weights=x_weights)
    with pytest.raises(ValueError, match=pattern.replace("x_weights", "y_weights")):
        metric(y[:4], x, y_weights=x_weights)


@pytest.mark.parametrize(
    "samples", [np.zeros((2, 3, 1)), np.zeros((0, 2))], ids=["three-axes", "empty"]
)
def test_bad_sample_shapes(metric, samples):
    with pytest.raises(ValueError, match=r"^x must"):
        metric(samples, np.zeros((3, samples.shape[-1])))


@pytest.mark.parametrize("p", [0.5, 0, -1, float("nan"), "two"])
def test_wasserstein_bad_p(p):
    with pytest.raises(ValueError, match=r"p must be a (finite )?number >= 1.*" + repr(p)[:3]):
        wasserstein(np.zeros(3), np.ones(3), p)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # POT, p = inf
def test_wasserstein_rejects_infinite_p():
    with pytest.raises(ValueError, match="p must"):
        wasserstein(np.zeros(3), np.full(3, 5.0), float("inf"))


@pytest.mark.parametrize(
    ("theta", "pattern"),
    [
        (np.zeros(3), r"theta must be a finite non-zero direction"),
        (np.array([1.0, np.nan, 0.0]), r"theta must be a finite non-zero direction"),
        (np.ones(2), r"theta must have shape \(3,\).*\(2,\)"),
        (np.ones((3, 1)), r"theta must have shape \(3,\).*\(3, 1\)"),
    ],
    ids=["zero", "nan", "short", "column"],
)
def test_sliced_mmd2_bad_theta(theta, pattern):
    rng = np.random.default_rng(22)
    with pytest.raises(ValueError, match=pattern):
        sliced_mmd2(rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), energy(1.0), theta)
