"""Negative controls for the contraction certificates of ``properties.predicates``.

Each predicate checks an inequality ``measured <= bound``. A predicate that cannot fail
proves nothing, so for each one a case is built where the bound is TIGHT (the measured side
equals it in exact arithmetic), and the predicate must pass with the true bound and raise
when given a bound 1 % too small (a wrong modulus, a too-large scale order, a shrunk slack):
a certificate only 1 % too optimistic is caught.

Tight cases: a single branch ``X ↦ b + γ c X`` with a scalar map ``c I`` rescales every
distance exactly (Wasserstein by ``γc``; the energy kernel with β = 1 gives
``MMD(cU, cV) = c^(1/2) MMD(U, V)`` exactly); a policy gradient whose model error is
aligned with the top singular vector of ``∂_ψπ`` attains its bound; two starts of a
deterministic contraction merge exactly at rate ``(γκ)^N``.
"""

from __future__ import annotations

import numpy as np
import pytest

import properties.predicates as P
import sobolev_core as sc

GAMMA, SCALE = 0.9, 0.8  # γκ = 0.72
TOO_SMALL = 0.99  # the wrong certificates are 1 % too optimistic


def scalar_branch(dimension):
    offset = np.arange(1.0, dimension + 1.0)
    return [[sc.Transition(1.0, 0, offset, SCALE * np.eye(dimension))]]


def laws(dimension, seed):
    rng = np.random.default_rng(seed)
    return (
        [sc.ParticleLaw(rng.normal(size=(5, dimension)))],
        [sc.ParticleLaw(rng.normal(loc=0.7, size=(4, dimension)))],
    )


@pytest.mark.parametrize("p", [1, 2])
def test_wasserstein_certificate_is_tight_and_a_smaller_modulus_is_caught(p):
    transitions = scalar_branch(2)
    next_a, next_b = laws(2, 0)
    measured = P.check_wasserstein_contraction(GAMMA, transitions, next_a, next_b, p)
    assert measured.bound == pytest.approx(GAMMA * SCALE, rel=1e-12)
    # Exact scaling: the ratio is γκ up to the solvers' float64 round-off.
    assert measured.ratio == pytest.approx(GAMMA * SCALE, rel=1e-8)
    with pytest.raises(AssertionError, match="contraction fails"):
        P.check_wasserstein_contraction(
            GAMMA, transitions, next_a, next_b, p, modulus=TOO_SMALL * GAMMA * SCALE
        )


def test_spec_modulus_from_understated_jacobians_is_caught():
    """docs/claims.md#c1 ``γ max(1, C_f sqrt(1 + L_π²))`` with a ``C_f`` too small fails the check.

    With ``F = [F_s F_a]`` of norm 2 and ``Π' = 0`` the bound is ``2γ``; the operator's own
    ``L`` has norm exactly 2 on the value-gradient block's top direction (the value block's
    norm 1 is smaller), so the data expand by 2γ and a bound from Jacobians halved fails.
    """
    jac_s, jac_a, policy_jac = 2 * np.eye(2), np.zeros((2, 1)), np.zeros((1, 2))
    true_bound = P.spec_modulus(GAMMA, [dict(jac_s=jac_s, jac_a=jac_a, policy_jac=policy_jac)])
    assert true_bound == pytest.approx(2 * GAMMA)
    wrong = P.spec_modulus(GAMMA, [dict(jac_s=jac_s / 2, jac_a=jac_a, policy_jac=policy_jac)])
    assert wrong == pytest.approx(GAMMA)
    offset, linear = sc.sobolev_affine_map(
        np.asarray(0.0), np.zeros(2), np.zeros(1), jac_s, jac_a, policy_jac
    )
    transitions = [[sc.Transition(1.0, 0, offset, linear)]]
    rng = np.random.default_rng(1)
    direction = np.array([0.0, 1.0, 0.0, 0.0])  # a state-gradient coordinate: stretched by 2
    next_a = [sc.ParticleLaw(np.outer(rng.normal(size=6), direction))]
    next_b = [sc.ParticleLaw(np.outer(rng.normal(loc=1.0, size=6), direction))]
    measured = P.check_wasserstein_contraction(
        GAMMA, transitions, next_a, next_b, 1, modulus=true_bound
    )
    assert measured.ratio == pytest.approx(2 * GAMMA, rel=1e-8)
    with pytest.raises(AssertionError, match="contraction fails"):
        P.check_wasserstein_contraction(GAMMA, transitions, next_a, next_b, 1, modulus=wrong)


