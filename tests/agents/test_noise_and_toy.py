"""Noise wrappers (obs-mult, dyn-gauss, act-gauss) and the stochastic point-mass toy of C7."""

from __future__ import annotations

import re
import warnings

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from agents.mujoco_fd import make_env
from agents.noise import (
    ActionGaussianNoise,
    DynamicsGaussianNoise,
    NoiseSpec,
    NoNoise,
    ObservationMultiplicativeNoise,
    parse_noise,
    with_noise,
)
from agents.point_mass import PointMassEnv, make_point_mass

PENDULUM = "InvertedPendulum-v5"
ZERO_SPECS = ["none", "obs-mult:0", "dyn-gauss:0", "act-gauss:0"]


@pytest.fixture(autouse=True)
def _mujoco_log_outside_the_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _make(name: str) -> gym.Env:
    return make_env(PENDULUM) if name == "pendulum" else make_point_mass(4)


def _rollout(env: gym.Env, seeds, n_steps: int, action_seed: int = 7):
    """Observations, rewards, flags of ``n_steps`` steps; resets with the next of ``seeds``
    (``None`` = reset without a seed) whenever an episode ends. Actions: a seeded stream."""
    space = env.action_space
    actions = np.random.default_rng(action_seed).uniform(
        space.low, space.high, size=(n_steps, *space.shape)
    )
    seeds = iter(seeds)
    observations, rewards, flags = [env.reset(seed=next(seeds))[0]], [], []
    for action in actions.astype(space.dtype):
        observation, reward, terminated, truncated, _ = env.step(action)
        observations.append(observation)
        rewards.append(reward)
        flags.append((terminated, truncated))
        if terminated or truncated:
            observations.append(env.reset(seed=next(seeds, None))[0])
    return observations, rewards, flags


def _same(run_a, run_b) -> bool:
    """Bit-for-bit equality of two :func:`_rollout` results, dtypes included."""
    (obs_a, rew_a, flags_a), (obs_b, rew_b, flags_b) = run_a, run_b
    return (
        len(obs_a) == len(obs_b)
        and all(
            a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(obs_a, obs_b, strict=True)
        )
        and rew_a == rew_b
        and flags_a == flags_b
    )


# ---- parse_noise ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "scale", "canonical"),
    [
        ("none", "none", 0.0, "none"),
        ("  none ", "none", 0.0, "none"),
        ("obs-mult:0.2", "obs-mult", 0.2, "obs-mult:0.2"),
        ("obs-mult:0.20", "obs-mult", 0.2, "obs-mult:0.2"),
        ("obs-mult:0", "obs-mult", 0.0, "obs-mult:0.0"),
        ("dyn-gauss: 0.05", "dyn-gauss", 0.05, "dyn-gauss:0.05"),
        ("dyn-gauss:-0", "dyn-gauss", 0.0, "dyn-gauss:0.0"),
        ("act-gauss:1e-1", "act-gauss", 0.1, "act-gauss:0.1"),
        ("act-gauss:3", "act-gauss", 3.0, "act-gauss:3.0"),
    ],
)
def test_parse_noise_accepts_the_documented_forms(text, kind, scale, canonical):
    spec = parse_noise(text)
    assert spec == NoiseSpec(kind, scale)
    assert spec.spec == canonical
    assert parse_noise(spec.spec) == spec  # the canonical string round-trips
    assert spec.is_zero == (scale == 0.0)
    with pytest.raises(AttributeError):
        spec.scale = 1.0  # frozen


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "''"),
        ("gauss:0.1", "'gauss'"),
        ("none:0", "'none'"),
        ("obs-mult", "'obs-mult'"),
        ("obs-mult:", "''"),
        ("obs-mult:abc", "'abc'"),
        ("obs-mult:1", "1.0"),
        ("obs-mult:1.5", "1.5"),
        ("obs-mult:-0.1", "-0.1"),
        ("dyn-gauss:-1", "-1.0"),
        ("act-gauss:nan", "nan"),
        ("act-gauss:inf", "inf"),
    ],
)
def test_parse_noise_rejects_with_an_actionable_message(text, named):
    with pytest.raises(ValueError) as caught:
        parse_noise(text)
    message = str(caught.value)
    assert repr(text) in message, message  # the spec
    assert named in message, message  # the bad part
    assert "accepted forms: 'none', 'obs-mult:X' (0 <= X < 1)" in message, message


