"""Rewards in JAX and observation-space step Jacobians for Gymnasium MuJoCo v5 envs.

First-order Sobolev TD ([FS], docs/claims.md#c6, docs/agents.md "Sobolev-TD") needs, at each transition,

    g_s = ∂_s r + γ F_sᵀ c,   g_a = ∂_a r + γ F_aᵀ c,

where ``s`` is the agent's OBSERVATION. This module supplies ``∂_s r``, ``∂_a r``,
``F_s = ∂s'/∂s`` and ``F_a = ∂s'/∂a`` of one whole ``env.step`` (``frame_skip`` substeps):

- :func:`reward_fn` — the env's reward as a pure ``jax.numpy`` function of one transition,
  ``r = reward(qpos_before, qvel_before, action, qpos_after, qvel_after)``, with its
  dependence on positions explicit (forward velocity ``(x_after − x_before) / dt``,
  ``dt = model.opt.timestep · frame_skip``). Call it under ``jax.enable_x64(True)`` with
  float64 arrays for float64 results.
- :func:`observation` — NumPy copy of each env's ``_get_obs`` on any ``MjData``.
- :func:`obs_state_map` — the observation's Jacobian in MuJoCo's tangent coordinates and its
  pseudo-inverse (how an observation perturbation moves the simulator state).
- :func:`obs_step_jacobians` — central finite differences of the whole env step on a scratch
  copy of the simulator, mapped to observation coordinates, with the JAX reward's gradients
  chained through.

**Reward terms** (Gymnasium v5 defaults; :func:`obs_step_jacobians` refuses an env built
with other weights). ``a`` is the action as passed to ``env.step`` (not clipped), ``v_x =
(qpos_after[0] − qpos_before[0]) / dt``, ``1[·]`` an indicator evaluated AFTER the step:

    InvertedPendulum-v5        1[|qpos[1]| ≤ 0.2 and obs finite]                 dt = 0.02·2
    InvertedDoublePendulum-v5  10·1[y_tip > 1] − 0.01 x_tip² − (y_tip − 2)²
                               − 1e-3 qvel[1]² − 5e-3 qvel[2]²                    dt = 0.01·5
                               x_tip = qpos[0] + 0.6 sin θ₁ + 0.6 sin(θ₁ + θ₂),
                               y_tip = 0.6 cos θ₁ + 0.6 cos(θ₁ + θ₂),  θ = qpos[1:3]
    Hopper-v5                  v_x + 1[healthy] − 1e-3 ‖a‖²,  healthy: z > 0.7,
                               |angle| < 0.2, all of (qpos[2:], qvel) in (−100, 100)  dt = 0.002·4
    Walker2d-v5                v_x + 1[healthy] − 1e-3 ‖a‖²,  healthy: 0.8 < z < 2,
                               −1 < angle < 1   (z, angle = qpos[1], qpos[2])         dt = 0.002·4
    HalfCheetah-v5             v_x − 0.1 ‖a‖²                                      dt = 0.01·5
    Ant-v5                     v_x + 1[0.2 ≤ z ≤ 1, state finite] − 0.5 ‖a‖²  (see below)  dt = 0.01·5

The indicator ("healthy", "alive") terms are piecewise constant: their derivative is 0
almost everywhere (``jnp.where``, so autodiff returns 0 also on the boundary, where the
true derivative does not exist). Equality with ``env.step``'s reward to rounding is tested
for :data:`EXACT_REWARD_ENV_IDS`.

**Where the JAX reward is not the env's reward.** MuJoCo's ``mj_step`` leaves derived
quantities (``xpos``, ``site_xpos``, ``cfrc_ext``, ``qfrc_constraint``) at the LAST INTERNAL
evaluation point: for RK4 the fourth Runge-Kutta stage, not the state the step returns.

- InvertedDoublePendulum-v5 reads the tip from ``site_xpos``, i.e. at that stage
  configuration; ours is the tip at ``qpos_after`` (forward kinematics, equal to MuJoCo's
  ``mj_kinematics`` there). Measured reward difference: median 5e-6, max 9e-5 over 300
  random steps.
- Ant-v5 reads ``v_x`` from the torso's ``xpos`` before and after the step, both at such
  stage configurations (the "before" one from the PREVIOUS step), so the env's reward is
  not a function of ``(s, a, s')`` at all; ours uses ``qpos[0]`` (the torso's position for
  its free joint). Measured ``|Δv_x|``: median 2e-3, max 0.07 over 300 random steps.
  EXCLUDED: the contact cost ``5e-4 ‖clip(cfrc_ext, −1, 1)‖²`` — ``cfrc_ext`` needs the
  contact solver's forces; it is not smooth in the state and has no reasonable JAX form.
  It is at most 0.042 and 0 without contact.
- Humanoid-v5 is LEFT OUT: its observation holds ``cinert``, ``cvel``, ``qfrc_actuator``
  and ``cfrc_ext`` (not state coordinates; ``cfrc_ext`` not smooth), its forward velocity is
  the mass centre of ``xipos`` at the RK4 stage (as for Ant) and its reward has a
  ``cfrc_ext`` contact cost.

**Observation ↔ simulator state.** Tangent coordinates ``x = (dq, dv)`` as in
:mod:`agents.mujoco_fd` (``na = 0`` in all of these envs). Per env:

    InvertedPendulum-v5        obs = (qpos, qvel)                               4 ↔ 4
    InvertedDoublePendulum-v5  obs = (qpos[0], sin qpos[1:], cos qpos[1:],
                                      clip(qvel, ±10), clip(qfrc_constraint[0], ±10))  9 ↔ 6
    Hopper-v5, Walker2d-v5     obs = (qpos[1:], clip(qvel, ±10))                nq+nv−1 ↔ 2nv−1
    HalfCheetah-v5             obs = (qpos[1:], qvel)                           17 ↔ 17
    Ant-v5                     obs = (qpos[2:], qvel)  (no contact forces)       27 ↔ 26

The x position (and Ant's y) is left out of the observation; the dynamics do not depend on
it (translation invariance along the infinite floor: column ``x`` of ``F`` is ``e_x``), and
the reward only through ``x_after − x_before``, whose total derivative in ``x_before`` is
``−1/dt + 1/dt · 1 = 0``. So the step, seen from the observation, is a function of the
observation and the action alone.

``O = ∂obs/∂x`` (clipping ignored; the IDP ``qfrc_constraint`` entry, a derived force, is
given a zero row) has full column rank on the coordinates the observation determines.
Perturbing the observation by ``δo`` moves the state by ``δx = O⁺ δo`` (Moore-Penrose
pseudo-inverse, the *lift*). Where the observation is a coordinate selection (IP, Hopper,
Walker2d, HalfCheetah, Ant's joints and velocities) this is "perturbing an observation entry
perturbs the qpos/qvel entry it reads". Where the observation lies on a manifold (IDP's
``(sin θ, cos θ)``, Ant's unit quaternion) it keeps the tangential part of ``δo`` and drops
the normal part: ``δθ = cos θ δsin − sin θ δcos`` (first order of ``atan2``), and
``δω = 2 Q(q)ᵀ δq`` (first order of renormalising the quaternion). Consequences:

- ``jac_obs = D O⁺`` with ``D = ∂obs'/∂x``; ``jac_obs · O = D`` (exact chain rule along
  the manifold), and ``jac_obs`` annihilates normal directions.
- The IDP ``qfrc_constraint`` observation entry is not a state coordinate: its column of
  ``jac_obs`` and its entry of ``dr_dobs`` are 0 (its ROW, the next force, is differenced
  like every other entry; it is 0 away from the cart's slider limit).
- Clipped velocities (IDP, Hopper, Walker2d at ``|qvel| > 10``): a next-observation entry
  outside the clip range has derivative 0 (its row of ``jac_obs``, ``jac_act`` is 0).
  A CURRENT velocity outside the range still gets the derivative with respect to the
  underlying ``qvel`` entry (the observation is locally constant there, so a derivative
  with respect to it does not exist; the lift ignores clipping).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from agents.mujoco_fd import (
    central_steps,
    central_tangent_columns,
    check_action,
    check_eps,
    check_method,
    physics_state,
    state_tangent_map,
)

__all__ = [
    "EXACT_REWARD_ENV_IDS",
    "REWARD_ENV_IDS",
    "ObsStateMap",
    "ObsStepJacobians",
    "obs_state_map",
    "obs_step_jacobians",
    "observation",
    "reward_fn",
]

# dt = model.opt.timestep * frame_skip, written as the same product the env evaluates.
_DT = {
    "InvertedPendulum-v5": 0.02 * 2,
    "InvertedDoublePendulum-v5": 0.01 * 5,
    "Hopper-v5": 0.002 * 4,
    "Walker2d-v5": 0.002 * 4,
    "HalfCheetah-v5": 0.01 * 5,
    "Ant-v5": 0.01 * 5,
}
REWARD_ENV_IDS: tuple[str, ...] = tuple(_DT)
# Envs whose JAX reward equals env.step's reward to rounding (module docstring for the others).
EXACT_REWARD_ENV_IDS: tuple[str, ...] = (
    "InvertedPendulum-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "HalfCheetah-v5",
)
# The (nq, nv, nu) of each model, for the trace-time shape checks.
_SIZES = {
    "InvertedPendulum-v5": (2, 2, 1),
    "InvertedDoublePendulum-v5": (3, 3, 1),
    "Hopper-v5": (6, 6, 3),
    "Walker2d-v5": (9, 9, 6),
    "HalfCheetah-v5": (9, 9, 6),
    "Ant-v5": (15, 14, 8),
}
_INF = float("inf")
# The env attributes the reward and observation assume: Gymnasium v5 defaults.
_ENV_SETTINGS: dict[str, dict[str, object]] = {
    "InvertedPendulum-v5": {"frame_skip": 2},
    "InvertedDoublePendulum-v5": {"frame_skip": 5, "_healthy_reward": 10.0},
    "Hopper-v5": {
        "frame_skip": 4,
        "_forward_reward_weight": 1.0,
        "_ctrl_cost_weight": 1e-3,
        "_healthy_reward": 1.0,
        "_healthy_state_range": (-100.0, 100.0),
        "_healthy_z_range": (0.7, _INF),
        "_healthy_angle_range": (-0.2, 0.2),
        "_exclude_current_positions_from_observation": True,
    },
    "Walker2d-v5": {
        "frame_skip": 4,
        "_forward_reward_weight": 1.0,
        "_ctrl_cost_weight": 1e-3,
        "_healthy_reward": 1.0,
        "_healthy_z_range": (0.8, 2.0),
        "_healthy_angle_range": (-1.0, 1.0),
        "_exclude_current_positions_from_observation": True,
    },
    "HalfCheetah-v5": {
        "frame_skip": 5,
        "_forward_reward_weight": 1.0,
        "_ctrl_cost_weight": 0.1,
        "_exclude_current_positions_from_observation": True,
    },
    "Ant-v5": {
        "frame_skip": 5,
        "_forward_reward_weight": 1.0,
        "_ctrl_cost_weight": 0.5,
        "_healthy_reward": 1.0,
        "_healthy_z_range": (0.2, 1.0),
        "_exclude_current_positions_from_observation": True,
        "_include_cfrc_ext_in_observation": False,
    },
}
_POLE_LENGTH = 0.6  # both links of inverted_double_pendulum.xml; the tip site is at the end


def _check_env_id(env_id) -> str:
    if env_id not in _DT:
        raise ValueError(
            f"env_id {env_id!r} has no JAX reward; accepted ids are {', '.join(REWARD_ENV_IDS)}"
            " (Humanoid-v5 is left out: see agents.mujoco_rewards)"
        )
    return env_id


# ----------------------------------------------------------------------------------------
# Rewards
# ----------------------------------------------------------------------------------------


def _forward_velocity(env_id, qpos_before, qpos_after):
    """``v_x = (x_after − x_before) / dt`` with ``x = qpos[0]``."""
    return (qpos_after[0] - qpos_before[0]) / _DT[env_id]


def _ctrl_cost(weight, action):
    return weight * jnp.sum(jnp.square(action))


def _inverted_pendulum(qpos_before, qvel_before, action, qpos_after, qvel_after):
    finite = jnp.all(jnp.isfinite(qpos_after)) & jnp.all(jnp.isfinite(qvel_after))
    alive = finite & (jnp.abs(qpos_after[1]) <= 0.2)
    return jnp.where(alive, 1.0, 0.0).astype(qpos_after.dtype)


def _double_pendulum_tip(qpos):
    """``(x_tip, y_tip)`` of InvertedDoublePendulum-v5's tip site at ``qpos = (x, θ₁, θ₂)``."""
    angle_2 = qpos[1] + qpos[2]
    x_tip = qpos[0] + _POLE_LENGTH * jnp.sin(qpos[1]) + _POLE_LENGTH * jnp.sin(angle_2)
    y_tip = _POLE_LENGTH * jnp.cos(qpos[1]) + _POLE_LENGTH * jnp.cos(angle_2)
    return x_tip, y_tip


