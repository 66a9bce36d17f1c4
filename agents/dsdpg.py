"""DSDPG ([DS], SPEC §5): distributional Sobolev critics trained on world-model targets.

Twin *generative* critics ``Z_i(s, a, ξ)``, ``ξ ~ N(0, I_k)``, output a scalar return sample;
its action gradient ``∇_a Z_i`` is the gradient sample (no gradient head). For one replay
transition ``(s, a, d)`` the target law is built from ``N`` world-model samples
``(ŝ'_j, r̂_j) = g(s, a, ε_j)`` and critic noises ``ξ'_j``, for each target critic ``i``:

    y_ij = r̂_j + γ (1 − d) Z̄_i(ŝ'_j, π̄(ŝ'_j), ξ'_j),   g_ij = ∇_a y_ij

(the pathwise derivative through the model, the target policy and the target critic:
``sobolev_core.sobolev_target``). The ``2N`` samples ``(y, g)`` of both target critics are
pooled and the top ``truncate`` fraction by return dropped (``sobolev_core.truncate_top``,
TQC-style). Each critic's ``M`` predicted samples ``(Z_i(s, a, ξ_m), ∇_a Z_i(s, a, ξ_m))``
are fitted to that target law with the critic loss:

- ``msmmd``: max-sliced MMD² (``sobolev_core.msmmd_loss``, direction searched per
  transition, held fixed for the gradient);
- ``mmd``: full-vector MMD² (``sobolev_core.mmd_loss``);
- ``huber-sobolev``: ``Huber(Z̄ − ȳ) + w Huber(‖∇_a Z̄ − ḡ‖)`` on the sample means
  (``sobolev_core.huber_sobolev_loss``, the MAGE-style expected-value Sobolev loss);
- ``mmd-nograd``: MMD² of the returns only (no gradient information; the targets' gradients
  are then not computed).

**Operator** (``operator``, docs/math.md#operator). ``incomplete`` (the default, [DS]'s):
samples are ``(Z, ∇_a Z)`` and targets ``(y, ∇_a y)``. ``complete``: samples
``(Z, ∇_s Z, ∇_a Z)`` and targets ``(y, ∇_s y, ∇_a y)``, the complete Sobolev backup, with

    ∇_s y = ∂_s r̂ + γ (1 − d) F̂_sᵀ (∇_s' Z̄ + Π̄'ᵀ ∇_a' Z̄),   F̂_s = ∂ŝ'/∂s,

through the model (``sobolev_target(complete=True)``); every critic loss then fits the
``1 + n + m`` columns (``huber-sobolev``: the norm of the whole gradient gap). Both use the
target critic's ``∇_s' Z̄`` inside the chain rule; the complete operator also *trains* ``∇_s Z``
on it. ``mmd-nograd`` has no gradients, so it accepts ``incomplete`` only. Whether the
complete operator helps is open ([DS] trains the incomplete one).

**World-model normalisation** (``model_normalisation``). ``running`` (the default): before
each model step the minibatch is merged into count-weighted running moments of the model's
inputs ``(s, a)`` and targets ``(s' − s, r)`` (``agents.world_models.update_normalisation``,
stored as the third entry of ``state.extra``), and the model standardises by them. Why
running moments over all minibatches rather than statistics frozen after K updates: they are
exactly the moments of everything the model was trained on, they need no K, and both loops
(host and device) get them from the pure ``update`` with no loop change; their change per
update shrinks as ``B / count`` (after 1 000 updates of 256 a new minibatch moves them by
0.1 % of its deviation), so the model's input scale settles early and later drift of the
replay data (a better policy visits new states) still enters, with a weight that falls over
time. ``none``: identity statistics (raw units), what DSDPG computed before this option.
The model reads raw Hopper velocities of order 10 and rewards of order 1 side by side; with
``none`` its initial prior and decoder see inputs far off the unit scale their
initialisation assumes (the measured effect: ``verify/world_model_error.py``).

The actor ascends ``mean_m Z_1(s, π(s), ξ_m)``; the world model (``cvae`` or ``flow``,
:mod:`agents.world_models`) takes one ELBO / likelihood step on each replay minibatch before
the critic step; target networks and the delayed actor update are TD3's
(:mod:`agents.common`). Dyna-style: ``updates_per_step`` critic updates per env step.

Choices the papers leave open (SPEC §5), ours: ``ξ`` of size 8; ``M = N = 10`` samples
(``N`` is [DS]'s); truncation 0.1 (TQC drops 2 of 25 atoms per net, 8 %, and ~10 % is its
best MuJoCo setting); the multiquadric kernel ``h = 100`` ([DS]); a direction search of 16
random candidates, 1 refined restart of 10 steps per transition (the search is re-run at
every update, so its error averages out over updates); 256-256 ReLU actor and critics (TD3's)
and the world model's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from agents.agent import Agent, EnvInfo
from agents.common import (
    ActorCriticState,
    actor_from_info,
    deterministic_agent,
    init_twin_critics,
)
from agents.networks import mlp_apply, mlp_init
from agents.options import hyperparameters
from agents.world_models import init_moments, make_world_model, update_normalisation
from sobolev_core import (
    huber_sobolev_loss,
    kernel_from_spec,
    mmd_loss,
    msmmd_loss,
    sobolev_target,
    truncate_top,
)

__all__ = [
    "CRITIC_LOSSES",
    "DSDPGConfig",
    "DSDPGParts",
    "hyperparameters_for",
    "make_agent",
    "make_parts",
    "pooled_targets",
    "z_sample",
    "z_sample_complete",
    "z_value",
]

CRITIC_LOSSES = ("msmmd", "mmd", "huber-sobolev", "mmd-nograd")
WORLD_MODELS = ("cvae", "flow")
MODEL_NORMALISATIONS = ("running", "none")
OPERATORS = ("incomplete", "complete")


@dataclass(frozen=True)
class DSDPGConfig:
    """DSDPG's hyperparameters (see the module docstring for where each default comes from)."""

    hidden: tuple[int, ...] = (256, 256)
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    model_lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    buffer_size: int = 1_000_000
    start_steps: int = 5_000
    updates_per_step: int = 10
    policy_delay: int = 2
    exploration_noise: float = 0.1
    critic_loss: str = "msmmd"
    world_model: str = "cvae"
    truncate: float = 0.1
    n_target_samples: int = 10
    n_critic_samples: int = 10
    xi_dim: int = 8
    kernel: str = "multiquadric:h=100"
    huber_weight: float = 5.0
    model_hidden: tuple[int, ...] = (200, 200)
    search_candidates: int = 16
    search_restarts: int = 1
    search_steps: int = 10
    model_normalisation: str = "running"
    operator: str = "incomplete"

    def check(self) -> None:
        from agents.options import check_fields

        check_fields(self)  # counts >= 1 (start_steps >= 0), finite rates, gamma, tau
        if self.critic_loss not in CRITIC_LOSSES:
            raise ValueError(
                f"critic_loss {self.critic_loss!r} is unknown; accepted: {', '.join(CRITIC_LOSSES)}"
            )
        if self.world_model not in WORLD_MODELS:
            raise ValueError(
                f"world_model {self.world_model!r} is unknown; accepted: {', '.join(WORLD_MODELS)}"
            )
        if self.model_normalisation not in MODEL_NORMALISATIONS:
            raise ValueError(
                f"model_normalisation {self.model_normalisation!r} is unknown; accepted: "
                f"{', '.join(MODEL_NORMALISATIONS)}"
            )
        if self.operator not in OPERATORS:
            raise ValueError(
                f"operator {self.operator!r} is unknown; accepted: {', '.join(OPERATORS)}"
            )
        if self.operator == "complete" and self.critic_loss == "mmd-nograd":
            raise ValueError(
                "operator 'complete' adds state gradients to the critic's samples, but "
                "critic_loss 'mmd-nograd' fits returns only; use operator 'incomplete' with it"
            )
        if not (0.0 <= self.truncate < 1.0):
            raise ValueError(f"truncate must be a fraction in [0, 1); got {self.truncate!r}")
        if int(2 * self.n_target_samples * (1 - self.truncate)) < 1:
            raise ValueError(f"truncate {self.truncate!r} leaves no target sample")
        kernel_from_spec(self.kernel)


