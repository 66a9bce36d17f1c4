"""JAX rewards of the MuJoCo envs and the observation-space step Jacobians.

Oracles: ``env.step``'s own reward along random rollouts (and MuJoCo's ``mj_kinematics``
where the env reads a lagged kinematic quantity); an independent finite difference that
rebuilds the simulator state from a perturbed OBSERVATION, calls Gymnasium's ``step`` and
uses a 10× larger step; the first-order prediction of a perturbed step.
"""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from agents.mujoco_fd import env_step_jacobians, make_env
from agents.mujoco_rewards import (
    EXACT_REWARD_ENV_IDS,
    REWARD_ENV_IDS,
    obs_state_map,
    obs_step_jacobians,
    observation,
    reward_fn,
)

# Float64 sums of a few terms of size ≤ 1e3 (v_x = Δx/dt with dt = 0.008): rounding ~1e-13.
REWARD_ATOL = 1e-10
# IDP's env reward reads the tip at MuJoCo's last RK4 stage, not at qpos_after (measured
# differences: median 5e-6, max 9e-5 over 300 random steps; module docstring).
IDP_LAG_ATOL = 1e-3
# Ant's env reward: torso xpos at RK4 stages (|Δv_x| ≤ 0.07 measured over 300 steps); the
# excluded contact cost is taken out through info["reward_contact"].
ANT_LAG_ATOL = 0.2
# The oracle's FD step; ours is 1e-6.
ORACLE_STEP = 3e-6
# Two central differences (steps 1e-6 and 3e-6) of the same map: truncation ~step² · f'''
# and rounding ~1e-16 · |x| / 1e-6 per entry. Measured ≤ 1e-7 (most ~1e-10).
FD_RTOL = 1e-6
# HalfCheetah's test state touches the floor during the step: the contact onset gives a large
# third derivative, so the oracle's truncation error is measured 2e-5 (× 0.09 from step 1e-5
# to 3e-6: ∝ step²). The x row of F enters dr_dobs times 1/dt = 20.
FD_RTOL_CONTACT_ONSET = {"HalfCheetah-v5": 1e-4}


@pytest.fixture(autouse=True)
def _mujoco_log_outside_the_repo(tmp_path, monkeypatch):
    """MuJoCo appends warnings to ./MUJOCO_LOG.TXT."""
    monkeypatch.chdir(tmp_path)


def _close(actual, expected, rtol, what=""):
    """``max |actual − expected| ≤ rtol · max(1, max |expected|)``, with the numbers on failure."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    error, scale = np.abs(actual - expected).max(), max(1.0, np.abs(expected).max())
    assert error <= rtol * scale, f"{what}: max error {error:.3e} > {rtol:g} × {scale:.3e}"


def _random_action(env, rng, shrink=1.0):
    return shrink * rng.uniform(env.action_space.low, env.action_space.high)


def _env_after(env_id, seed, n_steps):
    """An env reset with ``seed`` and stepped ``n_steps`` times with random actions."""
    env = make_env(env_id)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(n_steps):
        env.unwrapped.step(_random_action(env, rng, shrink=0.5))
    return env, rng


def _rollout(env_id, seed, n_steps):
    """Transitions ``(qpos_b, qvel_b, a, qpos_a, qvel_a, reward, info, terminated)`` + torso
    ``xpos`` from ``mj_kinematics`` before and after; reset after a termination."""
    env = make_env(env_id)
    env.reset(seed=seed)
    sim = env.unwrapped
    rng = np.random.default_rng(seed)
    scratch = mujoco.MjData(sim.model)

    def kinematics(qpos):
        scratch.qpos[:] = qpos
        mujoco.mj_kinematics(sim.model, scratch)
        return scratch.xpos[1].copy(), scratch.site_xpos.copy()

    transitions = []
    for t in range(n_steps):
        qpos_b, qvel_b = sim.data.qpos.copy(), sim.data.qvel.copy()
        action = _random_action(env, rng)
        _, reward, terminated, truncated, info = env.step(action)
        qpos_a, qvel_a = sim.data.qpos.copy(), sim.data.qvel.copy()
        kinematics_before, kinematics_after = kinematics(qpos_b), kinematics(qpos_a)
        transition = (qpos_b, qvel_b, action, qpos_a, qvel_a, float(reward), info, terminated)
        transitions.append((*transition, kinematics_before, kinematics_after))
        if terminated or truncated:
            env.reset(seed=seed + t + 1)
    env.close()
    return transitions, sim.dt


# --------------------------------------------------------------------------- (a) rewards


@pytest.mark.parametrize("env_id", EXACT_REWARD_ENV_IDS)
def test_jax_reward_equals_env_reward_along_random_rollouts(env_id):
    reward = jax.jit(reward_fn(env_id))
    transitions, _ = _rollout(env_id, seed=0, n_steps=60)
    with jax.enable_x64(True):
        ours = [float(reward(*t[:5])) for t in transitions]
    env_rewards = [t[5] for t in transitions]
    _close(ours, env_rewards, REWARD_ATOL, env_id)
    if env_id in ("InvertedPendulum-v5", "Hopper-v5"):  # both branches of the healthy term
        assert any(t[7] for t in transitions) and not all(t[7] for t in transitions)


def test_idp_reward_is_the_env_formula_at_the_final_configuration():
    """Oracle: the env's formula with the tip from ``mj_kinematics`` at ``qpos_after``."""
    reward = jax.jit(reward_fn("InvertedDoublePendulum-v5"))
    transitions, _ = _rollout("InvertedDoublePendulum-v5", seed=1, n_steps=60)
    ours, oracle, env_rewards = [], [], []
    for qpos_b, qvel_b, action, qpos_a, qvel_a, env_reward, *_, (_, site_after) in transitions:
        with jax.enable_x64(True):
            ours.append(float(reward(qpos_b, qvel_b, action, qpos_a, qvel_a)))
        x_tip, _, y_tip = site_after[0]
        v1, v2 = qvel_a[1:3]
        alive = 10.0 * (not y_tip <= 1)
        oracle.append(alive - (0.01 * x_tip**2 + (y_tip - 2) ** 2) - (1e-3 * v1**2 + 5e-3 * v2**2))
        env_rewards.append(env_reward)
    _close(ours, oracle, REWARD_ATOL, "formula at final configuration")
    assert np.abs(np.subtract(ours, env_rewards)).max() <= IDP_LAG_ATOL
    assert np.abs(np.subtract(ours, env_rewards)).max() > 0  # the lag is real