def _inverted_double_pendulum(qpos_before, qvel_before, action, qpos_after, qvel_after):
    x_tip, y_tip = _double_pendulum_tip(qpos_after)
    dist_penalty = 0.01 * x_tip**2 + (y_tip - 2) ** 2
    vel_penalty = 1e-3 * qvel_after[1] ** 2 + 5e-3 * qvel_after[2] ** 2
    alive_bonus = jnp.where(y_tip <= 1, 0.0, 10.0)
    return alive_bonus - dist_penalty - vel_penalty


def _hopper(qpos_before, qvel_before, action, qpos_after, qvel_after):
    state = jnp.concatenate([qpos_after, qvel_after])[2:]
    healthy = (
        jnp.all((-100.0 < state) & (state < 100.0))
        & (0.7 < qpos_after[1])
        & (-0.2 < qpos_after[2])
        & (qpos_after[2] < 0.2)
    )
    forward = 1.0 * _forward_velocity("Hopper-v5", qpos_before, qpos_after)
    return forward + jnp.where(healthy, 1.0, 0.0) - _ctrl_cost(1e-3, action)


def _walker2d(qpos_before, qvel_before, action, qpos_after, qvel_after):
    z, angle = qpos_after[1], qpos_after[2]
    healthy = (0.8 < z) & (z < 2.0) & (-1.0 < angle) & (angle < 1.0)
    forward = 1.0 * _forward_velocity("Walker2d-v5", qpos_before, qpos_after)
    return forward + jnp.where(healthy, 1.0, 0.0) - _ctrl_cost(1e-3, action)