def hyperparameters_for(algo: str, options: dict) -> DSDPGConfig:
    return hyperparameters(DSDPGConfig, options)


def z_value(params, obs, action, xi):
    """``Z(s, a, ξ)``: an MLP on ``(s, a, ξ)``, one example, scalar out."""
    return mlp_apply(params, jnp.concatenate([obs, action, xi]))[0]


def z_sample(params, obs, action, xi):
    """``(Z(s, a, ξ), ∇_a Z(s, a, ξ))`` as one vector of size ``1 + m``."""
    value, grad_action = jax.value_and_grad(z_value, argnums=2)(params, obs, action, xi)
    return jnp.concatenate([value[None], grad_action])


def z_sample_complete(params, obs, action, xi):
    """``(Z, ∇_s Z, ∇_a Z)`` at ``(s, a, ξ)`` as one vector of size ``1 + n + m``."""
    value, (grad_state, grad_action) = jax.value_and_grad(z_value, argnums=(1, 2))(
        params, obs, action, xi
    )
    return jnp.concatenate([value[None], grad_state, grad_action])


def pooled_targets(hyper: DSDPGConfig, actor, model, state: ActorCriticState, transition, key):
    """Both target critics' ``N`` samples ``(y, ∇_a y)`` of one transition, ``(2N, 1 + m)``.

    ``y_ij = r̂_j + γ (1 − d) Z̄_i(ŝ'_j, π̄(ŝ'_j), ξ'_j)`` with ``(ŝ'_j, r̂_j)`` the world model's
    sample for key ``j`` and ``∇_a y_ij`` its pathwise derivative (``sobolev_target``); with
    ``critic_loss = "mmd-nograd"`` only ``y`` (shape ``(2N, 1)``); with ``operator =
    "complete"`` also ``∇_s y`` (shape ``(2N, 1 + n + m)``, columns ``(y, ∇_s y, ∇_a y)``).
    ``transition`` holds ``obs``, ``action`` and ``terminated`` of one example.
    """
    n, k = hyper.n_target_samples, hyper.xi_dim
    model_params = jax.lax.stop_gradient(state.extra[0])
    model_key, xi_key = jax.random.split(key)
    model_keys = jax.random.split(model_key, n)
    xis = jax.random.normal(xi_key, (n, k))

    def one(critic_params, model_noise, xi):
        def critic(next_obs, next_action, xi_next):
            return z_value(critic_params, next_obs, next_action, xi_next)

        def policy(next_obs):
            return actor.apply(state.actor_target, next_obs)

        def transition_fn(obs, action, noise):
            return model.sample(model_params, obs, action, noise)

        if hyper.critic_loss == "mmd-nograd":
            next_obs, reward = transition_fn(transition["obs"], transition["action"], model_noise)
            value = reward + hyper.gamma * (1.0 - transition["terminated"]) * critic(
                next_obs, policy(next_obs), xi
            )
            return value[None]
        target = sobolev_target(
            critic,
            policy,
            transition_fn,
            transition["obs"],
            transition["action"],
            model_noise,
            xi,
            transition["terminated"],
            hyper.gamma,
            complete=hyper.operator == "complete",
        )
        return target.as_vector()

    return jnp.concatenate(
        [
            jax.vmap(one, in_axes=(None, 0, 0))(params, model_keys, xis)
            for params in state.critic_target
        ]
    )


