"""JAX environments against their references: Gymnasium, closed forms, quadrature, Monte Carlo, FD.

Float64 comparisons run under ``jax.enable_x64(True)``. Derivatives come from ``jax.grad`` /
``jax.jacfwd`` of the env functions and are checked against central finite differences of the
same functions, away from the clipping points where they are not defined.
"""

from __future__ import annotations

import math

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents.jax_envs import EnvStep, JaxEnv, linear_quadratic, pendulum, toy_1d
from sobolev_core import LinearGaussianSobolev

EPS32 = float(np.finfo(np.float32).eps)
FD_STEP = 1e-6
# Central differences in float64 with step h: truncation h²/6 |f'''| ~ 1e-11 for these smooth
# maps, rounding ~ 1e-16 |f| / h ~ 1e-9 for |f| up to ~30 (|θ| grows as the pendulum spins).
FD_ATOL = 1e-7

# A generic stable 2-state, 1-action linear-quadratic system (ρ(A + BK) = 0.84).
LQ_A = np.array([[0.9, 0.3], [-0.2, 0.7]])
LQ_B = np.array([[0.1], [0.5]])
LQ_Q = np.array([[1.0, 0.2], [0.2, 0.5]])
LQ_R = np.array([[0.3]])
LQ_SIGMA = np.array([[0.16, 0.04], [0.04, 0.08]])
LQ_K = np.array([[0.2, -0.4]])
LQ_GAMMA = 0.9
LQ_POINTS = [([0.5, -1.0], [0.3]), ([-1.2, 0.4], [-0.8]), ([0.0, 0.0], [0.0])]


def _lq():
    return linear_quadratic(LQ_A, LQ_B, LQ_Q, LQ_R, LQ_SIGMA)


def _fd_jacobian(function, point, step=FD_STEP):
    """Central-difference Jacobian of ``function: R^d -> R^k`` at ``point``, shape ``(k, d)``."""
    point = np.asarray(point, dtype=np.float64)
    columns = []
    for j in range(point.size):
        offset = np.zeros_like(point)
        offset[j] = step
        upper = np.asarray(function(point + offset), dtype=np.float64)
        lower = np.asarray(function(point - offset), dtype=np.float64)
        columns.append(np.atleast_1d((upper - lower) / (2 * step)))
    return np.stack(columns, axis=-1)


def _check_derivatives(env: JaxEnv, states, actions, step=FD_STEP):
    """``jax.grad`` / ``jax.jacfwd`` of reward, next state and observation equal central FD.

    ``states`` ``(k, n)`` and ``actions`` ``(k, m)`` are ``k`` points; autodiff and the
    ``2 (n + m)`` perturbed evaluations per point run as one vmapped, jitted call each. Returns
    the autodiff derivatives as NumPy arrays with a leading ``k`` axis.
    """
    states = np.asarray(states, dtype=np.float64)
    actions = np.asarray(actions, dtype=np.float64)
    (count, n), m = states.shape, actions.shape[1]

    def next_state(s, a):
        return env.step(s, a).next_state

    def derivatives(s, a):
        dr_ds, dr_da = jax.grad(env.reward, argnums=(0, 1))(s, a)
        jac_s, jac_a = jax.jacfwd(next_state, argnums=(0, 1))(s, a)
        jac_obs = jax.jacfwd(env.observe)(s)
        return {"dr_ds": dr_ds, "dr_da": dr_da, "jac_s": jac_s, "jac_a": jac_a, "jac_obs": jac_obs}

    def outputs(s, a):
        return env.reward(s, a)[None], next_state(s, a), env.observe(s)

    actual = jax.jit(jax.vmap(derivatives))(jnp.asarray(states), jnp.asarray(actions))
    actual = {name: np.asarray(value) for name, value in actual.items()}
    offsets = np.concatenate([np.eye(n + m), -np.eye(n + m)]) * step  # (2d, d)
    points = (np.concatenate([states, actions], axis=1)[:, None, :] + offsets).reshape(-1, n + m)
    values = jax.jit(jax.vmap(outputs))(jnp.asarray(points[:, :n]), jnp.asarray(points[:, n:]))
    jacobians = []
    for value in values:  # (k·2d, out) -> central differences (k, out, d)
        value = np.asarray(value).reshape(count, 2, n + m, -1)
        jacobians.append(np.swapaxes((value[:, 0] - value[:, 1]) / (2 * step), 1, 2))
    reward_jac, state_jac, obs_jac = jacobians
    expected = {
        "dr_ds": reward_jac[:, 0, :n],
        "dr_da": reward_jac[:, 0, n:],
        "jac_s": state_jac[:, :, :n],
        "jac_a": state_jac[:, :, n:],
        "jac_obs": obs_jac[:, :, :n],
    }
    for name, value in actual.items():
        assert value.shape == expected[name].shape, (name, value.shape, expected[name].shape)
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=FD_ATOL, err_msg=name)
    return actual