def test_with_noise_rejects_bad_seeds_and_unsupported_envs():
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        with_noise(make_point_mass(1), "none", seed=-1)
    for spec in ("dyn-gauss:0.1", "dyn-gauss:0"):  # the toy is no MuJoCo env
        with pytest.raises(ValueError, match="is not a gymnasium MujocoEnv"):
            with_noise(make_point_mass(1), spec, seed=0)
    with pytest.raises(ValueError, match="needs a Box observation space"):
        with_noise(_DiscreteObservation(), "obs-mult:0.1", seed=0)
    with pytest.raises(ValueError, match="needs a Box action space"):
        with_noise(gym.make("CartPole-v1"), "act-gauss:0.1", seed=0)


class _DiscreteObservation(gym.Env):
    observation_space = gym.spaces.Discrete(3)
    action_space = gym.spaces.Discrete(2)


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("none", NoNoise),
        ("obs-mult:0.1", ObservationMultiplicativeNoise),
        ("dyn-gauss:0.1", DynamicsGaussianNoise),
        ("act-gauss:0.1", ActionGaussianNoise),
    ],
)
def test_with_noise_picks_the_wrapper_and_records_the_spec(spec, cls):
    wrapped = with_noise(make_env(PENDULUM), parse_noise(spec), seed=3)
    assert type(wrapped) is cls and wrapped.noise_spec.spec == spec
    assert wrapped.spec.additional_wrappers[-1].kwargs == {"noise": spec, "seed": 3}
    rebuilt = wrapped.spec.make()  # the recorded spec rebuilds the same noisy env
    assert type(rebuilt) is cls and rebuilt.noise_spec == wrapped.noise_spec
    assert _same(_rollout(rebuilt, [5], 30), _rollout(wrapped, [5], 30))


# ---- zero noise is the bare env ------------------------------------------------------------


# dyn-gauss needs a MuJoCo env: the toy is left out of it (its rejection is tested above).
@pytest.mark.parametrize(
    ("env_name", "spec"),
    [("pendulum", spec) for spec in ZERO_SPECS]
    + [("toy", spec) for spec in ZERO_SPECS if not spec.startswith("dyn-gauss")],
)
def test_zero_noise_is_the_bare_env_bit_for_bit(env_name, spec):
    # Seeded and unseeded resets; the pendulum terminates often, the toy truncates at 100.
    seeds, n_steps = [11, 12, None, 13, None], 250
    bare = _rollout(_make(env_name), seeds, n_steps)
    noisy = _rollout(with_noise(_make(env_name), spec, seed=99), seeds, n_steps)
    assert sum(terminated or truncated for terminated, truncated in bare[2]) >= 2
    assert _same(bare, noisy)


# ---- obs-mult statistics -------------------------------------------------------------------

# ratio u = noisy / clean ~ U[1 − X, 1 + X]: mean 1, standard deviation X / √3. With n ratios
# the sample mean has standard deviation X / √(3n); the tolerance is 5 of those.
OBS_MULT_X = 0.2