class DSDPGParts(NamedTuple):
    """DSDPG's pieces as pure functions (``make_agent`` assembles them; ``bench`` times them).

    Attributes:
      hyper, actor, model, kernel: the hyperparameters, actor box, world model and kernel.
      model_update: ``(state, minibatch, key) -> ((model_params, model_opt), losses)``.
      targets: ``(state, minibatch, key) -> (B, K, 1 + m)``, every transition's pooled,
        truncated target law (gradient-stopped by the caller).
      fit: ``(critic, minibatch, targets, xi_key, search_key) -> scalar``, both critics'
        mean fit loss to ``targets``; the keys draw the critics' noises ``ξ`` and the
        direction searches' candidates.
      predicted: ``(critic_params, obs, action, xis) -> (M, 1 + m)``, one critic's samples
        ``(Z, ∇_a Z)`` of one transition (``(M, 1)`` for ``mmd-nograd``, ``(M, 1 + n + m)``
        ``(Z, ∇_s Z, ∇_a Z)`` for ``operator = "complete"``).
      fit_loss: ``(pred, target, key) -> scalar``, the critic loss of one transition.
      critic_loss: ``(critic, state, minibatch, key) -> (loss, aux)``, targets then fit.
      actor_value: ``(critic, obs, action, key) -> scalar``, ``mean_m Z_1(s, a, ξ_m)``.
    """

    hyper: DSDPGConfig
    actor: Any
    model: Any
    kernel: Any
    model_update: Callable
    targets: Callable
    fit: Callable
    predicted: Callable
    fit_loss: Callable
    critic_loss: Callable
    actor_value: Callable