# ----------------------------------------------------------------------------- Pendulum


def _gymnasium_rollout(seed, actions):
    """Gymnasium Pendulum-v1 from ``reset(seed)``: start state, states, obs, rewards, flags."""
    env = gym.make("Pendulum-v1")
    first_obs, _ = env.reset(seed=seed)
    start = env.unwrapped.state.copy()
    states, observations, rewards, flags = [], [], [], []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        states.append(env.unwrapped.state.copy())
        observations.append(obs)
        rewards.append(reward)
        flags.append((terminated, truncated))
    env.close()
    return first_obs, start, np.array(states), np.array(observations), np.array(rewards), flags


def _jax_rollout(env, start, actions):
    """Free-running JAX trajectory (``lax.scan``): next states, observations, rewards, flags."""

    def body(state, action):
        next_state, reward, terminated = env.step(state, action)
        return next_state, (next_state, env.observe(next_state), reward, terminated)

    return jax.jit(lambda s, a: jax.lax.scan(body, s, a)[1])(start, actions)


def _pendulum_actions(seed):
    """200 float64 torques, uniform on [−3, 3]: a third of them are clipped to ±2."""
    return np.random.default_rng(seed).uniform(-3.0, 3.0, size=(200, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pendulum_matches_gymnasium_step_for_step(seed):
    """Float64 trajectories agree to 1e-10 over 200 steps; every single step to ~1 ulp.

    Actions are float64 so Gymnasium computes in float64 throughout (see the float32 test).
    Eagerly, the JAX step reproduces Gymnasium's bits; under ``jit`` XLA's fused arithmetic
    differs from NumPy by an ulp on some steps, and such differences grow along a free-running
    trajectory (measured < 3e-11 after 200 steps), hence 1e-10 there and 1e-13·max(1, |θ|)
    for single steps started from Gymnasium's own state. Observations are float32 in
    Gymnasium: ours, cast to float32, agree to one float32 ulp (< 1e-6 for |θ̇| ≤ 8).
    """
    env = pendulum()
    actions = _pendulum_actions(seed)
    first_obs, start, states, observations, rewards, flags = _gymnasium_rollout(seed, actions)
    assert np.any(np.abs(actions) > 2.0), "action clipping not exercised"
    assert np.any(np.abs(states[:, 1]) == 8.0), "speed clipping not exercised"
    # Pendulum never terminates; Gymnasium's TimeLimit truncates at 200 = max_episode_steps.
    assert [terminated for terminated, _ in flags] == [False] * 200
    assert [truncated for _, truncated in flags] == [False] * 199 + [True]
    assert gym.spec("Pendulum-v1").max_episode_steps == env.max_episode_steps == 200
    with jax.enable_x64(True):
        np.testing.assert_allclose(
            np.asarray(env.observe(start), np.float32), first_obs, rtol=0, atol=1e-6
        )
        ours = _jax_rollout(env, jnp.asarray(start), jnp.asarray(actions))
        next_states, our_obs, our_rewards, terminated = (np.asarray(x) for x in ours)
        np.testing.assert_allclose(next_states, states, rtol=0, atol=1e-10)
        np.testing.assert_allclose(our_rewards, rewards, rtol=0, atol=1e-10)
        np.testing.assert_allclose(our_obs.astype(np.float32), observations, rtol=0, atol=1e-6)
        assert not terminated.any()

        previous = np.vstack([start, states[:-1]])
        one_step = jax.jit(jax.vmap(env.step))(jnp.asarray(previous), jnp.asarray(actions))
        scale = np.maximum(1.0, np.abs(previous[:, :1]))
        assert np.all(np.abs(np.asarray(one_step.next_state) - states) <= 1e-13 * scale)
        assert np.all(np.abs(np.asarray(one_step.reward) - rewards) <= 1e-13 * scale[:, 0])


def test_pendulum_float32_single_steps_match_gymnasium():
    """Float32 JAX (the default) from Gymnasium's float64 states: within float32 rounding.

    Rounding ``θ`` to float32 moves it by up to ``eps₃₂|θ|/2`` and ``wrap(θ)²`` has slope at most
    ``2π``, so the reward error is about ``π eps₃₂ |θ|``, with ``eps₃₂ = 1.2e-7`` plus a few
    ulps of the other terms (|r| ≤ 16.3): the bound ``16 eps₃₂ (1 + |θ|)`` (~2e-6 (1 + |θ|)) has
    a margin of 2 over the measured worst case; ``|θ|`` reaches 23 here.
    """
    env = pendulum()
    actions = _pendulum_actions(0)
    _, start, states, _, rewards, _ = _gymnasium_rollout(0, actions)
    previous = np.vstack([start, states[:-1]])
    one_step = jax.jit(jax.vmap(env.step))(
        jnp.asarray(previous, jnp.float32), jnp.asarray(actions, jnp.float32)
    )
    assert one_step.next_state.dtype == jnp.float32
    bound = 16 * EPS32 * (1.0 + np.abs(previous[:, 0]))
    state_error = np.abs(np.asarray(one_step.next_state, np.float64) - states).max(axis=1)
    assert np.all(state_error <= bound), state_error.max()
    assert np.all(np.abs(np.asarray(one_step.reward, np.float64) - rewards) <= bound)


def test_gymnasium_computes_float32_torque_terms_for_float32_actions():
    """A Gymnasium quirk, pinned: with float32 actions ``3u`` and ``0.001u²`` are float32.

    NumPy promotes ``python float * np.float32`` to float32, so Gymnasium's single step from a
    float64 state with a float32 action differs from float64 arithmetic (our x64 step) by the
    float32 rounding of those terms: ``|Δθ̇'| ≤ dt · eps₃₂ · 3|u|`` (one rounding of ``3u``;
    3 is exact in float32) and ``|Δr| ≤ 2 eps₃₂ · 0.001 u²`` (``0.001`` itself is rounded to
    float32, relative error 4.7e-8, then ``u²`` and the product: 1.7e-7 < 2 eps₃₂ in all).
    Over 200 steps such differences grow to ~1e-5, which is why the trajectory test uses
    float64 actions.
    """
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-2.0, 2.0, size=(200, 1)).astype(np.float32)
    starts, next_states, rewards = [], [], []
    for action in actions:
        starts.append(env.unwrapped.state.copy())
        _, reward, _, _, _ = env.step(action)
        next_states.append(env.unwrapped.state.copy())
        rewards.append(reward)
    env.close()
    with jax.enable_x64(True):
        ours = jax.jit(jax.vmap(pendulum().step))(
            jnp.asarray(np.array(starts)), jnp.asarray(actions.astype(np.float64))
        )
    torque = np.abs(actions[:, 0].astype(np.float64))
    speed_error = np.abs(np.asarray(ours.next_state)[:, 1] - np.array(next_states)[:, 1])
    reward_error = np.abs(np.asarray(ours.reward) - np.array(rewards))
    assert speed_error.max() > 1e-12, "expected Gymnasium's float32 torque arithmetic to show"
    assert np.all(speed_error <= 0.05 * EPS32 * 3 * torque + 1e-13)
    assert np.all(reward_error <= 2 * EPS32 * 0.001 * torque**2 + 1e-13)


def test_pendulum_derivatives_equal_finite_differences():
    """∂_s r, ∂_a r, F_s, F_a and ∂obs/∂s equal central FD in float64, in every regime.

    Points are drawn at random and kept only at least 1e-3 from the non-smooth set (|τ| = 2,
    |θ̇ + Δθ̇| = 8, θ = π mod 2π), so FD never straddles a kink; the sample covers clipped
    torques and saturated speeds, where the documented derivatives are exactly zero.
    """
    rng = np.random.default_rng(7)
    theta = rng.uniform(-3 * np.pi, 3 * np.pi, 400)
    theta_dot = rng.uniform(-8.0, 8.0, 400)
    torque = rng.uniform(-3.0, 3.0, 400)
    unclipped = theta_dot + (15.0 * np.sin(theta) + 3.0 * np.clip(torque, -2, 2)) * 0.05
    wrapped = (theta + np.pi) % (2 * np.pi) - np.pi
    margin = np.minimum.reduce(
        [np.abs(np.abs(torque) - 2.0), np.abs(np.abs(unclipped) - 8.0), np.pi - np.abs(wrapped)]
    )
    keep = margin > 1e-3
    states = np.stack([theta, theta_dot], axis=1)[keep]
    torque, unclipped = torque[keep], unclipped[keep]
    with jax.enable_x64(True):
        actual = _check_derivatives(pendulum(), states, torque[:, None])
    torque_clipped, speed_clipped = np.abs(torque) > 2.0, np.abs(unclipped) > 8.0
    interior = ~torque_clipped & ~speed_clipped
    assert min(torque_clipped.sum(), speed_clipped.sum(), interior.sum()) > 0
    np.testing.assert_array_equal(actual["dr_da"][torque_clipped], 0.0)
    np.testing.assert_array_equal(actual["jac_a"][torque_clipped], 0.0)
    np.testing.assert_array_equal(
        actual["jac_s"][speed_clipped],
        np.broadcast_to([[1.0, 0.0], [0.0, 0.0]], (speed_clipped.sum(), 2, 2)),
    )
    np.testing.assert_allclose(actual["jac_a"][interior, 1, 0], 3.0 * 0.05, rtol=1e-15)


def test_pendulum_derivative_at_the_torque_bound_is_half():
    """The documented tie rule: exactly at |τ| = 2, JAX's clip passes half the derivative."""
    env = pendulum()
    with jax.enable_x64(True):
        state = jnp.array([0.3, 1.0])
        dr_da = jax.grad(env.reward, argnums=1)
        inside = float(dr_da(state, jnp.array([2.0 - 1e-9]))[0])
        assert float(dr_da(state, jnp.array([2.0]))[0]) == pytest.approx(0.5 * inside, rel=1e-6)
        assert float(dr_da(state, jnp.array([2.5]))[0]) == 0.0


def test_pendulum_reset_and_batching():
    """Reset draws θ ∈ [−π, π], θ̇ ∈ [−1, 1], is a function of the key; vmap equals a loop."""
    env = pendulum()
    keys = jax.random.split(jax.random.key(0), 512)
    starts = np.asarray(jax.vmap(env.reset)(keys))
    assert starts.shape == (512, 2)
    assert np.all(np.abs(starts[:, 0]) <= np.pi) and np.all(np.abs(starts[:, 1]) <= 1.0)
    assert np.abs(starts[:, 0]).max() > 3.0 and np.abs(starts[:, 1]).max() > 0.95
    np.testing.assert_array_equal(np.asarray(env.reset(keys[3])), starts[3])
    actions = np.linspace(-3.0, 3.0, 8)[:, None]
    batch = jax.vmap(env.step)(jnp.asarray(starts[:8]), jnp.asarray(actions))
    single_step = jax.jit(env.step)
    for i in range(8):
        single = single_step(jnp.asarray(starts[i]), jnp.asarray(actions[i]))
        np.testing.assert_allclose(batch.next_state[i], single.next_state, rtol=1e-6)
        np.testing.assert_allclose(batch.reward[i], single.reward, rtol=1e-6)


# ----------------------------------------------------------------------------- linear-quadratic


def test_lq_step_reward_and_noise_are_the_stated_maps():
    """``s' = As + Ba + Σ^½ε``, ``r = −(sᵀQs + aᵀRa)``; F_s = A, F_a = B, ∂_ε s' = Σ^½ with
    ``Σ^½ Σ^½ᵀ = Σ``; reward gradients equal FD and ``−2Qs``, ``−2Ra``."""
    env = _lq()
    assert (env.state_dim, env.obs_dim, env.action_dim, env.noise_dim) == (2, 2, 1, 2)
    with jax.enable_x64(True):
        state, action, noise = jnp.array([0.7, -0.4]), jnp.array([0.9]), jnp.array([0.5, -1.5])
        next_state, reward, terminated = env.step(state, action, noise)
        next_state_of_noise = lambda e: env.step(state, action, e).next_state  # noqa: E731
        factor = np.asarray(jax.jacfwd(next_state_of_noise)(noise))
        np.testing.assert_allclose(factor @ factor.T, LQ_SIGMA, rtol=0, atol=1e-15)
        expected = LQ_A @ np.asarray(state) + LQ_B @ np.asarray(action) + factor @ np.asarray(noise)
        np.testing.assert_allclose(np.asarray(next_state), expected, rtol=0, atol=1e-15)
        s, a = np.asarray(state), np.asarray(action)
        assert float(reward) == pytest.approx(-(s @ LQ_Q @ s + a @ LQ_R @ a), abs=1e-15)
        assert not bool(terminated)


def test_lq_derivatives_equal_finite_differences():
    """Autodiff of reward and of the step (noise fixed) equals central FD and the closed form."""
    env = linear_quadratic(LQ_A, LQ_B, LQ_Q, LQ_R, np.zeros((2, 2)))  # Σ = 0: step(s, a)
    states = np.array([state for state, _ in LQ_POINTS])
    actions = np.array([action for _, action in LQ_POINTS])
    with jax.enable_x64(True):
        actual = _check_derivatives(env, states, actions)
    np.testing.assert_allclose(actual["dr_ds"], -2 * states @ LQ_Q, atol=1e-14)
    np.testing.assert_allclose(actual["dr_da"], -2 * actions @ LQ_R, atol=1e-14)
    np.testing.assert_array_equal(actual["jac_s"], np.broadcast_to(LQ_A, (3, 2, 2)))
    np.testing.assert_array_equal(actual["jac_a"], np.broadcast_to(LQ_B, (3, 2, 1)))


def test_exact_q_satisfies_the_bellman_equation_by_quadrature():
    """``Q(s, a) = r(s, a) + γ E_w Q(s', K s')`` with E by Gauss–Hermite quadrature.

    The integrand is quadratic in ε, so 5 nodes per axis integrate it exactly: the residual is
    rounding only. This pins the noise constant ``γ tr(PΣ)/(1 − γ)``: dropping the ``1/(1−γ)``
    changes Q by ``γ² tr(PΣ)/(1 − γ)``, a residual of order 1.
    """
    env = _lq()
    nodes, weights = np.polynomial.hermite_e.hermegauss(5)
    weights = weights / weights.sum()
    grid = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2)
    grid_weights = np.outer(weights, weights).ravel()
    with jax.enable_x64(True):
        q = env.exact_q(LQ_K, LQ_GAMMA)
        gain = jnp.asarray(LQ_K)

        @jax.jit
        def value_and_backup(state, action):
            next_states = jax.vmap(lambda noise: env.step(state, action, noise).next_state)(grid)
            next_q = jax.vmap(lambda s: q(s, gain @ s).value)(next_states)
            return q(state, action).value, env.reward(state, action) + LQ_GAMMA * (
                grid_weights @ next_q
            )

        for state, action in LQ_POINTS:
            value, backup = value_and_backup(jnp.asarray(state), jnp.asarray(action))
            assert float(value) == pytest.approx(float(backup), abs=1e-11)