def _half_cheetah(qpos_before, qvel_before, action, qpos_after, qvel_after):
    forward = 1.0 * _forward_velocity("HalfCheetah-v5", qpos_before, qpos_after)
    return forward - _ctrl_cost(0.1, action)


def _ant(qpos_before, qvel_before, action, qpos_after, qvel_after):
    finite = jnp.all(jnp.isfinite(qpos_after)) & jnp.all(jnp.isfinite(qvel_after))
    healthy = finite & (0.2 <= qpos_after[2]) & (qpos_after[2] <= 1.0)
    forward = 1.0 * _forward_velocity("Ant-v5", qpos_before, qpos_after)
    return forward + jnp.where(healthy, 1.0, 0.0) - _ctrl_cost(0.5, action)


_REWARDS = {
    "InvertedPendulum-v5": _inverted_pendulum,
    "InvertedDoublePendulum-v5": _inverted_double_pendulum,
    "Hopper-v5": _hopper,
    "Walker2d-v5": _walker2d,
    "HalfCheetah-v5": _half_cheetah,
    "Ant-v5": _ant,
}


def reward_fn(env_id: str) -> Callable:
    """The reward of one ``env.step`` as a pure JAX function of the transition.

    ``r = reward(qpos_before, qvel_before, action, qpos_after, qvel_after)`` with shapes
    ``(nq,), (nv,), (nu,), (nq,), (nv,)``, a scalar; formulas in the module docstring.
    One example; batch with ``jax.vmap``. Shapes are checked at trace time (a wrong shape
    raises ``ValueError`` naming the argument). Indicator terms have gradient 0.

    >>> import jax, jax.numpy as jnp
    >>> reward = reward_fn("HalfCheetah-v5")
    >>> with jax.enable_x64(True):
    ...     q0, q1 = jnp.zeros(9), jnp.zeros(9).at[0].set(0.05)
    ...     round(float(reward(q0, jnp.zeros(9), jnp.ones(6), q1, jnp.zeros(9))), 12)  # 1 − 0.6
    0.4

    Args:
      env_id: one of :data:`REWARD_ENV_IDS`.
    """
    body = _REWARDS[_check_env_id(env_id)]
    nq, nv, nu = _SIZES[env_id]
    expected = {
        "qpos_before": (nq,),
        "qvel_before": (nv,),
        "action": (nu,),
        "qpos_after": (nq,),
        "qvel_after": (nv,),
    }

    def reward(qpos_before, qvel_before, action, qpos_after, qvel_after):
        arrays = [
            jnp.asarray(x) for x in (qpos_before, qvel_before, action, qpos_after, qvel_after)
        ]
        for (name, shape), array in zip(expected.items(), arrays, strict=True):
            if array.shape != shape:
                raise ValueError(
                    f"{name} must have shape {shape} for {env_id}; got shape {array.shape}"
                )
        arrays = [x.astype(jnp.result_type(float)) if x.dtype.kind in "iub" else x for x in arrays]
        return body(*arrays)

    reward.__name__ = f"reward_{env_id.replace('-', '_')}"
    reward.__doc__ = f"JAX reward of {env_id}; see agents.mujoco_rewards.reward_fn."
    return reward