def test_obs_mult_ratio_is_uniform_on_the_band():
    seeds, n_steps = [21, 22, 23, 24], 400
    clean = _rollout(make_env(PENDULUM), seeds, n_steps)
    noisy = _rollout(
        with_noise(make_env(PENDULUM), f"obs-mult:{OBS_MULT_X}", seed=0), seeds, n_steps
    )
    assert clean[1:] == noisy[1:]  # rewards and flags: the dynamics are untouched
    clean_obs, noisy_obs = np.concatenate(clean[0]), np.concatenate(noisy[0])
    mask = np.abs(clean_obs) > 1e-9
    ratio = noisy_obs[mask] / clean_obs[mask]
    n = ratio.size
    assert n > 1000
    assert ratio.min() >= 1 - OBS_MULT_X - 1e-12 and ratio.max() <= 1 + OBS_MULT_X + 1e-12
    assert abs(ratio.mean() - 1) <= 5 * OBS_MULT_X / np.sqrt(3 * n), ratio.mean()
    assert abs(ratio.std() / (OBS_MULT_X / np.sqrt(3)) - 1) < 0.1, ratio.std()
    # The band is filled: both ends come within 2 % of X (probability ~ 1 − 2·0.99^(n/2)).
    assert ratio.min() < 1 - 0.98 * OBS_MULT_X and ratio.max() > 1 + 0.98 * OBS_MULT_X


def test_obs_mult_widens_finite_bounds_to_keep_observations_inside():
    wrapped = with_noise(make_point_mass(4), "obs-mult:0.5", seed=0)
    np.testing.assert_array_equal(wrapped.observation_space.high, [1.5, 1.5, 3.0, 3.0])
    np.testing.assert_array_equal(wrapped.observation_space.low, [-1.5, -1.5, -3.0, -3.0])
    observations = _rollout(wrapped, [0], 100)[0]
    assert all(observation in wrapped.observation_space for observation in observations)


# ---- act-gauss and dyn-gauss: different, but reproducible ----------------------------------


@pytest.mark.parametrize("spec", ["act-gauss:0.1", "dyn-gauss:0.01"])
def test_noise_changes_the_trajectory_reproducibly(spec):
    seeds, n_steps = [31, 32, 33], 60
    bare = _rollout(make_env(PENDULUM), seeds, n_steps)
    first = _rollout(with_noise(make_env(PENDULUM), spec, seed=1), seeds, n_steps)
    other_wrapper_seed = with_noise(make_env(PENDULUM), spec, seed=2)
    assert not _same(first, bare)
    # The seeded resets fix the noise; the construction seed no longer matters after them.
    assert _same(_rollout(other_wrapper_seed, seeds, n_steps), first)
    # A different reset seed gives a different noisy trajectory on the same wrapper.
    assert not _same(_rollout(other_wrapper_seed, [34, 32, 33], n_steps), first)

    # Resets without a seed continue the wrapper's stream from its construction seed (the env
    # itself is seeded once beforehand, so only the wrapper seed varies).
    def unseeded_run(wrapper_seed):
        env = make_env(PENDULUM)
        env.reset(seed=31)
        return _rollout(with_noise(env, spec, seed=wrapper_seed), [None] * 3, n_steps)

    run_a, run_b, run_c = unseeded_run(4), unseeded_run(4), unseeded_run(5)
    assert _same(run_a, run_b) and not _same(run_a, run_c)


class _RecordActions(gym.Wrapper):
    def __init__(self, env):
        super().__init__(env)
        self.received = []

    def step(self, action):
        self.received.append(np.array(action))
        return self.env.step(action)


def test_act_gauss_adds_gaussian_noise_then_clips():
    recorder = _RecordActions(make_point_mass(4))
    wrapped = with_noise(recorder, "act-gauss:0.1", seed=0)
    wrapped.reset(seed=0)
    for _ in range(100):
        wrapped.step(np.zeros(2, dtype=np.float32))
    received = np.array(recorder.received)
    assert received.dtype == np.float32
    # 200 draws of 0.1 ξ (|0.1 ξ| < 1, no clipping): mean 0 ± 5·0.1/√200, std 0.1 within 15 %.
    assert abs(received.mean()) < 5 * 0.1 / np.sqrt(200)
    assert abs(received.std() / 0.1 - 1) < 0.15
    recorder.received.clear()
    wrapped = with_noise(recorder, "act-gauss:3", seed=0)
    wrapped.reset(seed=0)
    for _ in range(50):
        wrapped.step(np.ones(2, dtype=np.float32))
    received = np.array(recorder.received)
    assert received.min() >= -1 and received.max() <= 1
    assert np.mean(received == 1.0) > 0.4  # about half the draws push past the upper bound