def make_parts(info: EnvInfo, options: dict, *, algo: str = "dsdpg") -> DSDPGParts:
    """DSDPG's pieces for ``info`` with ``options`` applied (see :class:`DSDPGParts`)."""
    hyper = hyperparameters_for(algo, options)
    actor = actor_from_info(info.action_low, info.action_high)
    model = make_world_model(
        hyper.world_model, info.obs_dim, info.action_dim, hidden=hyper.model_hidden
    )
    kernel = kernel_from_spec(hyper.kernel)
    model_optimizer = optax.adam(hyper.model_lr)
    with_gradients = hyper.critic_loss != "mmd-nograd"
    m, k = hyper.n_critic_samples, hyper.xi_dim

    running = hyper.model_normalisation == "running"
    sample_fn = z_sample_complete if hyper.operator == "complete" else z_sample

    def model_update(state: ActorCriticState, minibatch, key):
        model_params, model_opt = state.extra[:2]
        if running:  # merge this minibatch into the running moments, then normalise by them
            model_params, moments = update_normalisation(
                model_params,
                state.extra[2],
                minibatch["obs"],
                minibatch["action"],
                minibatch["next_obs"],
                minibatch["reward"],
            )
        keys = jax.random.split(key, minibatch["obs"].shape[0])

        def loss(params):
            per_example = jax.vmap(model.loss, in_axes=(None, 0, 0, 0, 0, 0))(
                params,
                minibatch["obs"],
                minibatch["action"],
                minibatch["next_obs"],
                minibatch["reward"],
                keys,
            )
            return jnp.mean(per_example)

        value, grads = jax.value_and_grad(loss)(model_params)
        updates, model_opt = model_optimizer.update(grads, model_opt, model_params)
        extra = (optax.apply_updates(model_params, updates), model_opt)
        return (*extra, moments) if running else extra, {"model": value}

    def target_law(state: ActorCriticState, transition, key):
        """The pooled, truncated ``(y, ∇_a y)`` samples of one transition: ``(K, 1 + m)``."""
        samples = pooled_targets(hyper, actor, model, state, transition, key)
        return truncate_top(samples, hyper.truncate)

    def targets(state: ActorCriticState, minibatch, key):
        batch = minibatch["obs"].shape[0]
        return jax.vmap(target_law, in_axes=(None, 0, 0))(
            state, minibatch, jax.random.split(key, batch)
        )

    def fit_loss(pred, target, key):
        if hyper.critic_loss == "msmmd":
            return msmmd_loss(
                pred,
                target,
                kernel,
                key,
                n_candidates=hyper.search_candidates,
                n_restarts=hyper.search_restarts,
                n_steps=hyper.search_steps,
            )
        if hyper.critic_loss == "mmd":
            return mmd_loss(pred, target, kernel)
        if hyper.critic_loss == "mmd-nograd":
            return mmd_loss(pred, target, kernel)
        return huber_sobolev_loss(
            jnp.mean(pred[:, 0]),
            jnp.mean(pred[:, 1:], axis=0),
            jnp.mean(target[:, 0]),
            jnp.mean(target[:, 1:], axis=0),
            weight=hyper.huber_weight,
        )

    def predicted(critic_params, obs, action, xis):
        if with_gradients:
            return jax.vmap(sample_fn, in_axes=(None, None, None, 0))(
                critic_params, obs, action, xis
            )
        return jax.vmap(z_value, in_axes=(None, None, None, 0))(critic_params, obs, action, xis)[
            :, None
        ]

    def fit(critic, minibatch, targets, xi_key, search_key):
        batch = minibatch["obs"].shape[0]
        xis = jax.random.normal(xi_key, (batch, m, k))
        search_keys = jax.random.split(search_key, (2, batch))

        def per_critic(params, keys):
            pred = jax.vmap(predicted, in_axes=(None, 0, 0, 0))(
                params, minibatch["obs"], minibatch["action"], xis
            )
            return jnp.mean(jax.vmap(fit_loss)(pred, targets, keys))

        return per_critic(critic[0], search_keys[0]) + per_critic(critic[1], search_keys[1])

    def critic_loss(critic, state, minibatch, key):
        target_key, xi_key, search_key = jax.random.split(key, 3)
        law = jax.lax.stop_gradient(targets(state, minibatch, target_key))
        loss = fit(critic, minibatch, law, xi_key, search_key)
        return loss, {"target_return_mean": jnp.mean(law[:, :, 0])}

    def actor_value(critic, obs, action, key):
        xis = jax.random.normal(key, (m, k))
        return jnp.mean(
            jax.vmap(z_value, in_axes=(None, None, None, 0))(critic[0], obs, action, xis)
        )

    return DSDPGParts(
        hyper=hyper,
        actor=actor,
        model=model,
        kernel=kernel,
        model_update=model_update,
        targets=targets,
        fit=fit,
        predicted=predicted,
        fit_loss=fit_loss,
        critic_loss=critic_loss,
        actor_value=actor_value,
    )