@functools.cache
def _reward_value_and_grad(env_id: str):
    """Jitted ``(r, (∂r/∂qpos_before, ∂r/∂qvel_before, ∂r/∂a, ∂r/∂qpos_after, ∂r/∂qvel_after))``."""
    return jax.jit(jax.value_and_grad(reward_fn(env_id), argnums=(0, 1, 2, 3, 4)))


# ----------------------------------------------------------------------------------------
# Observations
# ----------------------------------------------------------------------------------------


def observation(env_id: str, data: mujoco.MjData) -> np.ndarray:
    """The observation ``env._get_obs()`` returns, computed from any ``data`` of the model.

    Same operations in the same order as Gymnasium's v5 ``_get_obs`` (table in the module
    docstring), so equal bit for bit. Shape ``(obs_dim,)``.
    """
    _check_env_id(env_id)
    qpos, qvel = data.qpos, data.qvel
    if env_id == "InvertedDoublePendulum-v5":
        return np.concatenate(
            [
                qpos[:1],
                np.sin(qpos[1:]),
                np.cos(qpos[1:]),
                np.clip(qvel, -10, 10),
                np.clip(data.qfrc_constraint, -10, 10)[:1],
            ]
        ).ravel()
    return _state_observations(env_id, len(qpos), np.concatenate([qpos, qvel])[None])[0]


