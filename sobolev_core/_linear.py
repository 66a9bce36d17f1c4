"""Linear-Gaussian Sobolev returns in closed form, and the sample-based operator ([DS]; docs/claims.md#c5).

The system is ``s' = A s + B a + w``, ``w ~ N(0, Sigma)``, reward ``r = -(sᵀQs + aᵀRa)``,
policy ``a = K s``, discount ``gamma``. Along the policy the closed loop is
``Ac = A + B K`` and the per-step cost ``Q_K = Q + Kᵀ R K``.

Derivation [derived; checked against finite differences in
``tests/sobolev_core/test_linear.py``]. Fix the noise. The total state derivative of the
pathwise return along the policy, ``c_t = ∂G_t/∂s_t``, obeys

    c_t = -2 Q_K s_t + γ Acᵀ c_{t+1}.

The ansatz ``c_t = -2 P s_t + ξ_t`` with ``s_{t+1} = Ac s_t + w_t`` gives

    P   = Q_K + γ Acᵀ P Ac                          (discrete Lyapunov)
    ξ_t = -2γ Acᵀ P w_t + γ Acᵀ ξ_{t+1}             (depends on w_t, w_{t+1}, ... only)

so ``ξ_t`` is stationary, zero-mean Gaussian, independent of ``s_t``, with covariance

    Ξ = 4γ² Acᵀ P Σ P Ac + γ² Acᵀ Ξ Ac              (discrete Lyapunov).

At ``(s, a)`` with ``s_1 = A s + B a + w_0``, the chain rule through the first step gives

    ∇_s G = -2 Q s + γ Aᵀ c_1,   ∇_a G = -2 R a + γ Bᵀ c_1,   c_1 = -2 P s_1 + ξ_1,

hence ``(∇_s G, ∇_a G) ~ N(μ(s, a), C)`` with

    μ(s, a) = [-2 Q s; -2 R a] - 2γ [Aᵀ; Bᵀ] P (A s + B a)
    C       = γ² [Aᵀ; Bᵀ] (4 P Σ P + Ξ) [A, B].

Both series converge, and the pathwise return exists, exactly when ``γ ρ(Ac)² < 1``
(``ρ`` the spectral radius; this also implies ``γ ρ(Ac) < 1``, needed for ``Ξ``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from sobolev_core._arrays import check_finite, check_gamma

__all__ = [
    "LinearGaussianSobolev",
    "LinearSobolevLaw",
    "SobolevAffineMap",
]

_SYMMETRY_RTOL = 1e-10
_PSD_RTOL = 1e-10


def _float_array(name: str, value: Any, accepted: str) -> np.ndarray:
    """``value`` as a float64 array, or ``ValueError`` naming ``name`` and what is accepted."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {accepted}; got {value!r}") from None


def _matrix(name: str, value: Any, shape: tuple[int, int], meaning: str) -> np.ndarray:
    """Return ``value`` as a finite float64 matrix of ``shape`` or raise ``ValueError``."""
    array = _float_array(name, value, f"a real {shape} matrix ({meaning})")
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({meaning}); got shape {array.shape}")
    check_finite(name, array)
    return array


def _symmetric_psd(name: str, matrix: np.ndarray) -> np.ndarray:
    """Check symmetry (relative 1e-10) and positive semi-definiteness; return the symmetric part."""
    scale = float(np.max(np.abs(matrix), initial=0.0))
    asymmetry = float(np.max(np.abs(matrix - matrix.T), initial=0.0))
    if asymmetry > _SYMMETRY_RTOL * scale:
        raise ValueError(
            f"{name} must be symmetric (max |{name} - {name}ᵀ| <= 1e-10 * max |{name}|); "
            f"got max |{name} - {name}ᵀ| = {asymmetry:.3g} with max |{name}| = {scale:.3g}"
        )
    symmetric = 0.5 * (matrix + matrix.T)
    smallest = float(np.linalg.eigvalsh(symmetric)[0]) if symmetric.size else 0.0
    if smallest < -_PSD_RTOL * scale:
        raise ValueError(
            f"{name} must be positive semi-definite; got smallest eigenvalue {smallest:.6g} "
            f"(accepted: >= -1e-10 * max |{name}| = {-_PSD_RTOL * scale:.3g})"
        )
    return symmetric


