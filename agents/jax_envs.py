"""Differentiable environments in JAX: Pendulum-v1, linear-quadratic, and a 1-D toy.

First-order Sobolev TD ([FS], docs/claims.md#c6, docs/agents.md "Sobolev-TD") needs the simulator's
derivatives: the gradient targets are

    g_s = ∂_s r + γ F_sᵀ c,   g_a = ∂_a r + γ F_aᵀ c,   c = ∂_s' Q̄ + Π'ᵀ ∂_a' Q̄,

with ``F_s = ∂f/∂s``, ``F_a = ∂f/∂a`` of the transition ``s' = f(s, a, ε)`` (docs/math.md#setting). The
environments here are pure JAX functions of ONE example, so those derivatives come straight
from ``jax.grad`` / ``jax.jacfwd`` of ``step`` and ``reward`` (no finite differences), and a
caller batches with ``jax.vmap``:

    env = pendulum()
    jac_s, jac_a = jax.jacfwd(lambda s, a: env.step(s, a).next_state, argnums=(0, 1))(s, a)
    dr_ds, dr_da = jax.grad(env.reward, argnums=(0, 1))(s, a)
    batch = jax.vmap(env.step)(states, actions)

Every environment is a :class:`JaxEnv`, a frozen dataclass of functions and sizes:

- ``reset(key) -> state``, shape ``(state_dim,)``;
- ``step(state, action, noise=None) -> EnvStep(next_state, reward, terminated)``;
  ``reward`` is ``reward(state, action)``, the reward of the transition *from* ``state``;
  ``terminated`` is a boolean scalar (a true terminal: the bootstrap is multiplied by
  ``1 − terminated``, docs/math.md#setting). Time-limit truncation is not part of ``step``: the caller
  counts steps against ``max_episode_steps`` and, on truncation, still bootstraps.
  Differentiate ``.next_state`` and ``.reward`` (``jax.jacfwd(env.step)`` as a whole fails
  on the boolean ``terminated``);
- ``observe(state) -> obs``, shape ``(obs_dim,)``;
- ``reward(state, action) -> scalar``, a JAX function, so ``∂_s r`` and ``∂_a r`` exist;
- ``sample_noise(key) -> ε``, shape ``(noise_dim,)``: the reparameterised noise of
  ``s' = f(s, a, ε)`` (docs/math.md#setting). Deterministic environments have ``noise_dim = 0``; with
  ``ε`` fixed, derivatives of ``step`` are the pathwise ``F_s``, ``F_a``.

Inputs are checked at trace time (shapes are static, so the checks also run under ``jit``
and ``vmap``): a wrong shape raises ``ValueError`` naming the argument. Finiteness is not
checked, since values are tracers under ``jit``; NaN propagates. Integer inputs are cast to
the default float type; float inputs keep their dtype (float64 under ``jax.enable_x64``).

Environments: :func:`pendulum` (Gymnasium ``Pendulum-v1``), :func:`linear_quadratic`
(with :meth:`LinearQuadraticEnv.exact_q`, the closed-form Q-function of a linear policy)
and :func:`toy_1d` (a 1-D problem with a multimodal reward for Sobolev TD).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sobolev_core import LinearGaussianSobolev

__all__ = [
    "EnvStep",
    "ExactQ",
    "JaxEnv",
    "LinearQuadraticEnv",
    "linear_quadratic",
    "pendulum",
    "toy_1d",
]


class EnvStep(NamedTuple):
    """What ``step`` returns; unpacks as ``next_state, reward, terminated``.

    Attributes:
      next_state: ``(state_dim,)`` state after the step.
      reward: scalar ``r(state, action)``.
      terminated: boolean scalar; true terminals only (time limits are the caller's).
    """

    next_state: jax.Array
    reward: jax.Array
    terminated: jax.Array


class ExactQ(NamedTuple):
    """A Q-value and its derivatives at one ``(s, a)``.

    Attributes:
      value: scalar ``Q(s, a)``.
      dq_ds: ``(n,)`` gradient ``∇_s Q(s, a)``.
      dq_da: ``(m,)`` gradient ``∇_a Q(s, a)``.
    """

    value: jax.Array
    dq_ds: jax.Array
    dq_da: jax.Array


@dataclass(frozen=True, eq=False)
class JaxEnv:
    """A differentiable environment as pure JAX functions on one example (see module docs).

    Attributes:
      name: short identifier.
      state_dim: size of the state vector.
      obs_dim: size of the observation vector.
      action_dim: size of the action vector.
      noise_dim: size of the noise ``ε`` (0 for deterministic environments).
      action_low: lower action bounds, one float per action entry (``-inf`` if unbounded).
      action_high: upper action bounds, one float per action entry (``inf`` if unbounded).
      max_episode_steps: time limit; the caller truncates (and bootstraps) after this many steps.
      reset: ``reset(key) -> state`` of shape ``(state_dim,)``.
      step: ``step(state, action, noise=None) -> EnvStep``.
      observe: ``observe(state) -> obs`` of shape ``(obs_dim,)``.
      reward: ``reward(state, action) -> scalar``.
      sample_noise: ``sample_noise(key) -> ε`` of shape ``(noise_dim,)``.
    """

    name: str
    state_dim: int
    obs_dim: int
    action_dim: int
    noise_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    max_episode_steps: int
    reset: Callable[[jax.Array], jax.Array]
    step: Callable[..., EnvStep]
    observe: Callable[[jax.Array], jax.Array]
    reward: Callable[[jax.Array, jax.Array], jax.Array]
    sample_noise: Callable[[jax.Array], jax.Array]


# ----------------------------------------------------------------------------- input checks


def _example(where: str, name: str, value: Any, shape: tuple[int, ...]) -> jax.Array:
    """``value`` as a JAX float array of exactly ``shape`` (one example), else ``ValueError``."""
    try:
        array = jnp.asarray(value)
    except TypeError:
        raise ValueError(
            f"{where}: {name} must be a real array of shape {shape}; got {value!r}"
        ) from None
    if jnp.issubdtype(array.dtype, jnp.integer):
        array = array.astype(jnp.result_type(float))
    elif not jnp.issubdtype(array.dtype, jnp.floating):
        raise ValueError(
            f"{where}: {name} must be a real array of shape {shape}; got dtype {array.dtype}"
        )
    if array.shape != shape:
        raise ValueError(
            f"{where}: {name} must have shape {shape} (one example; use jax.vmap for a batch); "
            f"got shape {array.shape}"
        )
    return array


def _no_noise(where: str, noise: Any) -> None:
    """Deterministic environments accept ``noise=None`` or an empty ``(0,)`` array."""
    if noise is not None:
        _example(where, "noise", noise, (0,))


def _empty_noise(key: jax.Array) -> jax.Array:
    del key  # deterministic: nothing to sample
    return jnp.zeros((0,))


# ----------------------------------------------------------------------------- Pendulum-v1

_PENDULUM_MAX_SPEED = 8.0
_PENDULUM_MAX_TORQUE = 2.0
_PENDULUM_DT = 0.05
_PENDULUM_MASS = 1.0
_PENDULUM_LENGTH = 1.0
_PENDULUM_TIME_LIMIT = 200


def _angle_normalize(theta: jax.Array) -> jax.Array:
    """Wrap an angle to ``[-π, π)``: ``((θ + π) mod 2π) − π`` (floor modulo, as NumPy's ``%``)."""
    return jnp.mod(theta + math.pi, 2.0 * math.pi) - math.pi


def pendulum(g: float = 10.0) -> JaxEnv:
    """Gymnasium ``Pendulum-v1`` in JAX: same constants, clipping and reward, differentiable.

    State ``s = (θ, θ̇)``, ``θ`` in radians from upright (not wrapped: it grows as the
    pendulum spins, exactly like Gymnasium's ``env.unwrapped.state``); action ``a = (τ,)``.
    With ``u = clip(τ, −2, 2)``:

        r(s, a) = −( wrap(θ)² + 0.1 θ̇² + 0.001 u² ),   wrap(θ) = ((θ + π) mod 2π) − π
        θ̇' = clip( θ̇ + (3g/(2l) sin θ + 3/(m l²) u) dt,  −8, 8 )
        θ'  = θ + θ̇' dt                                   (semi-implicit Euler)
        obs = (cos θ, sin θ, θ̇)

    The reward is evaluated at the pre-step state and the clipped action, as Gymnasium does.
    Constants (``gymnasium/envs/classic_control/pendulum.py``, ``PendulumEnv.__init__`` and
    ``step``, Gymnasium 1.x): ``g = 10.0`` by default (the ``g`` argument of ``gym.make``),
    ``m = 1``, ``l = 1``, ``dt = 0.05``, ``max_speed = 8``, ``max_torque = 2``. The
    arithmetic is ordered as in Gymnasium (``3g/(2l)`` and ``3/(m l²)`` folded first), so under
    ``jax.enable_x64`` a trajectory agrees with Gymnasium's float64 state to rounding.

    Reset: ``θ ~ U[−π, π]``, ``θ̇ ~ U[−1, 1]``, Gymnasium's default bounds (drawn with
    ``jax.random``, so the same seed does not give Gymnasium's numbers; its ``options``
    bounds are not supported). Pendulum never terminates: ``terminated`` is always False;
    Gymnasium's ``TimeLimit`` wrapper truncates at ``max_episode_steps = 200``.

    Differentiability. Clipping makes derivatives zero where it is active: ``∂/∂τ = 0`` for
    ``|τ| > 2``, and when ``|θ̇ + Δθ̇| > 8`` the new speed is constant (``∂θ̇'/∂(s, a) = 0``,
    ``∂θ'/∂θ = 1``, ``∂θ'/∂θ̇ = 0``). Exactly at a bound JAX's ``clip`` gives the derivative
    ``1/2`` (the tie rule of ``maximum``/``minimum``). ``wrap(θ)²`` is continuous, but its
    derivative jumps from ``+2π`` to ``−2π`` across ``θ = π (mod 2π)`` (hanging down);
    exactly there JAX returns ``−2π``. The observation is smooth.

    Gymnasium quirk: with a float32 action (e.g. ``action_space.sample()``) Gymnasium computes
    ``3u`` and ``0.001u²`` in float32 (NumPy scalar promotion); with float64 actions it is
    float64 throughout. Gymnasium's observation is cast to float32; its state stays float64.

    >>> env = pendulum()
    >>> (env.state_dim, env.obs_dim, env.action_dim, env.action_high, env.max_episode_steps)
    (2, 3, 1, (2.0,), 200)
    >>> float(env.reward(jnp.zeros(2), jnp.zeros(1)))  # upright, still, no torque: the maximum
    -0.0
    """
    g = float(g)
    if not math.isfinite(g):
        raise ValueError(f"pendulum: g must be a finite number (gravity in m/s²); got {g!r}")
    gravity_gain = 3 * g / (2 * _PENDULUM_LENGTH)  # folded as in Gymnasium
    torque_gain = 3.0 / (_PENDULUM_MASS * _PENDULUM_LENGTH**2)

    def reset(key: jax.Array) -> jax.Array:
        high = jnp.array([math.pi, 1.0])
        return jax.random.uniform(key, (2,), minval=-high, maxval=high)

    def reward(state: jax.Array, action: jax.Array) -> jax.Array:
        state = _example("pendulum.reward", "state", state, (2,))
        action = _example("pendulum.reward", "action", action, (1,))
        theta, theta_dot = state[0], state[1]
        torque = jnp.clip(action[0], -_PENDULUM_MAX_TORQUE, _PENDULUM_MAX_TORQUE)
        return -(_angle_normalize(theta) ** 2 + 0.1 * theta_dot**2 + 0.001 * torque**2)

    def step(state: jax.Array, action: jax.Array, noise: Any = None) -> EnvStep:
        state = _example("pendulum.step", "state", state, (2,))
        action = _example("pendulum.step", "action", action, (1,))
        _no_noise("pendulum.step", noise)
        theta, theta_dot = state[0], state[1]
        torque = jnp.clip(action[0], -_PENDULUM_MAX_TORQUE, _PENDULUM_MAX_TORQUE)
        acceleration = gravity_gain * jnp.sin(theta) + torque_gain * torque
        theta_dot_next = jnp.clip(
            theta_dot + acceleration * _PENDULUM_DT, -_PENDULUM_MAX_SPEED, _PENDULUM_MAX_SPEED
        )
        theta_next = theta + theta_dot_next * _PENDULUM_DT
        next_state = jnp.stack([theta_next, theta_dot_next])
        assert next_state.shape == (2,)
        return EnvStep(next_state, reward(state, action), jnp.zeros((), dtype=bool))

    def observe(state: jax.Array) -> jax.Array:
        state = _example("pendulum.observe", "state", state, (2,))
        return jnp.stack([jnp.cos(state[0]), jnp.sin(state[0]), state[1]])

    return JaxEnv(
        name="pendulum",
        state_dim=2,
        obs_dim=3,
        action_dim=1,
        noise_dim=0,
        action_low=(-_PENDULUM_MAX_TORQUE,),
        action_high=(_PENDULUM_MAX_TORQUE,),
        max_episode_steps=_PENDULUM_TIME_LIMIT,
        reset=reset,
        step=step,
        observe=observe,
        reward=reward,
        sample_noise=_empty_noise,
    )


# ----------------------------------------------------------------------------- linear-quadratic


@dataclass(frozen=True, eq=False)
class LinearQuadraticEnv(JaxEnv):
    """A :class:`JaxEnv` for ``s' = A s + B a + w`` plus its matrices and :meth:`exact_q`.

    Attributes (float64 NumPy; ``Q``, ``R``, ``Sigma`` stored as their symmetric parts):
      A: ``(n, n)``.  B: ``(n, m)``.  Q: ``(n, n)`` state cost.  R: ``(m, m)`` action cost.
      Sigma: ``(n, n)`` noise covariance (may be singular).
      noise_factor: ``(n, n)`` with ``noise_factor @ noise_factorᵀ = Sigma``; ``w = it @ ε``.
    """

    A: np.ndarray
    B: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    Sigma: np.ndarray
    noise_factor: np.ndarray

    def exact_q(self, K: Any, gamma: float) -> Callable[[jax.Array, jax.Array], ExactQ]:
        """The exact Q-function of the linear policy ``a = K s`` with its gradients.

        Along the policy the closed loop is ``Ac = A + B K``, the per-step cost
        ``Q_K = Q + Kᵀ R K``, and ``P`` solves the discrete Lyapunov equation
        ``P = Q_K + γ Acᵀ P Ac`` (``sobolev_core.LinearGaussianSobolev.value_hessian``).

        Derivation [derived]. Try ``V(s) = −sᵀPs − c``. With ``s' = Ac s + w``,
        ``E[s'ᵀPs'] = sᵀAcᵀPAc s + tr(PΣ)``, so ``V(s) = r(s, Ks) + γ E V(s')`` holds iff
        ``P`` solves the Lyapunov equation and ``c = γ (tr(PΣ) + c)``, i.e.
        ``c = γ tr(PΣ)/(1 − γ)``. Then ``Q(s, a) = r(s, a) + γ E V(As + Ba + w)``:

            Q(s, a)  = −(sᵀQs + aᵀRa) − γ (As + Ba)ᵀ P (As + Ba) − γ tr(PΣ)/(1 − γ)
            ∇_s Q    = −2 Q s − 2γ Aᵀ P (As + Ba)
            ∇_a Q    = −2 R a − 2γ Bᵀ P (As + Ba)

        (the constant collects ``γ tr(PΣ)`` from the first step and ``γ c`` from the rest).

        Args:
          K: ``(m, n)`` policy gain.
          gamma: discount in ``[0, 1)``; ``γ ρ(A + B K)² < 1`` is required (else
            ``ValueError``), the condition for ``P`` to exist.

        Returns:
          ``q(state, action) -> ExactQ(value, dq_ds, dq_da)``, a JAX function of one example
          (shapes ``(n,)``, ``(m,)``); gradients are closed form, not autodiff.
        """
        system = LinearGaussianSobolev(
            A=self.A, B=self.B, K=K, Q=self.Q, R=self.R, Sigma=self.Sigma, gamma=gamma
        )
        hessian = system.value_hessian()  # P; raises ValueError if γ ρ(Ac)² >= 1
        gamma = system.gamma
        constant = gamma * float(np.trace(hessian @ self.Sigma)) / (1.0 - gamma)
        A, B, Q, R = self.A, self.B, self.Q, self.R
        n, m = self.state_dim, self.action_dim

        def q(state: jax.Array, action: jax.Array) -> ExactQ:
            state = _example("exact_q", "state", state, (n,))
            action = _example("exact_q", "action", action, (m,))
            mean_next = A @ state + B @ action
            p_next = hessian @ mean_next
            value = -(state @ Q @ state + action @ R @ action) - gamma * mean_next @ p_next
            value = value - constant
            dq_ds = -2.0 * Q @ state - 2.0 * gamma * A.T @ p_next
            dq_da = -2.0 * R @ action - 2.0 * gamma * B.T @ p_next
            assert dq_ds.shape == (n,) and dq_da.shape == (m,)
            return ExactQ(value, dq_ds, dq_da)

        return q


def linear_quadratic(
    A: Any,
    B: Any,
    Q: Any,
    R: Any,
    Sigma: Any,
    *,
    max_episode_steps: int = 200,
    initial_scale: float = 1.0,
) -> LinearQuadraticEnv:
    """The linear-Gaussian system with quadratic reward (docs/claims.md#c5) as a :class:`JaxEnv`.

        s' = A s + B a + w,   w = Σ^{1/2} ε,   ε ~ N(0, I_n)
        r(s, a) = −(sᵀ Q s + aᵀ R a)
        obs = s

    ``Σ^{1/2}`` is the symmetric square root from ``eigh`` (eigenvalues clipped at 0), so a
    singular ``Sigma`` is allowed. ``step(state, action, noise)`` takes ``ε`` of shape
    ``(n,)`` from ``sample_noise(key)``; ``noise=None`` is accepted only when ``Sigma = 0``
    (otherwise ``ValueError``, so a forgotten noise never silently removes it). Derivatives:
    ``F_s = A``, ``F_a = B``, ``∂_s r = −2Qs``, ``∂_a r = −2Ra``. Actions are unbounded and
    not clipped; the system never terminates; ``reset`` draws ``s ~ N(0, initial_scale² I)``.

    Args:
      A: ``(n, n)`` state matrix.  B: ``(n, m)`` input matrix.
      Q: ``(n, n)`` symmetric PSD state cost.  R: ``(m, m)`` symmetric PSD action cost.
      Sigma: ``(n, n)`` symmetric PSD noise covariance.
      max_episode_steps: time limit for callers (truncation, not termination).
      initial_scale: standard deviation of the initial state entries.

    Matrices are validated by ``sobolev_core.LinearGaussianSobolev`` (shapes, finiteness,
    symmetry within 1e-10, PSD); a violation raises ``ValueError`` naming the argument.
    """
    # Validation and symmetrisation are the core's; K = 0 and γ = 0 are placeholders (the core
    # checks A and B first, so K's shape only matters once A and B are valid).
    n = np.shape(A)[0] if np.ndim(A) == 2 else 1
    m = np.shape(B)[1] if np.ndim(B) == 2 else 1
    system = LinearGaussianSobolev(A=A, B=B, K=np.zeros((m, n)), Q=Q, R=R, Sigma=Sigma, gamma=0.0)
    n, m = system.state_dim, system.action_dim
    if int(max_episode_steps) != max_episode_steps or max_episode_steps < 1:
        raise ValueError(
            f"linear_quadratic: max_episode_steps must be a positive integer; got "
            f"{max_episode_steps!r}"
        )
    initial_scale = float(initial_scale)
    if not (math.isfinite(initial_scale) and initial_scale >= 0):
        raise ValueError(
            f"linear_quadratic: initial_scale must be a finite number >= 0; got {initial_scale!r}"
        )
    eigenvalues, eigenvectors = np.linalg.eigh(system.Sigma)
    noise_factor = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    noiseless = not np.any(system.Sigma)
    A_, B_, Q_, R_ = system.A, system.B, system.Q, system.R

    def reset(key: jax.Array) -> jax.Array:
        return initial_scale * jax.random.normal(key, (n,))

    def reward(state: jax.Array, action: jax.Array) -> jax.Array:
        state = _example("linear_quadratic.reward", "state", state, (n,))
        action = _example("linear_quadratic.reward", "action", action, (m,))
        return -(state @ Q_ @ state + action @ R_ @ action)

    def step(state: jax.Array, action: jax.Array, noise: Any = None) -> EnvStep:
        state = _example("linear_quadratic.step", "state", state, (n,))
        action = _example("linear_quadratic.step", "action", action, (m,))
        if noise is None:
            if not noiseless:
                raise ValueError(
                    "linear_quadratic.step: noise is required because Sigma != 0; pass "
                    f"noise = sample_noise(key) of shape ({n},) (standard normal ε, w = Σ^½ ε), "
                    f"or jnp.zeros({n}) for the mean transition"
                )
            noise = jnp.zeros((n,), dtype=state.dtype)
        noise = _example("linear_quadratic.step", "noise", noise, (n,))
        next_state = A_ @ state + B_ @ action + noise_factor @ noise
        assert next_state.shape == (n,)
        return EnvStep(next_state, reward(state, action), jnp.zeros((), dtype=bool))

    def observe(state: jax.Array) -> jax.Array:
        return _example("linear_quadratic.observe", "state", state, (n,))

    def sample_noise(key: jax.Array) -> jax.Array:
        return jax.random.normal(key, (n,))

    return LinearQuadraticEnv(
        name="linear_quadratic",
        state_dim=n,
        obs_dim=n,
        action_dim=m,
        noise_dim=n,
        action_low=(-math.inf,) * m,
        action_high=(math.inf,) * m,
        max_episode_steps=int(max_episode_steps),
        reset=reset,
        step=step,
        observe=observe,
        reward=reward,
        sample_noise=sample_noise,
        A=system.A,
        B=system.B,
        Q=system.Q,
        R=system.R,
        Sigma=system.Sigma,
        noise_factor=noise_factor,
    )


# ----------------------------------------------------------------------------- 1-D toy

_TOY_BOUND = 2.0  # |s| > 2 terminates
_TOY_SPEED = 0.1
_TOY_RESET = 1.5
_TOY_TIME_LIMIT = 100


def toy_1d(*, max_episode_steps: int = _TOY_TIME_LIMIT) -> JaxEnv:
    """A deterministic 1-D problem whose value gradients carry information (Sobolev TD, C6).

    State ``s ∈ R`` (the interesting range is ``[−2, 2]``), action ``a = (α,)``,
    ``u = clip(α, −1, 1)``:

        s' = s + 0.1 u (1 + 0.5 sin 3s)
        r(s, a) = exp(−4 (s − 1)²) + 0.6 exp(−8 (s + 1)²) − 0.05 u²
        terminated = |s'| > 2,   obs = s,   reset: s ~ U[−1.5, 1.5]

    Design. The reward has a global bump at ``s = 1`` (height 1) and a narrower local one at
    ``s = −1`` (height 0.6), so the value function is multimodal: its state gradient changes
    sign between the bumps and a greedy critic started near ``−1`` sits in a local optimum.
    The gain ``1 + 0.5 sin 3s ∈ [0.5, 1.5]`` never vanishes (the action always moves the state
    in its own direction) but varies with ``s``, so ``F_s = 1 + 0.15 u cos 3s ≠ 1`` and
    ``F_a = 0.1 (1 + 0.5 sin 3s)`` is state dependent: the chain-rule term ``γ F_sᵀ c`` of the
    gradient target differs from ``∂_s r``. Speed is at most 0.15 per step, so crossing from
    one bump to the other takes 14 to 40 steps, well within the time limit. Leaving
    ``[−2, 2]`` terminates; as rewards are at least ``−0.05`` per step, termination forfeits
    the bumps, a mild implicit penalty. The reward of a terminating step is still paid.
    ``max_episode_steps`` (default 100) is a time limit: truncate and bootstrap.

    Differentiability: smooth in ``s``; ``∂/∂α = 0`` for ``|α| > 1`` (clipped, ``1/2`` of the
    interior derivative exactly at the bound); ``terminated`` is a step function (no gradient).

    >>> env = toy_1d()
    >>> env.step(jnp.array([0.0]), jnp.array([1.0])).next_state  # s' = 0 + 0.1 * 1 * (1 + 0)
    Array([0.1], dtype=float32)
    """
    if int(max_episode_steps) != max_episode_steps or max_episode_steps < 1:
        raise ValueError(
            f"toy_1d: max_episode_steps must be a positive integer; got {max_episode_steps!r}"
        )

    def reset(key: jax.Array) -> jax.Array:
        return jax.random.uniform(key, (1,), minval=-_TOY_RESET, maxval=_TOY_RESET)

    def reward(state: jax.Array, action: jax.Array) -> jax.Array:
        state = _example("toy_1d.reward", "state", state, (1,))
        action = _example("toy_1d.reward", "action", action, (1,))
        position = state[0]
        control = jnp.clip(action[0], -1.0, 1.0)
        return (
            jnp.exp(-4.0 * (position - 1.0) ** 2)
            + 0.6 * jnp.exp(-8.0 * (position + 1.0) ** 2)
            - 0.05 * control**2
        )

    def step(state: jax.Array, action: jax.Array, noise: Any = None) -> EnvStep:
        state = _example("toy_1d.step", "state", state, (1,))
        action = _example("toy_1d.step", "action", action, (1,))
        _no_noise("toy_1d.step", noise)
        control = jnp.clip(action, -1.0, 1.0)
        next_state = state + _TOY_SPEED * control * (1.0 + 0.5 * jnp.sin(3.0 * state))
        assert next_state.shape == (1,)
        terminated = jnp.abs(next_state[0]) > _TOY_BOUND
        return EnvStep(next_state, reward(state, action), terminated)

    def observe(state: jax.Array) -> jax.Array:
        return _example("toy_1d.observe", "state", state, (1,))

    return JaxEnv(
        name="toy_1d",
        state_dim=1,
        obs_dim=1,
        action_dim=1,
        noise_dim=0,
        action_low=(-1.0,),
        action_high=(1.0,),
        max_episode_steps=int(max_episode_steps),
        reset=reset,
        step=step,
        observe=observe,
        reward=reward,
        sample_noise=_empty_noise,
    )