# Envs whose observation reads a derived quantity of the MjData, not only (qpos, qvel).
_DERIVED_OBS_ENV_IDS = ("InvertedDoublePendulum-v5",)


def _state_observations(env_id: str, nq: int, states: np.ndarray) -> np.ndarray:
    """Observations ``(n, obs_dim)`` of physics states ``(n, nq + nv)`` (not IDP).

    Row by row the operations of ``_get_obs`` (concatenation, ``np.clip``), so equal to it
    bit for bit.
    """
    assert env_id not in _DERIVED_OBS_ENV_IDS and states.ndim == 2
    qpos, qvel = states[:, :nq], states[:, nq:]
    if env_id == "InvertedPendulum-v5":
        return np.concatenate([qpos, qvel], axis=1)
    if env_id in ("Hopper-v5", "Walker2d-v5"):
        return np.concatenate([qpos[:, 1:], np.clip(qvel, -10, 10)], axis=1)
    if env_id == "HalfCheetah-v5":
        return np.concatenate([qpos[:, 1:], qvel], axis=1)
    return np.concatenate([qpos[:, 2:], qvel], axis=1)  # Ant-v5


def _smooth_observation(env_id: str, qpos, qvel):
    """The observation with clipping dropped and IDP's constraint force set to 0 (JAX)."""
    if env_id == "InvertedPendulum-v5":
        return jnp.concatenate([qpos, qvel])
    if env_id == "InvertedDoublePendulum-v5":
        return jnp.concatenate(
            [qpos[:1], jnp.sin(qpos[1:]), jnp.cos(qpos[1:]), qvel, jnp.zeros(1, qpos.dtype)]
        )
    if env_id == "Ant-v5":
        return jnp.concatenate([qpos[2:], qvel])
    return jnp.concatenate([qpos[1:], qvel])


