"""SAC (Haarnoja et al. 2018) and Sobolev-SAC ([FS] on top of SAC, docs/agents.md).

Algorithms (``--algo``):

- ``sac``: plain SAC (value-only), the baseline of ``sobolev-sac``;
- ``sobolev-sac``: SAC with the first-order Sobolev critic loss of :mod:`agents.sobolev_td`.

Twin critics ``Q_1, Q_2`` and their Polyak-averaged targets (no target actor), a tanh-Gaussian
actor (:func:`squashed_gaussian`) and a learned temperature ``α``. One update, per minibatch:

    y = r + γ (1 − d) [min_j Q̄_j(s', a') − α log π(a' | s')],   a' ~ π(· | s') (reparameterised)
    critic:  Σ_i mean (Q_i(s, a) − y)²            (sac; Sobolev loss for sobolev-sac)
    actor:   mean [α log π(a | s) − min_j Q_j(s, a)],  a ~ π(· | s), with the updated critics
    α:       log α descends −log α · (mean log π + target entropy),  target entropy −|A|

then ``Q̄ ← (1 − τ) Q̄ + τ Q``. Sobolev-SAC differentiates the soft target along the same path
(the policy noise ``ξ`` and ``α`` held fixed; the derivative sources and the loss are
:mod:`agents.sobolev_td`'s).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from agents.agent import Agent, EnvInfo
from agents.common import ActorSpec, actor_from_info, critic_value, init_twin_critics, polyak
from agents.networks import Params, mlp_apply, mlp_init
from agents.options import check_fields, hyperparameters
from agents.sobolev_td import (
    DerivativeSource,
    check_grad_normalization,
    derivative_source,
    twin_critics_sobolev_loss,
    twin_min_critic,
)
from sobolev_core import SobolevTarget, sobolev_target

__all__ = [
    "SACConfig",
    "SACState",
    "SobolevSACConfig",
    "make_sac_agent",
    "make_sobolev_sac_agent",
    "sac_actor_loss",
    "sac_target",
    "squashed_gaussian",
]

_LOG_STD_MIN, _LOG_STD_MAX = -20.0, 2.0  # Haarnoja et al.'s reference code


@dataclass(frozen=True)
class SACConfig:
    """SAC's hyperparameters: Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and
    Applications" (arXiv 1812.05905), Table 1: Adam 3e-4 for all networks, γ = 0.99, buffer
    10⁶, two hidden layers of 256 ReLU units, minibatch 256, target entropy ``−|A|``,
    ``τ = 0.005``, one gradient step per env step, targets updated every step.

    Ours (not in that table): ``start_steps`` 10 000 uniform random steps (Spinning Up's
    default), ``init_alpha`` 1 (``log α = 0``, as the authors' code), ``log σ`` clipped to
    ``[−20, 2]`` (the authors' code).
    """

    hidden: tuple[int, ...] = (256, 256)
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    buffer_size: int = 1_000_000
    start_steps: int = 10_000
    updates_per_step: int = 1
    init_alpha: float = 1.0

    def check(self) -> None:
        check_fields(self)  # counts >= 1 (start_steps >= 0), init_alpha > 0, gamma, tau


@dataclass(frozen=True)
class SobolevSACConfig(SACConfig):
    """SAC's hyperparameters plus ``lambda_s``, ``lambda_a``, ``grad_normalization``,
    ``fd_eps`` (as :class:`agents.sobolev_td.SobolevTD3Config`)."""

    lambda_s: float = 1.0
    lambda_a: float = 1.0
    grad_normalization: str = "bounded"
    fd_eps: float = 1e-6

    def check(self) -> None:
        super().check()  # check_fields: lambda_s, lambda_a >= 0, fd_eps > 0, all finite
        check_grad_normalization(self)


# ----------------------------------------------------------------------------- SAC


class SACState(NamedTuple):
    """SAC's parameters (no target actor), temperature and optimiser states."""

    actor: Params
    critic: tuple[Params, Params]
    critic_target: tuple[Params, Params]
    log_alpha: jax.Array
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    step: jax.Array


def squashed_gaussian(params: Params, obs, noise, scale, offset):
    """Reparameterised tanh-Gaussian sample and its log-density, one example.

        u = μ(s) + σ(s) ξ,   a = offset + scale · tanh(u),
        log π(a|s) = Σ_i [ −ξ_i²/2 − log σ_i − log(2π)/2 − log(1 − tanh² u_i) − log scale_i ]

    with ``log(1 − tanh² u) = 2 (log 2 − u − softplus(−2u))`` (stable) and ``log σ`` clipped to
    ``[−20, 2]``. ``noise = 0`` gives the deterministic action ``offset + scale·tanh(μ)``.
    """
    out = mlp_apply(params, obs)
    mean, log_std = jnp.split(out, 2, axis=-1)
    log_std = jnp.clip(log_std, _LOG_STD_MIN, _LOG_STD_MAX)
    pre_tanh = mean + jnp.exp(log_std) * noise
    action = offset + scale * jnp.tanh(pre_tanh)
    log_det = 2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))
    log_prob = jnp.sum(
        -0.5 * noise**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi) - log_det - jnp.log(scale)
    )
    return action, log_prob


