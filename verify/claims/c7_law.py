"""What C7 rests on: the law of ``(G, ∇_a G)`` on the point mass grows more multimodal with N.

For a fixed policy and a fixed start ``(s₀, a₀)``, each noise path ``ε₁ … ε_T`` gives the
pathwise return ``G(s₀, a₀) = Σ_t γ^t r_t`` (``a_t = π(s_t)`` after the first step,
docs/math.md#setting) and, through the JAX dynamics, its action gradient ``∇_a G`` (one
``jax.value_and_grad`` per path, ``vmap`` over paths). The Monte Carlo law of
``X = (G, ∇_a G) ∈ R³`` is what a distributional Sobolev critic must fit (docs/claims.md#c7).

The fixed policy goes to the goal circle and stays: it lets the mass drift (``a = 0``) while
``‖p‖ < r_drift``, then steers it to ``p* = goal_distance · p/‖p‖`` with a PD law
``a = clip(k_p (p* − p) − k_v v, −1, 1)``. From the start ``s₀ = 0`` the noise of the first
steps picks the angle, and the return depends on which goal (if any) sits there, so the law
is a mixture with up to N + 1 components, one per goal weight ``w_k`` and one for "between
goals" (agents/point_mass.py explains why the env was built so).

Two measures of multimodality, per N:

- ``modes`` (``modes_narrow``): local maxima of a Gaussian kernel density estimate of ``G``
  (Silverman's bandwidth, which oversmooths mixtures; and 0.3 times it), 512-point grid,
  that hold at least 5% of the highest peak's density;
- ``msmmd_to_gaussian``: the max-sliced MMD (multiquadric kernel, h = 1, on standardised
  coordinates) between the sample and a sample of the moment-matched Gaussian: 0 for a
  Gaussian law, larger the further from any single Gaussian. A searched lower bound of the
  supremum (``sobolev_core.max_sliced_mmd``), with a bootstrap interval over paths, and
  ``gaussian_floor``: the same statistic between two samples of that Gaussian (what the
  search finds in sampling noise alone at this sample size).

Verdict (three states): ``supported`` when the MSMMD interval at the largest N lies wholly
above the one at N = 1 and the point estimates do not decrease along N; ``contradicted``
when the largest N's interval lies wholly below N = 1's; ``inconclusive`` otherwise.
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "BUDGETS",
    "circle_policy",
    "law_samples",
    "multimodality",
    "pathwise_return",
    "pathwise_return_from",
    "run",
    "score",
]

BUDGETS: dict[str, dict[str, Any]] = {
    # testing: seconds, for CI; quick: the figures of the note (10⁴ paths per N).
    "testing": dict(n_goals=(1, 4), paths=2_000, msmmd_points=300, boot=4, horizon=100),
    "quick": dict(n_goals=(1, 2, 4, 8), paths=10_000, msmmd_points=1_000, boot=10, horizon=100),
}
_GAMMA = 0.99
_DRIFT_RADIUS, _KP, _KV = 0.05, 4.0, 2.0
_START = np.zeros(4)
_ACTION = np.zeros(2)


def circle_policy(state: jax.Array, goal_distance: float) -> jax.Array:
    """The fixed policy of the module docstring (one example)."""
    position, velocity = state[:2], state[2:]
    radius = jnp.sqrt(jnp.sum(position**2) + 1e-12)
    target = goal_distance * position / jnp.maximum(radius, _DRIFT_RADIUS)
    steer = jnp.clip(_KP * (target - position) - _KV * velocity, -1.0, 1.0)
    return jnp.where(radius < _DRIFT_RADIUS, jnp.zeros(2), steer)


def pathwise_return_from(reward, dynamics, goal_distance: float, gamma: float = _GAMMA):
    """``G(s₀, a₀, ε₁…ε_T) = Σ_t γ^t r(s_t, a_t)`` under the circle policy, one noise path.

    ``reward(s, a)`` and ``dynamics(s, a, ε)`` are one-example JAX functions (the point
    mass's ``reward_jax`` and ``dynamics_jax``); the returned ``G(state, action, noises)``
    takes ``state`` ``(4,)``, ``action`` ``(2,)``, ``noises`` ``(T, 2)`` and is pathwise
    differentiable in ``(state, action)``.
    """

    def total_return(state, action, noises):
        def body(carry, noise):
            state, act, discount, total = carry
            step_reward = reward(state, act)
            state = dynamics(state, act, noise)
            next_action = circle_policy(state, goal_distance)
            return (state, next_action, discount * gamma, total + discount * step_reward), None

        state = jnp.asarray(state, dtype=jnp.result_type(action))
        init = (state, action, jnp.ones((), state.dtype), jnp.zeros((), state.dtype))
        (_, _, _, total), _ = jax.lax.scan(body, init, noises)
        return total

    return total_return


def pathwise_return(n_goals: int):
    """``G(a₀, ε₁…ε_T)``: the discounted return from the fixed start ``s₀ = 0`` when the first
    action is ``a₀`` and the policy acts after, for one noise path ``(T, 2)``."""
    from agents.point_mass import make_point_mass

    env = make_point_mass(n_goals).unwrapped
    goal_distance = float(np.linalg.norm(env.params.goals[0]))
    from_state = pathwise_return_from(env.reward_jax, env.dynamics_jax, goal_distance)

    def total_return(action, noises):
        return from_state(jnp.asarray(_START, dtype=jnp.result_type(action)), action, noises)

    return total_return


def law_samples(n_goals: int, paths: int, seed: int, *, horizon: int = 100) -> np.ndarray:
    """``(paths, 3)`` samples of ``(G, ∂G/∂a₁, ∂G/∂a₂)`` at ``(s₀, a₀) = (0, 0)``, as float64."""
    noises = jax.random.normal(jax.random.PRNGKey(seed), (paths, horizon, 2))
    value_and_grad = jax.vmap(jax.value_and_grad(pathwise_return(n_goals)), in_axes=(None, 0))
    values, grads = jax.jit(value_and_grad)(jnp.asarray(_ACTION, jnp.float32), noises)
    return np.column_stack([np.asarray(values, float), np.asarray(grads, float)])


def _modes(returns: np.ndarray, bandwidth_factor: float = 1.0) -> int:
    from scipy.stats import gaussian_kde

    if np.ptp(returns) == 0:
        return 1
    grid = np.linspace(returns.min(), returns.max(), 512)
    kde = gaussian_kde(returns, bw_method="silverman")
    kde.set_bandwidth(kde.factor * bandwidth_factor)
    density = kde(grid)
    peaks = (density[1:-1] > density[:-2]) & (density[1:-1] >= density[2:])
    peaks &= density[1:-1] >= 0.05 * density.max()
    edges = int(density[0] > density[1] and density[0] >= 0.05 * density.max())
    edges += int(density[-1] > density[-2] and density[-1] >= 0.05 * density.max())
    return int(peaks.sum()) + edges


def multimodality(samples: np.ndarray, *, points: int, boot: int, seed: int) -> dict[str, Any]:
    """``modes`` of ``G`` and the MSMMD of the standardised sample from its moment-matched
    Gaussian, with a percentile interval over ``boot`` resamples of ``points`` paths."""
    from sobolev_core import max_sliced_mmd, multiquadric

    rng = np.random.default_rng(seed)
    scale = samples.std(axis=0)
    scale[scale == 0] = 1.0
    standard = (samples - samples.mean(axis=0)) / scale
    covariance = np.cov(standard, rowvar=False) + 1e-9 * np.eye(standard.shape[1])
    values, floor = [], []
    for _ in range(boot):
        rows = standard[rng.integers(0, len(standard), points)]
        gaussian, other = rng.multivariate_normal(rows.mean(axis=0), covariance, size=(2, points))
        for first, target in ((rows, values), (other, floor)):
            found = max_sliced_mmd(
                first, gaussian, multiquadric(1.0), seed=int(rng.integers(2**31)), n_steps=40
            )
            target.append(found.value)
    values, floor = np.asarray(values), np.asarray(floor)
    return {
        "modes": _modes(samples[:, 0]),
        "modes_narrow": _modes(samples[:, 0], 0.3),
        "msmmd_to_gaussian": float(np.median(values)),
        "interval": [float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))],
        "gaussian_floor": float(np.median(floor)),
        "return_mean": float(samples[:, 0].mean()),
        "return_std": float(samples[:, 0].std()),
        "gradient_norm_mean": float(np.linalg.norm(samples[:, 1:], axis=1).mean()),
    }


def run(budget: dict[str, Any], seed: int = 0) -> dict[int, dict[str, Any]]:
    """The multimodality figures per N (keys: N)."""
    figures = {}
    for n_goals in budget["n_goals"]:
        samples = law_samples(n_goals, budget["paths"], seed + n_goals, horizon=budget["horizon"])
        figures[n_goals] = multimodality(
            samples, points=budget["msmmd_points"], boot=budget["boot"], seed=seed
        )
    return figures


def score(figures: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The three-state verdict of the module docstring."""
    counts = sorted(figures)
    first, last = figures[counts[0]], figures[counts[-1]]
    estimates = [figures[n]["msmmd_to_gaussian"] for n in counts]
    if last["interval"][0] > first["interval"][1] and all(
        later >= earlier for earlier, later in itertools.pairwise(estimates)
    ):
        verdict = "supported"
    elif last["interval"][1] < first["interval"][0]:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
    return {"verdict": verdict, "n_goals": counts, "msmmd_to_gaussian": estimates}
