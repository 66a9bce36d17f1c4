"""Kernels (docs/math.md#metrics): formulas, array modules, spec strings, derivatives.

Oracles: hand-written float64 NumPy formulas (``reference.py``), closed-form values and
derivatives, and central finite differences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sobolev_core import (
    KERNEL_NAMES,
    Kernel,
    as_kernel,
    energy,
    gaussian,
    inverse_multiquadric,
    kernel_from_spec,
    laplacian,
    multiquadric,
)
from tests.sobolev_core.reference import KERNEL_DERIVATIVES, formula
from tests.sobolev_core.user_kernels import my_kernel

USER_SPEC = "tests.sobolev_core.user_kernels:my_kernel"
EPS32 = float(np.finfo(np.float32).eps)

# (factory, parameter): every built-in family, including [DS]'s h = 100 and beta on both
# sides of 1 (the energy kernel is non-smooth at 0 for beta <= 1).
CASES = [
    (multiquadric, 100.0),
    (multiquadric, 0.5),
    (inverse_multiquadric, 2.0),
    (gaussian, 0.5),
    (gaussian, 2.0),
    (laplacian, 0.7),
    (energy, 0.5),
    (energy, 1.0),
    (energy, 1.5),
]
PARAMETER_NAMES = {
    "multiquadric": "h",
    "inverse_multiquadric": "h",
    "gaussian": "bandwidth",
    "laplacian": "bandwidth",
    "energy": "beta",
}
CASE_IDS = [f"{factory.__name__}-{param}" for factory, param in CASES]


def _family(factory) -> str:
    return factory(1.0).name


@pytest.mark.parametrize(("factory", "param"), CASES, ids=CASE_IDS)
def test_kernel_matches_hand_written_formula(factory, param):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 1)) * 2.0, rng.normal(size=(1, 9)) * 2.0
    x[0, 0] = y[0, 0]  # include a zero distance
    got = factory(param)(x, y)
    want = formula(_family(factory), param)(x - y)
    assert got.shape == (6, 9)
    # The library evaluates |d|^beta as (d²)^(beta/2) and |d| as sqrt(d²): a few ulp apart.
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0.0)


@pytest.mark.parametrize(
    ("kernel", "at_zero", "at_one"),
    [
        (multiquadric(2.0), -1.0, -np.sqrt(5.0)),
        (multiquadric(100.0), -1.0, -np.sqrt(10001.0)),
        (inverse_multiquadric(2.0), 1.0, 1.0 / np.sqrt(5.0)),
        (gaussian(0.5), 1.0, np.exp(-2.0)),
        (laplacian(0.5), 1.0, np.exp(-2.0)),
        (energy(1.0), 0.0, -1.0),
        (energy(0.5), 0.0, -1.0),
    ],
    ids=lambda v: v.spec if isinstance(v, Kernel) else "",
)
def test_kernel_closed_form_values(kernel, at_zero, at_one):
    # Closed forms at d = 0 and d = ±1; one rounding per elementary operation.
    assert float(kernel(0.0, 0.0)) == at_zero
    assert float(kernel(3.0, 2.0)) == pytest.approx(at_one, rel=1e-15)
    assert float(kernel(2.0, 3.0)) == pytest.approx(at_one, rel=1e-15)


@pytest.mark.parametrize(("factory", "param"), CASES, ids=CASE_IDS)
def test_kernel_is_symmetric(factory, param):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=20), rng.normal(size=20)
    kernel = factory(param)
    # (x - y)² and (y - x)² are the same float, so symmetry is exact.
    np.testing.assert_array_equal(kernel(x, y), kernel(y, x))


@pytest.mark.parametrize(("factory", "param"), CASES, ids=CASE_IDS)
def test_kernel_same_numbers_on_numpy_and_jax(factory, param):
    kernel = factory(param)
    # A dyadic grid: x and d = x - 0 are exact in float32, so any difference comes from
    # the profile alone.
    x = np.arange(-128, 129, dtype=np.float64) / 64.0
    want = kernel(x, 0.0)
    got32 = kernel(jnp.asarray(x, dtype=jnp.float32), 0.0)
    assert isinstance(got32, jax.Array) and got32.dtype == jnp.float32
    # float32: <= 4 roundings inside the profile, amplified by at most the exp argument
    # (|d|²/(2 bw²) <= 8 for bw = 0.5 on |d| <= 2) -> < 40 eps32 relative; 64 eps32 allowed.
    np.testing.assert_allclose(np.asarray(got32), want, rtol=64 * EPS32, atol=0.0)
    with jax.enable_x64(True):
        got64 = kernel(jnp.asarray(x, dtype=jnp.float64), 0.0)
        assert got64.dtype == jnp.float64
        # Same float64 operations; XLA's exp/sqrt/pow may differ from libm by a few ulp.
        np.testing.assert_allclose(np.asarray(got64), want, rtol=1e-13, atol=0.0)


def test_kernel_scale_orders():
    # docs/claims.md#c2: the multiquadric is scale sensitive of order 1, the energy kernel of order
    # beta; the bounded kernels carry no theorem.
    assert multiquadric(100.0).scale_order == 1.0
    assert energy(1.5).scale_order == 1.5
    assert gaussian(1.0).scale_order is None
    assert laplacian(1.0).scale_order is None
    assert inverse_multiquadric(1.0).scale_order is None


# ---------------------------------------------------------------------------------------
# kernel_from_spec


@pytest.mark.parametrize(
    ("spec", "family", "param"),
    [
        ("multiquadric:h=100", "multiquadric", 100.0),
        ("energy:beta=1", "energy", 1.0),
        ("energy:beta=1.5", "energy", 1.5),
        ("gaussian:bandwidth=0.5", "gaussian", 0.5),
        ("laplacian:bandwidth=2", "laplacian", 2.0),
        ("inverse_multiquadric:h=3", "inverse_multiquadric", 3.0),
        ("laplacian", "laplacian", 1.0),  # documented default
        ("multiquadric", "multiquadric", 1.0),
        ("energy", "energy", 1.0),
    ],
)
def test_kernel_from_spec_parses_built_ins(spec, family, param):
    kernel = kernel_from_spec(spec)
    assert kernel.name == family
    assert dict(kernel.params) == {PARAMETER_NAMES[family]: param}
    d = np.linspace(-3.0, 3.0, 25)
    np.testing.assert_allclose(kernel(d, 0.0), formula(family, param)(d), rtol=1e-13, atol=0.0)


def test_kernel_from_spec_user_kernel_numpy_and_jax():
    kernel = kernel_from_spec(USER_SPEC)
    d = np.linspace(-3.0, 3.0, 25)
    want = 1.0 / (1.0 + d**2)
    # The user function is applied as k(|d|, 0): exact same operations up to sqrt(d²).
    np.testing.assert_allclose(kernel(d, 0.0), want, rtol=1e-15, atol=0.0)
    np.testing.assert_allclose(kernel(0.0, d), want, rtol=1e-15, atol=0.0)
    got32 = kernel(jnp.asarray(d, dtype=jnp.float32), 0.0)
    assert isinstance(got32, jax.Array)
    # d is rounded to float32 (eps32/2 relative), then three roundings in 1/(1 + d²);
    # the relative sensitivity |2d²/(1+d²)| <= 2, so <= ~5 eps32; 16 eps32 allowed.
    np.testing.assert_allclose(np.asarray(got32), want, rtol=16 * EPS32, atol=0.0)


@pytest.mark.parametrize(
    "kernel",
    [
        multiquadric(100.0),
        multiquadric(1.0 / 3.0),
        inverse_multiquadric(0.1),
        gaussian(0.5),
        laplacian(7.25),
        energy(1.0),
        energy(0.3),
        energy(1.999),
    ],
    ids=repr,
)
def test_spec_round_trip_built_in(kernel):
    again = kernel_from_spec(kernel.spec)
    assert again == kernel
    d = np.linspace(-2.0, 2.0, 9)
    np.testing.assert_array_equal(again(d, 0.0), kernel(d, 0.0))


def test_spec_round_trip_user_kernel():
    kernel = kernel_from_spec(USER_SPEC)
    assert kernel.spec == USER_SPEC
    assert kernel_from_spec(kernel.spec) == kernel
    assert kernel_from_spec(kernel) is kernel


def _all_names_listed(message: str) -> bool:
    return all(name in message for name in KERNEL_NAMES)


@pytest.mark.parametrize(
    ("spec", "must_mention"),
    [
        ("nope", ["'nope'", *KERNEL_NAMES]),
        ("multiquadric:q=1", ["q=1", "h="]),
        ("energy:beta=2", ["beta", "2", "(0, 2)"]),
        ("energy:beta=0", ["beta", "0"]),
        ("energy:beta=-0.5", ["beta", "-0.5"]),
        ("multiquadric:h=-1", ["h", "-1"]),
        ("multiquadric:h=0", ["h", "0"]),
        ("gaussian:bandwidth=abc", ["bandwidth", "abc"]),
        ("gaussian:bandwidth=nan", ["bandwidth", "nan"]),
        ("laplacian:bandwidth=inf", ["bandwidth", "inf"]),
        ("gaussian:h=1", ["h=1", "bandwidth="]),
        ("no.such.module:fn", ["no.such.module", *KERNEL_NAMES]),
        ("tests.sobolev_core.user_kernels:missing", ["missing", *KERNEL_NAMES]),
        ("", KERNEL_NAMES),
        ("   ", KERNEL_NAMES),
    ],
)
def test_bad_spec_raises_actionable_value_error(spec, must_mention):
    with pytest.raises(ValueError) as info:
        kernel_from_spec(spec)
    message = str(info.value)
    for fragment in must_mention:
        assert fragment in message, (fragment, message)


def test_bad_spec_non_string():
    with pytest.raises(ValueError, match="non-empty string") as info:
        kernel_from_spec(3.0)
    assert _all_names_listed(str(info.value))


@pytest.mark.parametrize(
    ("factory", "value"),
    [
        (multiquadric, -1.0),
        (multiquadric, 0.0),
        (inverse_multiquadric, float("nan")),
        (gaussian, 0.0),
        (laplacian, float("inf")),
        (energy, 2.0),
        (energy, 2.5),
        (energy, 0.0),
    ],
)
def test_bad_factory_parameter_names_the_value(factory, value):
    with pytest.raises(ValueError) as info:
        factory(value)
    assert factory(1.0).name in str(info.value)
    assert repr(value) in str(info.value)


def test_as_kernel_rejects_non_callable_and_non_broadcasting():
    with pytest.raises(ValueError, match="callable"):
        as_kernel(3.0)
    with pytest.raises(ValueError, match=r"\(5, 5\)"):
        as_kernel(lambda x, y: float(np.sum(x - y)))
    with pytest.raises(ValueError, match="failed"):
        as_kernel(lambda x, y: x.no_such_method())


def test_as_kernel_wraps_plain_function_radially():
    kernel = as_kernel(my_kernel)
    d = np.linspace(-3.0, 3.0, 13)
    # Same operations as the oracle up to sqrt(d²) = |d| (correctly rounded: exact or 1 ulp).
    np.testing.assert_allclose(kernel(d, 0.0), 1.0 / (1.0 + d**2), rtol=1e-15, atol=0.0)
    assert kernel.scale_order is None


def test_distinct_user_functions_give_distinct_kernels():
    first = as_kernel(lambda x, y: -abs(x - y))
    second = as_kernel(lambda x, y: -((x - y) * (x - y)))
    assert float(first(2.0, 0.0)) != float(second(2.0, 0.0))
    assert first != second


# ---------------------------------------------------------------------------------------
# Derivatives


@pytest.mark.parametrize(
    "kernel", [energy(0.5), energy(1.0), energy(1.5), laplacian(0.7)], ids=repr
)
def test_gradient_at_zero_distance_is_finite(kernel):
    grad = jax.jit(jax.grad(lambda x: kernel(x, 0.0)))  # jit: one compilation, same ops
    value = float(grad(jnp.asarray(0.0)))
    assert np.isfinite(value)
    # Must be a valid (sub)gradient of k(·, 0) at 0: within [-1/bw, 1/bw] for the Laplacian
    # and [-1, 1] for energy beta = 1, exactly 0 for beta > 1 (differentiable there). For
    # beta < 1 the subdifferential is unbounded, so finiteness is the whole contract.
    if kernel.name == "laplacian":
        assert abs(value) <= 1.0 / dict(kernel.params)["bandwidth"]
    elif dict(kernel.params)["beta"] >= 1.0:
        assert abs(value) <= 1.0
    if kernel.name == "energy" and dict(kernel.params)["beta"] > 1.0:
        assert value == 0.0
    # Also through both arguments and a vector of coincident points.
    both = jax.jit(jax.grad(lambda xs: kernel(xs, xs).sum()))(jnp.zeros(4))
    assert np.all(np.isfinite(np.asarray(both)))


@pytest.mark.parametrize(("factory", "param"), CASES, ids=CASE_IDS)
def test_derivative_matches_closed_form_and_finite_differences(factory, param):
    kernel = factory(param)
    family = kernel.name
    y = 0.25
    distances = np.array([-1.7, -0.3, -0.05, 0.05, 0.3, 1.7])
    with jax.enable_x64(True):
        dk_dx = jax.jit(jax.vmap(jax.grad(lambda x: kernel(x, y))))(jnp.asarray(y + distances))
        dk_dy = jax.jit(jax.vmap(jax.grad(lambda yy, x: kernel(x, yy))))(
            jnp.full(distances.shape, y), jnp.asarray(y + distances)
        )
    dk_dx, dk_dy = np.asarray(dk_dx), np.asarray(dk_dy)
    assert dk_dx.dtype == np.float64
    exact = KERNEL_DERIVATIVES[family](distances, param)
    # Closed form vs autodiff of the same float64 function: agreement to rounding.
    np.testing.assert_allclose(dk_dx, exact, rtol=1e-11, atol=0.0)
    # Shift invariance: d/dy k(x, y) = -d/dx k(x, y).
    np.testing.assert_allclose(dk_dy, -exact, rtol=1e-11, atol=0.0)
    step = 1e-6
    phi = formula(family, param)
    central = (phi(distances + step) - phi(distances - step)) / (2.0 * step)
    # Central differences: truncation step²/6·|k'''| <= 1e-12/6·4.4e3 (worst: multiquadric
    # h = 100 at |d| = 0.05) ~ 1e-9, rounding eps·|k|/step <= 2.2e-16·6/1e-6 ~ 1e-9, while
    # |k'| >= 2e-2 here (Gaussian bw = 0.5 at 1.7): relative error < 1e-7; 1e-6 allowed.
    np.testing.assert_allclose(dk_dx, central, rtol=1e-6, atol=0.0)
