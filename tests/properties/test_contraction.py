"""C1 and C2 on the tabular, linear and neural cases, and the γκ > 1 negative control."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings, target
from hypothesis import strategies as st

import properties.predicates as P
import properties.strategies as S
import sobolev_core as sc
from properties.generators import linear_backup


@given(
    case=S.tabular_cases(modulus="below", complete=None), data=st.data(), p=st.sampled_from([1, 2])
)
def test_c1_wasserstein_contraction_tabular(case, data, p):
    mdp = case.mdp
    laws_a, laws_b = data.draw(S.law_pairs(size=mdp.n_state_actions, dimension=mdp.dimension))
    P.check_wasserstein_contraction(mdp.gamma, mdp.transitions, laws_a, laws_b, p)


@given(case=S.tabular_cases(modulus="at"), data=st.data())
def test_c1_holds_at_the_boundary_gamma_kappa_one(case, data):
    mdp = case.mdp
    laws_a, laws_b = data.draw(S.law_pairs(size=mdp.n_state_actions, dimension=mdp.dimension))
    measured = P.check_wasserstein_contraction(mdp.gamma, mdp.transitions, laws_a, laws_b, 1)
    assert measured.bound == pytest.approx(1.0, rel=1e-9)


@given(case=S.tabular_cases(modulus="below", terminal=False), data=st.data())
def test_c1_with_the_spec_bound_from_jacobians(case, data):
    """The modulus docs/claims.md#c1 derives from C_f and L_π dominates the operator's own."""
    mdp = case.mdp
    bound = P.spec_modulus(mdp.gamma, case.jacobians)
    assert case.modulus <= bound * (1 + 1e-12)
    laws_a, laws_b = data.draw(S.law_pairs(size=mdp.n_state_actions, dimension=mdp.dimension))
    P.check_wasserstein_contraction(mdp.gamma, mdp.transitions, laws_a, laws_b, 1, modulus=bound)


@given(
    case=S.tabular_cases(modulus="below", complete=None),
    data=st.data(),
    kernel=S.kernels(families=("multiquadric", "energy")),
)
def test_c2_msmmd_contraction_tabular(case, data, kernel):
    mdp = case.mdp
    laws_a, laws_b = data.draw(S.law_pairs(size=mdp.n_state_actions, dimension=mdp.dimension))
    measured = P.check_msmmd_contraction(mdp.gamma, mdp.transitions, laws_a, laws_b, kernel)
    assert measured.bound == pytest.approx(case.modulus ** (kernel.scale_order / 2), rel=1e-12)


@given(
    system=S.linear_gaussian_systems(stable=True),
    seed=st.integers(0, 2**16),
    p=st.sampled_from([1, 2]),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_c1_and_c2_linear_case(system, seed, p):
    """Linear case on an evaluation set: 3 points, 4 noise samples, laws of 6 particles."""
    rng = np.random.default_rng(seed)
    dim = system.state_dim + system.action_dim
    laws = [
        sc.LinearSobolevLaw(
            np.zeros((dim, dim)) + rng.normal(size=(dim, dim)) * 0.1, rng.normal(size=(6, dim))
        )
        for _ in range(2)
    ]
    points = rng.normal(size=(3, dim))
    noises = system.sample_noise(4, rng)
    transitions, next_a = linear_backup(system, laws[0], points, noises)
    _, next_b = linear_backup(system, laws[1], points, noises)
    measured = P.check_wasserstein_contraction(system.gamma, transitions, next_a, next_b, p)
    assert measured.bound == pytest.approx(
        system.gamma * np.linalg.norm(system.gradient_operator_matrix(), 2)
    )
    if measured.bound <= 1:
        P.check_msmmd_contraction(
            system.gamma, transitions, next_a, next_b, sc.energy(1.0), seed=seed
        )


def test_c4a_growth_is_found_when_gamma_kappa_exceeds_one():
    """Negative control: with γκ in (1, 2] a targeted search finds a pair whose W₁ grows
    (the theorem's bound γκ still holds, but contraction does not)."""

    @st.composite
    def problems(draw):
        case = draw(
            S.tabular_cases(modulus="above", n_state_actions=1, n_branches=1, terminal=False)
        )
        laws = draw(S.law_pairs(size=case.mdp.n_state_actions, dimension=case.mdp.dimension))
        return case, laws

    def grows(problem):
        case, (laws_a, laws_b) = problem
        measured = P.check_wasserstein_contraction(
            case.mdp.gamma, case.mdp.transitions, laws_a, laws_b, 1
        )
        target(measured.ratio)
        return measured.ratio > 1.0

    search = settings(max_examples=200, database=None, derandomize=True, deadline=None)
    case, (laws_a, laws_b) = find(problems(), grows, settings=search)
    assert case.modulus > 1.0
    with pytest.raises(AssertionError, match="W1 contraction fails"):
        P.check_wasserstein_contraction(
            case.mdp.gamma, case.mdp.transitions, laws_a, laws_b, 1, modulus=1.0
        )


@given(case=S.neural_cases(), seed=st.integers(0, 2**16), p=st.sampled_from([1, 2]))
def test_c1_neural_case_on_an_evaluation_set(case, seed, p):
    """Neural case: 2 evaluation points × 3 transition noises, laws of 4 critic samples at the
    next state-actions the operator reads; modulus from the sampled Jacobians."""
    from properties.neural import neural_backup

    rng = np.random.default_rng(seed)
    points = rng.normal(size=(2, case.state_dim + case.action_dim))
    transitions, next_a, next_b = neural_backup(
        case, points, rng.normal(size=(3, case.state_dim)), rng.normal(size=(4, 1))
    )
    P.check_wasserstein_contraction(case.gamma, transitions, next_a, next_b, p)
