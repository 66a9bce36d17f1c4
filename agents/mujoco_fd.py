"""Finite-difference Jacobians of a whole Gymnasium MuJoCo env step: the one FD engine.

docs/math.md#setting writes the environment as ``s' = f(s, a)`` with ``F_s = ∂f/∂s`` and
``F_a = ∂f/∂a``. This module measures ``F_s``, ``F_a`` of the real MuJoCo envs by central
differences; :mod:`agents.mujoco_kappa` turns them into the modulus ``κ`` along policy
rollouts (docs/claims.md#c1) and :mod:`agents.mujoco_rewards` into observation-space
Jacobians with the reward's gradients for Sobolev TD. Both run their perturbed steps
through :func:`central_steps` here.

**What "the env step" is.** ``env.step(action)`` in Gymnasium's ``MujocoEnv`` does
``data.ctrl[:] = action; mj_step(model, data, nstep=frame_skip)`` followed by
``mj_rnePostConstraint`` (which fills force read-outs only and leaves the state alone). The
Jacobians here are those of exactly that map, all ``frame_skip`` substeps, computed on a
scratch copy of ``data`` so the env itself is never touched.

**State coordinates.** The *physics state* is MuJoCo's ``(qpos, qvel, act)``
(``mjSTATE_QPOS | mjSTATE_QVEL | mjSTATE_ACT``: ``mjSTATE_PHYSICS`` minus the delay-history
buffers, which none of these envs has; a model with history is refused). It has
``nq + nv + na`` entries. The Jacobians are taken in *tangent coordinates*
``x = (dq, dv, dact)`` of size ``2nv + na``, the convention of ``mujoco.mjd_transitionFD``:
a position perturbation ``dq ∈ R^nv`` acts as ``qpos ⊕ dq = mj_integratePos(qpos, dq, 1)``
(a quaternion of a free or ball joint is rotated by ``exp(dq/2)`` in the body frame, never
added to), and a position difference is ``qpos₂ ⊖ qpos₁ = mj_differentiatePos(·, 1, qpos₁,
qpos₂)``. For hinge and slide joints this is the plain difference. A policy written on the
physics state is brought into these coordinates by :func:`state_tangent_map`.

**Finite differences.** Central, step ``eps`` on every tangent coordinate and control; before
every perturbed step the scratch data gets the env's full integration state
(``mjSTATE_INTEGRATION``: time, qpos, qvel, act, solver warm start, ctrl, applied forces,
mocap, ...) through ``mj_setState``, so every evaluation starts from the same bits. Column
``j`` of ``[F_s F_a]`` is ``((f(x ⊕ eps e_j) ⊖ f(x)) − (f(x ⊖ eps e_j) ⊖ f(x))) / (2 eps)``.
Contacts make the step only piecewise smooth; a difference that straddles a contact change
measures a secant, not a derivative. All ``2·n_columns + 1`` perturbed steps run in one
``mujoco.rollout`` call (:func:`central_steps`, the one FD engine of this module, of
:mod:`agents.mujoco_kappa` and of :mod:`agents.mujoco_rewards`); ``method="sequential"``
runs them one ``mj_step`` call at a time and gives the same bits.

Which integrator each env uses (``model.opt.integrator``; ``mjd_transitionFD`` refuses RK4):

    InvertedPendulum-v5  RK4    frame_skip 2   HalfCheetah-v5  Euler  frame_skip 5
    InvertedDoublePendulum-v5 RK4  frame_skip 5   Hopper-v5  RK4  frame_skip 4
    Walker2d-v5  RK4  frame_skip 4   Ant-v5  RK4  frame_skip 5   Humanoid-v5  RK4  frame_skip 5
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import gymnasium as gym
import mujoco
import mujoco.rollout
import numpy as np

__all__ = [
    "ENV_IDS",
    "FD_METHODS",
    "CentralSteps",
    "StepJacobians",
    "TransitionJacobians",
    "central_steps",
    "central_tangent_columns",
    "check_action",
    "check_eps",
    "check_method",
    "env_step_jacobians",
    "make_env",
    "physics_state",
    "state_tangent_map",
    "step_jacobians",
    "transition_fd_reference",
]

# The v5 envs this module supports, with the keyword arguments ``make_env`` always passes.
_ENV_DEFAULTS: dict[str, dict[str, object]] = {
    "InvertedPendulum-v5": {},
    "InvertedDoublePendulum-v5": {},
    "HalfCheetah-v5": {},
    "Hopper-v5": {},
    "Walker2d-v5": {},
    # 78 contact-force entries are not smooth in the state; docs/agents.md#tools.
    "Ant-v5": {"include_cfrc_ext_in_observation": False},
    "Humanoid-v5": {},
}
ENV_IDS: tuple[str, ...] = tuple(_ENV_DEFAULTS)

_PHYSICS = int(mujoco.mjtState.mjSTATE_QPOS | mujoco.mjtState.mjSTATE_QVEL)
_PHYSICS |= int(mujoco.mjtState.mjSTATE_ACT)
_INTEGRATION = int(mujoco.mjtState.mjSTATE_INTEGRATION)
_FULL_PHYSICS = int(mujoco.mjtState.mjSTATE_FULLPHYSICS)
_USER = int(mujoco.mjtState.mjSTATE_USER)
# How central_steps runs its perturbed steps (same bits either way).
FD_METHODS: tuple[str, ...] = ("rollout", "sequential")


def make_env(env_id: str, **kwargs) -> gym.Env:
    """``gym.make(env_id, **defaults, **kwargs)`` for one of :data:`ENV_IDS`.

    Ant-v5 gets ``include_cfrc_ext_in_observation=False`` unless ``kwargs`` says otherwise.

    >>> make_env("Ant-v5").observation_space.shape
    (27,)
    """
    if env_id not in _ENV_DEFAULTS:
        raise ValueError(f"unknown env_id {env_id!r}; accepted ids are {', '.join(ENV_IDS)}")
    return gym.make(env_id, **{**_ENV_DEFAULTS[env_id], **kwargs})


class StepJacobians(NamedTuple):
    """Tangent-space Jacobians of one env step ``x' = f(x, a)`` at ``(state, action)``.

    ``jac_s`` is ``F_s`` of shape ``(2nv + na, 2nv + na)`` and ``jac_a`` is ``F_a`` of shape
    ``(2nv + na, nu)``, rows and columns ordered ``(dq, dv, dact)`` then controls. ``state``
    and ``next_state`` are physics states ``(qpos, qvel, act)`` of length ``nq + nv + na``:
    the linearisation point and the unperturbed result of the step.
    """

    jac_s: np.ndarray
    jac_a: np.ndarray
    state: np.ndarray
    action: np.ndarray
    next_state: np.ndarray
    n_substeps: int


class TransitionJacobians(NamedTuple):
    """``mjd_transitionFD``'s ``A`` (``jac_s``) and ``B`` (``jac_a``) for one physics step."""

    jac_s: np.ndarray
    jac_a: np.ndarray


