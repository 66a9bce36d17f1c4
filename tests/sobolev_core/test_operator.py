"""The pseudo-affine Sobolev operator: chain rule against finite differences, tabular images."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import ot
import pytest

import sobolev_core as sc

N_STATE, N_ACTION, GAMMA, HORIZON = 3, 2, 0.9, 12


def _system(seed: int):
    """A nonlinear stochastic system with a nonlinear policy (float64 JAX functions)."""
    rng = np.random.default_rng(seed)
    weights = {
        "A": rng.normal(size=(N_STATE, N_STATE)) * 0.5,
        "B": rng.normal(size=(N_STATE, N_ACTION)) * 0.5,
        "K": rng.normal(size=(N_ACTION, N_STATE)) * 0.5,
        "c": rng.normal(size=N_STATE),
    }

    def transition(state, action, noise):
        drift = jnp.tanh(weights["A"] @ state + weights["B"] @ action)
        next_state = drift + 0.3 * noise * (1.0 + 0.5 * jnp.sin(state))  # state-dependent noise
        reward = (
            -jnp.sum((state - weights["c"]) ** 2)
            - 0.1 * jnp.sum(action**2)
            + jnp.sin(state[0] * action[0]) * noise[0]
        )
        return next_state, reward

    def policy(state):
        return jnp.tanh(weights["K"] @ state)

    return transition, policy


def _pathwise_return(transition, policy, state, action, noises):
    total, discount = 0.0, 1.0
    for noise in noises:
        state, reward = transition(state, action, noise)
        total = total + discount * reward
        discount *= GAMMA
        action = policy(state)
    return total


def _backward_sobolev_return(transition, policy, state, action, noises):
    """X_0 from X_t = b_t + γ L_t X_{t+1}, X_H = 0, with (b_t, L_t) from sobolev_affine_map."""
    maps, states = [], []
    for noise in noises:
        states.append((state, action))
        offset, linear = sc.neural_affine_map(policy, transition, state, action, noise)
        maps.append((offset, linear))
        state, _ = transition(state, action, noise)
        action = policy(state)
    sobolev_return = jnp.zeros(1 + N_STATE + N_ACTION)
    for offset, linear in reversed(maps):
        sobolev_return = offset + GAMMA * linear @ sobolev_return
    return sobolev_return


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_complete_operator_gradient_blocks_equal_finite_differences(seed):
    with jax.enable_x64(True):
        transition, policy = _system(seed)
        rng = np.random.default_rng(100 + seed)
        noises = jnp.asarray(rng.normal(size=(HORIZON, N_STATE)))
        state, action = (
            jnp.asarray(rng.normal(size=N_STATE)),
            jnp.asarray(rng.normal(size=N_ACTION)),
        )
        sobolev_return = np.asarray(
            _backward_sobolev_return(transition, policy, state, action, noises)
        )

        def value(s, a):
            return float(_pathwise_return(transition, policy, s, a, noises))

        # Central differences with step 1e-5 in float64: truncation O(h²·|G'''|) ~ 1e-9 and
        # rounding O(eps·|G|/h) ~ 1e-10, so 1e-6 absolute leaves a wide margin on O(1) gradients.
        step = 1e-5
        fd_state = [
            (value(state + step * e, action) - value(state - step * e, action)) / (2 * step)
            for e in jnp.eye(N_STATE)
        ]
        fd_action = [
            (value(state, action + step * e) - value(state, action - step * e)) / (2 * step)
            for e in jnp.eye(N_ACTION)
        ]
        assert sobolev_return[0] == pytest.approx(value(state, action), abs=1e-12)
        np.testing.assert_allclose(sobolev_return[1 : 1 + N_STATE], fd_state, atol=1e-6)
        np.testing.assert_allclose(sobolev_return[1 + N_STATE :], fd_action, atol=1e-6)
        assert np.max(np.abs(fd_state)) > 1e-2  # the check is not vacuous


def _random_jacobians(rng, n=N_STATE, m=N_ACTION):
    return dict(
        reward=rng.normal(),
        dr_ds=rng.normal(size=n),
        dr_da=rng.normal(size=m),
        jac_s=rng.normal(size=(n, n)),
        jac_a=rng.normal(size=(n, m)),
        policy_jac=rng.normal(size=(m, n)),
    )


def test_affine_map_matches_the_chain_rule_written_out():
    rng = np.random.default_rng(3)
    parts = _random_jacobians(rng)
    offset, linear = sc.sobolev_affine_map(**parts)
    g, u, v = rng.normal(), rng.normal(size=N_STATE), rng.normal(size=N_ACTION)
    total = u + parts["policy_jac"].T @ v  # c = u' + Π'ᵀ v'
    expected = np.concatenate(
        [
            [parts["reward"] + GAMMA * g],
            parts["dr_ds"] + GAMMA * parts["jac_s"].T @ total,
            parts["dr_da"] + GAMMA * parts["jac_a"].T @ total,
        ]
    )
    np.testing.assert_allclose(
        offset + GAMMA * linear @ np.concatenate([[g], u, v]), expected, rtol=1e-12
    )


def test_incomplete_map_equals_complete_map_when_state_gradient_is_coupled():
    rng = np.random.default_rng(4)
    parts = _random_jacobians(rng)
    coupling = rng.normal(size=(N_STATE, 1 + N_ACTION))
    offset_c, linear_c = sc.sobolev_affine_map(**parts)
    offset_i, linear_i = sc.sobolev_affine_map(**parts, coupling=coupling)
    assert linear_i.shape == (1 + N_ACTION, 1 + N_ACTION)
    incomplete_next = rng.normal(size=1 + N_ACTION)
    complete_next = np.concatenate(
        [incomplete_next[:1], coupling @ incomplete_next, incomplete_next[1:]]
    )
    keep = np.r_[0, 1 + N_STATE + np.arange(N_ACTION)]
    np.testing.assert_allclose(
        (offset_c + GAMMA * linear_c @ complete_next)[keep],
        offset_i + GAMMA * linear_i @ incomplete_next,
        rtol=1e-12,
    )


def test_done_removes_the_bootstrap():
    parts = _random_jacobians(np.random.default_rng(5))
    offset, linear = sc.sobolev_affine_map(**parts, done=1.0)
    assert np.all(linear == 0)
    np.testing.assert_array_equal(
        offset, np.concatenate([[parts["reward"]], parts["dr_ds"], parts["dr_da"]])
    )


def test_affine_map_is_jax_traceable_and_agrees_with_numpy():
    parts = _random_jacobians(np.random.default_rng(6))
    offset, linear = sc.sobolev_affine_map(**parts)
    jax_offset, jax_linear = jax.jit(lambda p: sc.sobolev_affine_map(**p))(
        {k: jnp.asarray(v, jnp.float32) for k, v in parts.items()}
    )
    # float32 products of O(1) entries over n = 3 terms: a few ulp (1.2e-7) each.
    np.testing.assert_allclose(jax_offset, offset, rtol=1e-6)
    np.testing.assert_allclose(jax_linear, linear, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------
# Tabular case


def _two_state_mdp(gamma=0.8):
    rng = np.random.default_rng(7)
    transitions = []
    for _ in range(2):
        branches = []
        for j, prob in ((0, 0.3), (1, 0.7)):
            parts = _random_jacobians(rng, n=1, m=1)
            offset, linear = sc.sobolev_affine_map(**parts)
            branches.append((prob, j, offset, linear * 0.5))
        transitions.append(branches)
    return sc.TabularSobolevMDP(gamma, transitions)


def test_apply_operator_is_the_exact_mixture_of_push_forwards():
    mdp = _two_state_mdp()
    rng = np.random.default_rng(8)
    laws = [
        sc.ParticleLaw(rng.normal(size=(4, 3)), rng.uniform(0.1, 1.0, size=4)) for _ in range(2)
    ]
    image = sc.apply_operator(mdp, laws)

    def test_function(points):
        return np.sin(points @ np.array([1.0, -2.0, 0.5]))

    for i, branches in enumerate(mdp.transitions):
        # E f(T X) computed branch by branch, independently of the particle bookkeeping.
        expected = sum(
            branch.prob
            * laws[branch.next_index].weights
            @ test_function(
                branch.offset + mdp.gamma * laws[branch.next_index].points @ branch.linear.T
            )
            for branch in branches
        )
        assert image[i].weights @ test_function(image[i].points) == pytest.approx(
            expected, rel=1e-12
        )
        assert image[i].weights.sum() == pytest.approx(1.0, rel=1e-12)


def test_contraction_modulus_is_gamma_times_largest_operator_norm():
    mdp = _two_state_mdp(gamma=0.8)
    norms = [np.linalg.svd(b.linear, compute_uv=False)[0] for row in mdp.transitions for b in row]
    assert sc.contraction_modulus(mdp) == pytest.approx(0.8 * max(norms), rel=1e-12)


def test_compress_law_error_bound_dominates_the_exact_wasserstein_distance():
    rng = np.random.default_rng(9)
    law = sc.ParticleLaw(rng.normal(size=(300, 3)), rng.uniform(size=300))
    for p in (1.0, 2.0):
        compressed, bound = sc.compress_law(law, 20, p=p)
        assert compressed.points.shape[0] <= 20
        exact = sc.wasserstein(law.points, compressed.points, p, law.weights, compressed.weights)
        # The nearest-centre coupling is often optimal, so bound == W_p up to the network
        # simplex's float64 round-off (seen: 5e-10 relative); 1e-8 relative covers it.
        assert exact <= bound * (1 + 1e-8)
        assert bound < 1.0  # 20 Lloyd centres of a 3-D standard normal: far below its spread
    same, zero = sc.compress_law(law, 300)
    assert zero == 0.0 and same is law


def test_iterate_operator_bound_covers_compression_error():
    mdp = _two_state_mdp()
    start = [sc.ParticleLaw(np.zeros((1, 3))) for _ in range(2)]
    exact, zero = sc.iterate_operator(mdp, start, 6)
    compressed, bound = sc.iterate_operator(mdp, start, 6, max_particles=8)
    assert zero == 0.0
    assert exact[0].points.shape[0] == 2**6  # branching factor 2, no coincidences
    for law_exact, law_small in zip(exact, compressed, strict=True):
        distance = ot.emd2(
            law_exact.weights,
            law_small.weights,
            ot.dist(law_exact.points, law_small.points, "euclidean"),
        )
        assert distance <= bound * (1 + 1e-8)  # simplex round-off, as above


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(jac_s=np.ones((2, 3))), "jac_s"),
        (dict(jac_a=np.full((3, 2), np.nan)), "jac_a"),
        (dict(policy_jac=np.ones((3, 2))), "policy_jac"),
        (dict(reward=np.ones(2)), "reward"),
        (dict(coupling=np.ones((3, 2))), "coupling"),
    ],
)
def test_affine_map_rejects_bad_input(change, match):
    parts = _random_jacobians(np.random.default_rng(10))
    parts.update(change)
    with pytest.raises(ValueError, match=match):
        sc.sobolev_affine_map(**parts)


def test_tabular_mdp_rejects_bad_input():
    offset, linear = np.zeros(2), np.eye(2)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\); got 1.0"):
        sc.TabularSobolevMDP(1.0, [[(1.0, 0, offset, linear)]])
    with pytest.raises(ValueError, match="sum to 1"):
        sc.TabularSobolevMDP(0.5, [[(0.5, 0, offset, linear)]])
    with pytest.raises(ValueError, match="next index"):
        sc.TabularSobolevMDP(0.5, [[(1.0, 3, offset, linear)]])
    with pytest.raises(ValueError, match="L"):
        sc.TabularSobolevMDP(0.5, [[(1.0, 0, offset, np.full((2, 2), np.inf))]])
    with pytest.raises(ValueError, match="weights must be non-negative"):
        sc.ParticleLaw(np.zeros((2, 1)), np.array([1.0, -0.5]))
    mdp = sc.TabularSobolevMDP(0.5, [[(1.0, 0, offset, linear)]])
    with pytest.raises(ValueError, match="dimension"):
        sc.apply_operator(mdp, [sc.ParticleLaw(np.zeros((1, 3)))])
