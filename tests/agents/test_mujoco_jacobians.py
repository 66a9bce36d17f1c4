"""Whole-env-step Jacobians of the MuJoCo envs: MuJoCo's own FD, the chain rule, exact restore."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from agents.mujoco_fd import (
    ENV_IDS,
    env_step_jacobians,
    make_env,
    physics_state,
    state_tangent_map,
    step_jacobians,
    transition_fd_reference,
)
from agents.mujoco_kappa import RandomLinearPolicy, kappa_along_rollout, random_linear_policy

# mjd_transitionFD and step_jacobians run the same central difference (step 1e-6, same
# tangent convention) on the same map, so they differ only by floating-point evaluation
# order: rounding in a state of size |x| gives about 1e-16 |x| / 1e-6 = 1e-10 |x| per entry.
SAME_SCHEME_RTOL = 1e-7
# Chain rule of FD Jacobians: each factor has O(eps²) truncation and ~1e-10 rounding error.
CHAIN_RULE_RTOL = 1e-6
INTEGRATORS = {
    "InvertedPendulum-v5": "mjINT_RK4",
    "InvertedDoublePendulum-v5": "mjINT_RK4",
    "HalfCheetah-v5": "mjINT_EULER",
    "Hopper-v5": "mjINT_RK4",
    "Walker2d-v5": "mjINT_RK4",
    "Ant-v5": "mjINT_RK4",
    "Humanoid-v5": "mjINT_RK4",
}


@pytest.fixture(autouse=True)
def _mujoco_log_outside_the_repo(tmp_path, monkeypatch):
    """MuJoCo appends warnings (Humanoid's deprecated 'settotalmass') to ./MUJOCO_LOG.TXT."""
    monkeypatch.chdir(tmp_path)


def _close(actual, expected, rtol):
    """``max |actual − expected| ≤ rtol · max(1, max |expected|)``, with the numbers on failure."""
    error, scale = np.abs(actual - expected).max(), max(1.0, np.abs(expected).max())
    assert error <= rtol * scale, f"max error {error:.3e} > {rtol:g} × {scale:.3e}"


def _env_at(env_id, seed, *, lift=0.0, velocity=0.0):
    """A reset env, its root raised by ``lift`` (no contacts) and velocities shifted."""
    env = make_env(env_id)
    env.reset(seed=seed)
    sim = env.unwrapped
    qpos, qvel = sim.data.qpos.copy(), sim.data.qvel.copy() + velocity
    height = (
        2 if int(sim.model.jnt_type[0]) == int(mujoco.mjtJoint.mjJNT_FREE) else 1
    )  # z of the root
    qpos[height] += lift
    sim.set_state(qpos, qvel)
    return env


def _interior_action(model, seed):
    low, high = model.actuator_ctrlrange.T
    return np.random.default_rng(seed).uniform(0.8 * low, 0.8 * high)


def test_unknown_env_id_lists_the_accepted_ids():
    with pytest.raises(ValueError, match="Humanoid-v5") as info:
        make_env("Pendulum-v1")
    assert all(env_id in str(info.value) for env_id in ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_integrator_and_shapes_are_as_documented(env_id):
    env = make_env(env_id)
    model = env.unwrapped.model
    assert mujoco.mjtIntegrator(model.opt.integrator).name == INTEGRATORS[env_id]
    assert physics_state(model, env.unwrapped.data).shape == (model.nq + model.nv + model.na,)
    if env_id == "Ant-v5":
        assert env.observation_space.shape == (27,)  # no contact forces
    env.close()


def test_reference_refuses_rk4_with_a_value_error():
    env = make_env("Hopper-v5")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="RK4"):
        transition_fd_reference(env.unwrapped.model, env.unwrapped.data)


@pytest.mark.parametrize("lift", [1.0, 0.0], ids=["airborne", "in-contact"])
def test_one_substep_matches_mjd_transition_fd_on_half_cheetah(lift):
    env = _env_at("HalfCheetah-v5", seed=0, lift=lift)
    model, data = env.unwrapped.model, env.unwrapped.data
    assert (data.ncon == 0) == (lift > 0), f"lift {lift} gave {data.ncon} contacts"
    action = _interior_action(model, seed=1)
    ours = env_step_jacobians(env, action, n_substeps=1)
    reference = transition_fd_reference(model, data, action=action)
    assert ours.jac_s.shape == (2 * model.nv, 2 * model.nv)
    assert ours.jac_a.shape == (2 * model.nv, model.nu)
    _close(ours.jac_s, reference.jac_s, SAME_SCHEME_RTOL)
    _close(ours.jac_a, reference.jac_a, SAME_SCHEME_RTOL)


def test_free_joint_tangent_convention_matches_mjd_transition_fd():
    """Ant's quaternion: our tangent perturbation is MuJoCo's (Ant switched to Euler here)."""
    env = _env_at("Ant-v5", seed=1, lift=1.0, velocity=0.3)
    model, data = env.unwrapped.model, env.unwrapped.data
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    mujoco.mj_forward(model, data)
    assert data.ncon == 0
    action = _interior_action(model, seed=2)
    ours = step_jacobians(model, data, action)
    reference = transition_fd_reference(model, data, action=action)
    assert ours.jac_s.shape == (2 * model.nv, 2 * model.nv) and model.nq == model.nv + 1
    _close(ours.jac_s, reference.jac_s, SAME_SCHEME_RTOL)
    _close(ours.jac_a, reference.jac_a, SAME_SCHEME_RTOL)


@pytest.mark.parametrize("env_id", ["InvertedPendulum-v5", "Ant-v5", "HalfCheetah-v5"])
def test_whole_step_jacobian_is_the_product_of_substep_jacobians(env_id):
    """Chain rule: F over frame_skip substeps = Π_k F_k at the successive substep states."""
    env = make_env(env_id)
    env.reset(seed=3)
    sim = env.unwrapped
    model, data = sim.model, sim.data
    policy = random_linear_policy(model, seed=0)
    for _ in range(3):
        env.step(policy.act(physics_state(model, data)))
    action = policy.act(physics_state(model, data))
    whole = env_step_jacobians(env, action)
    assert whole.n_substeps == sim.frame_skip > 1
    substep = mujoco.MjData(model)
    mujoco.mj_copyData(substep, model, data)
    factors, jac_a = [], np.zeros_like(whole.jac_a)
    for _ in range(sim.frame_skip):
        one = step_jacobians(model, substep, action, n_substeps=1)
        factors.append(one.jac_s)
        jac_a = one.jac_s @ jac_a + one.jac_a  # a enters every substep
        substep.ctrl[:] = action
        mujoco.mj_step(model, substep)
    np.testing.assert_array_equal(physics_state(model, substep), whole.next_state)
    _close(np.linalg.multi_dot(factors[::-1]), whole.jac_s, CHAIN_RULE_RTOL)
    _close(jac_a, whole.jac_a, CHAIN_RULE_RTOL)
    # Negative control: the product in the wrong order is far outside the tolerance.
    wrong_order = np.linalg.multi_dot(factors)
    scale = max(1.0, np.abs(whole.jac_s).max())
    assert np.abs(wrong_order - whole.jac_s).max() > 100 * CHAIN_RULE_RTOL * scale


@pytest.mark.parametrize("env_id", ["Ant-v5", "Hopper-v5"])
def test_env_is_untouched_and_next_state_is_what_env_step_produces(env_id):
    probed, twin = make_env(env_id), make_env(env_id)
    probed.reset(seed=5)
    twin.reset(seed=5)
    model, data = probed.unwrapped.model, probed.unwrapped.data
    action = random_linear_policy(model, seed=5).act(physics_state(model, data))
    watched = ("qacc", "qacc_warmstart", "xpos", "xquat", "cfrc_ext", "efc_force", "ctrl")
    before = {name: getattr(data, name).copy() for name in watched}
    state_before = np.empty(mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_INTEGRATION))
    mujoco.mj_getState(model, data, state_before, mujoco.mjtState.mjSTATE_INTEGRATION)

    jacobians = env_step_jacobians(probed, action)

    state_after = np.empty_like(state_before)
    mujoco.mj_getState(model, data, state_after, mujoco.mjtState.mjSTATE_INTEGRATION)
    np.testing.assert_array_equal(state_after, state_before)
    for name in watched:
        np.testing.assert_array_equal(getattr(data, name), before[name], err_msg=name)
    np.testing.assert_array_equal(jacobians.state, physics_state(model, data))
    observed, reward = probed.step(action)[:2]
    twin_observed, twin_reward = twin.step(action)[:2]
    np.testing.assert_array_equal(observed, twin_observed)
    assert reward == twin_reward
    np.testing.assert_array_equal(jacobians.next_state, physics_state(model, data))


