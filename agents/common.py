"""The TD3-family assembly every deterministic-actor agent shares (TD3, MAGE, DSDPG, Sobolev-TD3).

All of them keep a tanh actor, twin critics, target copies updated by Polyak averaging, and a
delayed actor update (TD3, Fujimoto et al. 2018). They differ in the critic loss and the
actor's objective, which each algorithm passes to :func:`deterministic_agent` (through
:func:`make_update`; the update runs ``updates_per_step`` steps inside one ``lax.scan``);
:func:`init_state` builds their parameters. SAC (:mod:`agents.sac`) shares the critic, the
action box and the Polyak update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from agents.agent import Agent, EnvInfo
from agents.networks import Params, actor_apply, mlp_apply, mlp_init

__all__ = [
    "ActorCriticState",
    "actor_from_info",
    "critic_value",
    "deterministic_agent",
    "exploration_action",
    "first_critic_value",
    "init_state",
    "init_twin_critics",
    "make_update",
    "polyak",
    "smoothed_target_action",
]


class ActorCriticState(NamedTuple):
    """Parameters, targets and optimiser states; ``extra`` holds what an algorithm adds.

    ``critic`` and ``critic_target`` are pairs (the twin critics); ``step`` counts updates.
    """

    actor: Params
    actor_target: Params
    critic: tuple[Params, Params]
    critic_target: tuple[Params, Params]
    actor_opt: Any
    critic_opt: Any
    step: jax.Array
    extra: Any = None


class ActorSpec(NamedTuple):
    """The actor's action box: ``π(s) = offset + scale · tanh(MLP(s))``."""

    scale: jax.Array
    offset: jax.Array
    low: jax.Array
    high: jax.Array

    def apply(self, params: Params, obs: jax.Array) -> jax.Array:
        return actor_apply(params, obs, self.scale, self.offset)


def actor_from_info(action_low: np.ndarray, action_high: np.ndarray) -> ActorSpec:
    low = jnp.asarray(action_low, dtype=jnp.float32)
    high = jnp.asarray(action_high, dtype=jnp.float32)
    return ActorSpec(scale=(high - low) / 2, offset=(high + low) / 2, low=low, high=high)


def critic_value(params: Params, obs: jax.Array, action: jax.Array) -> jax.Array:
    """``Q(s, a)``: an MLP on the concatenation ``(s, a)``, one example, scalar out."""
    return mlp_apply(params, jnp.concatenate([obs, action], axis=-1))[..., 0]


def polyak(target: Any, online: Any, tau: float) -> Any:
    """``θ̄ ← (1 − τ) θ̄ + τ θ`` leaf by leaf."""
    return jax.tree.map(lambda old, new: (1.0 - tau) * old + tau * new, target, online)


def smoothed_target_action(
    actor: ActorSpec,
    actor_target: Params,
    next_obs: jax.Array,
    key: jax.Array,
    *,
    noise: float,
    noise_clip: float,
) -> jax.Array:
    """TD3's target policy smoothing: ``clip(π̄(s') + clip(σε, −c, c) · scale, low, high)``.

    The noise is relative to the action box's half-width (``scale``), as in TD3 with
    actions in ``[−1, 1]``.
    """
    epsilon = jnp.clip(
        noise * jax.random.normal(key, jnp.shape(actor.offset)), -noise_clip, noise_clip
    )
    action = actor.apply(actor_target, next_obs) + epsilon * actor.scale
    return jnp.clip(action, actor.low, actor.high)


def init_twin_critics(key: jax.Array, sizes: tuple[int, ...]) -> tuple[Params, Params]:
    first, second = jax.random.split(key)
    return (mlp_init(first, sizes), mlp_init(second, sizes))


CriticLoss = Callable[[tuple[Params, Params], ActorCriticState, dict, jax.Array], tuple]
ActorValue = Callable[[tuple[Params, Params], jax.Array, jax.Array, jax.Array], jax.Array]
ExtraUpdate = Callable[[ActorCriticState, dict, jax.Array], tuple[Any, dict]]


