"""The batched finite-difference engine (``mujoco.rollout``) against the code it replaced.

Oracle: the per-column loops of ``step_jacobians`` and ``obs_step_jacobians`` as they were
before batching (copied below, with their own observation function), one ``mj_setState`` +
``mj_step`` call per perturbed step on a fresh scratch ``MjData``. Both start every step from
the same state and inputs and apply the same floating-point operations in the same order, and
MuJoCo is deterministic, so the results must be EQUAL bit for bit: no tolerance.
"""

from __future__ import annotations

import functools

import jax
import mujoco
import numpy as np
import pytest

from agents.mujoco_fd import (
    ENV_IDS,
    central_steps,
    env_step_jacobians,
    make_env,
    physics_state,
    state_tangent_map,
    step_jacobians,
)
from agents.mujoco_rewards import REWARD_ENV_IDS, obs_state_map, obs_step_jacobians, reward_fn

_INTEGRATION = int(mujoco.mjtState.mjSTATE_INTEGRATION)


@pytest.fixture(autouse=True)
def _mujoco_log_outside_the_repo(tmp_path, monkeypatch):
    """MuJoCo appends warnings to ./MUJOCO_LOG.TXT."""
    monkeypatch.chdir(tmp_path)


# ------------------------------------------------------------ the code before batching


def _reference_observation(env_id, data):
    """Gymnasium v5 ``_get_obs`` on any ``data`` (as ``agents.mujoco_rewards`` had it)."""
    qpos, qvel = data.qpos, data.qvel
    if env_id == "InvertedPendulum-v5":
        return np.concatenate([qpos, qvel]).ravel()
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
    if env_id in ("Hopper-v5", "Walker2d-v5"):
        return np.concatenate((qpos.flatten()[1:], np.clip(qvel.flatten(), -10, 10))).ravel()
    if env_id == "HalfCheetah-v5":
        return np.concatenate((qpos.flatten()[1:], qvel.flatten())).ravel()
    return np.concatenate((qpos.flatten()[2:], qvel.flatten()))  # Ant-v5


def _reference_step_jacobians(model, data, action, eps, n_substeps):
    """``step_jacobians`` before batching: ``(jac_s, jac_a, next_state)``."""
    nq, nv, na, nu = model.nq, model.nv, model.na, model.nu
    n_tangent = 2 * nv + na
    base = np.empty(mujoco.mj_stateSize(model, _INTEGRATION))
    mujoco.mj_getState(model, data, base, _INTEGRATION)
    scratch = mujoco.MjData(model)

    def advance(delta_state, delta_action):
        mujoco.mj_setState(model, scratch, base, _INTEGRATION)
        if delta_state[:nv].any():
            mujoco.mj_integratePos(model, scratch.qpos, delta_state[:nv], 1.0)
        scratch.qvel += delta_state[nv : 2 * nv]
        scratch.act += delta_state[2 * nv :]
        scratch.ctrl[:] = action + delta_action
        mujoco.mj_step(model, scratch, nstep=int(n_substeps))
        return physics_state(model, scratch)

    next_state = advance(np.zeros(n_tangent), np.zeros(nu))
    tangent_step = np.empty(nv)

    def minus_nominal(perturbed):
        mujoco.mj_differentiatePos(model, tangent_step, 1.0, next_state[:nq], perturbed[:nq])
        return np.concatenate([tangent_step, perturbed[nq:] - next_state[nq:]])

    jacobian = np.empty((n_tangent, n_tangent + nu))
    for column in range(n_tangent + nu):
        delta = np.zeros(n_tangent + nu)
        delta[column] = eps
        plus = minus_nominal(advance(delta[:n_tangent], delta[n_tangent:]))
        minus = minus_nominal(advance(-delta[:n_tangent], -delta[n_tangent:]))
        jacobian[:, column] = (plus - minus) / (2.0 * eps)
    return jacobian[:, :n_tangent], jacobian[:, n_tangent:], next_state


@functools.cache
def _jitted_reward_value_and_grad(env_id):
    """Jitted as in the module: XLA's fusion changes the last bit of the reward otherwise."""
    return jax.jit(jax.value_and_grad(reward_fn(env_id), argnums=(0, 1, 2, 3, 4)))