@pytest.mark.parametrize("env_id", ["Ant-v5", "Humanoid-v5"])
def test_state_tangent_map_is_the_derivative_of_integrate_pos(env_id):
    env = make_env(env_id)
    env.reset(seed=0)
    model = env.unwrapped.model
    rng = np.random.default_rng(0)
    qpos = env.unwrapped.data.qpos.copy()
    mujoco.mj_integratePos(model, qpos, rng.normal(size=model.nv), 1.0)  # random orientation
    state = np.concatenate([qpos, rng.normal(size=model.nv + model.na)])
    tangent_map = state_tangent_map(model, state)
    step = 1e-6
    expected = np.zeros_like(tangent_map)
    expected[model.nq :, model.nv :] = np.eye(model.nv + model.na)
    for column in range(model.nv):
        plus, minus, direction = qpos.copy(), qpos.copy(), np.zeros(model.nv)
        direction[column] = step
        mujoco.mj_integratePos(model, plus, direction, 1.0)
        mujoco.mj_integratePos(model, minus, -direction, 1.0)
        expected[: model.nq, column] = (plus - minus) / (2 * step)
    _close(tangent_map, expected, 1e-8)


def test_random_linear_policy_stays_in_range_and_its_jacobian_matches_fd():
    env = make_env("Humanoid-v5")
    env.reset(seed=0)
    model = env.unwrapped.model
    policy = random_linear_policy(model, seed=4)
    state = physics_state(model, env.unwrapped.data)
    action = policy.act(state)
    low, high = model.actuator_ctrlrange.T
    assert action.shape == (model.nu,) and np.all((low <= action) & (action <= high))
    step, expected = 1e-6, np.zeros((model.nu, state.size))
    for column in range(state.size):
        direction = np.zeros(state.size)
        direction[column] = step
        expected[:, column] = (policy.act(state + direction) - policy.act(state - direction)) / (
            2 * step
        )
    _close(policy.jacobian(state), expected, 1e-8)


