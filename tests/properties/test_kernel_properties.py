"""Kernel properties (CPD, shift invariance, scale order, MMD metric axioms) and the
kernel negative controls C4b (Gaussian) and C4c (full-vector MMD expands)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings, target
from hypothesis import strategies as st

import properties.predicates as P
import properties.strategies as S
import sobolev_core as sc

SEARCH = settings(max_examples=300, database=None, derandomize=True, deadline=None)
ALL_KERNELS = S.kernels(families=sc.KERNEL_NAMES)


def _samples(size=(1, 8), scale=3.0):
    return st.lists(st.floats(-scale, scale), min_size=size[0], max_size=size[1]).map(np.asarray)


@given(kernel=ALL_KERNELS, points=_samples((2, 10)))
def test_builtin_kernels_are_conditionally_positive_definite(kernel, points):
    P.check_conditionally_positive_definite(kernel, points)


@given(kernel=ALL_KERNELS, x=_samples((4, 4)), y=_samples((4, 4)), shift=st.floats(-10, 10))
def test_builtin_kernels_are_shift_invariant(kernel, x, y, shift):
    P.check_shift_invariance(kernel, x, y, shift)


@given(kernel=ALL_KERNELS, x=_samples(), y=_samples(), z=_samples())
def test_mmd_metric_axioms(kernel, x, y, z):
    P.check_mmd_metric_axioms(kernel, x, y, z)


@given(kernel=S.kernels(), x=_samples(), y=_samples(), shrink=st.floats(0.01, 1.0))
def test_scale_sensitive_kernels_meet_their_order(kernel, x, y, shrink):
    P.check_scale_sensitivity(kernel, x, y, shrink, kernel.scale_order)


def test_scale_order_estimates():
    rng = np.random.default_rng(0)
    energy = P.estimate_scale_order(sc.energy(1.5), rng)
    # Equality MMD²(cU, cV) = c^β MMD²(U, V): every exponent is β up to float64 round-off.
    assert energy["alpha_min"] == pytest.approx(1.5, abs=1e-6)
    assert energy["quantiles"][0.99] == pytest.approx(1.5, abs=1e-6)
    multiquadric = P.estimate_scale_order(sc.multiquadric(100.0), rng)
    # Order 1 is the worst case (large h|x - y|, where it behaves like energy β = 1);
    # it is reached from above, and small-scale pairs sit near 2 (quadratic regime).
    assert 1.0 - 1e-9 <= multiquadric["alpha_min"] < 1.05
    assert multiquadric["quantiles"][0.99] > 1.5
    gaussian = P.estimate_scale_order(sc.gaussian(1.0), rng)
    assert gaussian["alpha_min"] < 0  # shrinking can raise MMD: not scale sensitive


def test_c4b_gaussian_kernel_is_not_scale_sensitive():
    """Negative control: shrinking two wide laws raises the Gaussian-kernel MMD."""
    kernel = sc.gaussian(1.0)

    def caught(problem):
        x, y, shrink = problem
        try:
            P.check_scale_sensitivity(kernel, x, y, shrink, alpha=0.0)
        except AssertionError:
            return True
        return False

    problem = find(
        st.tuples(_samples(scale=20.0), _samples(scale=20.0), st.floats(0.01, 1.0)),
        caught,
        settings=SEARCH,
    )
    with pytest.raises(AssertionError, match="not scale sensitive"):
        P.check_scale_sensitivity(kernel, *problem, alpha=0.0)


def test_negative_controls_for_cpd_and_shift_invariance():
    """A non-CPD kernel (-|x-y|³, outside the energy range) and a non-shift-invariant one
    are both caught."""

    def cubic(x, y):
        d = x - y
        return -(d * d * abs(d))

    def product(x, y):
        return x * y + 0.0 * (x - y)

    def not_cpd(points):
        try:
            P.check_conditionally_positive_definite(cubic, points)
        except AssertionError:
            return True
        return False

    points = find(_samples((2, 10)), not_cpd, settings=SEARCH)
    assert (
        len(points) >= 3
    )  # two points can never break CPD for a symmetric kernel with k(x,x)=k(0)

    def not_shift(problem):
        try:
            P.check_shift_invariance(product, *problem)
        except AssertionError:
            return True
        return False

    find(
        st.tuples(_samples((1, 1)), _samples((1, 1)), st.floats(-10, 10)),
        not_shift,
        settings=SEARCH,
    )


def test_c4c_full_vector_mmd_expands_under_a_map_of_norm_below_one():
    """Negative control (docs/claims.md#c2): the multivariate MMD has no scaling reduction; a search
    finds laws and a linear map of norm 0.95 that increase it."""
    kernel = sc.multiquadric(1.0)

    @st.composite
    def problems(draw):
        scale = draw(st.sampled_from([0.1, 1.0, 3.0]))
        x = scale * np.asarray(
            draw(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=4))
        )
        y = scale * np.asarray(
            draw(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=4))
        )
        u = np.asarray(draw(st.tuples(st.floats(-1, 1), st.floats(-1, 1))))
        v = np.asarray(draw(st.tuples(st.floats(-1, 1), st.floats(-1, 1))))
        if np.linalg.norm(u) < 1e-3 or np.linalg.norm(v) < 1e-3:
            u, v = np.array([1.0, 0.0]), np.array([0.0, 1.0])
        linear = 0.95 * np.outer(
            u / np.linalg.norm(u), v / np.linalg.norm(v)
        )  # rank one, norm 0.95
        return x, y, linear

    def caught(problem):
        try:
            target(P.check_mmd_nonexpansion(kernel, *problem))  # steer towards larger ratios
        except AssertionError:
            return True
        return False

    x, y, linear = find(problems(), caught, settings=settings(SEARCH, max_examples=1000))
    with pytest.raises(AssertionError, match="expands"):
        P.check_mmd_nonexpansion(kernel, x, y, linear)