@functools.cache
def _smooth_observation_jacobian(env_id: str):
    """Jitted ``(∂obs/∂qpos, ∂obs/∂qvel)`` of the smooth observation."""
    return jax.jit(jax.jacfwd(functools.partial(_smooth_observation, env_id), argnums=(0, 1)))


class ObsStateMap(NamedTuple):
    """How the observation and the tangent state ``x = (dq, dv)`` of size ``2nv`` relate.

    ``obs_jac`` ``(obs_dim, 2nv)``: ``O = ∂obs/∂x`` with clipping ignored (and the IDP
    ``qfrc_constraint`` row 0). ``lift`` ``(2nv, obs_dim)``: ``O⁺``, the state change per
    observation change. ``state_columns``: the tangent coordinates the observation
    determines (nonzero columns of ``O``), ascending.
    """

    obs_jac: np.ndarray
    lift: np.ndarray
    state_columns: np.ndarray


def obs_state_map(env_id: str, model: mujoco.MjModel, qpos) -> ObsStateMap:
    """``O = ∂obs/∂x`` at configuration ``qpos`` and its pseudo-inverse (module docstring).

    ``O = [∂obs/∂qpos · P, ∂obs/∂qvel]`` with ``P = ∂(qpos ⊕ dq)/∂dq`` from
    :func:`agents.mujoco_fd.state_tangent_map`; ``∂obs`` from ``jax.jacfwd`` of the
    smooth observation. Only ``qpos`` matters (velocities enter linearly).
    """
    _check_env_id(env_id)
    nq, nv = model.nq, model.nv
    if (nq, nv, model.nu) != _SIZES[env_id] or model.na:
        raise ValueError(
            f"model must be the {env_id} model with (nq, nv, nu, na) = {(*_SIZES[env_id], 0)}; "
            f"got {(nq, nv, model.nu, model.na)}"
        )
    qpos = np.asarray(qpos, dtype=float)
    if qpos.shape != (nq,):
        raise ValueError(f"qpos must have shape ({nq},); got shape {qpos.shape}")
    with jax.enable_x64(True):
        dobs_dqpos, dobs_dqvel = _smooth_observation_jacobian(env_id)(qpos, np.zeros(nv))
    tangent = state_tangent_map(model, np.concatenate([qpos, np.zeros(nv)]))
    obs_jac = np.concatenate(
        [np.asarray(dobs_dqpos) @ tangent[:nq, :nv], np.asarray(dobs_dqvel)], 1
    )
    assert obs_jac.shape == (np.shape(dobs_dqpos)[0], 2 * nv)
    state_columns = np.flatnonzero(np.abs(obs_jac).sum(axis=0) > 0)
    lift = np.zeros(obs_jac.shape[::-1])
    lift[state_columns] = np.linalg.pinv(obs_jac[:, state_columns])
    return ObsStateMap(obs_jac=obs_jac, lift=lift, state_columns=state_columns)


# ----------------------------------------------------------------------------------------
# Step Jacobians in observation coordinates
# ----------------------------------------------------------------------------------------


# Envs whose joints are all hinges or slides and whose observation selects (qpos, qvel)
# entries: O and O⁺ do not depend on the configuration (0/1 entries, bit for bit).
_CONSTANT_LIFT_ENV_IDS = ("InvertedPendulum-v5", "Hopper-v5", "Walker2d-v5", "HalfCheetah-v5")
_CONSTANT_LIFTS: dict[str, ObsStateMap] = {}


