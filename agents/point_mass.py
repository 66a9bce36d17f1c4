"""The stochastic 2-D point mass with N reward locations of docs/claims.md#c7.

State ``s = (p, v)``: position ``p ∈ [−1, 1]²`` and velocity ``v ∈ [−v_max, v_max]²``; the
observation is the state itself (float64, shape ``(4,)``). Action ``a ∈ [−1, 1]²``, a force.
One step, with ``ξ ~ N(0, I₂)`` drawn from the env's ``np_random``:

    v' = clip(damping · v + dt · clip(a, −1, 1) + noise_std · ξ, −v_max, v_max)
    p' = clip(p + dt · v', −1, 1)                      (the walls stop the position only)
    r(s, a) = Σ_k w_k exp(−‖p − g_k‖² / (2 width²)) − action_cost · ‖clip(a, −1, 1)‖²

The reward of a step is ``r(s, a)`` at the state the action is taken in. Episodes start at
``p₀ ~ U[−init_spread, init_spread]²``, ``v₀ = 0``, never terminate, and are truncated after
``episode_length`` steps. ``info["noise"]`` holds the ``ξ`` of the step, so
``dynamics_jax(s, a, info["noise"])`` reproduces the transition exactly.

**Reward locations.** ``g_k = goal_distance · (cos θ_k, sin θ_k)``, ``θ_k = 2πk/N``, with
weights ``w_k = 1 − k / (2N)``, ``k = 0, …, N−1``: all goals at the same distance from the
start, all with different magnitudes in ``(1/2, 1]``.

**Why larger N gives more multimodal returns.** The start is the centre of the circle, equally
far from every goal, so no goal is favoured by position: which goal the mass drifts into is
decided by the accumulated force and dynamics noise of the first steps. Once near ``g_k`` an
episode collects about ``w_k`` per step spent there, so the return is a mixture over "which
goal was reached" (plus "none"), whose components sit at different places because the
``w_k`` differ. With ``N = 1`` there are at most two components (reached or not); with ``N``
goals up to ``N + 1``, and the goals crowd the circle, so more episodes reach one. The
critic's return distribution ``Z(s, a)`` thus gains modes as ``N`` grows, which is what C7
measures MMD- and MSMMD-Sobolev critics against. (``N`` much larger than
``2π·goal_distance / width`` merges the bumps into a ring and the modes blur again.)

**JAX.** :meth:`PointMassEnv.dynamics_jax` and :meth:`PointMassEnv.reward_jax` are the same
equations (one shared implementation, written against an array namespace) in ``jax.numpy``,
jit-able and differentiable, for Sobolev critics that need the true ``∂f/∂s``, ``∂f/∂a``.
Derivatives are those of the formulas: zero across a wall or the speed limit.

:func:`make_point_mass` builds the env through ``gymnasium.make`` with an unregistered
``EnvSpec`` (nothing registered globally), like :func:`agents.mujoco_fd.make_env`.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

__all__ = ["PointMassEnv", "PointMassParams", "goal_layout", "make_point_mass"]


class PointMassParams(NamedTuple):
    """The constants of the dynamics and reward; ``goals`` ``(N, 2)``, ``weights`` ``(N,)``."""

    goals: np.ndarray
    weights: np.ndarray
    reward_width: float
    dt: float
    damping: float
    noise_std: float
    max_speed: float
    action_cost: float


def goal_layout(n_rewards: int, goal_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """Goals ``g_k = goal_distance (cos 2πk/N, sin 2πk/N)`` and weights ``w_k = 1 − k/(2N)``.

    >>> goals, weights = goal_layout(4, 0.5)
    >>> np.round(goals, 12).tolist(), weights.tolist()
    ([[0.5, 0.0], [0.0, 0.5], [-0.5, 0.0], [-0.0, -0.5]], [1.0, 0.875, 0.75, 0.625])
    """
    k = np.arange(n_rewards)
    angles = 2 * np.pi * k / n_rewards
    goals = goal_distance * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return goals, 1.0 - k / (2 * n_rewards)


def _next_state(xp, params: PointMassParams, state, action, noise):
    """``(p', v')`` from the module docstring, in array namespace ``xp`` (numpy or jax.numpy)."""
    position, velocity = state[:2], state[2:]
    force = xp.clip(action, -1.0, 1.0)
    velocity_next = params.damping * velocity + params.dt * force + params.noise_std * noise
    velocity_next = xp.clip(velocity_next, -params.max_speed, params.max_speed)
    position_next = xp.clip(position + params.dt * velocity_next, -1.0, 1.0)
    return xp.concatenate([position_next, velocity_next])


def _reward(xp, params: PointMassParams, state, action):
    """``r(s, a)`` from the module docstring, in array namespace ``xp``."""
    offsets = state[None, :2] - params.goals  # (N, 2)
    bumps = xp.exp(-xp.sum(offsets**2, axis=1) / (2 * params.reward_width**2))
    force = xp.clip(action, -1.0, 1.0)
    return xp.sum(params.weights * bumps) - params.action_cost * xp.sum(force**2)


def _goal_reached(xp, params: PointMassParams, state):
    """The index ``k`` of the goal within one bump width of the position, else ``−1``.

    "Near a goal" is ``‖p − g_k‖ ≤ width``, where that goal's reward is at least
    ``w_k e^(−1/2) ≈ 0.61 w_k``; bumps never overlap that closely for ``N ≤ 8`` at the
    defaults (neighbours are ``2·goal_distance·sin(π/N) ≥ 0.38`` apart, two widths 0.30).
    """
    distances = xp.sqrt(xp.sum((state[None, :2] - params.goals) ** 2, axis=1))
    nearest = xp.argmin(distances)
    return xp.where(distances[nearest] <= params.reward_width, nearest, -1)


def _check_vector(name: str, value, size: int) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.shape != (size,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite array of shape ({size},), got {array.shape}")
    return array


class PointMassEnv(gym.Env):
    """The stochastic 2-D point mass with ``n_rewards`` goals; equations in the module docstring.

    Args:
        n_rewards: N ≥ 1, the number of reward locations.
        noise_std: scale of the Gaussian velocity noise per step (≥ 0).
        dt: time step (> 0).
        damping: velocity retained per step, in [0, 1].
        goal_distance: distance of every goal from the origin, in (0, 1].
        reward_width: the bumps' standard deviation ``width`` (> 0).
        max_speed: the speed limit ``v_max`` per axis (> 0).
        action_cost: weight of ``‖a‖²`` in the reward (≥ 0).
        init_spread: half-width of the uniform start box around the origin, in [0, 1].
        episode_length: steps before truncation (≥ 1).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        n_rewards: int = 4,
        *,
        noise_std: float = 0.05,
        dt: float = 0.1,
        damping: float = 0.9,
        goal_distance: float = 0.5,
        reward_width: float = 0.15,
        max_speed: float = 2.0,
        action_cost: float = 0.0,
        init_spread: float = 0.05,
        episode_length: int = 100,
        render_mode: str | None = None,
    ):
        checks = {
            "n_rewards": (n_rewards, isinstance(n_rewards, int) and n_rewards >= 1, ">= 1 (int)"),
            "noise_std": (noise_std, noise_std >= 0, ">= 0"),
            "dt": (dt, dt > 0, "> 0"),
            "damping": (damping, 0 <= damping <= 1, "in [0, 1]"),
            "goal_distance": (goal_distance, 0 < goal_distance <= 1, "in (0, 1]"),
            "reward_width": (reward_width, reward_width > 0, "> 0"),
            "max_speed": (max_speed, max_speed > 0, "> 0"),
            "action_cost": (action_cost, action_cost >= 0, ">= 0"),
            "init_spread": (init_spread, 0 <= init_spread <= 1, "in [0, 1]"),
            "episode_length": (
                episode_length,
                isinstance(episode_length, int) and episode_length >= 1,
                ">= 1 (int)",
            ),
        }
        for name, (value, ok, accepted) in checks.items():
            if not ok or not np.isfinite(value):
                raise ValueError(f"{name} = {value!r} is invalid; accepted: {accepted}")
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r} is not supported; accepted: None")
        goals, weights = goal_layout(n_rewards, goal_distance)
        self.params = PointMassParams(
            goals=goals,
            weights=weights,
            reward_width=float(reward_width),
            dt=float(dt),
            damping=float(damping),
            noise_std=float(noise_std),
            max_speed=float(max_speed),
            action_cost=float(action_cost),
        )
        self.n_rewards = n_rewards
        self.init_spread = float(init_spread)
        self.episode_length = episode_length
        self.render_mode = render_mode
        bound = np.array([1.0, 1.0, max_speed, max_speed])
        self.observation_space = spaces.Box(-bound, bound, dtype=np.float64)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self._state = np.zeros(4)
        self._steps = 0

    # ---- pure equations --------------------------------------------------------------------

    def dynamics_numpy(self, state, action, noise) -> np.ndarray:
        """``s' = f(s, a, ξ)`` in float64 NumPy; ``state`` (4,), ``action`` (2,), ``noise`` (2,)."""
        state = _check_vector("state", state, 4)
        action = _check_vector("action", action, 2)
        noise = _check_vector("noise", noise, 2)
        return _next_state(np, self.params, state, action, noise)

    def reward_numpy(self, state, action) -> float:
        """``r(s, a)`` in float64 NumPy."""
        state = _check_vector("state", state, 4)
        action = _check_vector("action", action, 2)
        return float(_reward(np, self.params, state, action))

    def dynamics_jax(self, state: jnp.ndarray, action: jnp.ndarray, noise: jnp.ndarray):
        """``s' = f(s, a, ξ)`` in ``jax.numpy``: jit-able, differentiable in all three.

        ``state`` (4,), ``action`` (2,), ``noise`` (2,) the standard-normal ``ξ`` (the env
        scales it by ``noise_std``). Batch with ``jax.vmap``.
        """
        if jnp.shape(state) != (4,) or jnp.shape(action) != (2,) or jnp.shape(noise) != (2,):
            raise ValueError(
                f"shapes state {jnp.shape(state)}, action {jnp.shape(action)}, noise "
                f"{jnp.shape(noise)}; accepted (4,), (2,), (2,)"
            )
        return _next_state(jnp, self.params, state, action, noise)

    def reward_jax(self, state: jnp.ndarray, action: jnp.ndarray):
        """``r(s, a)`` in ``jax.numpy``, a scalar; ``state`` (4,), ``action`` (2,)."""
        if jnp.shape(state) != (4,) or jnp.shape(action) != (2,):
            raise ValueError(
                f"shapes state {jnp.shape(state)}, action {jnp.shape(action)}; accepted (4,), (2,)"
            )
        return _reward(jnp, self.params, state, action)

    def goal_reached(self, state=None) -> int:
        """The goal the mass is at (``‖p − g_k‖ ≤ width``), else ``−1``; the env's own state
        when ``state`` is omitted. The success metric of an evaluation episode's final state.
        """
        state = self._state if state is None else _check_vector("state", state, 4)
        return int(_goal_reached(np, self.params, state))

    def goal_reached_jax(self, state: jnp.ndarray):
        """:meth:`goal_reached` in ``jax.numpy`` (an int32 scalar)."""
        return _goal_reached(jnp, self.params, state).astype(jnp.int32)

    # ---- gymnasium API ---------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        spread = self.init_spread
        position = self.np_random.uniform(-spread, spread, size=2)
        self._state = np.concatenate([position, np.zeros(2)])
        self._steps = 0
        return self._state.copy(), {}

    def step(self, action):
        action = _check_vector("action", action, 2)
        noise = self.np_random.standard_normal(2)
        reward = float(_reward(np, self.params, self._state, action))
        self._state = _next_state(np, self.params, self._state, action, noise)
        self._steps += 1
        truncated = self._steps >= self.episode_length
        return self._state.copy(), reward, False, truncated, {"noise": noise}


def make_point_mass(n_rewards: int, **kwargs) -> gym.Env:
    """``gymnasium.make`` of :class:`PointMassEnv` through an unregistered ``EnvSpec``.

    The result carries the usual ``make`` wrappers (passive checker, order enforcing) and an
    ``env.spec`` that rebuilds it; the equations are at ``env.unwrapped``.

    >>> env = make_point_mass(4, noise_std=0.1)
    >>> env.unwrapped.params.goals.shape, env.spec.kwargs["noise_std"]
    ((4, 2), 0.1)
    """
    spec = EnvSpec(
        id="SobolevPointMass-v0",
        entry_point="agents.point_mass:PointMassEnv",
        kwargs={"n_rewards": n_rewards, **kwargs},
    )
    return gym.make(spec)