def test_ant_reward_is_the_env_reward_without_contact_cost_at_the_final_states():
    """Oracle: torso xpos from ``mj_kinematics`` and the env's own healthy and ctrl terms."""
    reward = jax.jit(reward_fn("Ant-v5"))
    transitions, dt = _rollout("Ant-v5", seed=2, n_steps=40)
    for transition in transitions:
        qpos_b, qvel_b, action, qpos_a, qvel_a, env_reward, info, _ = transition[:8]
        (torso_before, _), (torso_after, _) = transition[8:]
        with jax.enable_x64(True):
            ours = float(reward(qpos_b, qvel_b, action, qpos_a, qvel_a))
        oracle = (torso_after[0] - torso_before[0]) / dt
        oracle += info["reward_survive"] + info["reward_ctrl"]
        assert abs(ours - oracle) <= REWARD_ATOL
        assert abs(ours - (env_reward - info["reward_contact"])) <= ANT_LAG_ATOL


def test_reward_is_vmappable_and_jittable_and_has_zero_gradient_in_healthy_terms():
    reward = reward_fn("Hopper-v5")
    transitions, dt = _rollout("Hopper-v5", seed=3, n_steps=8)
    batch = [np.stack([t[k] for t in transitions]) for k in range(5)]
    with jax.enable_x64(True):
        batched = jax.jit(jax.vmap(reward))(*batch)
        one_by_one = [float(reward(*t[:5])) for t in transitions]
        grads = jax.grad(reward, argnums=(0, 3))(*transitions[0][:5])
    _close(batched, one_by_one, 1e-12, "vmap")
    # Only x enters through v_x: ∂r/∂qpos_before = −e_0/dt, ∂r/∂qpos_after = e_0/dt.
    expected = np.zeros(6)
    expected[0] = 1.0 / dt
    _close(grads[0], -expected, 1e-12, "before")
    _close(grads[1], expected, 1e-12, "after")


@pytest.mark.parametrize("env_id", REWARD_ENV_IDS)
def test_dt_settings_and_observation_copy_match_the_env(env_id):
    env, rng = _env_after(env_id, seed=4, n_steps=2)
    obs = env.step(_random_action(env, rng))[0]
    np.testing.assert_array_equal(observation(env_id, env.unwrapped.data), obs)
    state_map = obs_state_map(env_id, env.unwrapped.model, env.unwrapped.data.qpos)
    n_free = {"Ant-v5": 2, "InvertedPendulum-v5": 0, "InvertedDoublePendulum-v5": 0}.get(env_id, 1)
    assert len(state_map.state_columns) == 2 * env.unwrapped.model.nv - n_free
    obs_step_jacobians(env, _random_action(env, rng), eps=1e-4)  # refuses non-default settings


