"""Neural-case Sobolev targets: autodiff through model, policy and critic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sobolev_core as sc

N_STATE, N_ACTION, GAMMA = 3, 2, 0.95


def _networks(seed: int):
    """A tiny critic Z(s, a, ξ), policy and stochastic transition with frozen parameters."""
    key = jax.random.key(seed)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    w_critic = jax.random.normal(k1, (8, N_STATE + N_ACTION + 1)) * 0.5
    v_critic = jax.random.normal(k2, (8,))
    w_policy = jax.random.normal(k3, (N_ACTION, N_STATE)) * 0.5
    w_model = jax.random.normal(k4, (N_STATE, N_STATE + N_ACTION)) * 0.5

    def critic(state, action, xi):
        return v_critic @ jnp.tanh(w_critic @ jnp.concatenate([state, action, xi]))

    def policy(state):
        return jnp.tanh(w_policy @ state)

    def transition(state, action, eps):
        next_state = jnp.tanh(w_model @ jnp.concatenate([state, action])) + 0.2 * eps * jnp.cos(
            state
        )
        reward = -jnp.sum(state**2) + jnp.sum(jnp.sin(action)) * (1.0 + eps[0])
        return next_state, reward

    return critic, policy, transition


@pytest.mark.parametrize("done", [0.0, 1.0])
@pytest.mark.parametrize("complete", [True, False])
def test_target_gradients_equal_finite_differences(done, complete):
    with jax.enable_x64(True):
        critic, policy, transition = _networks(0)
        rng = np.random.default_rng(1)
        state, action = (
            jnp.asarray(rng.normal(size=N_STATE)),
            jnp.asarray(rng.normal(size=N_ACTION)),
        )
        eps, xi = jnp.asarray(rng.normal(size=N_STATE)), jnp.asarray(rng.normal(size=1))
        target = sc.sobolev_target(
            critic, policy, transition, state, action, eps, xi, done, GAMMA, complete=complete
        )

        def y(s, a):
            next_state, reward = transition(s, a, eps)
            return float(reward + GAMMA * (1.0 - done) * critic(next_state, policy(next_state), xi))

        # Central differences, step 1e-6, float64: error ~1e-10 on O(1) derivatives.
        step = 1e-6
        fd_action = [
            (y(state, action + step * e) - y(state, action - step * e)) / (2 * step)
            for e in jnp.eye(N_ACTION)
        ]
        assert float(target.value) == pytest.approx(y(state, action), abs=1e-12)
        np.testing.assert_allclose(target.grad_action, fd_action, atol=1e-7)
        if complete:
            fd_state = [
                (y(state + step * e, action) - y(state - step * e, action)) / (2 * step)
                for e in jnp.eye(N_STATE)
            ]
            np.testing.assert_allclose(target.grad_state, fd_state, atol=1e-7)
            assert target.as_vector().shape == (1 + N_STATE + N_ACTION,)
        else:
            assert target.grad_state is None
            assert target.as_vector().shape == (1 + N_ACTION,)
        if done == 1.0:  # no bootstrap: only the reward's derivatives remain
            reward_grad = jax.grad(lambda a: transition(state, a, eps)[1])(action)
            np.testing.assert_allclose(target.grad_action, reward_grad, rtol=1e-12)


def test_target_equals_the_affine_backup_of_the_next_critic_sample():
    with jax.enable_x64(True):
        critic, policy, transition = _networks(2)
        rng = np.random.default_rng(3)
        state, action = (
            jnp.asarray(rng.normal(size=N_STATE)),
            jnp.asarray(rng.normal(size=N_ACTION)),
        )
        eps, xi = jnp.asarray(rng.normal(size=N_STATE)), jnp.asarray(rng.normal(size=1))
        target = sc.sobolev_target(critic, policy, transition, state, action, eps, xi, 0.0, GAMMA)
        next_state, _ = transition(state, action, eps)
        next_action = policy(next_state)
        g, (u, v) = jax.value_and_grad(critic, argnums=(0, 1))(next_state, next_action, xi)
        offset, linear = sc.neural_affine_map(policy, transition, state, action, eps)
        backup = offset + GAMMA * linear @ jnp.concatenate([g[None], u, v])
        np.testing.assert_allclose(target.as_vector(), backup, rtol=1e-10, atol=1e-12)


def test_targets_batch_with_vmap_and_jit():
    critic, policy, transition = _networks(4)
    batch = 5
    key = jax.random.key(0)
    states = jax.random.normal(key, (batch, N_STATE))
    actions = jax.random.normal(jax.random.key(1), (batch, N_ACTION))
    eps = jax.random.normal(jax.random.key(2), (batch, N_STATE))
    xis = jax.random.normal(jax.random.key(3), (batch, 1))
    dones = jnp.array([0.0, 1.0, 0.0, 0.0, 1.0])

    @jax.jit
    def targets(states, actions, eps, xis, dones):
        def one(s, a, e, x, d):
            return sc.sobolev_target(critic, policy, transition, s, a, e, x, d, GAMMA)

        return jax.vmap(one)(states, actions, eps, xis, dones)

    out = targets(states, actions, eps, xis, dones)
    assert out.value.shape == (batch,) and out.grad_state.shape == (batch, N_STATE)
    single = sc.sobolev_target(
        critic, policy, transition, states[1], actions[1], eps[1], xis[1], 1.0, GAMMA
    )
    # jit vs eager float32: a few ulp of O(1) values
    np.testing.assert_allclose(out.grad_action[1], single.grad_action, rtol=1e-5, atol=1e-6)


def test_target_rejects_batched_input():
    critic, policy, transition = _networks(5)
    with pytest.raises(ValueError, match="single examples"):
        sc.sobolev_target(
            critic,
            policy,
            transition,
            jnp.zeros((2, N_STATE)),
            jnp.zeros((2, N_ACTION)),
            jnp.zeros(N_STATE),
            jnp.zeros(1),
            0.0,
            GAMMA,
        )