def test_exact_q_gradients_equal_finite_differences_of_its_value():
    """``dq_ds``, ``dq_da`` (closed form) equal central FD of ``value``; Q is quadratic, so the
    FD error is rounding only (~1e-16 · |Q| / h)."""
    env = _lq()
    with jax.enable_x64(True):
        q = env.exact_q(LQ_K, LQ_GAMMA)
        value = jax.jit(lambda s, a: q(s, a).value)
        for state, action in LQ_POINTS:
            s, a = np.asarray(state, float), np.asarray(action, float)
            exact = q(jnp.asarray(s), jnp.asarray(a))
            np.testing.assert_allclose(
                np.asarray(exact.dq_ds),
                _fd_jacobian(lambda x, a=a: value(x, a), s, 1e-4)[0],
                atol=1e-9,
            )
            np.testing.assert_allclose(
                np.asarray(exact.dq_da),
                _fd_jacobian(lambda x, s=s: value(s, x), a, 1e-4)[0],
                atol=1e-9,
            )


def test_exact_q_equals_monte_carlo_returns_and_their_pathwise_gradients():
    """Q and ∇Q equal Monte Carlo means of the pathwise return ``G`` and of ``∇_(s,a) G``.

    4000 rollouts of 100 steps from ``(s, a)`` then ``a_t = K s_t``, seeds fixed. Tolerance:
    5 standard errors of the mean plus the truncation bias ``γ^100 · max|r| / (1 − γ)`` (below
    1e-2 here). Gradients are ``jax.grad`` of ``G`` through ``step`` with the noise fixed; their
    mean is ``∇Q`` (differentiation and expectation commute for this quadratic). The test can
    fail: 5 SE is asserted to be below ``γ tr(PΣ)``, the size of a mistaken noise constant.
    """
    env = _lq()
    paths, horizon = 4000, 100
    with jax.enable_x64(True):
        gain = jnp.asarray(LQ_K)
        discounts = LQ_GAMMA ** jnp.arange(horizon)

        def path_return(state, action, noises):
            def body(carry, noise):
                current, current_action = carry
                next_state, reward, _ = env.step(current, current_action, noise)
                return (next_state, gain @ next_state), reward

            rewards = jax.lax.scan(body, (state, action), noises)[1]
            return discounts @ rewards, jnp.max(jnp.abs(rewards))

        value_and_grads = jax.jit(
            jax.vmap(
                jax.value_and_grad(path_return, argnums=(0, 1), has_aux=True),
                in_axes=(None, None, 0),
            )
        )
        q = env.exact_q(LQ_K, LQ_GAMMA)
        value_hessian = LinearGaussianSobolev(
            A=LQ_A, B=LQ_B, K=LQ_K, Q=LQ_Q, R=LQ_R, Sigma=LQ_SIGMA, gamma=LQ_GAMMA
        ).value_hessian()  # P
        noise_constant = LQ_GAMMA * np.trace(value_hessian @ LQ_SIGMA)
        for index, (state, action) in enumerate(LQ_POINTS):
            # The law of env.sample_noise (standard normal ε), drawn by NumPy in one call.
            noises = np.random.default_rng(100 + index).standard_normal((paths, horizon, 2))
            state, action = jnp.asarray(state), jnp.asarray(action)
            (returns, max_reward), (grad_s, grad_a) = value_and_grads(state, action, noises)
            bias = LQ_GAMMA**horizon * float(max_reward.max()) / (1 - LQ_GAMMA)
            exact = q(state, action)
            for name, samples, expected in (
                ("value", np.asarray(returns)[:, None], np.atleast_1d(exact.value)),
                ("dq_ds", np.asarray(grad_s), np.asarray(exact.dq_ds)),
                ("dq_da", np.asarray(grad_a), np.asarray(exact.dq_da)),
            ):
                standard_error = samples.std(axis=0, ddof=1) / math.sqrt(paths)
                tolerance = 5 * standard_error + bias
                error = np.abs(samples.mean(axis=0) - expected)
                assert np.all(error <= tolerance), (name, index, error, tolerance)
                if name == "value":
                    assert tolerance[0] < noise_constant, (tolerance, noise_constant)