# ---------------------------------------------------------------- observation ↔ state


def test_lift_is_the_first_order_inverse_of_the_observation_in_closed_form():
    """IDP: δθ = cos θ δsin − sin θ δcos.  Ant: δω = 2 Q(q)ᵀ δq, Q(q) w = q ⊗ (0, w)."""
    env, _ = _env_after("InvertedDoublePendulum-v5", seed=5, n_steps=2)
    qpos = env.unwrapped.data.qpos.copy()
    lift = obs_state_map("InvertedDoublePendulum-v5", env.unwrapped.model, qpos).lift
    expected = np.zeros((6, 9))
    expected[0, 0] = 1.0
    for joint in (1, 2):
        expected[joint, joint], expected[joint, joint + 2] = (
            np.cos(qpos[joint]),
            -np.sin(qpos[joint]),
        )
    expected[3:, 5:8] = np.eye(3)  # velocities; the constraint-force column stays 0
    _close(lift, expected, 1e-12, "IDP lift")

    env, _ = _env_after("Ant-v5", seed=5, n_steps=2)
    qpos = env.unwrapped.data.qpos.copy()
    state_map = obs_state_map("Ant-v5", env.unwrapped.model, qpos)
    w, x, y, z = qpos[3:7]
    quat_times_pure = np.array([[-x, -y, -z], [w, -z, y], [z, w, -x], [-y, x, w]])
    _close(state_map.lift[3:6, 1:5], 2.0 * quat_times_pure.T, 1e-12, "Ant quaternion lift")
    _close(state_map.lift @ state_map.obs_jac, np.diag([0, 0] + [1] * 26), 1e-12, "O⁺O")
    assert not state_map.lift[:2].any()  # x, y never move


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Ant-v5"])
def test_left_out_positions_do_not_affect_the_step_or_the_total_reward(env_id):
    """Translation invariance: the columns of F for x (Ant: x, y) are unit vectors, and the
    reward's total derivative in x_before, −1/dt + (1/dt) F[x, x], vanishes."""
    env, rng = _env_after(env_id, seed=6, n_steps=3)
    sim = env.unwrapped
    action = _random_action(env, rng, shrink=0.5)
    jacobians = env_step_jacobians(env, action)
    n_free = 2 if env_id == "Ant-v5" else 1
    _close(jacobians.jac_s[:, :n_free], np.eye(2 * sim.model.nv)[:, :n_free], 1e-7, "F[:, x]")
    nq = sim.model.nq
    state, next_state = jacobians.state, jacobians.next_state
    with jax.enable_x64(True):
        grads = jax.grad(reward_fn(env_id), argnums=(0, 3))(
            state[:nq], state[nq:], action, next_state[:nq], next_state[nq:]
        )
        grads = [np.asarray(g) for g in grads]
    total = grads[0][0] + grads[1] @ jacobians.jac_s[:nq, 0]  # planar x: P = I
    assert abs(total) <= 1e-7 / sim.dt


# ------------------------------------------------- (b) independent FD through gymnasium


def _state_from_obs(env_id, obs, qpos_ref):
    """``(qpos, qvel)`` whose observation is ``obs`` (left-out positions from ``qpos_ref``).

    Written independently of ``obs_state_map``: angles by ``atan2``, quaternions by
    normalisation; velocities assumed unclipped; IDP's constraint-force entry ignored.
    """
    if env_id == "InvertedPendulum-v5":
        return obs[:2], obs[2:]
    if env_id == "InvertedDoublePendulum-v5":
        angles = np.arctan2(obs[1:3], obs[3:5])
        return np.concatenate([obs[:1], angles]), obs[5:8]
    if env_id == "Ant-v5":
        quat = obs[1:5] / np.linalg.norm(obs[1:5])
        return np.concatenate([qpos_ref[:2], obs[:1], quat, obs[5:13]]), obs[13:]
    nq = len(qpos_ref)
    return np.concatenate([qpos_ref[:1], obs[: nq - 1]]), obs[nq - 1 :]


