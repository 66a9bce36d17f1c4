"""MAGE (D'Oro and Jaśkowski 2020): TD3 whose critic learns action-gradients from a model.

An ensemble of ``E`` Gaussian models predicts the state delta (and, where the reward is not
known as a JAX function of the observation, the reward):

    (Δŝ, r̂) ~ N(μ_e(s, a), diag σ_e²(s, a)),   ŝ' = s + Δŝ,   e ~ U{1..E}

trained by Gaussian negative log-likelihood on replay minibatches. The critic is trained on
one-step *imagined* transitions from replay states ``s`` with actions ``a = π(s) + noise``:

    y(s, a) = r(s, a) + γ (1 − d) min_j Q̄_j(ŝ', π̄(ŝ')),   ŝ' = s + μ_e(s, a) + σ_e(s, a) ε
    L_i = Huber(Q_i(s, a) − y) + w · Huber(‖∇_a Q_i(s, a) − ∇_a y‖)

with ``∇_a y`` the pathwise derivative through the sampled model, the target policy and the
target critic (``sobolev_core.sobolev_target``) and the loss ``sobolev_core.
huber_sobolev_loss``. ``d`` is the replay transition's terminal flag. The actor is TD3's.

Defaults from the MAGE paper (docs/agents.md): 8 models of 4×512 swish layers, ``w = 5``, 10
updates per env step. The reward is the env's JAX function of the observation where there is
one (point mass, pendulum, toy-1d, lq); the Gymnasium MuJoCo rewards depend on the x position,
which the observation leaves out, so there the ensemble also predicts the reward.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

from agents.agent import Agent, EnvInfo
from agents.common import (
    ActorCriticState,
    actor_from_info,
    critic_value,
    deterministic_agent,
    exploration_action,
    init_state,
)
from agents.networks import mlp_apply, mlp_init
from agents.options import check_fields, hyperparameters
from sobolev_core import huber_sobolev_loss, sobolev_target

__all__ = ["MAGEConfig", "make_agent"]

_LOG_STD_MIN, _LOG_STD_MAX = -10.0, 0.5


@dataclass(frozen=True)
class MAGEConfig:
    """MAGE's hyperparameters (defaults from the paper where it gives them)."""

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
    policy_noise: float = 0.2
    exploration_noise: float = 0.1
    ensemble_size: int = 8
    model_hidden: tuple[int, ...] = (512, 512, 512, 512)
    gradient_weight: float = 5.0
    huber_delta: float = 1.0

    def check(self) -> None:
        check_fields(self)  # counts >= 1 (start_steps >= 0), finite rates, gamma, tau


