"""The Monte Carlo law of (G, ∇_a G) on the point mass: gradients, measures, verdicts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from verify.claims.c7_law import BUDGETS, law_samples, multimodality, pathwise_return, run, score


def test_pathwise_action_gradient_equals_central_differences():
    with jax.enable_x64(True):
        total = jax.jit(pathwise_return(4))
        grad = jax.jit(jax.grad(pathwise_return(4)))
        noises = jax.random.normal(jax.random.PRNGKey(0), (12, 100, 2), dtype=jnp.float64)
        action = jnp.array([0.3, -0.2])
        errors = []
        for path in noises:
            exact = np.asarray(grad(action, path))
            numeric = [
                (total(action + h, path) - total(action - h, path)) / 2e-6
                for h in 1e-6 * jnp.eye(2)
            ]
            errors.append(np.abs(exact - np.asarray(numeric)).max() / (1 + np.abs(exact).max()))
    # The return is piecewise smooth (clips, the drift switch): a path crossing a kink within
    # ±1e-6 of a₀ may differ; the median path must agree to finite-difference accuracy.
    assert np.median(errors) < 1e-5, errors
    samples = law_samples(2, 64, seed=0)
    assert samples.shape == (64, 3) and np.all(np.isfinite(samples))


@pytest.mark.heavy  # about a minute: max-sliced searches on 1000-point samples
def test_msmmd_to_gaussian_separates_a_mixture_from_a_gaussian():
    rng = np.random.default_rng(0)
    gaussian = rng.standard_normal((2000, 3))
    mixture = gaussian.copy()
    mixture[:, 0] += np.where(rng.random(2000) < 0.5, -3.0, 3.0)  # two well-apart modes in G
    plain = multimodality(gaussian, points=1000, boot=3, seed=0)
    mixed = multimodality(mixture, points=1000, boot=3, seed=0)
    # The statistic is a searched maximum over directions, so even a Gaussian sample sits
    # above 0 (sampling noise, the gaussian_floor); the mixture's interval lies above the
    # Gaussian's (negative control: a Gaussian sample is not called non-Gaussian).
    assert mixed["interval"][0] > plain["interval"][1]
    assert plain["modes"] == 1 and mixed["modes"] == 2 == mixed["modes_narrow"]


def test_the_verdict_has_three_states():
    def figures(first, last):
        return {
            1: {"msmmd_to_gaussian": np.mean(first), "interval": first},
            8: {"msmmd_to_gaussian": np.mean(last), "interval": last},
        }

    assert score(figures([0.1, 0.2], [0.3, 0.4]))["verdict"] == "supported"
    assert score(figures([0.3, 0.4], [0.1, 0.2]))["verdict"] == "contradicted"
    assert score(figures([0.1, 0.3], [0.2, 0.4]))["verdict"] == "inconclusive"


@pytest.mark.parametrize("budget", ["testing"])
def test_the_testing_budget_runs_to_a_verdict(budget):
    found = run({**BUDGETS[budget], "paths": 500, "msmmd_points": 150, "boot": 3}, seed=0)
    assert set(found) == set(BUDGETS[budget]["n_goals"])
    assert score(found)["verdict"] in ("supported", "contradicted", "inconclusive")