def make_agent(info: EnvInfo, options: dict, *, algo: str = "dsdpg") -> Agent:
    parts = make_parts(info, options, algo=algo)
    hyper, actor, model = parts.hyper, parts.actor, parts.model
    actor_optimizer = optax.adam(hyper.actor_lr)
    critic_optimizer = optax.adam(hyper.critic_lr)
    model_optimizer = optax.adam(hyper.model_lr)
    k = hyper.xi_dim

    def init(key):
        actor_key, critic_key, model_key = jax.random.split(key, 3)
        actor_params = mlp_init(actor_key, (info.obs_dim, *hyper.hidden, info.action_dim))
        critic = init_twin_critics(
            critic_key, (info.obs_dim + info.action_dim + k, *hyper.hidden, 1)
        )
        model_params = model.init(model_key)
        extra = (model_params, model_optimizer.init(model_params))
        if hyper.model_normalisation == "running":
            extra = (*extra, init_moments(model_params))
        return ActorCriticState(
            actor=actor_params,
            actor_target=actor_params,
            critic=critic,
            critic_target=critic,
            actor_opt=actor_optimizer.init(actor_params),
            critic_opt=critic_optimizer.init(critic),
            step=jnp.zeros((), jnp.int32),
            extra=extra,
        )

    return deterministic_agent(
        hyper,
        actor,
        init,
        actor_optimizer=actor_optimizer,
        critic_optimizer=critic_optimizer,
        critic_loss=parts.critic_loss,
        actor_value=parts.actor_value,
        extra_update=parts.model_update,
    )