def test_lq_noise_is_required_when_sigma_is_nonzero():
    env = _lq()
    with pytest.raises(ValueError, match="noise is required"):
        env.step(jnp.zeros(2), jnp.zeros(1))
    samples = np.asarray(jax.vmap(env.sample_noise)(jax.random.split(jax.random.key(1), 4000)))
    assert samples.shape == (4000, 2)
    np.testing.assert_allclose(np.cov(samples.T), np.eye(2), atol=0.1)  # standard normal ε


def test_exact_q_rejects_an_unstable_policy_and_a_bad_gain():
    env = _lq()
    with pytest.raises(ValueError, match="too unstable"):
        env.exact_q([[0.0, 5.0]], LQ_GAMMA)
    with pytest.raises(ValueError, match="K must have shape"):
        env.exact_q([[0.2, -0.4, 0.0]], LQ_GAMMA)
    with pytest.raises(ValueError, match="gamma"):
        env.exact_q(LQ_K, 1.0)


def test_linear_quadratic_rejects_bad_matrices():
    with pytest.raises(ValueError, match="Q must be symmetric"):
        linear_quadratic(LQ_A, LQ_B, [[1.0, 0.5], [0.0, 1.0]], LQ_R, LQ_SIGMA)
    with pytest.raises(ValueError, match="Sigma must be positive semi-definite"):
        linear_quadratic(LQ_A, LQ_B, LQ_Q, LQ_R, -LQ_SIGMA)
    with pytest.raises(ValueError, match="B must have shape"):
        linear_quadratic(LQ_A, [[1.0], [0.0], [0.0]], LQ_Q, LQ_R, LQ_SIGMA)