def test_dyn_gauss_perturbs_qpos_and_qvel_by_sigma():
    """Oracle: a bare env stepped from the wrapped env's state predicts the noiseless step;
    the wrapper's observation (qpos, qvel) minus it is σ ξ, ξ ~ N(0, I)."""
    sigma = 0.01
    wrapped = with_noise(make_env(PENDULUM), f"dyn-gauss:{sigma}", seed=0)
    scratch = make_env(PENDULUM)
    scratch.reset(seed=0)
    observation, _ = wrapped.reset(seed=41)
    actions = np.random.default_rng(0).uniform(-0.5, 0.5, size=(300, 1)).astype(np.float32)
    z = []
    for action in actions:
        scratch.unwrapped.set_state(observation[:2], observation[2:])
        predicted = scratch.step(action)[0]
        observation, _, terminated, _, _ = wrapped.step(action)
        sim = wrapped.unwrapped
        np.testing.assert_array_equal(observation, np.concatenate([sim.data.qpos, sim.data.qvel]))
        z.append((observation - predicted) / sigma)
        if terminated:
            observation, _ = wrapped.reset()
    z = np.array(z)  # (300, 4): qpos (slider, hinge), qvel (slider, hinge)
    # 300 samples per coordinate: mean within 5/√300, std 1 within 15 %.
    assert np.all(np.abs(z.mean(axis=0)) < 5 / np.sqrt(len(z))), z.mean(axis=0)
    assert np.all(np.abs(z.std(axis=0) - 1) < 0.15), z.std(axis=0)


def test_dyn_gauss_on_free_joints_and_force_observations():
    """Ant's root quaternion is rotated, not added to, so it stays a unit quaternion; on
    Humanoid (cinert, cfrc_ext in the observation) σ = 0 is still the bare env bit for bit."""
    wrapped = with_noise(make_env("Ant-v5"), "dyn-gauss:0.05", seed=0)
    wrapped.reset(seed=0)
    start = wrapped.unwrapped.data.qpos[3:7].copy()
    for _ in range(10):
        wrapped.step(np.zeros(8, dtype=np.float32))
    quaternion = wrapped.unwrapped.data.qpos[3:7]
    assert abs(np.linalg.norm(quaternion) - 1) < 1e-12 and not np.allclose(quaternion, start)
    seeds = [0, None]
    bare = _rollout(make_env("Humanoid-v5"), seeds, 15)
    assert _same(
        bare, _rollout(with_noise(make_env("Humanoid-v5"), "dyn-gauss:0", seed=0), seeds, 15)
    )


# ---- check_env -----------------------------------------------------------------------------

# check_env warnings we expect and accept: it is run on a wrapper (on purpose: the noise lives
# there); InvertedPendulum's action space is [−3, 3], not [−1, 1]; MuJoCo observation bounds
# are ±inf. Any other warning fails the test.
EXPECTED_WARNINGS = [
    r"is different from the unwrapped version",
    r"we recommend using a symmetric and normalized space",
    r"Box observation space (minimum|maximum) value is -?infinity",
]


def _check_env_with_known_warnings(env: gym.Env) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    messages = [str(warning.message) for warning in caught]
    unexpected = [m for m in messages if not any(re.search(p, m) for p in EXPECTED_WARNINGS)]
    assert not unexpected, unexpected
    return messages


NOISY_SPECS = ["none", "obs-mult:0.2", "dyn-gauss:0.01", "act-gauss:0.1"]