def _lift_at(env_id: str, model: mujoco.MjModel, qpos) -> ObsStateMap:
    """:func:`obs_state_map`, computed once per env where it is constant (read-only arrays)."""
    if env_id not in _CONSTANT_LIFT_ENV_IDS:
        return obs_state_map(env_id, model, qpos)
    if env_id not in _CONSTANT_LIFTS:
        state_map = obs_state_map(env_id, model, qpos)
        for array in state_map:
            array.setflags(write=False)
        _CONSTANT_LIFTS[env_id] = state_map
    return _CONSTANT_LIFTS[env_id]


class ObsStepJacobians(NamedTuple):
    """Derivatives of ``(obs', r)`` of one env step with respect to ``(obs, a)``.

    ``jac_obs`` ``(obs_dim, obs_dim)`` = ``∂obs'/∂obs``, ``jac_act`` ``(obs_dim, act_dim)``
    = ``∂obs'/∂a``, ``dr_dobs`` ``(obs_dim,)``, ``dr_da`` ``(act_dim,)``; ``next_obs`` and
    ``reward`` are the unperturbed step's observation and JAX reward (``next_obs`` equals
    what ``env.step(action)`` returns, bit for bit).
    """

    jac_obs: np.ndarray
    jac_act: np.ndarray
    dr_dobs: np.ndarray
    dr_da: np.ndarray
    next_obs: np.ndarray
    reward: float


def _env_id_of(env: gym.Env) -> str:
    sim = env.unwrapped
    spec = getattr(env, "spec", None) or getattr(sim, "spec", None)
    env_id = getattr(spec, "id", None)
    if env_id not in _DT or not hasattr(sim, "model"):
        raise ValueError(
            f"env must be a Gymnasium MuJoCo env made with gym.make (or make_env) as one of "
            f"{', '.join(REWARD_ENV_IDS)}; got {type(sim).__name__} with id {env_id!r}"
        )
    for name, expected in _ENV_SETTINGS[env_id].items():
        value = getattr(sim, name)
        if tuple(np.atleast_1d(value)) != tuple(np.atleast_1d(expected)):
            raise ValueError(
                f"env {env_id} has {name} = {value!r}; the JAX reward and observation assume "
                f"the v5 default {expected!r}"
            )
    if sim.dt != _DT[env_id]:
        raise ValueError(f"env {env_id} has dt = {sim.dt!r}; accepted: {_DT[env_id]!r}")
    return env_id


