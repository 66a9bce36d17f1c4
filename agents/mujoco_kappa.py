"""The modulus ``κ`` of the Sobolev operator along policy rollouts of a MuJoCo env.

docs/claims.md#c1 bounds the Sobolev operator's Wasserstein modulus by ``γκ`` with

    κ = sup ‖L‖_2,   L = blockdiag(1, M),   M = [F_sᵀ; F_aᵀ] [I_n, Π'ᵀ],

so ``‖L‖_2 = max(1, ‖M‖_2)`` and the operator contracts for ``γ < γ_max = 1/κ``. ``F_s``,
``F_a`` are the whole-step Jacobians of :mod:`agents.mujoco_fd` (tangent coordinates) and
``Π'`` the policy's Jacobian brought into those coordinates by
:func:`agents.mujoco_fd.state_tangent_map`. The policies here are random linear-tanh maps
of the physics state that stay inside every actuator's ctrlrange.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import mujoco
import numpy as np

from agents.mujoco_fd import env_step_jacobians, make_env, physics_state, state_tangent_map
from sobolev_core import sobolev_affine_map

__all__ = [
    "KappaRollout",
    "Policy",
    "RandomLinearPolicy",
    "kappa_along_rollout",
    "random_linear_policy",
]


class Policy(Protocol):
    """A deterministic policy on the physics state, with its Jacobian ``∂a/∂state``."""

    def act(self, state: np.ndarray) -> np.ndarray: ...

    def jacobian(self, state: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class RandomLinearPolicy:
    """``π(s) = mid + half ⊙ tanh(W s + bias)`` on the physics state ``s = (qpos, qvel, act)``.

    ``mid``/``half`` are the centre and half-width of each actuator's ctrlrange, so every
    action lies inside the range (``env.step`` never clips it and ``F_a`` is not zeroed by
    MuJoCo's ctrl clamping). ``∂π/∂s = diag(half ⊙ (1 − tanh²(W s + bias))) W``.

    Fields: ``weight`` ``(m, d)``, ``bias`` ``(m,)``, ``ctrl_low`` and ``ctrl_high`` ``(m,)``
    with ``d = nq + nv + na``.
    """

    weight: np.ndarray
    bias: np.ndarray
    ctrl_low: np.ndarray
    ctrl_high: np.ndarray

    def __post_init__(self):
        weight = np.asarray(self.weight, dtype=float)
        n_action = weight.shape[0] if weight.ndim == 2 else -1
        shapes = {k: np.shape(getattr(self, k)) for k in ("bias", "ctrl_low", "ctrl_high")}
        if n_action < 1 or any(s != (n_action,) for s in shapes.values()):
            raise ValueError(
                f"weight must be (m, d) and bias, ctrl_low, ctrl_high (m,); got weight "
                f"{weight.shape} and {shapes}"
            )
        if not np.all(np.asarray(self.ctrl_low) < np.asarray(self.ctrl_high)):
            raise ValueError(f"need ctrl_low < ctrl_high; got {self.ctrl_low}, {self.ctrl_high}")

    def _pre_activation(self, state) -> np.ndarray:
        state = np.asarray(state, dtype=float)
        if state.shape != (self.weight.shape[1],):
            raise ValueError(
                f"state must have shape ({self.weight.shape[1]},); got shape {state.shape}"
            )
        return self.weight @ state + self.bias

    def act(self, state) -> np.ndarray:
        """``(m,)`` action inside ``[ctrl_low, ctrl_high]``."""
        mid, half = (self.ctrl_high + self.ctrl_low) / 2, (self.ctrl_high - self.ctrl_low) / 2
        return mid + half * np.tanh(self._pre_activation(state))

    def jacobian(self, state) -> np.ndarray:
        """``(m, d)`` Jacobian ``∂π/∂s`` on the physics state."""
        half = (self.ctrl_high - self.ctrl_low) / 2
        slope = half * (1.0 - np.tanh(self._pre_activation(state)) ** 2)
        return slope[:, None] * self.weight


def random_linear_policy(
    model: mujoco.MjModel, *, seed: int, scale: float = 1.0, bias_scale: float = 0.1
) -> RandomLinearPolicy:
    """A :class:`RandomLinearPolicy` with ``W_ij ~ N(0, scale²/d)``, ``bias_i ~ N(0, bias_scale²)``.

    With ``1/sqrt(d)`` scaling the pre-activation has the size of the state's RMS entry times
    ``scale``, so the tanh is mostly unsaturated near the reset states and
    ``‖Π'‖ ≈ half · scale · (1 + sqrt(m/d))``. Ctrl ranges come from
    ``model.actuator_ctrlrange`` (``[-1, 1]`` for an actuator that is not ctrl-limited).
    """
    if not (np.isfinite(scale) and scale > 0 and np.isfinite(bias_scale) and bias_scale >= 0):
        raise ValueError(f"need scale > 0 and bias_scale >= 0; got {scale!r}, {bias_scale!r}")
    rng = np.random.default_rng(seed)
    dim_state = model.nq + model.nv + model.na
    limited = model.actuator_ctrllimited.astype(bool)
    low = np.where(limited, model.actuator_ctrlrange[:, 0], -1.0)
    high = np.where(limited, model.actuator_ctrlrange[:, 1], 1.0)
    return RandomLinearPolicy(
        weight=rng.normal(size=(model.nu, dim_state)) * scale / np.sqrt(dim_state),
        bias=rng.normal(size=model.nu) * bias_scale,
        ctrl_low=low.astype(float),
        ctrl_high=high.astype(float),
    )


class KappaRollout(NamedTuple):
    """Per-step ``‖L‖_2`` along a rollout and its summary (docs/claims.md#c1).

    ``op_norms[t] = ‖L_t‖_2 = max(1, ‖M_t‖_2)`` with ``M_t = [F_sᵀ; F_aᵀ][I, Π'ᵀ]`` at step
    ``t`` (non-terminal ``L``: a terminal transition's true ``L`` is 0, so this bounds it);
    ``grad_block_norms[t] = ‖M_t‖_2``; ``done[t]`` marks terminated or truncated steps (the env
    is reset after them); ``jacobian_seconds[t]`` is the wall time of the whole-step Jacobian.
    ``kappa = max op_norms``, ``gamma_max = 1/kappa``. ``replay_error`` is the largest
    difference between the Jacobian's unperturbed ``next_state`` and the state ``env.step``
    produced (0.0 when the linearised map is the env's step bit for bit).
    """

    env_id: str
    op_norms: np.ndarray
    grad_block_norms: np.ndarray
    done: np.ndarray
    jacobian_seconds: np.ndarray
    median: float
    q90: float
    kappa: float
    gamma_max: float
    seconds_per_jacobian: float
    replay_error: float


def kappa_along_rollout(
    env_id: str,
    policy: Policy | None,
    n_steps: int,
    seed: int,
    *,
    eps: float = 1e-6,
) -> KappaRollout:
    """Roll ``policy`` out in ``env_id`` through ``env.step`` and measure ``‖L‖_2`` at each step.

    At each step: ``a = π(s)``; ``F_s, F_a`` of the whole env step at ``(s, a)``
    (:func:`agents.mujoco_fd.env_step_jacobians`); ``env.step(a)``;
    ``Π' = ∂π/∂s(s') · state_tangent_map(s')`` at the next state; ``L`` from ``sobolev_core.sobolev_affine_map``. The env is reset with
    ``seed`` once and reset without a seed (continuing its generator) after an episode ends.

    Args:
      env_id: one of :data:`agents.mujoco_fd.ENV_IDS`.
      policy: an object with ``act(state)`` and ``jacobian(state)`` on the physics state;
        ``None`` draws ``random_linear_policy(model, seed=seed)``.
      n_steps: number of transitions.
      seed: reset seed (and policy seed when ``policy`` is None).
      eps: finite-difference step.
    """
    if not (isinstance(n_steps, int | np.integer) and n_steps >= 1):
        raise ValueError(f"n_steps must be a positive integer; got {n_steps!r}")
    env = make_env(env_id)
    try:
        env.reset(seed=seed)
        model, data = env.unwrapped.model, env.unwrapped.data
        if policy is None:
            policy = random_linear_policy(model, seed=seed)
        n_tangent, n_action = 2 * model.nv + model.na, model.nu
        op_norms, block_norms, done, seconds = [], [], [], []
        replay_error = 0.0
        for _ in range(n_steps):
            state = physics_state(model, data)
            action = policy.act(state)
            start = time.perf_counter()
            jacobians = env_step_jacobians(env, action, eps=eps)
            seconds.append(time.perf_counter() - start)
            _, _, terminated, truncated, _ = env.step(action)
            next_state = physics_state(model, data)
            replay_error = max(replay_error, float(np.abs(next_state - jacobians.next_state).max()))
            policy_jac = policy.jacobian(next_state) @ state_tangent_map(model, next_state)
            assert policy_jac.shape == (n_action, n_tangent)
            _, linear = sobolev_affine_map(
                0.0,
                np.zeros(n_tangent),
                np.zeros(n_action),
                jacobians.jac_s,
                jacobians.jac_a,
                policy_jac,
            )
            op_norms.append(float(np.linalg.norm(linear, 2)))
            block_norms.append(float(np.linalg.norm(linear[1:, 1:], 2)))
            done.append(bool(terminated or truncated))
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
    op_norms = np.asarray(op_norms)
    kappa = float(op_norms.max())
    return KappaRollout(
        env_id=env_id,
        op_norms=op_norms,
        grad_block_norms=np.asarray(block_norms),
        done=np.asarray(done),
        jacobian_seconds=np.asarray(seconds),
        median=float(np.quantile(op_norms, 0.5)),
        q90=float(np.quantile(op_norms, 0.9)),
        kappa=kappa,
        gamma_max=1.0 / kappa,
        seconds_per_jacobian=float(np.mean(seconds)),
        replay_error=replay_error,
    )