def _check_model(model: mujoco.MjModel) -> None:
    history = mujoco.mj_stateSize(model, int(mujoco.mjtState.mjSTATE_HISTORY))
    if history:
        raise ValueError(
            f"the model has {history} delay-history state entries, which these Jacobians do "
            "not perturb; accepted: models with none (all Gymnasium v5 MuJoCo envs)"
        )


def _get_state(model: mujoco.MjModel, data: mujoco.MjData, spec: int) -> np.ndarray:
    state = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, state, spec)
    return state


def physics_state(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """The physics state ``(qpos, qvel, act)``, shape ``(nq + nv + na,)``, as a new array."""
    return _get_state(model, data, _PHYSICS)


def check_action(model: mujoco.MjModel, action) -> np.ndarray:
    """``action`` as a float ``(nu,)`` array; ``ValueError`` naming the shape or the values."""
    action = np.asarray(action, dtype=float)
    if action.shape != (model.nu,):
        raise ValueError(
            f"action must have shape ({model.nu},) (one entry per actuator); got shape {action.shape}"
        )
    if not np.all(np.isfinite(action)):
        raise ValueError(f"action must be finite; got {action}")
    return action


def check_eps(eps) -> float:
    """``eps`` as a float; ``ValueError`` unless it is a positive finite number."""
    if not (isinstance(eps, int | float | np.floating) and np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite step; got {eps!r}")
    return float(eps)


def check_method(method) -> str:
    """``method`` if it is one of :data:`FD_METHODS`, else ``ValueError`` listing them."""
    if method not in FD_METHODS:
        raise ValueError(f"method must be one of {', '.join(FD_METHODS)}; got {method!r}")
    return method


class CentralSteps(NamedTuple):
    """End states of the unperturbed step and of the ``±eps`` steps along chosen columns.

    A column ``j`` indexes the inputs ``(x, a)`` of ``x' = f(x, a)``: tangent coordinates
    ``0 … 2nv+na−1``, then controls ``2nv+na … 2nv+na+nu−1``. ``next_state`` ``(nq+nv+na,)``
    is ``f(x, a)``; row ``k`` of ``plus`` and ``minus`` ``(n_columns, nq+nv+na)`` is the
    physics state after the step from ``(x, a) ± eps e_{columns[k]}`` (``⊕`` on positions).
    ``read_outs`` is ``(nominal, plus, minus)`` of ``read_out(scratch)`` after each step
    (``plus``/``minus`` stacked over columns), or ``None`` when no ``read_out`` was given.
    """

    next_state: np.ndarray
    plus: np.ndarray
    minus: np.ndarray
    read_outs: tuple[np.ndarray, np.ndarray, np.ndarray] | None


_ROLLOUT_RUNNERS: dict[int, mujoco.rollout.Rollout] = {}
# Scratch MjData for rollouts, per thread and model: making one costs more than the steps of a
# small model (measured 0.6 ms for InvertedPendulum, 0.8 ms for Hopper). mujoco.rollout sets
# the whole integration state before it steps, so what a previous call left there is unread.
_SCRATCH = threading.local()
_SCRATCH_MODELS = 8  # models kept per thread


def _scratch_data(model: mujoco.MjModel, n_threads: int) -> list[mujoco.MjData]:
    cache = _SCRATCH.__dict__.setdefault("by_model", {})
    entry = cache.get(id(model))
    if entry is None or entry[0] is not model or len(entry[1]) < n_threads:
        if len(cache) >= _SCRATCH_MODELS:
            cache.pop(next(iter(cache)))
        entry = cache[id(model)] = (model, [mujoco.MjData(model) for _ in range(n_threads)])
    return entry[1][:n_threads]


def _rollout_runner(n_threads: int):
    """One ``mujoco.rollout.Rollout`` per thread count (0 runs on the calling thread)."""
    if n_threads not in _ROLLOUT_RUNNERS:
        _ROLLOUT_RUNNERS[n_threads] = mujoco.rollout.Rollout(nthread=n_threads)
    return _ROLLOUT_RUNNERS[n_threads]


def central_steps(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    action,
    columns,
    *,
    eps: float,
    n_substeps: int,
    method: str = "rollout",
    n_threads: int = 1,
    read_out=None,
) -> CentralSteps:
    """The ``2·len(columns) + 1`` whole steps a central difference of ``x' = f(x, a)`` needs.

    Every step starts from the full integration state of ``data`` (``mjSTATE_INTEGRATION``:
    time, qpos, qvel, act, warm start, ctrl, applied forces, mocap, ...), perturbed by
    ``± eps e_j``: positions by ``mj_integratePos(qpos, dq, 1)``, velocities, activations
    and controls by addition, then ``ctrl = action + δa`` and ``n_substeps`` calls of
    ``mj_step``. ``data`` is read, never written.

    ``method="rollout"`` runs all of them in one ``mujoco.rollout`` call (C, no Python per
    substep; ``n_threads`` MjData, threads when > 1); ``"sequential"`` runs them one after
    another on one scratch ``MjData`` through ``mj_setState`` + ``mj_step``. Both give the
    same bits: each step starts from the same state and inputs (rollout: the full-physics
    state, the warm start and every user input re-set before each substep) and MuJoCo is
    deterministic. ``mujoco.rollout`` stops a trajectory at a MuJoCo warning (``mj_step``
    carries on); such a trajectory's time stops advancing, and then this call redoes all
    steps sequentially, so the two methods agree there too. ``read_out(scratch)`` (arrays
    read from the ``MjData`` after each step, e.g. derived forces) needs ``"sequential"``.

    Args:
      model: the MuJoCo model (no delay-history state).
      data: the linearisation state (not modified).
      action: ``(nu,)`` control.
      columns: ``(n_columns,)`` integer indices into ``(x, a)``, each in ``[0, 2nv+na+nu)``.
      eps: finite-difference step.
      n_substeps: physics steps per evaluation (an env's ``frame_skip``).
      method: one of :data:`FD_METHODS`.
      n_threads: threads for ``"rollout"`` (1: the calling thread).
      read_out: optional function of the scratch ``MjData`` returning a 1-D array.
    """
    _check_model(model)
    action = check_action(model, action)
    eps = check_eps(eps)
    if not (isinstance(n_substeps, int | np.integer) and n_substeps >= 1):
        raise ValueError(f"n_substeps must be a positive integer; got {n_substeps!r}")
    check_method(method)
    if not (isinstance(n_threads, int | np.integer) and n_threads >= 1):
        raise ValueError(f"n_threads must be a positive integer; got {n_threads!r}")
    if read_out is not None and method != "sequential":
        raise ValueError(
            "read_out reads the MjData after each step, which only method='sequential' keeps; "
            f"got method={method!r}"
        )
    nv, na, nu = model.nv, model.na, model.nu
    n_tangent = 2 * nv + na
    columns = np.asarray(columns)
    if (
        columns.ndim != 1
        or columns.dtype.kind not in "iu"
        or np.any(columns < 0)
        or np.any(columns >= n_tangent + nu)
    ):
        raise ValueError(
            f"columns must be a 1-D integer array with entries in [0, {n_tangent + nu}) "
            f"(tangent coordinates, then controls); got {columns!r}"
        )
    # Row 0: no perturbation; rows 1..K: +eps e_j; rows K+1..2K: -eps e_j.
    deltas = np.zeros((len(columns), n_tangent + nu))
    deltas[np.arange(len(columns)), columns] = eps
    signed = np.concatenate([np.zeros((1, n_tangent + nu)), deltas, -deltas])
    if method == "rollout":
        states = _rollout_steps(model, data, action, signed, int(n_substeps), int(n_threads))
        read = None
    if method == "sequential" or states is None:
        states, read = _sequential_steps(model, data, action, signed, int(n_substeps), read_out)
    n_columns = len(columns)
    plus, minus = states[1 : n_columns + 1], states[n_columns + 1 :]
    read_outs = None
    if read is not None:
        read_outs = (read[0], read[1 : n_columns + 1], read[n_columns + 1 :])
    return CentralSteps(next_state=states[0], plus=plus, minus=minus, read_outs=read_outs)


def _sequential_steps(model, data, action, signed, n_substeps, read_out):
    """Physics states (and read-outs) after each perturbed step, one ``mj_step`` call each."""
    nv, n_tangent = model.nv, 2 * model.nv + model.na
    base = _get_state(model, data, _INTEGRATION)
    scratch = mujoco.MjData(model)
    states, read = [], []
    for delta in signed:
        mujoco.mj_setState(model, scratch, base, _INTEGRATION)
        if delta[:nv].any():  # integratePos renormalises quaternions: skip when 0
            mujoco.mj_integratePos(model, scratch.qpos, delta[:nv], 1.0)
        scratch.qvel += delta[nv : 2 * nv]
        scratch.act += delta[2 * nv : n_tangent]
        scratch.ctrl[:] = action + delta[n_tangent:]
        mujoco.mj_step(model, scratch, nstep=n_substeps)
        states.append(physics_state(model, scratch))
        if read_out is not None:
            read.append(np.asarray(read_out(scratch), dtype=float))
    return np.stack(states), (np.stack(read) if read_out is not None else None)


def _rollout_steps(model, data, action, signed, n_substeps, n_threads):
    """The same steps in one ``mujoco.rollout`` call; ``None`` if a trajectory stopped early."""
    nq, nv, na = model.nq, model.nv, model.na
    n_tangent = 2 * nv + na
    n_roll = len(signed)
    # mjSTATE_FULLPHYSICS = (time, qpos, qvel, act, history, plugin); history is refused.
    initial = np.tile(_get_state(model, data, _FULL_PHYSICS), (n_roll, 1))
    qpos = initial[:, 1 : 1 + nq]
    for row, delta in zip(qpos, signed, strict=True):
        if delta[:nv].any():
            mujoco.mj_integratePos(model, row, delta[:nv], 1.0)
    initial[:, 1 + nq : 1 + nq + nv] += signed[:, nv : 2 * nv]
    initial[:, 1 + nq + nv : 1 + nq + nv + na] += signed[:, 2 * nv : n_tangent]
    # mjSTATE_USER = (ctrl, qfrc_applied, xfrc_applied, eq_active, mocap, userdata): ctrl first.
    user = np.tile(_get_state(model, data, _USER), (n_roll, 1))
    user[:, : model.nu] = action + signed[:, n_tangent:]
    control = np.ascontiguousarray(np.repeat(user[:, None, :], n_substeps, axis=1))
    warmstart = np.tile(data.qacc_warmstart, (n_roll, 1))
    trajectory = np.empty((n_roll, n_substeps, initial.shape[1]))
    scratch = _scratch_data(model, n_threads)
    _rollout_runner(0 if n_threads == 1 else n_threads).rollout(
        [model] * n_roll,
        scratch,
        initial,
        control,
        control_spec=_USER,
        skip_checks=True,
        nstep=n_substeps,
        initial_warmstart=warmstart,
        state=trajectory,
    )
    time = trajectory[:, :, 0]
    if n_substeps > 1 and np.any(time[:, 1:] <= time[:, :-1]):
        return None  # a MuJoCo warning stopped a trajectory: redo them with mj_step
    return trajectory[:, -1, 1 : 1 + nq + nv + na]


def central_tangent_columns(model: mujoco.MjModel, steps: CentralSteps, eps: float) -> np.ndarray:
    """Columns ``((f(z + eps e_j) ⊖ f(z)) − (f(z − eps e_j) ⊖ f(z))) / (2 eps)`` of ``[F_s F_a]``.

    ``⊖`` is ``mj_differentiatePos`` on positions and subtraction on velocities and
    activations (module docstring); shape ``(2nv + na, n_columns)``.
    """
    nq, nv = model.nq, model.nv
    next_state, plus, minus = steps.next_state, steps.plus, steps.minus
    jacobian = np.empty((2 * nv + model.na, len(plus)))
    plus_dq, minus_dq = np.empty(nv), np.empty(nv)
    for k in range(len(plus)):
        mujoco.mj_differentiatePos(model, plus_dq, 1.0, next_state[:nq], plus[k, :nq])
        mujoco.mj_differentiatePos(model, minus_dq, 1.0, next_state[:nq], minus[k, :nq])
        jacobian[:nv, k] = (plus_dq - minus_dq) / (2.0 * eps)
    jacobian[nv:] = ((plus[:, nq:] - next_state[nq:]) - (minus[:, nq:] - next_state[nq:])).T / (
        2.0 * eps
    )
    return jacobian


def step_jacobians(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    action=None,
    *,
    eps: float = 1e-6,
    n_substeps: int = 1,
    method: str = "rollout",
) -> StepJacobians:
    """Central-difference ``F_s``, ``F_a`` of ``n_substeps`` calls of ``mj_step`` from ``data``.

    The map is ``x' = f(x, a)``: set ``ctrl = a``, then ``mj_step(model, ·, nstep=n_substeps)``,
    from the full integration state of ``data`` (warm start, applied forces, ... held fixed).
    ``F_s`` is ``(2nv + na) × (2nv + na)`` and ``F_a`` is ``(2nv + na) × nu`` in the tangent
    coordinates of the module docstring. ``data`` is read, never written. The
    ``2(2nv + na + nu) + 1`` steps run in :func:`central_steps` (one ``mujoco.rollout`` call
    by default; ``method="sequential"`` gives the same bits one step at a time).

    Args:
      model: the MuJoCo model.
      data: the linearisation state (not modified).
      action: ``(nu,)`` control; ``None`` uses ``data.ctrl``.
      eps: finite-difference step for every tangent coordinate and control.
      n_substeps: number of physics steps (an env's ``frame_skip`` for a whole env step).
      method: one of :data:`FD_METHODS`.
    """
    _check_model(model)
    action = check_action(model, data.ctrl if action is None else action)
    eps = check_eps(eps)
    n_tangent = 2 * model.nv + model.na
    steps = central_steps(
        model,
        data,
        action,
        np.arange(n_tangent + model.nu),
        eps=eps,
        n_substeps=n_substeps,
        method=method,
    )
    jacobian = central_tangent_columns(model, steps, eps)
    return StepJacobians(
        jac_s=jacobian[:, :n_tangent],
        jac_a=jacobian[:, n_tangent:],
        state=physics_state(model, data),
        action=action,
        next_state=steps.next_state,
        n_substeps=int(n_substeps),
    )


def env_step_jacobians(
    env: gym.Env,
    action=None,
    *,
    eps: float = 1e-6,
    n_substeps: int | None = None,
    method: str = "rollout",
) -> StepJacobians:
    """``F_s``, ``F_a`` of the whole ``env.step`` (all ``frame_skip`` substeps) at the env's state.

    Equivalent to ``step_jacobians(model, data, action, n_substeps=frame_skip)`` on
    ``env.unwrapped``; the env's ``data`` is left bit-identical, so a following
    ``env.step(action)`` lands on ``next_state`` exactly.

    Args:
      env: a Gymnasium MuJoCo env (wrapped or not).
      action: ``(nu,)`` action as passed to ``env.step``; ``None`` uses the current ctrl.
      eps: finite-difference step.
      n_substeps: override of ``frame_skip`` (``1`` gives one physics step).
      method: one of :data:`FD_METHODS` (same bits).
    """
    sim = env.unwrapped
    if not hasattr(sim, "model") or not hasattr(sim, "frame_skip"):
        raise ValueError(f"env must be a Gymnasium MujocoEnv; got {type(sim).__name__}")
    steps = sim.frame_skip if n_substeps is None else n_substeps
    return step_jacobians(sim.model, sim.data, action, eps=eps, n_substeps=steps, method=method)


def transition_fd_reference(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    eps: float = 1e-6,
    *,
    centered: bool = True,
    action=None,
) -> TransitionJacobians:
    """MuJoCo's own ``mjd_transitionFD`` for ONE physics step, run on a copy of ``data``.

    Same tangent convention as :func:`step_jacobians` with ``n_substeps=1``. MuJoCo refuses
    the RK4 integrator (a ``FatalError``); this raises ``ValueError`` first instead. Near a
    ctrl limit MuJoCo may difference one-sidedly, so compare at interior controls.
    """
    if int(model.opt.integrator) == int(mujoco.mjtIntegrator.mjINT_RK4):
        raise ValueError(
            "mjd_transitionFD does not support the RK4 integrator; accepted: Euler, implicit, "
            "implicitfast models (use step_jacobians for RK4)"
        )
    eps = check_eps(eps)
    scratch = mujoco.MjData(model)
    mujoco.mj_copyData(scratch, model, data)
    if action is not None:
        scratch.ctrl[:] = check_action(model, action)
    n_tangent = 2 * model.nv + model.na
    jac_s = np.zeros((n_tangent, n_tangent))
    jac_a = np.zeros((n_tangent, model.nu))
    mujoco.mjd_transitionFD(model, scratch, eps, bool(centered), jac_s, jac_a, None, None)
    return TransitionJacobians(jac_s=jac_s, jac_a=jac_a)


def state_tangent_map(model: mujoco.MjModel, state) -> np.ndarray:
    """``∂ state / ∂ x``: physics-state change per tangent coordinate, ``(nq+nv+na, 2nv+na)``.

    ``blockdiag(P, I_nv, I_na)`` where ``P = ∂(qpos ⊕ dq)/∂dq`` at ``dq = 0``: identity
    for hinge and slide joints and for a free joint's position; ``½ Q(q)`` for a unit
    quaternion ``q`` rotated in the body frame, with ``Q(q) w = q ⊗ (0, w)``. A Jacobian on
    the physics state times this map is the Jacobian in the tangent coordinates of ``F_s``.
    """
    state = np.asarray(state, dtype=float)
    nq, nv, na = model.nq, model.nv, model.na
    if state.shape != (nq + nv + na,):
        raise ValueError(
            f"state must be a physics state (qpos, qvel, act) of shape ({nq + nv + na},); "
            f"got shape {state.shape}"
        )
    tangent_map = np.zeros((nq + nv + na, 2 * nv + na))
    tangent_map[nq:, nv:] = np.eye(nv + na)
    free, ball = int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_BALL)
    for joint in range(model.njnt):
        kind = int(model.jnt_type[joint])  # pybind enums do not compare inside `in`
        qadr, vadr = model.jnt_qposadr[joint], model.jnt_dofadr[joint]
        if kind == free:
            tangent_map[qadr : qadr + 3, vadr : vadr + 3] = np.eye(3)
            qadr, vadr = qadr + 3, vadr + 3
        if kind in (free, ball):
            w, x, y, z = state[qadr : qadr + 4]
            quat_times_pure = np.array([[-x, -y, -z], [w, -z, y], [z, w, -x], [-y, x, w]])
            tangent_map[qadr : qadr + 4, vadr : vadr + 3] = 0.5 * quat_times_pure
        else:  # hinge or slide
            tangent_map[qadr, vadr] = 1.0
    return tangent_map