def make_update(
    *,
    actor: ActorSpec,
    actor_optimizer: optax.GradientTransformation,
    critic_optimizer: optax.GradientTransformation,
    critic_loss: CriticLoss,
    actor_value: ActorValue,
    policy_delay: int,
    tau: float,
    extra_update: ExtraUpdate | None = None,
) -> Callable[[ActorCriticState, dict, jax.Array], tuple[ActorCriticState, dict]]:
    """A jitted ``update(state, batch, key)`` running one TD3-style step per leading batch row.

    One step: (optionally) ``extra_update`` (e.g. a world-model step) → a critic step on
    ``critic_loss(critic, state, minibatch, key) -> (loss, losses_dict)`` (mean over the
    minibatch) → every ``policy_delay`` steps an actor step ascending
    ``actor_value(critic, obs, action, key)`` (one example, vmapped and averaged) and the
    Polyak update of all targets.
    """

    def actor_loss(actor_params, critic, obs, key):
        actions = jax.vmap(lambda o: actor.apply(actor_params, o))(obs)
        keys = jax.random.split(key, obs.shape[0])
        return -jnp.mean(jax.vmap(actor_value, in_axes=(None, 0, 0, 0))(critic, obs, actions, keys))

    def one_step(state: ActorCriticState, inputs):
        minibatch, key = inputs
        model_key, critic_key, actor_key = jax.random.split(key, 3)
        losses = {}
        if extra_update is not None:
            extra, model_losses = extra_update(state, minibatch, model_key)
            state = state._replace(extra=extra)
            losses.update(model_losses)
        (loss, critic_losses), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic, state, minibatch, critic_key
        )
        updates, critic_opt = critic_optimizer.update(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)
        losses.update(critic_losses)
        losses["critic"] = loss
        state = state._replace(critic=critic, critic_opt=critic_opt, step=state.step + 1)

        def with_actor(state: ActorCriticState):
            value, grads = jax.value_and_grad(actor_loss)(
                state.actor, state.critic, minibatch["obs"], actor_key
            )
            updates, actor_opt = actor_optimizer.update(grads, state.actor_opt, state.actor)
            actor_params = optax.apply_updates(state.actor, updates)
            state = state._replace(
                actor=actor_params,
                actor_opt=actor_opt,
                actor_target=polyak(state.actor_target, actor_params, tau),
                critic_target=polyak(state.critic_target, state.critic, tau),
            )
            return state, value

        def without_actor(state: ActorCriticState):  # the objective is still reported
            return state, actor_loss(state.actor, state.critic, minibatch["obs"], actor_key)

        state, actor_loss_value = jax.lax.cond(
            state.step % policy_delay == 0, with_actor, without_actor, state
        )
        losses["actor"] = actor_loss_value
        return state, losses

    @jax.jit
    def update(state: ActorCriticState, batch: dict, key: jax.Array):
        rows = batch["obs"].shape[0]
        keys = jax.random.split(key, rows)
        if rows == 1:  # the same step without the scan around it (5-7% faster for DSDPG)
            first = jax.tree.map(lambda leaf: leaf[0], (batch, keys))
            return one_step(state, first)
        state, losses = jax.lax.scan(one_step, state, (batch, keys))
        return state, {name: jnp.mean(values) for name, values in losses.items()}

    return update


# ----------------------------------------------------------------------------- the assembly


def exploration_action(actor, actor_params, obs, key, sigma: float):
    """``clip(π(s) + σ · scale · ε, low, high)``: Gaussian exploration in the action box."""
    action = actor.apply(actor_params, obs) + sigma * actor.scale * jax.random.normal(
        key, jnp.shape(actor.offset)
    )
    return jnp.clip(action, actor.low, actor.high)


def first_critic_value(critic, obs, action, key):
    """TD3's actor objective ``Q_1(s, a)`` (``key`` unused)."""
    del key
    return critic_value(critic[0], obs, action)


def deterministic_agent(
    hyper,
    actor,
    init,
    *,
    actor_optimizer,
    critic_optimizer,
    critic_loss,
    actor_value=first_critic_value,
    extra_update=None,
    **agent_fields,
) -> Agent:
    """The :class:`~agents.agent.Agent` of a TD3-style algorithm from its critic loss and
    actor objective.

    The update is :func:`make_update`; exploration adds TD3's Gaussian noise
    (``hyper.exploration_noise``); evaluation acts with the deterministic actor.
    ``agent_fields`` (``extra_fields``, ``extras``, ``info_fields``) pass through.
    """
    update = make_update(
        actor=actor,
        actor_optimizer=actor_optimizer,
        critic_optimizer=critic_optimizer,
        critic_loss=critic_loss,
        actor_value=actor_value,
        policy_delay=hyper.policy_delay,
        tau=hyper.tau,
        extra_update=extra_update,
    )
    return Agent(
        hyper=hyper,
        init=init,
        explore=jax.jit(
            lambda state, obs, key: exploration_action(
                actor, state.actor, obs, key, hyper.exploration_noise
            )
        ),
        act=jax.jit(lambda state, obs: actor.apply(state.actor, obs)),
        update=update,
        **agent_fields,
    )


def init_state(key, hyper, info: EnvInfo, actor_optimizer, critic_optimizer, extra=None):
    """Actor, twin critics on ``(s, a)``, their copies and optimiser states."""
    actor_key, critic_key = jax.random.split(key)
    actor_params = mlp_init(actor_key, (info.obs_dim, *hyper.hidden, info.action_dim))
    critic = init_twin_critics(critic_key, (info.obs_dim + info.action_dim, *hyper.hidden, 1))
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