class SobolevAffineMap(NamedTuple):
    """The complete Sobolev operator of the linear system as ``T X = offset(s, a) + γ linear X'``.

    ``offset(s, a)`` returns ``b = (r, ∂_s r, ∂_a r)`` of shape ``(1 + n + m,)`` with
    ``r = -(sᵀQs + aᵀRa)``, ``∂_s r = -2 Q s``, ``∂_a r = -2 R a`` (the reward is
    noise-free here). ``linear`` is ``L = blockdiag(1, M)``, shape ``(1+n+m, 1+n+m)``,
    with ``M = [Aᵀ; Bᵀ] [I_n, Kᵀ]``; ``X' = (g', u', v')`` is drawn at
    ``(s', K s')``, ``s' = A s + B a + w``. (docs/math.md#operator.)
    """

    offset: Any
    linear: np.ndarray


@dataclass(frozen=True, eq=False)
class LinearSobolevLaw:
    """A family of gradient laws, affine in ``(s, a)`` plus state-independent particles.

    ``X(s, a) = gain @ [s; a] + Z``, ``Z`` uniform over the ``N`` rows of ``noise``.
    ``X`` is the gradient block ``(∇_s G, ∇_a G)`` of a Sobolev return, dimension
    ``D = n + m``. The linear-Gaussian operator maps this family to itself (docs/claims.md#c5).

    Attributes:
      gain: ``(D, D)`` float64 matrix.
      noise: ``(N, D)`` float64 particles, ``N >= 1``.
    """

    gain: np.ndarray
    noise: np.ndarray

    def __post_init__(self) -> None:
        gain = np.asarray(self.gain, dtype=np.float64)
        noise = np.asarray(self.noise, dtype=np.float64)
        if gain.ndim != 2 or gain.shape[0] != gain.shape[1] or gain.shape[0] == 0:
            raise ValueError(
                f"gain must be a square (D, D) matrix, D = n + m >= 1; got shape {gain.shape}"
            )
        dimension = gain.shape[0]
        if noise.ndim != 2 or noise.shape[1] != dimension or noise.shape[0] == 0:
            raise ValueError(
                f"noise must have shape (N, {dimension}) with N >= 1 particles to match gain of "
                f"shape {gain.shape}; got shape {noise.shape}"
            )
        check_finite("gain", gain)
        check_finite("noise", noise)
        object.__setattr__(self, "gain", gain)
        object.__setattr__(self, "noise", noise)

    @property
    def dimension(self) -> int:
        """``D = n + m``, the size of the gradient block."""
        return self.gain.shape[0]

    @property
    def n_particles(self) -> int:
        """``N``, the number of noise particles."""
        return self.noise.shape[0]

    def _point(self, s, a) -> np.ndarray:
        point = np.concatenate(
            [
                np.atleast_1d(np.asarray(s, dtype=np.float64)),
                np.atleast_1d(np.asarray(a, np.float64)),
            ]
        )
        if point.shape != (self.dimension,):
            raise ValueError(
                f"s and a must be vectors whose lengths add up to D = {self.dimension}; got "
                f"s of shape {np.shape(s)} and a of shape {np.shape(a)}"
            )
        check_finite("(s, a)", point)
        return point

    def sample_at(self, s, a) -> np.ndarray:
        """The ``N`` particles of ``X(s, a) = gain @ [s; a] + Z``, shape ``(N, D)``."""
        return self.gain @ self._point(s, a) + self.noise

    def mean_at(self, s, a) -> np.ndarray:
        """The mean ``gain @ [s; a] + mean(Z)``, shape ``(D,)``."""
        return self.gain @ self._point(s, a) + self.noise.mean(axis=0)