def obs_step_jacobians(
    env: gym.Env, action, *, eps: float = 1e-6, method: str = "rollout", n_threads: int = 1
) -> ObsStepJacobians:
    """``∂(obs', r)/∂(obs, a)`` of one whole ``env.step(action)`` at the env's CURRENT state.

    With ``x`` the tangent state, ``f`` the step (``frame_skip`` substeps), ``O⁺`` the
    lift of :func:`obs_state_map` at the current configuration and ``D = ∂obs'/∂x``:

        jac_obs = D O⁺,    jac_act = ∂obs'/∂a,
        dr_dobs = (∂r/∂x_before + ∂r/∂x_after · F_s) O⁺,
        dr_da   = ∂r/∂a + ∂r/∂x_after · F_a,

    ``F_s, F_a`` (tangent state Jacobians) and ``D, ∂obs'/∂a`` are central differences with
    step ``eps`` on the tangent coordinates the observation determines and on every control,
    each from the env's full integration state (as :func:`~agents.mujoco_fd.
    step_jacobians`; the env's ``data`` is never written, so the next ``env.step`` is
    unaffected). The ``2(len(columns) + act_dim) + 1`` steps run in one ``mujoco.rollout``
    call (:func:`agents.mujoco_fd.central_steps`); ``method="sequential"`` runs them
    one at a time with the same bits (and the cost from before batching: a fresh scratch
    ``MjData`` and lift per call). InvertedDoublePendulum-v5 always runs sequentially: its
    observation reads ``qfrc_constraint`` from the ``MjData`` after the step. The reward
    gradients ``∂r/∂qpos``, ``∂r/∂qvel``, ``∂r/∂a`` come from ``jax.grad`` of
    :func:`reward_fn` in float64, mapped to tangent coordinates by ``state_tangent_map``.
    Contacts make the step piecewise smooth; a difference straddling a contact change is a
    secant.

    Args:
      env: a MuJoCo env made by ``gym.make``/``make_env`` as one of :data:`REWARD_ENV_IDS`,
        with v5 default settings.
      action: ``(act_dim,)`` action as passed to ``env.step``.
      eps: finite-difference step (positive, finite).
      method: one of :data:`agents.mujoco_fd.FD_METHODS` (same bits).
      n_threads: threads of the ``"rollout"`` method (same bits; worth it on idle cores).

    Returns:
      :class:`ObsStepJacobians`.
    """
    env_id = _env_id_of(env)
    sim = env.unwrapped
    model, data = sim.model, sim.data
    action = check_action(model, action)
    eps = check_eps(eps)
    check_method(method)
    nq, nv, nu = model.nq, model.nv, model.nu
    lift_of = _lift_at if method == "rollout" else obs_state_map  # sequential: as before
    state_map = lift_of(env_id, model, data.qpos)
    columns = state_map.state_columns
    obs_dim = state_map.obs_jac.shape[0]

    state_before = physics_state(model, data)
    # Columns: the determined tangent coordinates, then the controls.
    n_columns = len(columns) + nu
    fd_columns = np.concatenate([columns, 2 * nv + np.arange(nu)])
    read_out = None
    if env_id in _DERIVED_OBS_ENV_IDS:  # the observation reads a force, not only the state
        method = "sequential"

        def read_out(scratch):
            mujoco.mj_rnePostConstraint(model, scratch)  # as MujocoEnv._step_mujoco_simulation
            return observation(env_id, scratch)

    steps = central_steps(
        model,
        data,
        action,
        fd_columns,
        eps=eps,
        n_substeps=sim.frame_skip,
        method=method,
        n_threads=n_threads,
        read_out=read_out,
    )
    if read_out is None:
        next_obs, plus_obs, minus_obs = (
            _state_observations(env_id, nq, states)
            for states in (steps.next_state[None], steps.plus, steps.minus)
        )
        next_obs = next_obs[0]
    else:
        next_obs, plus_obs, minus_obs = steps.read_outs
    next_state = steps.next_state
    jac_state = central_tangent_columns(model, steps, eps)  # [F_s[:, columns], F_a]
    jac_obs_state = (plus_obs - minus_obs).T / (2.0 * eps)  # [D[:, columns], ∂obs'/∂a]
    assert jac_state.shape == (2 * nv, n_columns) and jac_obs_state.shape == (obs_dim, n_columns)

    lift = state_map.lift[columns, :]
    jac_obs = jac_obs_state[:, : len(columns)] @ lift
    jac_act = jac_obs_state[:, len(columns) :]

    with jax.enable_x64(True):
        reward, grads = _reward_value_and_grad(env_id)(
            state_before[:nq], state_before[nq:], action, next_state[:nq], next_state[nq:]
        )
    dr_dqpos_b, dr_dqvel_b, dr_da_direct, dr_dqpos_a, dr_dqvel_a = (np.asarray(g) for g in grads)
    tangent_before = state_tangent_map(model, state_before)
    tangent_after = state_tangent_map(model, next_state)
    dr_dx_before = np.concatenate([dr_dqpos_b, dr_dqvel_b]) @ tangent_before
    dr_dx_after = np.concatenate([dr_dqpos_a, dr_dqvel_a]) @ tangent_after
    assert dr_dx_before.shape == dr_dx_after.shape == (2 * nv,)
    dr_dx = dr_dx_before[columns] + dr_dx_after @ jac_state[:, : len(columns)]
    dr_dobs = dr_dx @ lift
    dr_da = dr_da_direct + dr_dx_after @ jac_state[:, len(columns) :]
    assert jac_obs.shape == (obs_dim, obs_dim) and jac_act.shape == (obs_dim, nu)
    return ObsStepJacobians(
        jac_obs=jac_obs,
        jac_act=jac_act,
        dr_dobs=dr_dobs,
        dr_da=dr_da,
        next_obs=next_obs,
        reward=float(reward),
    )