def test_msmmd_certificate_is_tight_and_a_larger_scale_order_is_caught():
    """Energy kernel, β = 1 (scale order exactly 1): the sliced MMD shrinks by ``(γc)^(1/2)``
    exactly, so claiming order 1.05 makes the per-direction certificate 0.5 % too small."""
    kernel = sc.energy(1.0)
    transitions = scalar_branch(2)
    next_a, next_b = laws(2, 2)
    measured = P.check_msmmd_contraction(GAMMA, transitions, next_a, next_b, kernel)
    assert measured.bound == pytest.approx((GAMMA * SCALE) ** 0.5, rel=1e-12)
    with pytest.raises(AssertionError, match="certificate fails"):
        P.check_msmmd_contraction(GAMMA, transitions, next_a, next_b, kernel, alpha=1.05)


def test_scale_sensitivity_is_tight_for_the_energy_kernel_and_a_larger_order_is_caught():
    """``MMD²(cU, cV) = c^β MMD²(U, V)`` exactly for the energy kernel: order β passes,
    order 1.02 β (a bound 1 % below the truth at c = 0.6) fails."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=7), rng.normal(loc=0.5, size=6)
    kernel = sc.energy(1.5)
    ratio = P.check_scale_sensitivity(kernel, x, y, 0.6, 1.5)
    assert ratio == pytest.approx(0.6**1.5, rel=1e-10)
    with pytest.raises(AssertionError, match="not scale sensitive"):
        P.check_scale_sensitivity(kernel, x, y, 0.6, 1.5 * 1.02)


def test_policy_gradient_bound_is_attained_and_a_shrunk_bound_is_caught():
    """One state, Dirac gradient laws whose gap lies along ``∂_ψπ``'s top left singular
    vector: ``‖∇J − ∇̂J‖ = L_ψ W₁ / (1 − γ)`` exactly, so slack 0.99 must fail."""
    jac = np.array([[[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # (S=1, m=2, P=3), ‖·‖ = 3
    true_grads = [sc.ParticleLaw(np.array([[0.5, 0.2]]))]
    model_grads = [sc.ParticleLaw(np.array([[-0.3, 0.2]]))]
    result = P.check_policy_gradient_bound(jac, true_grads, model_grads, GAMMA)
    assert result["tightness"] == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(AssertionError, match="policy-gradient bound fails"):
        P.check_policy_gradient_bound(jac, true_grads, model_grads, GAMMA, slack=TOO_SMALL)


def test_fixed_point_bound_is_tight_and_an_understated_modulus_is_caught(monkeypatch):
    """Deterministic scalar contraction ``X ↦ b + γcX`` on one index: after ``N`` steps two
    starts are exactly ``(γc)^N`` times as far apart; a modulus 1 % too small must fail."""
    mdp = sc.TabularSobolevMDP(GAMMA, scalar_branch(1))
    start_a, start_b = (
        [sc.ParticleLaw(np.array([0.0, 1.0]))],
        [sc.ParticleLaw(np.array([3.0, 5.0]))],
    )
    result = P.check_fixed_point(mdp, start_a, start_b, 3)
    assert result["final"] == pytest.approx((GAMMA * SCALE) ** 3 * result["initial"], rel=1e-9)
    monkeypatch.setattr(P.sc, "contraction_modulus", lambda mdp: TOO_SMALL * GAMMA * SCALE)
    with pytest.raises(AssertionError, match="do not merge"):
        P.check_fixed_point(mdp, start_a, start_b, 3)