def make_agent(info: EnvInfo, options: dict) -> Agent:
    """MAGE's :class:`~agents.agent.Agent` for ``info`` with ``options`` applied."""
    hyper = hyperparameters(MAGEConfig, options)
    actor = actor_from_info(info.action_low, info.action_high)
    actor_optimizer = optax.adam(hyper.actor_lr)
    critic_optimizer = optax.adam(hyper.critic_lr)
    model_optimizer = optax.adam(hyper.model_lr)
    known_reward = info.diff_model is not None
    out_dim = info.obs_dim + (0 if known_reward else 1)
    sizes = (info.obs_dim + info.action_dim, *hyper.model_hidden, 2 * out_dim)

    def member(params, obs, action):
        """Mean and log-std of ``(Δs[, r])`` under one ensemble member."""
        out = mlp_apply(params, jnp.concatenate([obs, action]), act="swish")
        mean, raw = out[:out_dim], out[out_dim:]
        log_std = _LOG_STD_MAX - jax.nn.softplus(_LOG_STD_MAX - raw)
        log_std = _LOG_STD_MIN + jax.nn.softplus(log_std - _LOG_STD_MIN)
        return mean, log_std

    def reward_of(obs, action, model_reward):
        if known_reward:
            zero_noise = jnp.zeros((info.diff_model.noise_dim,))
            return info.diff_model.transition(obs, action, zero_noise)[1]
        return model_reward

    def init(key):
        agent_key, model_key = jax.random.split(key)
        model_params = jax.vmap(lambda k: mlp_init(k, sizes))(
            jax.random.split(model_key, hyper.ensemble_size)
        )
        return init_state(
            agent_key,
            hyper,
            info,
            actor_optimizer,
            critic_optimizer,
            extra=(model_params, model_optimizer.init(model_params)),
        )

    def model_update(state: ActorCriticState, minibatch, key):
        del key
        model_params, model_opt = state.extra
        delta = minibatch["next_obs"] - minibatch["obs"]
        target = (
            delta if known_reward else jnp.concatenate([delta, minibatch["reward"][:, None]], 1)
        )

        def nll(params):
            def one_member(member_params):
                mean, log_std = jax.vmap(member, in_axes=(None, 0, 0))(
                    member_params, minibatch["obs"], minibatch["action"]
                )
                return jnp.mean(
                    jnp.sum(((target - mean) / jnp.exp(log_std)) ** 2 / 2 + log_std, -1)
                )

            return jnp.sum(jax.vmap(one_member)(params))

        value, grads = jax.value_and_grad(nll)(model_params)
        updates, model_opt = model_optimizer.update(grads, model_opt, model_params)
        losses = {"model": value / hyper.ensemble_size}
        return (optax.apply_updates(model_params, updates), model_opt), losses

    def imagined_target(state: ActorCriticState, obs, action, terminated, key):
        member_key, noise_key, smooth_key = jax.random.split(key, 3)
        index = jax.random.randint(member_key, (), 0, hyper.ensemble_size)
        params = jax.tree.map(lambda leaf: leaf[index], jax.lax.stop_gradient(state.extra[0]))
        noise = jax.random.normal(noise_key, (out_dim,))
        smoothing = jnp.clip(
            hyper.policy_noise * jax.random.normal(smooth_key, actor.offset.shape), -0.5, 0.5
        )

        def transition(obs_in, action_in, epsilon):
            mean, log_std = member(params, obs_in, action_in)
            sample = mean + jnp.exp(log_std) * epsilon
            next_obs = obs_in + sample[: info.obs_dim]
            model_reward = None if known_reward else sample[info.obs_dim]
            return next_obs, reward_of(obs_in, action_in, model_reward)

        def critic(next_obs, next_action, _):
            return jnp.minimum(
                critic_value(state.critic_target[0], next_obs, next_action),
                critic_value(state.critic_target[1], next_obs, next_action),
            )

        def policy(next_obs):  # TD3's target smoothing, a constant shift of the target action
            action_next = actor.apply(state.actor_target, next_obs) + smoothing * actor.scale
            return jnp.clip(action_next, actor.low, actor.high)

        return sobolev_target(
            critic,
            policy,
            transition,
            obs,
            action,
            noise,
            None,
            terminated,
            hyper.gamma,
            complete=False,
        )

    def critic_loss(critic, state, minibatch, key):
        batch = minibatch["obs"].shape[0]
        action_key, target_key = jax.random.split(key)
        actions = jax.vmap(
            lambda obs, k: exploration_action(actor, state.actor, obs, k, hyper.exploration_noise)
        )(minibatch["obs"], jax.random.split(action_key, batch))
        actions = jax.lax.stop_gradient(actions)
        targets = jax.lax.stop_gradient(
            jax.vmap(imagined_target, in_axes=(None, 0, 0, 0, 0))(
                state,
                minibatch["obs"],
                actions,
                minibatch["terminated"],
                jax.random.split(target_key, batch),
            )
        )

        def per_critic(params):
            q, dq_da = jax.vmap(jax.value_and_grad(critic_value, argnums=2), in_axes=(None, 0, 0))(
                params, minibatch["obs"], actions
            )
            losses = jax.vmap(
                lambda q_, dq_, y_, dy_: huber_sobolev_loss(
                    q_, dq_, y_, dy_, weight=hyper.gradient_weight, delta=hyper.huber_delta
                )
            )(q, dq_da, targets.value, targets.grad_action)
            return jnp.mean(losses)

        loss = per_critic(critic[0]) + per_critic(critic[1])
        return loss, {"q_mean": jnp.mean(targets.value)}

    return deterministic_agent(
        hyper,
        actor,
        init,
        actor_optimizer=actor_optimizer,
        critic_optimizer=critic_optimizer,
        critic_loss=critic_loss,
        extra_update=model_update,
    )