@pytest.mark.parametrize(
    ("env_name", "spec"),
    [("pendulum", spec) for spec in NOISY_SPECS]
    + [("toy", spec) for spec in NOISY_SPECS if not spec.startswith("dyn-gauss")],
)
def test_check_env_passes_on_each_wrapper(env_name, spec):
    _check_env_with_known_warnings(with_noise(_make(env_name), spec, seed=0))


def test_check_env_passes_on_the_toy_without_any_warning():
    env = make_point_mass(4)
    messages = _check_env_with_known_warnings(env)
    assert len(messages) == 1 and "different from the unwrapped" in messages[0]
    assert _check_env_with_known_warnings(env.unwrapped) == []
    assert _check_env_with_known_warnings(PointMassEnv(1)) == []


# ---- the point-mass toy ----------------------------------------------------------------------


def test_toy_is_deterministic_given_the_seed_and_truncates_at_the_episode_length():
    run_a = _rollout(make_point_mass(4), [0, 1], 150)
    assert _same(run_a, _rollout(make_point_mass(4), [0, 1], 150))
    assert not _same(run_a, _rollout(make_point_mass(4), [2, 1], 150))
    flags = run_a[2]
    assert flags[99] == (False, True) and all(f == (False, False) for f in flags[:99])
    env = make_point_mass(2, episode_length=3)
    env.reset(seed=0)
    assert [env.step(np.zeros(2))[3] for _ in range(3)] == [False, False, True]


def test_toy_rejects_bad_parameters():
    for kwargs, named in [
        ({"n_rewards": 0}, "n_rewards = 0"),
        ({"noise_std": -0.1}, "noise_std = -0.1"),
        ({"damping": 1.5}, "damping = 1.5"),
        ({"goal_distance": float("nan")}, "goal_distance = nan"),
        ({"episode_length": 10.5}, "episode_length = 10.5"),
    ]:
        with pytest.raises(ValueError, match=re.escape(named)):
            PointMassEnv(**{"n_rewards": 2, **kwargs})


def test_toy_step_closed_form():
    toy = PointMassEnv(1, dt=0.1, damping=0.9, goal_distance=0.5, reward_width=0.15)
    # From rest at the origin, push +x: v' = dt a = (0.1, 0), p' = dt v' = (0.01, 0).
    np.testing.assert_allclose(
        toy.dynamics_numpy([0, 0, 0, 0], [1, 0], [0, 0]), [0.01, 0, 0.1, 0], rtol=1e-14, atol=1e-15
    )
    # Forces beyond ±1 are clipped; the wall stops the position and keeps the velocity.
    np.testing.assert_allclose(
        toy.dynamics_numpy([0.99, 0, 1.0, 0], [5, 0], [0, 0]),
        [1.0, 0, 1.0, 0],
        rtol=1e-14,
        atol=1e-15,
    )
    # The noise enters the velocity scaled by noise_std = 0.05 (default).
    np.testing.assert_allclose(
        toy.dynamics_numpy([0, 0, 0, 0], [0, 0], [2, -4]),
        [0.01, -0.02, 0.1, -0.2],
        rtol=1e-14,
        atol=1e-15,
    )
    # The one goal of N = 1 sits at (0.5, 0) with weight 1; one width away: exp(−1/2).
    assert toy.reward_numpy([0.5, 0, 0, 0], [0, 0]) == 1.0
    np.testing.assert_allclose(
        toy.reward_numpy([0.5, 0.15, 0, 0], [0, 0]), np.exp(-0.5), rtol=1e-14
    )


