"""First-order Sobolev TD ([FS], docs/agents.md) on top of TD3 and SAC: Sobolev-TD3, and the
parts Sobolev-SAC shares with it (the derivative sources, the critic loss on the twin critics).

Algorithms (``--algo``):

- ``sobolev-td3`` (here): TD3 (:mod:`agents.td3`) with the critic loss replaced by the Sobolev
  loss; ``td3`` is its value-only baseline;
- ``sobolev-sac`` (:mod:`agents.sac`): SAC with the Sobolev critic loss; ``sac`` (the same
  module) is its baseline.

**Critic loss** (``sobolev_core.sobolev_critic_loss``, mean over the minibatch, summed over the
twin critics ``i``):

    L_i = (Q_i − y)² + w_s ‖∇_s Q_i − g_s‖² + w_a ‖∇_a Q_i − g_a‖²,

with the target and its derivatives from ``sobolev_core.sobolev_target`` — the pathwise
derivatives of

    y(s, a) = r(s, a, ε) + γ (1 − d) V̄(f(s, a, ε))

with the env noise ``ε`` of the stored transition, the target networks and the policy noise
held fixed (docs/math.md#operator: ``g_s = ∂_s r + γ F_sᵀ c``, ``g_a = ∂_a r + γ F_aᵀ c``):

    TD3:  V̄(s') = min_j Q̄_j(s', ã'(s')),  ã'(s') = clip(π̄(s') + clip(σ ξ, −c, c)·scale, lo, hi)
          (the smoothing noise is additive, so it is a constant of the derivative);
    SAC:  V̄(s') = min_j Q̄_j(s', a'(s')) − α log π(a'(s') | s'),
          a'(s') = offset + scale · tanh(μ(s') + σ(s') ξ)  (reparameterised, ξ fixed; the
          −α log π term is differentiated along the same path, α held fixed).

Terminal transitions (``d = 1``) keep only the reward and its derivatives; time-limit
truncations bootstrap (``d = 0``). With ``λ_s = λ_a = 0`` the loss is exactly the host
algorithm's value-only TD loss (tested against :mod:`agents.td3`).

**Value anchor.** The value ``y`` is always the one of the STORED transition: the model's
next observation and reward are shifted by the stop-gradient constant ``stored − model(s₀,
a₀, ε)``. Without env noise wrappers that constant is float32 rounding; with them (obs or
dynamics noise, which the models do not describe) the value target stays the host
algorithm's and only the derivatives come from the noise-free model.

**Derivative sources.**

- JAX envs (``pendulum``, ``toy-1d``, ``lq``) and ``point-mass:N``: ``info.diff_model``, with
  the step's noise ``ε`` stored in the replay buffer (field ``noise``, only when the model
  has noise, ``noise_dim > 0``);
- Gymnasium MuJoCo envs of ``agents.mujoco_rewards.REWARD_ENV_IDS``: central finite
  differences of the whole env step (:func:`agents.mujoco_rewards.obs_step_jacobians`, step
  ``fd_eps``), computed before each env step and stored (``jac_obs (n, n)``, ``jac_act (n,
  m)``, ``dr_dobs (n,)``, ``dr_da (m,)``). The transition given to ``sobolev_target`` is the
  linearisation ``s' = s'₀ + J_s (s − s₀) + J_a (a − a₀)``, ``r = r₀ + ∂_s r·(s − s₀) + ∂_a r·(a
  − a₀)``, so autodiff returns exactly the finite-difference Jacobians. Memory: the buffer
  holds ``4 (n² + nm + n + m)`` extra bytes per transition (Ant, n = 27: ~3.9 GB for 10⁶);
  cost: ``2 (n_tangent + m)`` extra env steps per env step.

**Gradient-term weights** ``w_s, w_a`` (option ``grad_normalization``; the factors are
stop-gradient statistics of the minibatch's targets):

    none      w_s = λ_s,  w_a = λ_a                 (λ_s carries units [s]², λ_a [a]²)
    batch     w = λ / (mean ‖g‖² + 1e-6), per block (each gradient error relative to its
                                                    own block's size; the value error stays
                                                    absolute)
    relative  w = λ c, c = (var y + 1e-6) / (mean ‖g_s‖² + mean ‖g_a‖² + 1e-6), one factor
              for both blocks (the whole gradient error relative to the whole gradient's
              size, traded against the value error relative to the values' spread)
    bounded   w = λ min(c, tr var s + tr var a): ``relative`` capped by the spread of the
              minibatch's inputs (``sobolev_core.gradient_weights``)

Defaults: ``λ_s = λ_a = 1`` with ``bounded``. Why. The squared value error is in units of
``Q²`` and a gradient error in ``Q²/[s]²`` or ``Q²/[a]²``, so a raw λ (``none``) means a
different trade-off in every env and at every reward scale (Pendulum's targets are ~10³
times the 1-D toy's). ``relative`` is invariant to rescaling the reward (values and
gradients by ``c``: the weights do not change, the loss scales by ``c²``) and to adding a
constant to it (variance, not second moment). It uses ONE factor for both blocks because
per-block factors (``batch``, and a per-block variant of ``relative`` we tried) inflate
whichever block is small in absolute terms — on Pendulum ``w_a`` reached ~900 — and make
the critic chase the relative error of nearly-zero action gradients. Measured on the LQ
policy-evaluation check of :mod:`verify.fs_claims` (ReLU MLP critic, 128 transitions, 4
seeds, 1500 updates, final relative value / gradient error against ``exact_q``):
value-only 0.185 / 0.268; ``none`` λ = 1: 0.127 / 0.195; ``relative`` λ = 1: 0.136 / 0.210
(λ = 0.1: 0.165 / 0.239, λ = 10: 0.182 / 0.239); ``batch`` λ = 1: 0.175 / 0.261; the
per-block variant: 0.236 / 0.336. ``relative`` matches ``none`` where the units happen to
be O(1) and stays meaningful where they are not. It is our choice: [FS] states no
normalisation in its public text.

Why the cap (``bounded``, the default since issue 12). ``c`` has no upper bound: when the
targets' gradients vanish it grows without limit, and in a bootstrapped critic they do — on
InvertedPendulum-v5 the reward is constant, so ``g`` comes only from the target critic's
gradients and is 0 on terminal rows; as the critic flattens, ``c`` rises, which flattens it
further. Measured (Sobolev-TD3, FD derivatives, 8k steps, 10 seeds, 64-64, batch 128):
with ``relative`` ``c`` rose from 2.4 to 6.6·10⁴, the gradient errors fell to 1e-4 while
the value error grew, the actor lost its signal and 8 of 10 seeds collapsed (final IQM 3.8
against TD3's 59.7); with ``bounded`` ``c`` stays 1.2–4.2, no seed collapses (IQM 45.8,
Δ vs TD3 −13.9 [−32.0, 3.5]); ``none`` gives 56.4 and ``lambda_s = 0`` 59.7 (README, C6).
``γ`` ∈ {0.9, 0.95} did not help (2 and 3 of 3 collapsed). The cap ``tr var (s, a)`` is the
factor at which a gradient error of the targets' natural size ``std y / std (s, a)`` weighs
as much as a value error of ``std y``; it keeps the reward-scale invariance. Where the cap
does not bind ``bounded`` equals ``relative`` exactly (the LQ figures above).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import sobolev_core
from agents.agent import Agent, EnvInfo
from agents.common import (
    ActorCriticState,
    ActorSpec,
    actor_from_info,
    critic_value,
    deterministic_agent,
    init_state,
    smoothed_target_action,
)
from agents.networks import Params
from agents.options import hyperparameters
from agents.td3 import TD3Config
from sobolev_core import GRAD_NORMALIZATIONS, SobolevTarget, sobolev_target

__all__ = [
    "GRAD_NORMALIZATIONS",
    "DerivativeSource",
    "SobolevTD3Config",
    "check_grad_normalization",
    "derivative_source",
    "make_agent",
    "td3_target",
    "twin_critics_sobolev_loss",
    "twin_min_critic",
]


def check_grad_normalization(hyper) -> None:
    """``ValueError`` unless ``hyper.grad_normalization`` is one of :data:`GRAD_NORMALIZATIONS`
    (the Sobolev options' ranges are :func:`agents.options.check_fields`')."""
    if hyper.grad_normalization not in GRAD_NORMALIZATIONS:
        raise ValueError(
            f"option 'grad_normalization' must be one of {', '.join(GRAD_NORMALIZATIONS)}; "
            f"got {hyper.grad_normalization!r}"
        )


@dataclass(frozen=True)
class SobolevTD3Config(TD3Config):
    """TD3's hyperparameters (:class:`agents.td3.TD3Config`) plus the Sobolev ones.

    Attributes (besides TD3's):
      lambda_s: weight ``λ_s`` of the state-gradient error (0 drops it).
      lambda_a: weight ``λ_a`` of the action-gradient error (0 drops it).
      grad_normalization: ``none``, ``batch``, ``relative`` or ``bounded`` (module docstring).
      fd_eps: finite-difference step of the MuJoCo derivative source.
    """

    lambda_s: float = 1.0
    lambda_a: float = 1.0
    grad_normalization: str = "bounded"
    fd_eps: float = 1e-6

    def check(self) -> None:
        super().check()  # check_fields: lambda_s, lambda_a >= 0, fd_eps > 0, all finite
        check_grad_normalization(self)


# ----------------------------------------------------------------------------- derivatives


class DerivativeSource(NamedTuple):
    """Where the env's derivatives come from, and what the replay buffer must hold for it.

    ``transition(item) -> (g, ε)``: for one stored transition, ``g(s, a, ε) -> (s', r)`` in
    observation coordinates and its noise ``ε`` (``sobolev_target``'s arguments).
    """

    transition: Callable[[dict], tuple[Callable, Any]]
    extra_fields: dict[str, tuple[int, ...]]
    extras: Callable | None
    info_fields: tuple[str, ...]


def _anchored(model, item, noise):
    """``model`` shifted by the stop-gradient constant ``stored − model(s₀, a₀, ε)``."""
    next_at, reward_at = model(item["obs"], item["action"], noise)
    next_shift = jax.lax.stop_gradient(item["next_obs"] - next_at)
    reward_shift = jax.lax.stop_gradient(item["reward"] - reward_at)

    def transition(state, action, noise_in):
        next_obs, reward = model(state, action, noise_in)
        return next_obs + next_shift, reward + reward_shift

    return transition


def _linearised(item):
    """The first-order model of the stored step around ``(s₀, a₀)`` from stored Jacobians."""

    def transition(state, action, noise):
        del noise
        delta_s, delta_a = state - item["obs"], action - item["action"]
        next_obs = item["next_obs"] + item["jac_obs"] @ delta_s + item["jac_act"] @ delta_a
        reward = item["reward"] + item["dr_dobs"] @ delta_s + item["dr_da"] @ delta_a
        return next_obs, reward

    return transition


def derivative_source(info: EnvInfo, *, fd_eps: float = 1e-6, algo: str = "sobolev-td3"):
    """The :class:`DerivativeSource` for ``info``'s env (module docstring), else ValueError."""
    model = info.diff_model
    if model is not None:
        noise_dim = int(model.noise_dim)

        def transition(item):
            noise = item["noise"] if noise_dim else jnp.zeros((0,), item["obs"].dtype)
            return _anchored(model.transition, item, noise), noise

        fields = {"noise": (noise_dim,)} if noise_dim else {}
        return DerivativeSource(transition, fields, None, ("noise",) if noise_dim else ())
    if info.is_mujoco:
        from agents.mujoco_rewards import REWARD_ENV_IDS, obs_step_jacobians

        if info.env_id not in REWARD_ENV_IDS:
            raise ValueError(
                f"{algo} needs the env's derivatives; {info.env_id} has no JAX reward "
                f"(accepted MuJoCo envs: {', '.join(REWARD_ENV_IDS)})"
            )
        n, m = info.obs_dim, info.action_dim

        def extras(training_env, obs, action):
            del obs
            jac = obs_step_jacobians(training_env.env, action, eps=fd_eps)
            return {
                "jac_obs": jac.jac_obs,
                "jac_act": jac.jac_act,
                "dr_dobs": jac.dr_dobs,
                "dr_da": jac.dr_da,
            }

        fields = {"jac_obs": (n, n), "jac_act": (n, m), "dr_dobs": (n,), "dr_da": (m,)}
        return DerivativeSource(lambda item: (_linearised(item), None), fields, extras, ())
    raise ValueError(f"{algo} needs the env's derivatives; env {info.env_id!r} provides none")


# ----------------------------------------------------------------------------- the loss


def twin_min_critic(critic_pair):
    """``(s, a[, noise]) -> min_j Q_j(s, a)`` of a pair of critic parameters."""

    def value(obs, action, noise=None):
        del noise
        return jnp.minimum(
            critic_value(critic_pair[0], obs, action), critic_value(critic_pair[1], obs, action)
        )

    return value


def twin_critics_sobolev_loss(
    critic: tuple[Params, ...],
    obs: jax.Array,
    action: jax.Array,
    target: SobolevTarget,
    *,
    lambda_s: float,
    lambda_a: float,
    normalization: str,
    value_fn: Callable[[Any, jax.Array, jax.Array], jax.Array] = critic_value,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Σ_i ``sobolev_core.sobolev_critic_loss`` of each critic of ``critic`` against ``target``.

    The autodiff glue: each critic's values and input gradients on the minibatch, then the
    array loss. ``obs (B, n)``, ``action (B, m)``, ``target`` a batch of
    :class:`SobolevTarget` (value ``(B,)``, grads ``(B, n)``, ``(B, m)``);
    ``value_fn(params, s, a) -> Q`` (one example; the agents' MLP critic by default). Returns
    the loss and diagnostics: the first critic's mean squared value and gradient errors, and
    the weights (``sobolev_core.gradient_weights``).
    """
    target = jax.lax.stop_gradient(target)
    weights = dict(
        lambda_s=lambda_s, lambda_a=lambda_a, normalization=normalization, inputs=(obs, action)
    )
    weight_s, weight_a = sobolev_core.gradient_weights(
        target.value, target.grad_state, target.grad_action, **weights
    )
    total, diagnostics = 0.0, {}
    for index, params in enumerate(critic):
        q, (dq_ds, dq_da) = jax.vmap(
            jax.value_and_grad(value_fn, argnums=(1, 2)), in_axes=(None, 0, 0)
        )(params, obs, action)
        assert q.shape == target.value.shape and dq_ds.shape == target.grad_state.shape
        total = total + sobolev_core.sobolev_critic_loss(
            q, dq_ds, dq_da, target.value, target.grad_state, target.grad_action, **weights
        )
        if index == 0:
            diagnostics = {
                "value_error": jnp.mean((q - target.value) ** 2),
                "grad_state_error": jnp.mean(jnp.sum((dq_ds - target.grad_state) ** 2, -1)),
                "grad_action_error": jnp.mean(jnp.sum((dq_da - target.grad_action) ** 2, -1)),
            }
    diagnostics["weight_s"] = jnp.asarray(weight_s, jnp.float32)
    diagnostics["weight_a"] = jnp.asarray(weight_a, jnp.float32)
    return total, diagnostics


# ----------------------------------------------------------------------------- Sobolev-TD3


def td3_target(
    state: ActorCriticState,
    item: dict,
    key: jax.Array,
    *,
    actor: ActorSpec,
    source: DerivativeSource,
    hyper: SobolevTD3Config,
) -> SobolevTarget:
    """One transition's Sobolev target through TD3's smoothed target policy.

    ``item`` holds one stored transition (``obs``, ``action``, ``reward``, ``next_obs``,
    ``terminated`` and the source's fields); ``key`` draws the smoothing noise exactly as
    :func:`agents.common.smoothed_target_action` (so the value equals TD3's target).
    """

    def policy(next_obs):  # the key is fixed, so the smoothing noise is a constant
        return smoothed_target_action(
            actor,
            state.actor_target,
            next_obs,
            key,
            noise=hyper.policy_noise,
            noise_clip=hyper.noise_clip,
        )

    transition, noise = source.transition(item)
    return sobolev_target(
        twin_min_critic(state.critic_target),
        policy,
        transition,
        item["obs"],
        item["action"],
        noise,
        None,
        item["terminated"],
        hyper.gamma,
    )


def make_agent(info: EnvInfo, options: dict) -> Agent:
    """Sobolev-TD3's :class:`~agents.agent.Agent` for ``info`` with ``options`` applied."""
    hyper = hyperparameters(SobolevTD3Config, options)
    actor = actor_from_info(info.action_low, info.action_high)
    source = derivative_source(info, fd_eps=hyper.fd_eps, algo="sobolev-td3")
    actor_optimizer = optax.adam(hyper.actor_lr)
    critic_optimizer = optax.adam(hyper.critic_lr)
    td_target = functools.partial(td3_target, actor=actor, source=source, hyper=hyper)

    def critic_loss(critic, state, minibatch, key):
        keys = jax.random.split(key, minibatch["obs"].shape[0])
        targets = jax.vmap(td_target, in_axes=(None, 0, 0))(state, minibatch, keys)
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

    return deterministic_agent(
        hyper,
        actor,
        lambda key: init_state(key, hyper, info, actor_optimizer, critic_optimizer),
        actor_optimizer=actor_optimizer,
        critic_optimizer=critic_optimizer,
        critic_loss=critic_loss,
        extra_fields=source.extra_fields,
        extras=source.extras,
        info_fields=source.info_fields,
    )


# ------------------------------------------------------------------ old checkpoints
# SACState moved to agents.sac; checkpoints pickled before the move name it here.


def __getattr__(name: str):
    """``SACState`` for checkpoints written before it moved to :mod:`agents.sac`."""
    if name == "SACState":
        import agents.sac

        return agents.sac.SACState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