@dataclass(frozen=True, eq=False)
class LinearGaussianSobolev:
    """Linear-Gaussian system with quadratic reward and linear policy (docs/math.md#linear-gaussian, docs/claims.md#c5).

    ``s' = A s + B a + w``, ``w ~ N(0, Sigma)``, ``r = -(sᵀQs + aᵀRa)``, ``a = K s``.

    Attributes:
      A: ``(n, n)`` state matrix.
      B: ``(n, m)`` input matrix.
      K: ``(m, n)`` policy gain.
      Q: ``(n, n)`` symmetric positive semi-definite state cost.
      R: ``(m, m)`` symmetric positive semi-definite action cost.
      Sigma: ``(n, n)`` symmetric positive semi-definite noise covariance (may be singular).
      gamma: discount in ``[0, 1)``.

    Arrays are stored as float64; ``Q``, ``R``, ``Sigma`` as their symmetric part (they must
    be symmetric within ``1e-10`` relative to their largest entry). Whether the closed loop is
    stable enough (``γ ρ(A + B K)² < 1``) is checked where a fixed point is needed.

    >>> system = LinearGaussianSobolev(A=[[0.5]], B=[[1.0]], K=[[0.0]], Q=[[1.0]], R=[[1.0]],
    ...                                Sigma=[[1.0]], gamma=0.5)
    >>> float(system.value_hessian()[0, 0])  # P = 1 / (1 - γ 0.5²) for a scalar system
    1.1428571428571428
    >>> system.contraction_modulus() >= system.gamma  # κ >= 1 (docs/claims.md#c1)
    True
    """

    A: np.ndarray
    B: np.ndarray
    K: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    Sigma: np.ndarray
    gamma: float
    _noise_factor: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        A = _float_array("A", self.A, "a square (n, n) state matrix")
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(
                f"A must be a square (n, n) state matrix with n >= 1; got shape {A.shape}"
            )
        n = A.shape[0]
        B = _float_array("B", self.B, f"an ({n}, m) input matrix")
        if B.ndim != 2 or B.shape[0] != n or B.shape[1] == 0:
            raise ValueError(
                f"B must have shape ({n}, m) with m >= 1 to match A of shape {A.shape}; got "
                f"shape {B.shape}"
            )
        m = B.shape[1]
        A = _matrix("A", A, (n, n), "the state matrix")
        B = _matrix("B", B, (n, m), f"the input matrix, n = {n} from A")
        K = _matrix("K", self.K, (m, n), f"the policy gain a = K s, m = {m} from B, n = {n} from A")
        Q = _symmetric_psd("Q", _matrix("Q", self.Q, (n, n), "the state cost, n from A"))
        R = _symmetric_psd("R", _matrix("R", self.R, (m, m), "the action cost, m from B"))
        Sigma = _symmetric_psd(
            "Sigma", _matrix("Sigma", self.Sigma, (n, n), "the noise covariance, n from A")
        )
        gamma = check_gamma(self.gamma)
        eigenvalues, eigenvectors = np.linalg.eigh(Sigma)
        noise_factor = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
        for name, value in (
            ("A", A),
            ("B", B),
            ("K", K),
            ("Q", Q),
            ("R", R),
            ("Sigma", Sigma),
            ("gamma", gamma),
            ("_noise_factor", noise_factor),
        ):
            object.__setattr__(self, name, value)

    # ----------------------------------------------------------------- sizes and matrices

    @property
    def state_dim(self) -> int:
        """``n``."""
        return self.A.shape[0]

    @property
    def action_dim(self) -> int:
        """``m``."""
        return self.B.shape[1]

    @property
    def closed_loop(self) -> np.ndarray:
        """``Ac = A + B K``, shape ``(n, n)``: ``s_{t+1} = Ac s_t + w_t`` along the policy."""
        return self.A + self.B @ self.K

    def closed_loop_cost(self) -> np.ndarray:
        """``Q_K = Q + Kᵀ R K``, shape ``(n, n)``: the per-step cost along the policy."""
        return self.Q + self.K.T @ self.R @ self.K

    def stability_margin(self) -> float:
        """``γ ρ(Ac)²``; the fixed point exists exactly when it is ``< 1``."""
        radius = float(np.max(np.abs(np.linalg.eigvals(self.closed_loop))))
        return self.gamma * radius * radius

    def _require_stable(self) -> None:
        margin = self.stability_margin()
        if not margin < 1.0:
            raise ValueError(
                "the closed loop A + B K is too unstable for this gamma: gamma * rho(A + B K)**2 "
                f"= {margin:.6g} with gamma = {self.gamma!r} (rho = spectral radius); accepted: "
                "gamma * rho(A + B K)**2 < 1, otherwise the value Hessian P and the gradient law "
                "do not exist (lower gamma or stabilise K)"
            )

    def _input_stack(self) -> np.ndarray:
        """``[A, B]``, shape ``(n, n + m)``: ``s' = [A, B] [s; a] + w``."""
        return np.hstack([self.A, self.B])

    def _policy_stack(self) -> np.ndarray:
        """``[I_n; K]``, shape ``(n + m, n)``: ``[s'; K s'] = [I_n; K] s'``."""
        return np.vstack([np.eye(self.state_dim), self.K])

    def reward_hessian(self) -> np.ndarray:
        """``blockdiag(-2Q, -2R)``, shape ``(n+m, n+m)``: ``(∂_s r, ∂_a r) = it @ [s; a]``."""
        n, m = self.state_dim, self.action_dim
        hessian = np.zeros((n + m, n + m))
        hessian[:n, :n] = -2.0 * self.Q
        hessian[n:, n:] = -2.0 * self.R
        return hessian

    def gradient_operator_matrix(self) -> np.ndarray:
        """``M = [Aᵀ; Bᵀ] [I_n, Kᵀ]``, shape ``(n+m, n+m)``: the gradient block of ``L``.

        The complete operator's gradient block is ``T(u, v)(s, a) = [-2Qs; -2Ra] + γ M (u', v')``
        with ``(u', v')`` drawn at ``(s', K s')`` (docs/math.md#operator with ``F_s = A``, ``F_a = B``,
        ``Π' = K``).
        """
        matrix = self._input_stack().T @ self._policy_stack().T
        n, m = self.state_dim, self.action_dim
        assert matrix.shape == (n + m, n + m)
        return matrix

    def affine_map(self) -> SobolevAffineMap:
        """The complete operator as ``T X = b(s, a) + γ L X'`` (docs/math.md#operator).

        ``b(s, a) = (-(sᵀQs + aᵀRa), -2 Q s, -2 R a)`` of shape ``(1+n+m,)`` and
        ``L = blockdiag(1, M)`` of shape ``(1+n+m, 1+n+m)``, ``M`` from
        ``gradient_operator_matrix``; ``L`` does not depend on ``(s, a, w)`` here.
        """
        n, m = self.state_dim, self.action_dim
        Q, R = self.Q, self.R

        def offset(s, a) -> np.ndarray:
            s = np.asarray(s, dtype=np.float64)
            a = np.asarray(a, dtype=np.float64)
            if s.shape != (n,) or a.shape != (m,):
                raise ValueError(
                    f"s and a must have shapes ({n},) and ({m},); got {s.shape} and {a.shape}"
                )
            reward = -(s @ Q @ s + a @ R @ a)
            return np.concatenate([[reward], -2.0 * Q @ s, -2.0 * R @ a])

        linear = np.zeros((1 + n + m, 1 + n + m))
        linear[0, 0] = 1.0
        linear[1:, 1:] = self.gradient_operator_matrix()
        return SobolevAffineMap(offset=offset, linear=linear)

    def contraction_modulus(self) -> float:
        """``γ κ`` with ``κ = max(1, ‖M‖_2)`` ([DS] Theorem 1; docs/claims.md#c1).

        The value block of ``L = blockdiag(1, M)`` contributes the 1, so ``γ κ >= γ``.
        ``L`` is constant in the linear case, so the supremum over ``(s, a, ε)`` is ``‖L‖_2``.
        ``γ κ < 1`` is sufficient for a unique fixed point, not necessary: here the fixed point
        exists whenever ``γ ρ(A + B K)² < 1`` (see ``gradient_law``), even with ``γ κ >= 1``.
        """
        return self.gamma * max(1.0, float(np.linalg.norm(self.gradient_operator_matrix(), 2)))

    # ----------------------------------------------------------------- closed form

    def value_hessian(self) -> np.ndarray:
        """``P`` solving ``P = Q_K + γ Acᵀ P Ac``, shape ``(n, n)``, symmetric PSD.

        ``V(s) = -sᵀ P s + const`` and the total state derivative of the pathwise return is
        ``c_t = -2 P s_t + ξ_t`` (docs/math.md#linear-gaussian, docs/claims.md#c5). Raises ``ValueError`` unless
        ``γ ρ(Ac)² < 1``.
        """
        self._require_stable()
        closed = self.closed_loop
        hessian = scipy.linalg.solve_discrete_lyapunov(
            np.sqrt(self.gamma) * closed.T, self.closed_loop_cost()
        )
        return 0.5 * (hessian + hessian.T)

    def xi_covariance(self) -> np.ndarray:
        """``Ξ`` solving ``Ξ = 4γ² Acᵀ P Σ P Ac + γ² Acᵀ Ξ Ac``, shape ``(n, n)``.

        The covariance of the stationary noise term ``ξ_t = -2γ Acᵀ P w_t + γ Acᵀ ξ_{t+1}``
        of ``c_t = -2 P s_t + ξ_t`` (docs/claims.md#c5). Raises ``ValueError`` unless ``γ ρ(Ac)² < 1``.
        """
        hessian = self.value_hessian()
        closed = self.closed_loop
        gamma = self.gamma
        source = 4.0 * gamma**2 * closed.T @ hessian @ self.Sigma @ hessian @ closed
        covariance = scipy.linalg.solve_discrete_lyapunov(gamma * closed.T, source)
        return 0.5 * (covariance + covariance.T)

    def gradient_law(self, s, a) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the Gaussian ``(∇_s G, ∇_a G)`` at ``(s, a)`` (docs/claims.md#c5).

        ``μ = [-2 Q s; -2 R a] - 2γ [Aᵀ; Bᵀ] P (A s + B a)``, shape ``(n+m,)``;
        ``C = γ² [Aᵀ; Bᵀ] (4 P Σ P + Ξ) [A, B]``, shape ``(n+m, n+m)`` (independent of
        ``(s, a)``). ``s`` has shape ``(n,)``, ``a`` shape ``(m,)``.

        Raises ``ValueError`` unless ``γ ρ(A + B K)² < 1``.
        """
        n, m = self.state_dim, self.action_dim
        s = np.asarray(s, dtype=np.float64)
        a = np.asarray(a, dtype=np.float64)
        if s.shape != (n,) or a.shape != (m,):
            raise ValueError(
                f"s must have shape ({n},) and a shape ({m},); got s of shape {s.shape} and a of "
                f"shape {a.shape}"
            )
        check_finite("s", s)
        check_finite("a", a)
        hessian = self.value_hessian()
        xi_cov = self.xi_covariance()
        inputs = self._input_stack()  # [A, B]
        point = np.concatenate([s, a])
        mean = (
            self.reward_hessian() @ point - 2.0 * self.gamma * inputs.T @ hessian @ inputs @ point
        )
        middle = 4.0 * hessian @ self.Sigma @ hessian + xi_cov
        covariance = self.gamma**2 * inputs.T @ middle @ inputs
        covariance = 0.5 * (covariance + covariance.T)
        assert mean.shape == (n + m,) and covariance.shape == (n + m, n + m)
        return mean, covariance

    def fixed_point_gain(self) -> np.ndarray:
        """The gain of the operator's fixed point, ``blockdiag(-2Q, -2R) - 2γ [Aᵀ; Bᵀ] P [A, B]``.

        ``gradient_law(s, a)[0] == fixed_point_gain() @ [s; a]``; shape ``(n+m, n+m)``.
        """
        inputs = self._input_stack()
        return self.reward_hessian() - 2.0 * self.gamma * inputs.T @ self.value_hessian() @ inputs

    # ----------------------------------------------------------------- sample-based operator

    def sample_noise(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """Draws of ``w ~ N(0, Sigma)``, shape ``(n_samples, n)``; ``Sigma`` may be singular."""
        standard = rng.standard_normal((int(n_samples), self.state_dim))
        return standard @ self._noise_factor.T

    def initial_law(
        self,
        n_particles: int,
        *,
        gain=None,
        noise_scale: float = 0.0,
        rng: np.random.Generator | None = None,
    ) -> LinearSobolevLaw:
        """A start: ``gain`` (default zeros) and ``N`` particles from ``N(0, noise_scale² I)``.

        ``noise_scale = 0`` (default) gives zero particles; ``noise_scale > 0`` needs ``rng``.
        """
        dimension = self.state_dim + self.action_dim
        n_particles = _positive_int("n_particles", n_particles)
        if gain is None:
            gain = np.zeros((dimension, dimension))
        scale = float(noise_scale)
        if not (np.isfinite(scale) and scale >= 0.0):
            raise ValueError(f"noise_scale must be a finite number >= 0; got {noise_scale!r}")
        if scale > 0.0:
            if rng is None:
                raise ValueError("rng must be a numpy Generator when noise_scale > 0; got None")
            noise = scale * rng.standard_normal((n_particles, dimension))
        else:
            noise = np.zeros((n_particles, dimension))
        return LinearSobolevLaw(gain=gain, noise=noise)

    def apply_operator_samples(
        self, law: LinearSobolevLaw, rng: np.random.Generator
    ) -> LinearSobolevLaw:
        """One application of the sampled gradient-block operator to ``law`` ([DS]; docs/math.md#linear-gaussian, docs/claims.md#c5).

        With ``J = [I_n; K]`` ``(n+m, n)`` and ``[A, B]`` ``(n, n+m)``, the operator maps
        ``X(s, a) = G [s; a] + Z`` to ``T X(s, a) = G_new [s; a] + Z_new`` where

            G_new   = blockdiag(-2Q, -2R) + γ M G J [A, B]
            Z_new_i = γ M (G J w_i + Z_π(i)),   w_i ~ N(0, Σ) fresh,

        and ``π`` is a uniformly random permutation of the particles. The map is exact for
        the family: ``s' = [A, B][s; a] + w`` and ``X(s', K s') = G J s' + Z``. Because ``π``
        is a bijection and each ``w_i`` is fresh, particles built from i.i.d. particles stay
        i.i.d. (resampling with replacement would correlate them).
        """
        dimension = self.state_dim + self.action_dim
        if not isinstance(law, LinearSobolevLaw) or law.dimension != dimension:
            raise ValueError(
                f"law must be a LinearSobolevLaw of dimension n + m = {dimension}; got "
                f"{type(law).__name__} with gain of shape {getattr(law, 'gain', np.empty(0)).shape}"
            )
        operator = self.gradient_operator_matrix()
        policy_stack = self._policy_stack()
        gain_policy = law.gain @ policy_stack  # (n+m, n)
        new_gain = self.reward_hessian() + self.gamma * operator @ gain_policy @ self._input_stack()
        noise_draws = self.sample_noise(law.n_particles, rng)  # (N, n)
        permuted = law.noise[rng.permutation(law.n_particles)]  # (N, n+m)
        new_noise = self.gamma * (noise_draws @ gain_policy.T + permuted) @ operator.T
        assert new_gain.shape == (dimension, dimension) and new_noise.shape == law.noise.shape
        return LinearSobolevLaw(gain=new_gain, noise=new_noise)

    def iterate_operator(
        self,
        n_iterations: int,
        n_particles: int,
        rng: np.random.Generator,
        start: LinearSobolevLaw | None = None,
    ) -> LinearSobolevLaw:
        """Apply ``apply_operator_samples`` ``n_iterations`` times from ``start`` (docs/claims.md#c5).

        ``start`` defaults to zero gain and ``n_particles`` zero particles; a given ``start``
        must hold ``n_particles`` particles. The gain iterates converge geometrically at rate
        ``γ ρ(Ac)²`` to ``fixed_point_gain()``; the particle law to ``N(0, C)`` of
        ``gradient_law``. No stability check is made, so divergence can be observed
        (docs/claims.md#c4).
        """
        n_iterations = int(n_iterations)
        if n_iterations < 0:
            raise ValueError(f"n_iterations must be an integer >= 0; got {n_iterations!r}")
        n_particles = _positive_int("n_particles", n_particles)
        law = self.initial_law(n_particles) if start is None else start
        if law.n_particles != n_particles:
            raise ValueError(
                f"start must hold n_particles = {n_particles} particles; got noise of shape "
                f"{law.noise.shape}"
            )
        for _ in range(n_iterations):
            law = self.apply_operator_samples(law, rng)
        return law


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)