# ----------------------------------------------------------------------------- 1-D toy


def _toy_oracle(state, action):
    """The documented toy equations in float64 NumPy: next state, reward, terminated."""
    control = np.clip(action, -1.0, 1.0)
    next_state = state + 0.1 * control * (1.0 + 0.5 * np.sin(3.0 * state))
    reward = (
        np.exp(-4.0 * (state - 1.0) ** 2)
        + 0.6 * np.exp(-8.0 * (state + 1.0) ** 2)
        - 0.05 * control**2
    )
    return next_state, reward, np.abs(next_state) > 2.0


def test_toy_shapes_dtypes_and_determinism():
    env = toy_1d()
    assert (env.state_dim, env.obs_dim, env.action_dim, env.noise_dim) == (1, 1, 1, 0)
    assert (env.action_low, env.action_high, env.max_episode_steps) == ((-1.0,), (1.0,), 100)
    key = jax.random.key(3)
    state = env.reset(key)
    assert state.shape == (1,) and state.dtype == jnp.float32
    np.testing.assert_array_equal(env.reset(key), state)
    result = env.step(state, jnp.array([0.5]))
    assert isinstance(result, EnvStep)
    assert result.next_state.shape == (1,) and result.reward.shape == ()
    assert result.terminated.shape == () and result.terminated.dtype == jnp.bool_
    assert env.observe(state).shape == (1,) and env.sample_noise(key).shape == (0,)
    starts = np.asarray(jax.vmap(env.reset)(jax.random.split(key, 1000)))
    assert np.all(np.abs(starts) <= 1.5) and starts.min() < -1.4 and starts.max() > 1.4
    np.testing.assert_array_equal(np.asarray(env.step(state, jnp.array([0.5]))[0]), result[0])


