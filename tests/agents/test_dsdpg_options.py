"""DSDPG's ``model_normalisation`` and ``operator`` options against references from the equations.

- ``model_normalisation = "running"``: each update first standardises the world model by the
  moments of every minibatch seen so far, then takes the unnormalised ("none") update. The
  reference: the ``none`` agent whose model stats are set by ``set_normalisation`` (a
  separate one-batch implementation, ``jnp.std``) on the union of the minibatches, computed
  in float64 NumPy order; both must give the same parameters after two updates.
- ``operator = "complete"``: target samples ``(y, ∇_s y, ∇_a y)`` with
  ``y(s, a) = r̂ + γ (1 − d) Z̄_i(ŝ', π̄(ŝ'), ξ')``, ``(ŝ', r̂) = g(s, a, ε)`` for fixed noises
  (docs/math.md#operator), checked column by column against central finite differences of
  ``y`` in float64; the critic's samples ``(Z, ∇_s Z, ∇_a Z)`` likewise.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.agents.make_dsdpg_golden import _info

OBS_DIM, ACTION_DIM, BATCH = 4, 2, 6
SMALL = {
    "hidden": [16, 16],
    "model_hidden": [16],
    "batch_size": BATCH,
    "n_target_samples": 3,
    "n_critic_samples": 4,
    "xi_dim": 2,
    "truncate": 0.0,
    "search_candidates": 4,
    "search_steps": 2,
    "policy_delay": 1,
}
FD_STEP = 1e-6
# Central differences in float64 of maps that are smooth near the point (swish world model,
# tanh actor head; ReLU kinks are not crossed at this step for these fixed seeds):
# truncation h² |f'''| / 6 ~ 1e-12, rounding ~ 1e-16 |f| / h ~ 1e-10; autodiff is exact.
FD_ATOL = 1e-7


def _batch(seed: int, scale: float = 1.0) -> dict:
    rng = np.random.default_rng(seed)
    obs = rng.normal(0.0, scale * np.array([1.0, 5.0, 20.0, 0.1]), size=(1, BATCH, OBS_DIM))
    return {
        "obs": obs,
        "action": rng.uniform(-1, 1, size=(1, BATCH, ACTION_DIM)),
        "reward": rng.normal(3.0, 2.0, size=(1, BATCH)),
        "next_obs": obs + rng.normal(0.0, 0.5, size=obs.shape),
        "terminated": (np.arange(BATCH) == 2).astype(float)[None],
    }


@pytest.mark.parametrize("world_model", ["cvae", "flow"])
def test_running_normalisation_is_the_none_update_on_stats_of_all_minibatches(world_model):
    from agents.dsdpg import make_agent
    from agents.world_models import set_normalisation

    options = {**SMALL, "world_model": world_model, "critic_loss": "mmd"}
    with jax.enable_x64(True):
        running = make_agent(_info(OBS_DIM, ACTION_DIM), {**options})
        plain = make_agent(_info(OBS_DIM, ACTION_DIM), {**options, "model_normalisation": "none"})
        state = running.init(jax.random.key(0))
        reference = plain.init(jax.random.key(0))
        assert len(state.extra) == 3 and len(reference.extra) == 2
        batches = [_batch(1), _batch(2, scale=3.0)]
        for index, batch in enumerate(batches):
            key = jax.random.key(10 + index)
            state, losses = running.update(state, batch, key)
            seen = [np.concatenate([b[name][0] for b in batches[: index + 1]]) for name in batch]
            obs, action, reward, next_obs = seen[0], seen[1], seen[2], seen[3]
            model_params = set_normalisation(reference.extra[0], obs, action, next_obs, reward)
            reference = reference._replace(extra=(model_params, reference.extra[1]))
            reference, reference_losses = plain.update(reference, batch, key)
            assert float(state.extra[2].count) == len(obs)
            for name, value in reference_losses.items():
                # the same float64 computation up to the merge's rounding (~1e-16 relative)
                np.testing.assert_allclose(losses[name], value, rtol=1e-9, err_msg=name)
            for what, got, want in (
                ("model", state.extra[0], reference.extra[0]),
                ("critic", state.critic, reference.critic),
                ("actor", state.actor, reference.actor),
            ):
                for (path, leaf), other in zip(
                    jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want), strict=True
                ):
                    np.testing.assert_allclose(
                        leaf, other, rtol=1e-9, atol=1e-12, err_msg=f"{what}{path}"
                    )
        # the stats really moved off the identity (raw scales 1 … 60)
        assert float(state.extra[0]["stats"]["input_std"][2]) > 10.0


def _central_difference(fn, point: jnp.ndarray) -> np.ndarray:
    columns = []
    for index in range(point.shape[0]):
        step = jnp.zeros_like(point).at[index].set(FD_STEP)
        columns.append((fn(point + step) - fn(point - step)) / (2 * FD_STEP))
    return np.asarray(columns)


@pytest.mark.parametrize("critic_loss", ["msmmd", "huber-sobolev"])
def test_complete_operator_targets_are_the_state_and_action_derivatives(critic_loss):
    from agents.dsdpg import make_agent, make_parts, pooled_targets
    from agents.world_models import set_normalisation

    options = {**SMALL, "critic_loss": critic_loss, "operator": "complete"}
    with jax.enable_x64(True):
        info = _info(OBS_DIM, ACTION_DIM)
        parts = make_parts(info, options)
        state = make_agent(info, options).init(jax.random.key(1))
        batch = _batch(5)
        # non-trivial stats so the normalisation's chain rule is inside the derivative
        model_params = set_normalisation(
            state.extra[0],
            batch["obs"][0],
            batch["action"][0],
            batch["next_obs"][0],
            batch["reward"][0],
        )
        state = state._replace(extra=(model_params, *state.extra[1:]))
        hyper = parts.hyper
        key = jax.random.key(7)
        # the pooled targets' noises, as pooled_targets documents: per target critic, sample j
        model_key, xi_key = jax.random.split(key)
        model_keys = jax.random.split(model_key, hyper.n_target_samples)
        xis = jax.random.normal(xi_key, (hyper.n_target_samples, hyper.xi_dim))
        for row in (0, 2):  # a live and a terminal transition
            transition = {
                "obs": jnp.asarray(batch["obs"][0, row]),
                "action": jnp.asarray(batch["action"][0, row]),
                "terminated": jnp.asarray(batch["terminated"][0, row]),
            }
            samples = pooled_targets(hyper, parts.actor, parts.model, state, transition, key)
            assert samples.shape == (2 * hyper.n_target_samples, 1 + OBS_DIM + ACTION_DIM)
            for critic_index, critic_params in enumerate(state.critic_target):
                for j in range(hyper.n_target_samples):
                    y = functools.partial(
                        _target_sample,
                        parts,
                        model_params,
                        model_keys[j],
                        state.actor_target,
                        critic_params,
                        xis[j],
                        transition["terminated"],
                    )
                    got = samples[critic_index * hyper.n_target_samples + j]
                    _assert_value_and_derivatives(got, y, transition["obs"], transition["action"])
        # the critic's own samples: (Z, ∇_s Z, ∇_a Z)
        s, a = jnp.asarray(batch["obs"][0, 0]), jnp.asarray(batch["action"][0, 0])
        pred = parts.predicted(state.critic[0], s, a, xis)
        assert pred.shape == (hyper.n_target_samples, 1 + OBS_DIM + ACTION_DIM)
        for j in range(hyper.n_target_samples):
            z = functools.partial(_z_of, state.critic[0], xis[j])
            _assert_value_and_derivatives(pred[j], z, s, a)


def _target_sample(parts, model_params, model_key, actor_target, critic_params, xi, done, s, a):
    """``y(s, a) = r̂ + γ (1 − d) Z̄(ŝ', π̄(ŝ'), ξ')`` with ``(ŝ', r̂) = g(s, a, ε)``, ε fixed."""
    next_obs, reward = parts.model.sample(model_params, s, a, model_key)
    bootstrap = _z_of(critic_params, xi, next_obs, parts.actor.apply(actor_target, next_obs))
    return reward + parts.hyper.gamma * (1 - done) * bootstrap


def _z_of(critic_params, xi, s, a):
    from agents.dsdpg import z_value

    return z_value(critic_params, s, a, xi)


def _assert_value_and_derivatives(got, fn, s, a):
    """``got == (fn, ∇_s fn, ∇_a fn)`` at ``(s, a)``, derivatives by central differences."""
    np.testing.assert_allclose(got[0], fn(s, a), rtol=1e-12)
    grad_s = _central_difference(lambda p: fn(p, a), s)
    grad_a = _central_difference(lambda p: fn(s, p), a)
    np.testing.assert_allclose(got[1 : 1 + OBS_DIM], grad_s, atol=FD_ATOL)
    np.testing.assert_allclose(got[1 + OBS_DIM :], grad_a, atol=FD_ATOL)
    assert np.abs(grad_s).max() > 1e3 * FD_ATOL  # the state columns are not trivially zero


def test_incomplete_operator_is_the_default_and_keeps_action_columns_only():
    from agents.dsdpg import DSDPGConfig, make_parts

    assert DSDPGConfig().operator == "incomplete"
    assert DSDPGConfig().model_normalisation == "running"
    from agents.dsdpg import make_agent

    info = _info(OBS_DIM, ACTION_DIM)
    parts = make_parts(info, dict(SMALL))
    critic = make_agent(info, dict(SMALL)).init(jax.random.key(0)).critic[0]
    xis = jnp.zeros((3, SMALL["xi_dim"]))
    pred = parts.predicted(critic, jnp.zeros(OBS_DIM), jnp.zeros(ACTION_DIM), xis)
    assert pred.shape == (3, 1 + ACTION_DIM)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"operator": "full"}, "operator 'full' is unknown; accepted: incomplete, complete"),
        (
            {"model_normalisation": "batch"},
            "model_normalisation 'batch' is unknown; accepted: running, none",
        ),
        ({"operator": "complete", "critic_loss": "mmd-nograd"}, "fits returns only"),
    ],
)
def test_bad_options_say_what_is_accepted(options, message):
    from agents.dsdpg import hyperparameters_for

    with pytest.raises(ValueError, match=message):
        hyperparameters_for("dsdpg", options)