def test_kappa_along_rollout_on_inverted_pendulum():
    result = kappa_along_rollout("InvertedPendulum-v5", None, 5, seed=0)
    assert result.op_norms.shape == result.grad_block_norms.shape == (5,)
    assert np.all(np.isfinite(result.op_norms)) and np.all(result.op_norms >= 1.0)
    np.testing.assert_allclose(result.op_norms, np.maximum(1.0, result.grad_block_norms))
    assert result.kappa == result.op_norms.max() and 0 < result.gamma_max <= 1.0
    assert result.median <= result.q90 <= result.kappa
    assert result.replay_error == 0.0  # the linearised map is env.step, bit for bit
    assert np.all(result.jacobian_seconds > 0)

    # docs/claims.md#c1 bound at step 0: ‖M‖ ≤ ‖[F_s F_a]‖ sqrt(1 + ‖Π'‖²).
    env = make_env("InvertedPendulum-v5")
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    policy = random_linear_policy(model, seed=0)
    jacobians = env_step_jacobians(env, policy.act(physics_state(model, data)))
    next_state = jacobians.next_state
    policy_jac = policy.jacobian(next_state) @ state_tangent_map(model, next_state)
    bound = np.linalg.norm(np.hstack([jacobians.jac_s, jacobians.jac_a]), 2) * np.sqrt(
        1 + np.linalg.norm(policy_jac, 2) ** 2
    )
    assert result.grad_block_norms[0] <= bound * (1 + 1e-12)


def test_boundary_errors_name_the_value():
    env = make_env("InvertedPendulum-v5")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        env_step_jacobians(env, np.zeros(3))
    with pytest.raises(ValueError, match="eps"):
        env_step_jacobians(env, np.zeros(1), eps=0.0)
    with pytest.raises(ValueError, match="n_substeps"):
        env_step_jacobians(env, np.zeros(1), n_substeps=0)
    with pytest.raises(ValueError, match="n_steps"):
        kappa_along_rollout("InvertedPendulum-v5", None, 0, seed=0)
    with pytest.raises(ValueError, match="ctrl_low < ctrl_high"):
        RandomLinearPolicy(np.ones((1, 4)), np.zeros(1), np.ones(1), np.ones(1))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_kappa_along_a_twenty_step_rollout(env_id):  # about 5 s for all seven envs
    result = kappa_along_rollout(env_id, None, 20, seed=0)
    assert np.all(np.isfinite(result.op_norms)) and np.all(result.op_norms >= 1.0)
    assert result.replay_error == 0.0 and result.gamma_max <= 1.0
