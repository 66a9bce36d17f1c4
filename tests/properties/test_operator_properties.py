"""Chain rule, fixed points (C5) and the policy-gradient bound (C3), with negative controls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, given, settings, target
from hypothesis import strategies as st

import properties.predicates as P
import properties.strategies as S
import sobolev_core as sc
from properties.mutants import MUTANTS


@given(S.chain_rule_cases())
def test_operator_chain_rule_equals_finite_differences(case):
    system, state, action, noises, dones, gamma = case
    P.check_chain_rule(system, state, action, noises, dones, gamma)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_c4d_each_broken_operator_is_caught_by_the_chain_rule(name):
    """Negative control: Hypothesis finds a case where the mutant's Sobolev return differs
    from finite differences of the pathwise return; the predicate reports it."""

    def caught(case):
        system, state, action, noises, dones, gamma = case
        try:
            P.check_chain_rule(system, state, action, noises, dones, gamma, MUTANTS[name](gamma))
        except AssertionError:
            return True
        return False

    search = settings(max_examples=200, database=None, derandomize=True, deadline=None)
    case = find(S.chain_rule_cases(), caught, settings=search)
    system, state, action, noises, dones, gamma = case
    with pytest.raises(AssertionError, match=r"chain rule fails|value block"):
        P.check_chain_rule(system, state, action, noises, dones, gamma, MUTANTS[name](gamma))
    if name == "done_mask_dropped":
        assert any(dones[:-1])  # only a terminal step before the end can reveal it


@given(
    case=S.tabular_cases(modulus="below", n_state_actions=(1, 3), n_branches=(1, 2)), data=st.data()
)
def test_c5_iterates_from_two_starts_merge(case, data):
    mdp = case.mdp
    start_a, start_b = data.draw(
        S.law_pairs(size=mdp.n_state_actions, dimension=mdp.dimension, n_particles=(1, 3))
    )
    result = P.check_fixed_point(mdp, start_a, start_b, 6, max_particles=32)
    assert result["final"] <= result["bound"] * (1 + 1e-8) + 1e-12


def test_c5_fixed_point_check_fails_for_a_non_contracting_mdp():
    """Negative control: with γκ > 1 the iterates need not merge; a search finds a start
    pair whose distance after 6 steps exceeds what a modulus of 1 would allow."""

    @st.composite
    def problems(draw):
        case = draw(
            S.tabular_cases(modulus="above", n_state_actions=1, n_branches=1, terminal=False)
        )
        starts = draw(S.law_pairs(size=1, dimension=case.mdp.dimension, n_particles=(1, 2)))
        return case, starts

    def diverges(problem):
        case, (start_a, start_b) = problem
        result = P.check_fixed_point(case.mdp, start_a, start_b, 6, max_particles=32)
        growth = result["final"] / result["initial"] if result["initial"] > 0 else 0.0
        target(growth)  # steer the search towards pairs that separate
        return growth > 1.01

    search = settings(max_examples=200, database=None, derandomize=True, deadline=None)
    find(problems(), diverges, settings=search)


@st.composite
def policy_gradient_problems(draw, *, tight: bool = False):
    n_states = draw(st.integers(1, 4))
    m = draw(st.integers(1, 3))
    n_params = draw(st.integers(1, 4))
    jacs = np.asarray(
        draw(
            st.lists(
                st.lists(
                    st.lists(st.floats(-2, 2), min_size=n_params, max_size=n_params),
                    min_size=m,
                    max_size=m,
                ),
                min_size=n_states,
                max_size=n_states,
            )
        )
    )
    true = [draw(S.particle_laws(dimension=m)) for _ in range(n_states)]
    model = [draw(S.particle_laws(dimension=m)) for _ in range(n_states)]
    gamma = draw(st.floats(0.0, 0.99))
    if (
        tight
    ):  # same Jacobian everywhere, Dirac laws shifted along its top right-singular... direction
        jac = jacs[0]
        u, _, _ = np.linalg.svd(jac)
        shift = u[:, 0] * draw(st.floats(0.1, 3))
        jacs = np.repeat(jac[None], n_states, axis=0)
        true = [sc.ParticleLaw(np.zeros((1, m))) for _ in range(n_states)]
        model = [sc.ParticleLaw(shift[None]) for _ in range(n_states)]
    return jacs, true, model, gamma


@given(policy_gradient_problems())
def test_c3_policy_gradient_error_bound(problem):
    jacs, true, model, gamma = problem
    P.check_policy_gradient_bound(jacs, true, model, gamma)


def test_c3_bound_is_tight_so_a_one_percent_smaller_bound_fails():
    """Negative control: the bound is attained (equal Jacobians, Dirac laws shifted along
    the top singular direction), so shrinking it by 1% must be caught."""

    def caught(problem):
        jacs, true, model, gamma = problem
        try:
            P.check_policy_gradient_bound(jacs, true, model, gamma, slack=0.99)
        except AssertionError:
            return True
        return False

    search = settings(max_examples=100, database=None, derandomize=True, deadline=None)
    jacs, true, model, gamma = find(policy_gradient_problems(tight=True), caught, settings=search)
    measured = P.check_policy_gradient_bound(jacs, true, model, gamma)
    assert measured["tightness"] == pytest.approx(1.0, rel=1e-9)


@given(system=S.linear_gaussian_systems(stable=True), seed=st.integers(0, 2**16))
def test_c5_linear_iteration_reaches_the_closed_form(system, seed):
    P.check_linear_fixed_point(system, np.random.default_rng(seed), n_particles=5000)


@given(system=S.linear_gaussian_systems(stable=False), seed=st.integers(0, 2**16))
def test_c5_negative_control_unstable_closed_loop_has_no_fixed_point(system, seed):
    """γρ(A+BK)² > 1: no gradient law exists (ValueError) and the gain iteration diverges.

    The gain's increments obey ``Jᵀ ΔG_{k+1} J = γ A_cᵀ (Jᵀ ΔG_k J) A_c`` (J = [I; K]), a map of
    spectral radius ``γρ(A_c)² >= 1.1`` acting on a positive definite start, so the increments
    do not shrink: ``‖ΔG_40‖ > ‖ΔG_20‖`` (they grow by about 1.1^20 ≈ 6.7 or more).
    """
    with pytest.raises(ValueError, match="gamma"):
        system.gradient_law(np.zeros(system.state_dim), np.zeros(system.action_dim))
    with pytest.raises(ValueError, match="no fixed point"):
        P.check_linear_fixed_point(system, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    gains = {k: system.iterate_operator(k, 2, rng).gain for k in (19, 20, 39, 40)}
    assert np.linalg.norm(gains[40] - gains[39]) > np.linalg.norm(gains[20] - gains[19])