def _reference_obs_step_jacobians(env, action, eps):
    """``obs_step_jacobians`` before batching: ``(jac_obs, jac_act, dr_dobs, dr_da, next_obs,
    reward)``."""
    env_id = env.spec.id
    sim = env.unwrapped
    model, data = sim.model, sim.data
    nq, nv, nu = model.nq, model.nv, model.nu
    state_map = obs_state_map(env_id, model, data.qpos)
    columns = state_map.state_columns
    obs_dim = state_map.obs_jac.shape[0]
    base = np.empty(mujoco.mj_stateSize(model, _INTEGRATION))
    mujoco.mj_getState(model, data, base, _INTEGRATION)
    state_before = physics_state(model, data)
    scratch = mujoco.MjData(model)

    def advance(delta_state, delta_action):
        mujoco.mj_setState(model, scratch, base, _INTEGRATION)
        if delta_state[:nv].any():
            mujoco.mj_integratePos(model, scratch.qpos, delta_state[:nv], 1.0)
        scratch.qvel += delta_state[nv:]
        scratch.ctrl[:] = action + delta_action
        mujoco.mj_step(model, scratch, nstep=sim.frame_skip)
        mujoco.mj_rnePostConstraint(model, scratch)
        return physics_state(model, scratch), _reference_observation(env_id, scratch)

    next_state, next_obs = advance(np.zeros(2 * nv), np.zeros(nu))
    tangent_step = np.empty(nv)

    def tangent_difference(perturbed):
        mujoco.mj_differentiatePos(model, tangent_step, 1.0, next_state[:nq], perturbed[:nq])
        return np.concatenate([tangent_step, perturbed[nq:] - next_state[nq:]])

    n_columns = len(columns) + nu
    jac_state = np.empty((2 * nv, n_columns))
    jac_obs_state = np.empty((obs_dim, n_columns))
    for k in range(n_columns):
        delta_state, delta_action = np.zeros(2 * nv), np.zeros(nu)
        if k < len(columns):
            delta_state[columns[k]] = eps
        else:
            delta_action[k - len(columns)] = eps
        plus_state, plus_obs = advance(delta_state, delta_action)
        minus_state, minus_obs = advance(-delta_state, -delta_action)
        jac_state[:, k] = (tangent_difference(plus_state) - tangent_difference(minus_state)) / (
            2.0 * eps
        )
        jac_obs_state[:, k] = (plus_obs - minus_obs) / (2.0 * eps)

    lift = state_map.lift[columns, :]
    jac_obs = jac_obs_state[:, : len(columns)] @ lift
    jac_act = jac_obs_state[:, len(columns) :]
    with jax.enable_x64(True):
        reward, grads = _jitted_reward_value_and_grad(env_id)(
            state_before[:nq], state_before[nq:], action, next_state[:nq], next_state[nq:]
        )
    dr_dqpos_b, dr_dqvel_b, dr_da_direct, dr_dqpos_a, dr_dqvel_a = (np.asarray(g) for g in grads)
    dr_dx_before = np.concatenate([dr_dqpos_b, dr_dqvel_b]) @ state_tangent_map(model, state_before)
    dr_dx_after = np.concatenate([dr_dqpos_a, dr_dqvel_a]) @ state_tangent_map(model, next_state)
    dr_dx = dr_dx_before[columns] + dr_dx_after @ jac_state[:, : len(columns)]
    dr_dobs = dr_dx @ lift
    dr_da = dr_da_direct + dr_dx_after @ jac_state[:, len(columns) :]
    return jac_obs, jac_act, dr_dobs, dr_da, next_obs, float(reward)


# ------------------------------------------------------------------------------ tests


def _states_along_a_random_rollout(env_id, seed, n_states, shrink=1.0):
    """``(env, action)`` at successive states of one env driven by uniform random actions."""
    env = make_env(env_id)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(n_states):
        action = shrink * rng.uniform(env.action_space.low, env.action_space.high)
        yield env, action
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()


@pytest.mark.parametrize("env_id", REWARD_ENV_IDS)
def test_batched_obs_step_jacobians_equal_the_sequential_code_bit_for_bit(env_id):
    """Twelve states of a random rollout; the legged envs touch the floor in some of them."""
    contacts = []
    for env, action in _states_along_a_random_rollout(env_id, seed=11, n_states=12):
        contacts.append(env.unwrapped.data.ncon)
        reference = _reference_obs_step_jacobians(env, action, 1e-6)
        for method in ("rollout", "sequential"):
            ours = obs_step_jacobians(env, action, method=method)
            for name, expected in zip(ours._fields, reference, strict=True):
                np.testing.assert_array_equal(getattr(ours, name), expected, err_msg=name)
    if env_id in ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Ant-v5"):
        assert max(contacts) > 0, "no state in contact: the hard case is not covered"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_batched_step_jacobians_equal_the_sequential_code_bit_for_bit(env_id):
    """All seven envs, including Ant's and Humanoid's free-joint quaternions."""
    states = _states_along_a_random_rollout(env_id, seed=12, n_states=3, shrink=0.5)
    for env, action in states:
        sim = env.unwrapped
        reference = _reference_step_jacobians(sim.model, sim.data, action, 1e-6, sim.frame_skip)
        ours = env_step_jacobians(env, action)
        for name, expected in zip(("jac_s", "jac_a", "next_state"), reference, strict=True):
            np.testing.assert_array_equal(getattr(ours, name), expected, err_msg=name)