def _gym_step_fd(env, action, step):
    """Central FD of ``(obs', r)`` in ``(obs, a)`` via ``set_state`` + ``env.unwrapped.step``.

    Exact-reward envs use the env's reward; IDP and Ant the JAX reward of the gym-stepped
    states (their env reward is not a function of the transition). Restores the env.
    """
    env_id = env.spec.id
    sim = env.unwrapped
    model, data = sim.model, sim.data
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    base = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, base, spec)
    obs0, qpos_ref = observation(env_id, data), data.qpos.copy()
    reward = reward_fn(env_id)

    def run(obs, act):
        mujoco.mj_setState(model, data, base, spec)
        qpos, qvel = _state_from_obs(env_id, obs, qpos_ref)
        sim.set_state(qpos, qvel)
        qpos_b, qvel_b = data.qpos.copy(), data.qvel.copy()
        next_obs, env_reward = sim.step(act)[:2]
        if env_id not in EXACT_REWARD_ENV_IDS:
            with jax.enable_x64(True):
                env_reward = reward(qpos_b, qvel_b, act, data.qpos.copy(), data.qvel.copy())
        return np.append(next_obs, float(env_reward))

    inputs = np.concatenate([obs0, action])
    n_obs = len(obs0)
    jacobian = np.empty((n_obs + 1, len(inputs)))
    for k in range(len(inputs)):
        delta = np.zeros(len(inputs))
        delta[k] = step
        plus, minus = inputs + delta, inputs - delta
        jacobian[:, k] = (run(plus[:n_obs], plus[n_obs:]) - run(minus[:n_obs], minus[n_obs:])) / (
            2 * step
        )
    mujoco.mj_setState(model, data, base, spec)
    mujoco.mj_forward(model, data)
    return (
        jacobian[:n_obs, :n_obs],
        jacobian[:n_obs, n_obs:],
        jacobian[-1, :n_obs],
        jacobian[-1, n_obs:],
    )


@pytest.mark.parametrize("env_id", REWARD_ENV_IDS)
def test_obs_step_jacobians_match_an_fd_through_gymnasium(env_id):
    env, rng = _env_after(env_id, seed=7, n_steps=3)
    assert np.abs(env.unwrapped.data.qvel).max() < 10  # the oracle assumes no clipping
    action = _random_action(env, rng, shrink=0.5)
    ours = obs_step_jacobians(env, action)
    jac_obs, jac_act, dr_dobs, dr_da = _gym_step_fd(env, action, step=ORACLE_STEP)
    if env_id == "InvertedDoublePendulum-v5":
        jac_obs[:, 8] = 0.0  # the oracle ignores the constraint-force entry: column 0 too
    rtol = FD_RTOL_CONTACT_ONSET.get(env_id, FD_RTOL)
    _close(ours.jac_obs, jac_obs, rtol, "jac_obs")
    _close(ours.jac_act, jac_act, rtol, "jac_act")
    _close(ours.dr_dobs, dr_dobs, rtol, "dr_dobs")
    _close(ours.dr_da, dr_da, rtol, "dr_da")
    # Negative control: the transposed Jacobian is far away.
    assert np.abs(ours.jac_obs.T - jac_obs).max() > 100 * rtol * max(1, np.abs(jac_obs).max())


# ----------------------------------------------------- (c) first-order prediction


@pytest.mark.parametrize("env_id", REWARD_ENV_IDS)
def test_linear_prediction_of_a_perturbed_step(env_id):
    """``obs'(obs + δo, a + δa) ≈ obs' + J_obs δo + J_act δa``, error O(δ²); same for r."""
    env, rng = _env_after(env_id, seed=8, n_steps=3)
    sim = env.unwrapped
    model, data = sim.model, sim.data
    action = _random_action(env, rng, shrink=0.5)
    ours = obs_step_jacobians(env, action)
    qpos0, qvel0, obs0 = data.qpos.copy(), data.qvel.copy(), observation(env_id, data)
    columns = obs_state_map(env_id, model, qpos0).state_columns
    direction = np.zeros(2 * model.nv)
    direction[columns] = rng.normal(size=len(columns))
    direction_action = rng.normal(size=model.nu)
    reward = reward_fn(env_id)
    errors, changes = [], []
    for scale in (1e-4, 1e-5):
        qpos = qpos0.copy()
        mujoco.mj_integratePos(model, qpos, scale * direction[: model.nv], 1.0)
        sim.set_state(qpos, qvel0 + scale * direction[model.nv :])
        delta_obs = observation(env_id, data) - obs0
        delta_obs[8:] = 0.0 if env_id == "InvertedDoublePendulum-v5" else delta_obs[8:]
        perturbed_action = action + scale * direction_action
        next_obs = sim.step(perturbed_action)[0]
        with jax.enable_x64(True):
            r = float(
                reward(
                    qpos,
                    qvel0 + scale * direction[model.nv :],
                    perturbed_action,
                    data.qpos.copy(),
                    data.qvel.copy(),
                )
            )
        actual = np.append(next_obs, r)
        nominal = np.append(ours.next_obs, ours.reward)
        linear = nominal + np.append(
            ours.jac_obs @ delta_obs + ours.jac_act @ (scale * direction_action),
            ours.dr_dobs @ delta_obs + ours.dr_da @ (scale * direction_action),
        )
        errors.append(np.abs(actual - linear).max())
        changes.append(np.abs(actual - nominal).max())
    assert errors[0] <= 1e-2 * changes[0], (errors, changes)
    assert errors[1] <= errors[0] / 20 + 1e-11, f"not second order: {errors}"