def _sample(spec: ActorSpec, actor_params: Params, obs, noise):
    return squashed_gaussian(actor_params, obs, noise, spec.scale, spec.offset)


def sac_target(
    state: SACState,
    alpha: jax.Array,
    item: dict,
    key: jax.Array,
    *,
    spec: ActorSpec,
    source: DerivativeSource | None,
    gamma: float,
) -> SobolevTarget:
    """One transition's soft target ``y = r + γ (1 − d) V̄(s')`` and, when ``source`` is
    given, its derivatives (module docstring); ``key`` draws the policy noise ``ξ``.

    ``V̄(s') = min_j Q̄_j(s', a'(s')) − α log π(a'(s')|s')`` with the current actor, ``ξ`` and
    ``α`` fixed. Without ``source`` only the value is computed (plain SAC), from the stored
    ``next_obs``.
    """
    noise = jax.random.normal(key, jnp.shape(spec.offset))

    def policy(next_obs):
        return _sample(spec, state.actor, next_obs, noise)[0]

    def critic(next_obs, next_action, critic_noise=None):
        del critic_noise
        log_prob = _sample(spec, state.actor, next_obs, noise)[1]
        return twin_min_critic(state.critic_target)(next_obs, next_action) - alpha * log_prob

    if source is None:
        next_obs = item["next_obs"]
        value = item["reward"] + gamma * (1.0 - item["terminated"]) * critic(
            next_obs, policy(next_obs)
        )
        return SobolevTarget(value, None, None)
    transition, env_noise = source.transition(item)
    return sobolev_target(
        critic,
        policy,
        transition,
        item["obs"],
        item["action"],
        env_noise,
        None,
        item["terminated"],
        gamma,
    )


def sac_actor_loss(actor_params: Params, critic, alpha, obs, key, *, spec: ActorSpec):
    """SAC's policy loss ``mean_s [α log π(a|s) − min_j Q_j(s, a)]``, ``a`` reparameterised;
    ``obs (B, n)``. Returns the loss and the ``(B,)`` log-densities."""
    noise = jax.random.normal(key, (obs.shape[0], *jnp.shape(spec.offset)))
    actions, log_probs = jax.vmap(_sample, in_axes=(None, None, 0, 0))(
        spec, actor_params, obs, noise
    )
    q = jax.vmap(twin_min_critic(critic))(obs, actions)
    return jnp.mean(alpha * log_probs - q), log_probs