def test_two_threads_and_interleaved_models_give_the_same_bits():
    """Scratch MjData are cached per model and thread: two Hopper models in turn, 1 and 2
    threads, all equal to the reference."""
    first, second = make_env("Hopper-v5"), make_env("Hopper-v5")
    first.reset(seed=1)
    second.reset(seed=2)
    action = np.array([0.3, -0.2, 0.1])
    for _ in range(3):
        for env in (first, second, first):
            sim = env.unwrapped
            reference = _reference_step_jacobians(sim.model, sim.data, action, 1e-6, 4)
            columns = np.arange(2 * sim.model.nv + sim.model.nu)
            for n_threads in (1, 2):
                steps = central_steps(
                    sim.model,
                    sim.data,
                    action,
                    columns,
                    eps=1e-6,
                    n_substeps=4,
                    n_threads=n_threads,
                )
                np.testing.assert_array_equal(steps.next_state, reference[2])
            ours = step_jacobians(sim.model, sim.data, action, n_substeps=4)
            np.testing.assert_array_equal(ours.jac_s, reference[0])
            np.testing.assert_array_equal(ours.jac_a, reference[1])
            env.step(action)


def test_a_mujoco_warning_inside_the_step_falls_back_to_the_sequential_result():
    """``mujoco.rollout`` freezes a trajectory at a warning, ``mj_step`` resets and goes on:
    a huge velocity (``mjWARN_BADQVEL`` at the first substep) must still give the old result."""
    env = make_env("Hopper-v5")
    env.reset(seed=0)
    sim = env.unwrapped
    sim.data.qvel[3] = 1e11
    action = np.zeros(3)
    reference = _reference_step_jacobians(sim.model, sim.data, action, 1e-6, sim.frame_skip)
    ours = env_step_jacobians(env, action)
    for name, expected in zip(("jac_s", "jac_a", "next_state"), reference, strict=True):
        np.testing.assert_array_equal(getattr(ours, name), expected, err_msg=name)
    # The reset really happened: z is 4 substeps of free fall (≈ g t²/2 = 3e-4) below qpos0.
    assert abs(ours.next_state[1] - sim.model.qpos0[1]) < 1e-3


def test_central_steps_rows_are_the_perturbed_steps():
    """Row k of ``plus``/``minus``: the step from ``x ± eps e_j`` run by hand with mj_step."""
    env = make_env("InvertedPendulum-v5")
    env.reset(seed=3)
    model, data = env.unwrapped.model, env.unwrapped.data
    action = np.array([0.7])
    steps = central_steps(model, data, action, np.array([3, 4]), eps=1e-3, n_substeps=2)
    assert steps.plus.shape == steps.minus.shape == (2, 4) and steps.read_outs is None
    for k, sign in [(0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)]:
        by_hand = mujoco.MjData(model)
        mujoco.mj_copyData(by_hand, model, data)
        if k == 0:
            by_hand.qvel[1] += sign * 1e-3  # tangent column 3 = dv[1]
            by_hand.ctrl[:] = action
        else:
            by_hand.ctrl[:] = action + sign * 1e-3  # column 4 = the control
        mujoco.mj_step(model, by_hand, nstep=2)
        rows = steps.plus if sign > 0 else steps.minus
        np.testing.assert_array_equal(rows[k], physics_state(model, by_hand))


def test_engine_errors_name_the_value():
    env = make_env("InvertedPendulum-v5")
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    with pytest.raises(ValueError, match=r"rollout, sequential.*'fast'"):
        step_jacobians(model, data, np.zeros(1), method="fast")
    with pytest.raises(ValueError, match="method must be one of"):
        obs_step_jacobians(env, np.zeros(1), method="fast")
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        central_steps(model, data, np.zeros(1), np.array([5]), eps=1e-6, n_substeps=1)
    with pytest.raises(ValueError, match="read_out"):
        central_steps(
            model, data, np.zeros(1), np.array([0]), eps=1e-6, n_substeps=1, read_out=np.copy
        )
    with pytest.raises(ValueError, match="n_threads"):
        central_steps(model, data, np.zeros(1), np.array([0]), eps=1e-6, n_substeps=1, n_threads=0)