def test_toy_values_and_termination_equal_the_numpy_oracle():
    """A grid over s ∈ [−2.2, 2.2], a ∈ [−2, 2] (clipped beyond ±1), float64, vmapped."""
    env = toy_1d()
    states, actions = np.meshgrid(np.linspace(-2.2, 2.2, 89), np.linspace(-2.0, 2.0, 17))
    states, actions = states.reshape(-1, 1), actions.reshape(-1, 1)
    with jax.enable_x64(True):
        ours = jax.vmap(env.step)(jnp.asarray(states), jnp.asarray(actions))
    next_state, reward, terminated = _toy_oracle(states[:, 0], actions[:, 0])
    np.testing.assert_allclose(np.asarray(ours.next_state)[:, 0], next_state, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.asarray(ours.reward), reward, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(np.asarray(ours.terminated), terminated)
    assert 0 < terminated.sum() < terminated.size
    # The bumps: global maximum near s = 1, local one near s = −1 (a = 0).
    grid = np.linspace(-2.0, 2.0, 4001)
    values = _toy_oracle(grid, 0.0)[1]
    assert abs(grid[np.argmax(values)] - 1.0) < 1e-2
    left = grid < 0
    assert abs(grid[left][np.argmax(values[left])] + 1.0) < 1e-2


def test_toy_derivatives_equal_finite_differences():
    """Away from |a| = 1: smooth, F_s = 1 + 0.15 u cos 3s ≠ 1, F_a = 0.1 (1 + 0.5 sin 3s)."""
    rng = np.random.default_rng(11)
    states, actions = rng.uniform(-2.0, 2.0, (64, 1)), rng.uniform(-1.5, 1.5, (64, 1))
    keep = np.abs(np.abs(actions[:, 0]) - 1.0) > 1e-3
    states, actions = states[keep], actions[keep]
    with jax.enable_x64(True):
        actual = _check_derivatives(toy_1d(), states, actions)
    position, control = states[:, 0], np.clip(actions[:, 0], -1, 1)
    jac_s = 1 + 0.15 * control * np.cos(3 * position)
    jac_a = 0.1 * (1 + 0.5 * np.sin(3 * position)) * (np.abs(actions[:, 0]) < 1)
    np.testing.assert_allclose(actual["jac_s"][:, 0, 0], jac_s, rtol=0, atol=1e-14)
    np.testing.assert_allclose(actual["jac_a"][:, 0, 0], jac_a, rtol=0, atol=1e-14)
    assert np.abs(jac_s - 1).max() > 0.1  # the chain-rule term is not the identity


def test_toy_terminates_only_outside_the_interval():
    env = toy_1d()
    with jax.enable_x64(True):
        assert bool(env.step(jnp.array([1.99]), jnp.array([1.0])).terminated)
        assert bool(env.step(jnp.array([-1.99]), jnp.array([-1.0])).terminated)
        assert not bool(env.step(jnp.array([1.99]), jnp.array([-1.0])).terminated)
        assert not bool(env.step(jnp.array([0.0]), jnp.array([1.0])).terminated)


# ----------------------------------------------------------------------------- bad input

ENVS = {"pendulum": pendulum, "linear_quadratic": _lq, "toy_1d": toy_1d}


@pytest.mark.parametrize("name", sorted(ENVS))
def test_wrong_shapes_raise_value_errors_naming_the_argument(name):
    env = ENVS[name]()
    state = jnp.zeros(env.state_dim)
    action = jnp.zeros(env.action_dim)
    noise = jnp.zeros(env.noise_dim)
    for bad_action in (jnp.zeros(env.action_dim + 1), jnp.zeros((1, env.action_dim)), 0.0):
        with pytest.raises(ValueError, match=r"step: action must have shape"):
            env.step(state, bad_action, noise)
        with pytest.raises(ValueError, match=r"reward: action must have shape"):
            env.reward(state, bad_action)
    with pytest.raises(ValueError, match=r"step: state must have shape"):
        env.step(jnp.zeros(env.state_dim + 1), action, noise)
    with pytest.raises(ValueError, match=r"observe: state must have shape"):
        env.observe(jnp.zeros((2, env.state_dim)))
    with pytest.raises(ValueError, match=r"step: noise must have shape"):
        env.step(state, action, jnp.zeros(env.noise_dim + 1))
    with pytest.raises(ValueError, match=r"action must be a real array"):
        env.step(state, jnp.array([True] * env.action_dim), noise)
    # The checks are static, so they also fire under vmap (a batch passed without vmap fails).
    with pytest.raises(ValueError, match=r"step: action must have shape"):
        jax.vmap(env.step)(state[None], jnp.zeros((1, env.action_dim + 1)), noise[None])
    with pytest.raises(ValueError, match=r"step: action must have shape"):
        env.step(state, jnp.zeros((4, env.action_dim)), noise)


def test_exact_q_checks_its_inputs():
    q = _lq().exact_q(LQ_K, LQ_GAMMA)
    with pytest.raises(ValueError, match=r"exact_q: action must have shape \(1,\)"):
        q(jnp.zeros(2), jnp.zeros(2))
    with pytest.raises(ValueError, match=r"exact_q: state must have shape \(2,\)"):
        q(jnp.zeros(3), jnp.zeros(1))
