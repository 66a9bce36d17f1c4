"""Kernel battery for a user's kernel choice (fixture ``sobolev_kernel`` from the plugin).

Checks what the MSMMD contraction theorem (docs/claims.md#c2) needs of a 1-D kernel: conditional
positive definiteness, shift invariance, a metric MMD, scale sensitivity of some order
α > 0, and MSMMD contraction with modulus ``(γκ)^(α/2)`` on random Sobolev MDPs. A kernel
without a known order is tested at its estimated order (the minimum exponent seen, or 0:
then shrinking must at least never raise MMD). Hypothesis shrinks any counterexample.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import properties.predicates as P
import properties.strategies as S


def _samples(size=(1, 8), scale=3.0):
    return st.lists(st.floats(-scale, scale), min_size=size[0], max_size=size[1]).map(np.asarray)


@pytest.fixture(scope="module")
def scale_order(sobolev_kernel):
    """The order α to test: known for built-ins, else the smallest exponent measured by
    ``estimate_scale_order``, floored at 0 (then the properties below test that shrinking
    never raises MMD, which a kernel that is not scale sensitive fails with a counterexample)."""
    if sobolev_kernel.scale_order is not None:
        return sobolev_kernel.scale_order
    estimate = P.estimate_scale_order(sobolev_kernel, np.random.default_rng(0))
    return max(estimate["alpha_min"], 0.0)


@given(points=_samples((2, 10)))
def test_conditionally_positive_definite(sobolev_kernel, points):
    P.check_conditionally_positive_definite(sobolev_kernel, points)


@given(x=_samples((4, 4)), y=_samples((4, 4)), shift=st.floats(-10, 10))
def test_shift_invariant(sobolev_kernel, x, y, shift):
    P.check_shift_invariance(sobolev_kernel, x, y, shift)


@given(x=_samples(), y=_samples(), z=_samples())
def test_mmd_is_a_metric_on_samples(sobolev_kernel, x, y, z):
    P.check_mmd_metric_axioms(sobolev_kernel, x, y, z)


@given(x=_samples(scale=20.0), y=_samples(scale=20.0), shrink=st.floats(0.01, 1.0))
def test_scale_sensitive(sobolev_kernel, scale_order, x, y, shrink):
    P.check_scale_sensitivity(sobolev_kernel, x, y, shrink, scale_order)


@given(case=S.tabular_cases(modulus="below", complete=None, n_state_actions=(1, 2)), data=st.data())
def test_msmmd_contraction(sobolev_kernel, scale_order, case, data):
    if scale_order <= 0:
        pytest.fail(
            f"the MSMMD contraction theorem does not apply to {sobolev_kernel.spec}: it is not "
            "scale sensitive of any order > 0 (see test_scale_sensitive for the counterexample)"
        )
    mdp = case.mdp
    laws_a, laws_b = data.draw(S.law_pairs(size=mdp.n_state_actions, dimension=mdp.dimension))
    P.check_msmmd_contraction(
        mdp.gamma, mdp.transitions, laws_a, laws_b, sobolev_kernel, scale_order
    )
