"""Linear-Gaussian Sobolev returns: closed form vs finite differences and Monte Carlo (docs/claims.md#c5).

Oracles. The pathwise return ``G(s, a)`` is simulated directly from the dynamics with a
fixed noise sequence, and its gradient taken by central finite differences. For fixed
noise ``G`` is exactly quadratic in ``(s, a)``, so central differences carry no truncation
error, only rounding (about ``eps |G| / h``). The horizon ``H`` is cut where the neglected
tail is below ``1e-14`` relative. Nothing in the oracle uses ``P``, ``Ξ`` or the
Lyapunov solver.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sobolev_core._linear import LinearGaussianSobolev, LinearSobolevLaw, SobolevAffineMap

# Five standard errors: two-sided normal tail P(|N(0,1)| > 5) = 5.7e-7 per compared entry.
N_SIGMA = 5.0


def _stable_system() -> LinearGaussianSobolev:
    """n = 2, m = 1, closed loop with spectral radius < 1, full-rank noise."""
    return LinearGaussianSobolev(
        A=[[0.9, 0.3], [-0.2, 0.8]],
        B=[[0.0], [1.0]],
        K=[[-0.2, -0.3]],
        Q=[[1.0, 0.2], [0.2, 0.5]],
        R=[[0.3]],
        Sigma=[[0.04, 0.01], [0.01, 0.09]],
        gamma=0.9,
    )


def _growing_system() -> LinearGaussianSobolev:
    """n = 3, m = 2, closed loop with ρ(A + BK) = 1.05 > 1 but γρ² = 0.882 < 1; rank-2 noise."""
    rng = np.random.default_rng(20260501)
    A = rng.normal(size=(3, 3))
    B = rng.normal(size=(3, 2))
    K = 0.3 * rng.normal(size=(2, 3))
    scale = 1.05 / np.max(np.abs(np.linalg.eigvals(A + B @ K)))
    noise_factor = 0.3 * rng.normal(size=(3, 2))
    q_factor = rng.normal(size=(3, 3))
    return LinearGaussianSobolev(
        A=scale * A,
        B=B,
        K=scale * K,  # A + B K scales with A and K together
        Q=q_factor @ q_factor.T / 3.0,
        R=np.diag([0.5, 0.2]),
        Sigma=noise_factor @ noise_factor.T,
        gamma=0.8,
    )


SYSTEMS = {"stable": _stable_system, "growing": _growing_system}


def _point(system: LinearGaussianSobolev, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=system.state_dim), rng.normal(size=system.action_dim)


def _horizon(system: LinearGaussianSobolev) -> int:
    """``H`` with ``(γ max(ρ, ρ²))^H < 1e-14``, plus 50 steps for non-normal transients.

    ``∂G/∂(s, a)`` has tail terms ``γ^t (Acᵀ)^t Q_K s_t``: ``‖Ac^t‖ ~ ρ^t`` and ``s_t`` is
    either stationary (``ρ < 1``) or grows like ``ρ^t``.
    """
    closed = system.A + system.B @ system.K
    radius = float(np.max(np.abs(np.linalg.eigvals(closed))))
    rate = system.gamma * max(radius, radius**2)
    return math.ceil(math.log(1e-14) / math.log(rate)) + 50


def _noise_sequences(system, n_draws: int, horizon: int, rng) -> np.ndarray:
    """``(n_draws, H, n)`` draws of ``w ~ N(0, Σ)`` (eigen-factor, so singular Σ works)."""
    eigenvalues, eigenvectors = np.linalg.eigh(system.Sigma)
    factor = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    return rng.standard_normal((n_draws, horizon, system.state_dim)) @ factor.T


def _pathwise_returns(system, states, actions, noise) -> np.ndarray:
    """``G = Σ_{t<H} γ^t r_t`` with ``a_0 = a``, ``a_t = K s_t``, ``s_{t+1} = A s_t + B a_t + w_t``.

    ``states (..., N, n)``, ``actions (..., N, m)``, ``noise (N, H, n)``; returns ``(..., N)``.
    """
    total = np.zeros(states.shape[:-1])
    discount = 1.0
    for step in range(noise.shape[1]):
        reward = -(
            np.einsum("...i,ij,...j->...", states, system.Q, states)
            + np.einsum("...i,ij,...j->...", actions, system.R, actions)
        )
        total = total + discount * reward
        states = states @ system.A.T + actions @ system.B.T + noise[:, step]
        actions = states @ system.K.T
        discount *= system.gamma
    return total


def _fd_gradients(system, s, a, noise, step: float = 1e-2) -> np.ndarray:
    """Central differences of ``G`` in ``(s, a)`` for each noise sequence: ``(N, n + m)``.

    ``G`` is quadratic in ``(s, a)`` for fixed noise, so a large ``step`` is exact and keeps
    the rounding error ``~ eps |G| / step`` small.
    """
    n, m = system.state_dim, system.action_dim
    point = np.concatenate([s, a])
    offsets = np.concatenate([step * np.eye(n + m), -step * np.eye(n + m)])  # (2D, D)
    points = point + offsets  # (2D, D)
    n_draws = noise.shape[0]
    states = np.broadcast_to(points[:, None, :n], (2 * (n + m), n_draws, n))
    actions = np.broadcast_to(points[:, None, n:], (2 * (n + m), n_draws, m))
    returns = _pathwise_returns(system, states, actions, noise)  # (2D, N)
    return ((returns[: n + m] - returns[n + m :]) / (2.0 * step)).T


def _operator_matrix(system) -> np.ndarray:
    """``M = [Aᵀ; Bᵀ] [I_n, Kᵀ]`` built here independently of the module."""
    return np.block([[system.A.T], [system.B.T]]) @ np.block([np.eye(system.state_dim), system.K.T])


# --------------------------------------------------------------------------- 1. Monte Carlo


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_gradient_law_matches_monte_carlo_of_finite_differences(name):
    system = SYSTEMS[name]()
    s, a = _point(system, seed=1)
    n_draws = 2000
    noise = _noise_sequences(system, n_draws, _horizon(system), np.random.default_rng(7))
    gradients = _fd_gradients(system, s, a, noise)  # (N, D)
    mean, covariance = system.gradient_law(s, a)

    sample_mean = gradients.mean(axis=0)
    sample_cov = np.cov(gradients, rowvar=False)
    # Mean: the sample mean of N i.i.d. draws has standard error sqrt(S_kk / N) per component
    # (S the sample covariance, independent of the closed form being tested).
    mean_tolerance = N_SIGMA * np.sqrt(np.diag(sample_cov) / n_draws)
    np.testing.assert_array_less(np.abs(sample_mean - mean), mean_tolerance + 1e-12)
    # Covariance: for Gaussian data Var(S_ij) = (C_ij² + C_ii C_jj) / (N - 1) asymptotically
    # (Isserlis); plug in S for C. D + D(D+1)/2 <= 20 entries at 5σ: family-wise false-alarm
    # probability <= 20 × 5.7e-7 ≈ 1e-5 in the normal approximation (seed fixed for CI).
    variances = np.diag(sample_cov)
    cov_tolerance = N_SIGMA * np.sqrt(
        (sample_cov**2 + np.outer(variances, variances)) / (n_draws - 1)
    )
    np.testing.assert_array_less(np.abs(sample_cov - covariance), cov_tolerance + 1e-12)

    # Power: the same tolerances reject the formulas with a classic mistake.
    inputs = np.hstack([system.A, system.B])
    hessian = system.value_hessian()
    wrong_sign_mean = mean + 4.0 * system.gamma * inputs.T @ hessian @ inputs @ np.r_[s, a]
    assert np.any(np.abs(sample_mean - wrong_sign_mean) > mean_tolerance)
    without_xi = system.gamma**2 * inputs.T @ (4.0 * hessian @ system.Sigma @ hessian) @ inputs
    assert np.any(np.abs(sample_cov - without_xi) > cov_tolerance)


# --------------------------------------------------------------------------- 2. exact pathwise


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_pathwise_gradient_formula_is_exact_for_one_noise_sequence(name):
    system = SYSTEMS[name]()
    s, a = _point(system, seed=2)
    horizon = _horizon(system)
    noise = _noise_sequences(system, 1, horizon, np.random.default_rng(11))
    gradient = _fd_gradients(system, s, a, noise)[0]

    hessian = system.value_hessian()
    closed = system.closed_loop
    gamma = system.gamma
    xi = np.zeros(system.state_dim)  # ξ_H = 0, then ξ_t = γ Acᵀ (-2 P w_t + ξ_{t+1})
    for step in range(horizon - 1, 0, -1):
        xi = gamma * closed.T @ (-2.0 * hessian @ noise[0, step] + xi)
    mean, _ = system.gradient_law(s, a)
    expected = mean + gamma * np.vstack([system.A.T, system.B.T]) @ (
        -2.0 * hessian @ noise[0, 0] + xi
    )
    # Rounding of the central difference: eps |G| / h with |G| = O(10²), h = 1e-2 -> ~1e-12;
    # truncation of the horizon below 1e-14. 1e-9 relative leaves a margin of ~1000.
    np.testing.assert_allclose(gradient, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


# --------------------------------------------------------------------------- 3. operator


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_sampled_operator_converges_to_closed_form_from_two_starts(name):
    system = SYSTEMS[name]()
    dimension = system.state_dim + system.action_dim
    n_particles = 20_000
    # Gain error contracts like (γρ²)^k; (γρ²)^k < 1e-11 plus 20 steps for non-normal transients
    # keeps it far below the 1e-8 tolerance.
    n_iterations = math.ceil(math.log(1e-11) / math.log(system.stability_margin())) + 20
    rng = np.random.default_rng(3)
    starts = {
        "zero": None,
        "random": system.initial_law(
            n_particles,
            gain=3.0 * rng.normal(size=(dimension, dimension)),
            noise_scale=2.0,
            rng=rng,
        ),
    }
    fixed_gain = system.fixed_point_gain()
    for label, start in starts.items():
        law = system.iterate_operator(n_iterations, n_particles, rng, start=start)
        scale = np.abs(fixed_gain).max()
        np.testing.assert_allclose(law.gain, fixed_gain, rtol=0, atol=1e-8 * scale, err_msg=label)
        for seed in (4, 5):
            s, a = _point(system, seed)
            mean, covariance = system.gradient_law(s, a)
            np.testing.assert_allclose(
                law.gain @ np.r_[s, a], mean, rtol=0, atol=1e-8 * np.abs(mean).max(), err_msg=label
            )
        # The particles are i.i.d. N(0, C_k): each is a sum of fresh Gaussian draws along its
        # own chain (the permutation is a bijection; the random start is i.i.d. too), and
        # C_k differs from C by terms O((γρ)^(2k)) < 1e-15 relative (ρ(γM) = γρ(Ac)), far
        # below the tolerance. Hence for the second moment S = ZᵀZ / N exactly
        # Var(S_ij) = (C_ij² + C_ii C_jj) / N and Var(mean_k) = C_kk / N; 5σ per entry, i.e.
        # about 5 × sqrt(2 / 20000) = 5% of the diagonal.
        particles = law.noise
        assert particles.shape == (n_particles, dimension)
        variances = np.diag(covariance)
        mean_tolerance = N_SIGMA * np.sqrt(variances / n_particles)
        np.testing.assert_array_less(np.abs(particles.mean(axis=0)), mean_tolerance)
        second_moment = particles.T @ particles / n_particles
        cov_tolerance = N_SIGMA * np.sqrt(
            (covariance**2 + np.outer(variances, variances)) / n_particles
        )
        np.testing.assert_array_less(np.abs(second_moment - covariance), cov_tolerance + 1e-15)


def test_operator_keeps_the_fixed_point_gain_and_is_exact_for_the_family():
    system = _stable_system()
    rng = np.random.default_rng(8)
    dimension = system.state_dim + system.action_dim
    law = LinearSobolevLaw(gain=system.fixed_point_gain(), noise=rng.normal(size=(5, dimension)))
    image = system.apply_operator_samples(law, rng)
    np.testing.assert_allclose(image.gain, law.gain, rtol=1e-12, atol=1e-12)
    # Exactness: with the same noise draws and permutation, T X(s, a) computed particle by
    # particle from the definition b + γ M X(s', K s') equals the new law at (s, a).
    law = LinearSobolevLaw(
        gain=rng.normal(size=(dimension, dimension)), noise=rng.normal(size=(5, dimension))
    )
    seed = 99
    image = system.apply_operator_samples(law, np.random.default_rng(seed))
    replay = np.random.default_rng(seed)
    noise_draws = system.sample_noise(5, replay)
    order = replay.permutation(5)
    s, a = _point(system, seed=6)
    next_states = system.A @ s + system.B @ a + noise_draws  # (N, n)
    direct = np.array(
        [
            np.r_[-2.0 * system.Q @ s, -2.0 * system.R @ a]
            + system.gamma
            * _operator_matrix(system)
            @ (law.gain @ np.r_[state, system.K @ state] + law.noise[index])
            for state, index in zip(next_states, order, strict=True)
        ]
    )
    np.testing.assert_allclose(image.sample_at(s, a), direct, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- 4. errors


def _unstable(gamma: float, pole: float) -> LinearGaussianSobolev:
    return LinearGaussianSobolev(
        A=[[pole]], B=[[1.0]], K=[[0.0]], Q=[[1.0]], R=[[1.0]], Sigma=[[1.0]], gamma=gamma
    )


@pytest.mark.parametrize(("gamma", "pole"), [(0.9, 1.2), (0.25, 2.0)])  # γρ² = 1.296 and 1.0
def test_too_unstable_closed_loop_is_refused(gamma, pole):
    system = _unstable(gamma, pole)
    with pytest.raises(ValueError, match=r"too unstable for this gamma.*gamma \* rho"):
        system.gradient_law(np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="gamma"):
        system.value_hessian()


def _kwargs(**overrides):
    system = dict(
        A=np.eye(2) * 0.5,
        B=np.ones((2, 1)),
        K=np.zeros((1, 2)),
        Q=np.eye(2),
        R=np.eye(1),
        Sigma=np.eye(2),
        gamma=0.9,
    )
    system.update(overrides)
    return system


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"A": np.ones((2, 3))}, r"^A must be a square \(n, n\).*got shape \(2, 3\)"),
        ({"A": "matrix"}, r"^A must be"),
        ({"B": np.ones((3, 1))}, r"^B must have shape \(2, m\).*got shape \(3, 1\)"),
        ({"K": np.zeros((2, 2))}, r"^K must have shape \(1, 2\).*got shape \(2, 2\)"),
        ({"Q": np.eye(3)}, r"^Q must have shape \(2, 2\).*got shape \(3, 3\)"),
        ({"R": np.eye(2)}, r"^R must have shape \(1, 1\)"),
        ({"Sigma": np.array([[1.0, np.nan], [np.nan, 1.0]])}, r"^Sigma must be finite"),
        ({"A": np.array([[np.inf, 0.0], [0.0, 1.0]])}, r"^A must be finite"),
        ({"Q": np.array([[1.0, 0.1], [0.0, 1.0]])}, r"^Q must be symmetric.*got max"),
        ({"Q": np.array([[1.0, 0.0], [0.0, -0.1]])}, r"^Q must be positive semi-definite"),
        ({"Sigma": -np.eye(2)}, r"^Sigma must be positive semi-definite.*-1"),
        ({"gamma": 1.0}, r"^gamma must be in \[0, 1\); got 1.0"),
        ({"gamma": -0.1}, r"^gamma must be in \[0, 1\)"),
        ({"gamma": "high"}, r"^gamma must be a number"),
    ],
)
def test_bad_arguments_name_the_argument(overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        LinearGaussianSobolev(**_kwargs(**overrides))


def test_symmetry_is_checked_relative_to_scale():
    tiny_asymmetry = np.array([[1e6, 1.0], [1.0 + 1e-6, 1e6]])  # 1e-6 <= 1e-10 × 1e6
    system = LinearGaussianSobolev(**_kwargs(Q=tiny_asymmetry))
    np.testing.assert_array_equal(system.Q, system.Q.T)
    assert system.Q.dtype == np.float64


def test_bad_operator_arguments_name_the_argument():
    system = LinearGaussianSobolev(**_kwargs())
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^s must have shape \(2,\)"):
        system.gradient_law(np.zeros(3), np.zeros(1))
    with pytest.raises(ValueError, match=r"^s must be finite"):
        system.gradient_law(np.array([np.nan, 0.0]), np.zeros(1))
    with pytest.raises(
        ValueError, match=r"^law must be a LinearSobolevLaw of dimension n \+ m = 3"
    ):
        system.apply_operator_samples(LinearSobolevLaw(np.eye(2), np.zeros((4, 2))), rng)
    with pytest.raises(ValueError, match=r"^noise must have shape \(N, 3\)"):
        LinearSobolevLaw(np.eye(3), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"^gain must be a square"):
        LinearSobolevLaw(np.ones((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"^noise must be finite"):
        LinearSobolevLaw(np.eye(3), np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match=r"^n_particles must be an integer >= 1; got 0"):
        system.initial_law(0)
    with pytest.raises(ValueError, match=r"^start must hold n_particles = 8"):
        system.iterate_operator(1, 8, rng, start=system.initial_law(4))
    with pytest.raises(ValueError, match=r"^rng must be a numpy Generator"):
        system.initial_law(4, noise_scale=1.0)


# --------------------------------------------------------------------------- 5. modulus


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_contraction_modulus_is_gamma_times_max_one_norm_m(name):
    system = SYSTEMS[name]()
    operator = _operator_matrix(system)
    np.testing.assert_allclose(system.gradient_operator_matrix(), operator, rtol=0, atol=1e-15)
    modulus = system.contraction_modulus()
    assert modulus >= system.gamma
    assert modulus == pytest.approx(system.gamma * max(1.0, np.linalg.norm(operator, 2)), 1e-14)


def test_contraction_modulus_is_gamma_when_the_gradient_block_is_small():
    system = LinearGaussianSobolev(**_kwargs(A=0.1 * np.eye(2), B=0.1 * np.ones((2, 1))))
    assert np.linalg.norm(_operator_matrix(system), 2) < 1.0
    assert system.contraction_modulus() == system.gamma


def test_affine_map_matches_reward_derivatives_and_the_general_operator():
    from sobolev_core._operator import sobolev_affine_map

    system = _growing_system()
    s, a = _point(system, seed=9)
    affine = system.affine_map()
    assert isinstance(affine, SobolevAffineMap)
    offset = affine.offset(s, a)
    n, m = system.state_dim, system.action_dim

    def reward(point):
        return -(point[:n] @ system.Q @ point[:n] + point[n:] @ system.R @ point[n:])

    point, step = np.r_[s, a], 1e-3
    fd = [(reward(point + step * e) - reward(point - step * e)) / (2 * step) for e in np.eye(n + m)]
    assert offset[0] == pytest.approx(reward(point), rel=1e-14)
    np.testing.assert_allclose(offset[1:], fd, rtol=1e-8, atol=1e-10)  # quadratic: exact FD
    reference_offset, reference_linear = sobolev_affine_map(
        offset[0], offset[1 : 1 + n], offset[1 + n :], system.A, system.B, system.K
    )
    np.testing.assert_allclose(affine.linear, reference_linear, rtol=0, atol=1e-14)
    np.testing.assert_allclose(offset, reference_offset, rtol=0, atol=0)


def test_gradient_law_mean_is_linear_with_the_fixed_point_gain():
    system = _growing_system()
    s, a = _point(system, seed=10)
    mean, covariance = system.gradient_law(s, a)
    np.testing.assert_allclose(mean, system.fixed_point_gain() @ np.r_[s, a], rtol=1e-12)
    np.testing.assert_allclose(covariance, covariance.T, rtol=0, atol=0)
    assert np.linalg.eigvalsh(covariance).min() > -1e-12 * np.abs(covariance).max()