# ----------------------------------------------------------------- restore and clipping


@pytest.mark.parametrize("env_id", ["Hopper-v5", "InvertedDoublePendulum-v5"])
def test_env_is_restored_exactly(env_id):
    probed, _ = _env_after(env_id, seed=9, n_steps=2)
    twin, rng = _env_after(env_id, seed=9, n_steps=2)
    action = _random_action(probed, rng, shrink=0.5)
    data = probed.unwrapped.data
    watched = ("qpos", "qvel", "qacc_warmstart", "ctrl", "xpos", "site_xpos", "qfrc_constraint")
    before = {name: getattr(data, name).copy() for name in watched}
    jacobians = obs_step_jacobians(probed, action)
    for name in watched:
        np.testing.assert_array_equal(getattr(data, name), before[name], err_msg=name)
    for _ in range(3):
        stepped, twin_stepped = probed.step(action), twin.step(action)
        np.testing.assert_array_equal(stepped[0], twin_stepped[0])
        assert stepped[1:4] == twin_stepped[1:4]
        if _ == 0:
            np.testing.assert_array_equal(stepped[0], jacobians.next_obs)


def test_clipped_next_velocity_has_zero_derivative():
    env, rng = _env_after("Hopper-v5", seed=10, n_steps=2)
    sim = env.unwrapped
    qvel = sim.data.qvel.copy()
    qvel[5] = 40.0  # foot joint far beyond the ±10 clip; still beyond after one step
    sim.set_state(sim.data.qpos.copy(), qvel)
    jacobians = obs_step_jacobians(env, _random_action(env, rng, shrink=0.5))
    row = sim.model.nq - 1 + 5
    assert abs(jacobians.next_obs[row]) == 10.0
    assert not jacobians.jac_obs[row].any() and not jacobians.jac_act[row].any()
    assert jacobians.jac_obs[:, row].any()  # the current qvel still moves the rest


# ----------------------------------------------------------------------- (d) errors


def test_errors_name_the_argument_and_the_accepted_values():
    with pytest.raises(ValueError, match=r"env_id 'Humanoid-v5'.*Hopper-v5"):
        reward_fn("Humanoid-v5")
    with pytest.raises(ValueError, match=r"qpos_after must have shape \(6,\)"):
        reward_fn("Hopper-v5")(jnp.zeros(6), jnp.zeros(6), jnp.zeros(3), jnp.zeros(5), jnp.zeros(6))
    env, _ = _env_after("InvertedPendulum-v5", seed=0, n_steps=0)
    for eps in (0.0, -1e-6, float("nan"), "1e-6"):
        with pytest.raises(ValueError, match="eps must be a positive finite step"):
            obs_step_jacobians(env, np.zeros(1), eps=eps)
    with pytest.raises(ValueError, match=r"action must have shape \(1,\).*\(2,\)"):
        obs_step_jacobians(env, np.zeros(2))
    with pytest.raises(ValueError, match=r"_ctrl_cost_weight = 0.5.*default 0.001"):
        obs_step_jacobians(gym.make("Hopper-v5", ctrl_cost_weight=0.5), np.zeros(3))
    with pytest.raises(ValueError, match="_include_cfrc_ext_in_observation"):
        obs_step_jacobians(gym.make("Ant-v5"), np.zeros(8))
    with pytest.raises(ValueError, match=r"env must be a Gymnasium MuJoCo env.*Pendulum-v1"):
        obs_step_jacobians(gym.make("Pendulum-v1"), np.zeros(1))