def _make_sac(info: EnvInfo, hyper: SACConfig, *, sobolev: bool) -> Agent:
    spec = actor_from_info(info.action_low, info.action_high)
    m = info.action_dim
    target_entropy = -float(m)
    source = derivative_source(info, fd_eps=hyper.fd_eps, algo="sobolev-sac") if sobolev else None
    actor_optimizer = optax.adam(hyper.actor_lr)
    critic_optimizer = optax.adam(hyper.critic_lr)
    alpha_optimizer = optax.adam(hyper.alpha_lr)

    sample = functools.partial(_sample, spec)

    def init(key) -> SACState:
        actor_key, critic_key = jax.random.split(key)
        actor_params = mlp_init(actor_key, (info.obs_dim, *hyper.hidden, 2 * m))
        critic = init_twin_critics(critic_key, (info.obs_dim + m, *hyper.hidden, 1))
        log_alpha = jnp.asarray(math.log(hyper.init_alpha), jnp.float32)
        return SACState(
            actor=actor_params,
            critic=critic,
            critic_target=critic,
            log_alpha=log_alpha,
            actor_opt=actor_optimizer.init(actor_params),
            critic_opt=critic_optimizer.init(critic),
            alpha_opt=alpha_optimizer.init(log_alpha),
            step=jnp.zeros((), jnp.int32),
        )

    td_target = functools.partial(sac_target, spec=spec, source=source, gamma=hyper.gamma)

    def critic_loss(critic, state: SACState, minibatch, key):
        alpha = jnp.exp(state.log_alpha)
        keys = jax.random.split(key, minibatch["obs"].shape[0])
        targets = jax.lax.stop_gradient(
            jax.vmap(td_target, in_axes=(None, None, 0, 0))(state, alpha, minibatch, keys)
        )
        if source is None:

            def squared_errors(params):
                q = jax.vmap(critic_value, in_axes=(None, 0, 0))(
                    params, minibatch["obs"], minibatch["action"]
                )
                return jnp.mean((q - targets.value) ** 2)

            loss = squared_errors(critic[0]) + squared_errors(critic[1])
            return loss, {"q_mean": jnp.mean(targets.value)}
        loss, diagnostics = twin_critics_sobolev_loss(
            critic,
            minibatch["obs"],
            minibatch["action"],
            targets,
            lambda_s=hyper.lambda_s,
            lambda_a=hyper.lambda_a,
            normalization=hyper.grad_normalization,
        )
        return loss, {"q_mean": jnp.mean(targets.value), **diagnostics}

    actor_loss = functools.partial(sac_actor_loss, spec=spec)

    def one_step(state: SACState, inputs):
        minibatch, key = inputs
        critic_key, actor_key = jax.random.split(key)
        (loss, losses), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic, state, minibatch, critic_key
        )
        updates, critic_opt = critic_optimizer.update(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)
        losses = {**losses, "critic": loss}

        alpha = jnp.exp(state.log_alpha)
        (actor_value, log_probs), grads = jax.value_and_grad(actor_loss, has_aux=True)(
            state.actor, critic, alpha, minibatch["obs"], actor_key
        )
        updates, actor_opt = actor_optimizer.update(grads, state.actor_opt, state.actor)
        actor_params = optax.apply_updates(state.actor, updates)

        entropy_gap = jax.lax.stop_gradient(jnp.mean(log_probs) + target_entropy)
        alpha_loss, alpha_grad = jax.value_and_grad(lambda log_a: -log_a * entropy_gap)(
            state.log_alpha
        )
        updates, alpha_opt = alpha_optimizer.update(alpha_grad, state.alpha_opt, state.log_alpha)
        log_alpha = optax.apply_updates(state.log_alpha, updates)
        losses.update(
            actor=actor_value, alpha=alpha, alpha_loss=alpha_loss, entropy=-jnp.mean(log_probs)
        )
        state = SACState(
            actor=actor_params,
            critic=critic,
            critic_target=polyak(state.critic_target, critic, hyper.tau),
            log_alpha=log_alpha,
            actor_opt=actor_opt,
            critic_opt=critic_opt,
            alpha_opt=alpha_opt,
            step=state.step + 1,
        )
        return state, losses

    @jax.jit
    def update(state: SACState, batch: dict, key: jax.Array):
        keys = jax.random.split(key, batch["obs"].shape[0])
        state, losses = jax.lax.scan(one_step, state, (batch, keys))
        return state, {name: jnp.mean(values) for name, values in losses.items()}

    def explore(state: SACState, obs, key):
        return sample(state.actor, obs, jax.random.normal(key, (m,)))[0]

    def act(state: SACState, obs):
        return sample(state.actor, obs, jnp.zeros((m,)))[0]

    return Agent(
        hyper=hyper,
        init=init,
        explore=jax.jit(explore),
        act=jax.jit(act),
        update=update,
        extra_fields=source.extra_fields if source else {},
        extras=source.extras if source else None,
        info_fields=source.info_fields if source else (),
    )


def make_sac_agent(info: EnvInfo, options: dict) -> Agent:
    """SAC's :class:`~agents.agent.Agent` for ``info`` with ``options`` applied."""
    return _make_sac(info, hyperparameters(SACConfig, options), sobolev=False)


def make_sobolev_sac_agent(info: EnvInfo, options: dict) -> Agent:
    """Sobolev-SAC's :class:`~agents.agent.Agent` for ``info`` with ``options`` applied."""
    return _make_sac(info, hyperparameters(SobolevSACConfig, options), sobolev=True)
