"""verify/claims/c7_fidelity.py: its pieces against closed forms and the NumPy env, and the testing
budget end to end (records with three-state verdicts)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from verify.claims import c7_fidelity as fidelity


@pytest.mark.parametrize(
    ("relation", "interval", "margin", "outcome"),
    [
        (">", [0.1, 0.3], 0.05, "supported"),
        (">", [-0.3, -0.1], 0.05, "contradicted"),
        (">", [-0.1, 0.3], 0.05, "inconclusive"),
        (">=", [-0.04, 0.3], 0.05, "supported"),  # non-inferior within the margin
        (">=", [-0.3, -0.06], 0.05, "contradicted"),
        (">=", [-0.06, 0.3], 0.05, "inconclusive"),
        ("~", [-0.04, 0.04], 0.05, "supported"),
        ("~", [0.06, 0.3], 0.05, "contradicted"),
        ("~", [-0.02, 0.3], 0.05, "inconclusive"),
    ],
)
def test_outcome_has_three_states_per_relation(relation, interval, margin, outcome):
    assert fidelity._outcome(relation, interval, margin) == outcome


def test_zero_padded_goals_give_the_env_reward_for_every_n():
    from agents.point_mass import make_point_mass

    counts = (1, 3, 8)
    arrays = fidelity.goal_arrays(counts)
    rng = np.random.default_rng(0)
    for row, count in enumerate(counts):
        env = make_point_mass(count).unwrapped
        for _ in range(5):
            state = np.concatenate([rng.uniform(-0.7, 0.7, 2), rng.normal(0, 0.3, 2)])
            action = rng.uniform(-1, 1, 2)
            with jax.enable_x64(True):
                params = {name: jnp.asarray(values[row]) for name, values in arrays.items()}
                got = float(fidelity._reward(params, jnp.asarray(state), jnp.asarray(action)))
            # the same formula; the padded goals add exactly 0 (float64 rounding only)
            assert got == pytest.approx(env.reward_numpy(state, action), rel=1e-12, abs=1e-15)


def _numpy_circle_policy(state):
    """verify.claims.c7_law's policy written from its docstring in NumPy (drift 0.05, k_p 4, k_v 2)."""
    position, velocity = state[:2], state[2:]
    radius = math.sqrt(float(position @ position) + 1e-12)
    if radius < 0.05:
        return np.zeros(2)
    target = 0.5 * position / radius
    return np.clip(4.0 * (target - position) - 2.0 * velocity, -1.0, 1.0)


def test_monte_carlo_samples_are_numpy_rollouts_and_their_action_gradients():
    """Each sample ``(G, ∇_a G)`` of ``_monte_carlo`` at an off-centre state: ``G`` equals a
    float64 NumPy rollout of the env with the same noises, ``∇_a G`` central differences
    of it (step 1e-6: truncation ~1e-12, rounding ~1e-10 relative; a path whose clip or
    drift switch falls within the step may differ, so the median path is compared)."""
    from agents.point_mass import make_point_mass

    env = make_point_mass(4).unwrapped
    settings = {"gamma": 0.9, "horizon": 30, "mc_paths": 6}
    arrays = fidelity.goal_arrays((4,))
    state, action = np.array([0.2, -0.1, 0.3, 0.0]), np.array([0.4, -0.7])
    key = jax.random.key(3)
    with jax.enable_x64(True):
        params = {name: jnp.asarray(values[0]) for name, values in arrays.items()}
        samples = np.asarray(
            fidelity._monte_carlo(
                settings, params, jnp.asarray(state)[None], jnp.asarray(action)[None], key
            )
        )[0]
        noises = np.asarray(jax.random.normal(key, (1, 6, 30, 2)))[0]

    def rollout(first_action, path):
        current, act, total = state.copy(), first_action, 0.0
        for t, noise in enumerate(path):
            total += 0.9**t * env.reward_numpy(current, act)
            current = env.dynamics_numpy(current, act, noise)
            act = _numpy_circle_policy(current)
        return total

    errors = []
    for sample, path in zip(samples, noises, strict=True):
        assert sample[0] == pytest.approx(rollout(action, path), rel=1e-10)
        numeric = [
            (rollout(action + h, path) - rollout(action - h, path)) / 2e-6 for h in 1e-6 * np.eye(2)
        ]
        errors.append(np.abs(sample[1:] - numeric).max() / (1 + np.abs(numeric).max()))
    assert np.median(errors) < 1e-6, errors


def test_wasserstein_of_a_shift_is_its_length():
    rng = np.random.default_rng(1)
    sample = rng.normal(size=(50, 3))
    shift = np.array([0.3, -0.4, 0.0])  # |shift| = 0.5; W1(μ, μ + c) = |c| exactly
    assert fidelity._wasserstein(sample, sample + shift) == pytest.approx(0.5, rel=1e-9)
    assert fidelity._wasserstein(sample, sample) == pytest.approx(0.0, abs=1e-12)


def test_msmmd_of_two_points_is_the_closed_form():
    """One point each, ``0`` and ``c e₁``: with the multiquadric ``k = −sqrt(1 + h² t²)`` the
    sliced MMD² is ``2 (sqrt(1 + h² c² θ₁²) − 1)``, largest at ``θ = e₁`` (the search's
    mean-gap candidate)."""
    c, h = 0.7, 1.0
    with jax.enable_x64(True):
        value = fidelity._msmmd(
            jnp.zeros((1, 3)),
            jnp.array([[c, 0.0, 0.0]]),
            jax.random.key(0),
            kernel_h=h,
            search=(8, 1, 5),
        )
    assert float(value) == pytest.approx(math.sqrt(2 * (math.sqrt(1 + h**2 * c**2) - 1)), rel=1e-9)


def test_testing_budget_gives_three_state_records_and_resolves_bad_critics():
    """The testing budget end to end (2 compiled configurations): every record has an
    empirical verdict, distances are finite, and at N = 4 each
    under-trained critic (40 updates) is farther from the truth than the Monte Carlo floor
    (two independent Monte Carlo samples): the measurement resolves a bad critic."""
    from verify.records import EMPIRICAL_VERDICTS

    settings = fidelity.SETTINGS["testing"]
    result = fidelity.run(settings, seed=0)
    records = fidelity.score(result)
    # configurations: (mmd > huber-sobolev) at known/incomplete, for each N and both metrics
    assert len(records) == 1 * len(settings["n_goals"]) * 2
    assert {record.verdict for record in records} <= set(EMPIRICAL_VERDICTS)
    for record in records:
        assert record.details["outcome"] == record.verdict
        assert np.all(np.isfinite(record.details["interval"]))
    row = settings["n_goals"].index(4)
    for metric in ("w1", "msmmd"):
        floor = np.mean(result["floor"][metric][row])
        for name, figures in result["distances"].items():
            assert np.mean(figures[metric][row]) > 2 * floor, (name, metric)