def test_toy_jax_equations_equal_the_numpy_env_step():
    env = make_point_mass(4, action_cost=0.1)
    toy = env.unwrapped
    state, _ = env.reset(seed=3)
    # Actions beyond [−1, 1] exercise the clip in both implementations.
    actions = np.random.default_rng(0).uniform(-1.5, 1.5, size=(100, 2))
    with jax.enable_x64(True):
        dynamics, reward = jax.jit(toy.dynamics_jax), jax.jit(toy.reward_jax)
        for action in actions:
            next_state, r, _, _, info = env.step(action)
            np.testing.assert_allclose(
                dynamics(state, action, info["noise"]), next_state, rtol=1e-14, atol=1e-15
            )
            np.testing.assert_allclose(reward(state, action), r, rtol=1e-14, atol=1e-15)
            state = next_state
    # Default float32 JAX agrees to float32 precision.
    np.testing.assert_allclose(
        toy.dynamics_jax(jnp.asarray(state), jnp.asarray(actions[0]), jnp.ones(2)),
        toy.dynamics_numpy(state, actions[0], np.ones(2)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_toy_jax_derivatives_match_closed_form_and_finite_differences():
    toy = PointMassEnv(4, action_cost=0.1)
    state, action = np.array([0.3, 0.2, 0.1, -0.2]), np.array([0.4, -0.3])
    with jax.enable_x64(True):
        jac_a = jax.jacobian(toy.dynamics_jax, argnums=1)(state, action, np.zeros(2))
        grad_s, grad_a = jax.grad(toy.reward_jax, argnums=(0, 1))(state, action)
    # Away from walls, clips and the speed limit: ∂v'/∂a = dt I, ∂p'/∂a = dt² I.
    dt = toy.params.dt
    np.testing.assert_allclose(jac_a, np.vstack([dt**2 * np.eye(2), dt * np.eye(2)]), atol=1e-15)
    eps = 1e-6
    for grad, point, other, wrt_state in (
        (grad_s, state, action, True),
        (grad_a, action, state, False),
    ):
        for j in range(point.size):
            step = np.zeros(point.size)
            step[j] = eps
            args = [(point + step, other), (point - step, other)]
            if not wrt_state:
                args = [(other, point + step), (other, point - step)]
            fd = (toy.reward_numpy(*args[0]) - toy.reward_numpy(*args[1])) / (2 * eps)
            np.testing.assert_allclose(grad[j], fd, rtol=1e-6, atol=1e-8)


# Multimodality criterion. Policy: i.i.d. uniform actions on [−1, 1]² from one seeded stream
# (a fixed random policy), 64 episodes with reset seeds 0..63. An episode *reaches* goal k when
# k is the goal with the largest summed bump reward w_k exp(−‖p − g_k‖²/(2 width²)) over the
# episode and the mass came within one width of g_k; each reached goal is one mode of the
# return mixture (module docstring of agents.point_mass). A goal counts as a mode when at least
# 4 of the 64 episodes (1/16) reach it. Measured (seed 0): N = 1 → goal 0 in 16 episodes;
# N = 4 → goals 0..3 reached in 16, 10, 10, 9 episodes.
def _modes(n_rewards: int, episodes: int = 64, min_episodes: int = 4) -> set[int]:
    env = make_point_mass(n_rewards)
    params = env.unwrapped.params
    policy_rng = np.random.default_rng(0)
    reached = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=episode)
        per_goal, nearest = np.zeros(n_rewards), np.full(n_rewards, np.inf)
        truncated = False
        while not truncated:
            distance = np.linalg.norm(observation[:2] - params.goals, axis=1)
            nearest = np.minimum(nearest, distance)
            per_goal += params.weights * np.exp(-(distance**2) / (2 * params.reward_width**2))
            observation, _, _, truncated, _ = env.step(policy_rng.uniform(-1, 1, size=2))
        goal = int(per_goal.argmax())
        if nearest[goal] <= params.reward_width:
            reached.append(goal)
    goals, counts = np.unique(reached, return_counts=True)
    return set(goals[counts >= min_episodes].tolist())


def test_more_reward_locations_give_more_return_modes():
    one, four = _modes(1), _modes(4)
    assert one == {0}
    assert len(four) >= 3, four
    assert len(four) > len(one)
