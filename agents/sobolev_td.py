"""First-order Sobolev TD ([FS], docs/agents.md) on top of TD3 and SAC, and plain SAC for comparisons.

Algorithms (``--algo``):

- ``sobolev-td3``: TD3 (:mod:`agents.td3`) with the critic loss replaced by the Sobolev loss;
- ``sobolev-sac``: SAC with the Sobolev critic loss;
- ``sac``: plain SAC (value-only), the baseline of ``sobolev-sac`` (``td3`` is that of
  ``sobolev-td3``).

**Critic loss** (``sobolev_core.sobolev_td_loss``, mean over the minibatch, summed over the
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
    relative  w = λ (var y + 1e-6) / (mean ‖g_s‖² + mean ‖g_a‖² + 1e-6), one factor for
              both blocks (the whole gradient error relative to the whole gradient's size,
              traded against the value error relative to the values' spread)

Defaults: ``λ_s = λ_a = 1`` with ``relative``. Why. The squared value error is in units of
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
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from agents.common import (
    ActorCriticState,
    ActorSpec,
    actor_from_info,
    critic_value,
    init_twin_critics,
    polyak,
    smoothed_target_action,
)
from agents.networks import Params, mlp_apply, mlp_init
from agents.options import check_fields, hyperparameters
from agents.td3 import TD3Config, deterministic_agent, init_state
from agents.training import Agent, EnvInfo
from sobolev_core import SobolevTarget, sobolev_target, sobolev_td_loss

__all__ = [
    "GRAD_NORMALIZATIONS",
    "DerivativeSource",
    "SACConfig",
    "SACState",
    "SobolevSACConfig",
    "SobolevTD3Config",
    "derivative_source",
    "gradient_weights",
    "hyperparameters_for",
    "make_agent",
    "sac_actor_loss",
    "sac_target",
    "sobolev_critic_loss",
    "squashed_gaussian",
    "td3_target",
]

ALGOS = ("sobolev-td3", "sobolev-sac", "sac")
GRAD_NORMALIZATIONS = ("none", "batch", "relative")
_NORM_FLOOR = 1e-6
_LOG_STD_MIN, _LOG_STD_MAX = -20.0, 2.0  # Haarnoja et al.'s reference code


def _check_sobolev(hyper) -> None:
    for name in ("lambda_s", "lambda_a"):
        value = getattr(hyper, name)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"option {name!r} must be a finite number >= 0; got {value!r}")
    if hyper.grad_normalization not in GRAD_NORMALIZATIONS:
        raise ValueError(
            f"option 'grad_normalization' must be one of {', '.join(GRAD_NORMALIZATIONS)}; "
            f"got {hyper.grad_normalization!r}"
        )
    if not (math.isfinite(hyper.fd_eps) and hyper.fd_eps > 0):
        raise ValueError(f"option 'fd_eps' must be a positive finite step; got {hyper.fd_eps!r}")


@dataclass(frozen=True)
class SobolevTD3Config(TD3Config):
    """TD3's hyperparameters (:class:`agents.td3.TD3Config`) plus the Sobolev ones.

    Attributes (besides TD3's):
      lambda_s: weight ``λ_s`` of the state-gradient error (0 drops it).
      lambda_a: weight ``λ_a`` of the action-gradient error (0 drops it).
      grad_normalization: ``none``, ``batch`` or ``relative`` (module docstring).
      fd_eps: finite-difference step of the MuJoCo derivative source.
    """

    lambda_s: float = 1.0
    lambda_a: float = 1.0
    grad_normalization: str = "relative"
    fd_eps: float = 1e-6

    def check(self) -> None:
        super().check()
        _check_sobolev(self)


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
    ``fd_eps`` (as :class:`SobolevTD3Config`)."""

    lambda_s: float = 1.0
    lambda_a: float = 1.0
    grad_normalization: str = "relative"
    fd_eps: float = 1e-6

    def check(self) -> None:
        super().check()
        _check_sobolev(self)


_CONFIGS = {"sobolev-td3": SobolevTD3Config, "sobolev-sac": SobolevSACConfig, "sac": SACConfig}


def hyperparameters_for(algo: str, options: dict):
    """The hyperparameter dataclass of ``algo`` with ``options`` applied (``ValueError`` names
    a bad option)."""
    if algo not in _CONFIGS:
        raise ValueError(f"algo {algo!r} is not in this module; accepted: {', '.join(ALGOS)}")
    return hyperparameters(_CONFIGS[algo], options)


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


def gradient_weights(target: SobolevTarget, lambda_s, lambda_a, normalization: str):
    """``(w_s, w_a)`` from a minibatch of targets (leading batch axis), stop-gradient."""
    if normalization not in GRAD_NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {', '.join(GRAD_NORMALIZATIONS)}; got {normalization!r}"
        )
    if normalization == "none":
        return lambda_s, lambda_a
    target = jax.lax.stop_gradient(target)
    size_s = jnp.mean(jnp.sum(target.grad_state**2, axis=-1))
    size_a = jnp.mean(jnp.sum(target.grad_action**2, axis=-1))
    if normalization == "batch":
        return lambda_s / (size_s + _NORM_FLOOR), lambda_a / (size_a + _NORM_FLOOR)
    scale = (jnp.var(target.value) + _NORM_FLOOR) / (size_s + size_a + _NORM_FLOOR)
    return lambda_s * scale, lambda_a * scale


def sobolev_critic_loss(
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
    """Σ_i mean_batch ``sobolev_td_loss`` of each critic of ``critic`` against ``target``.

    ``obs (B, n)``, ``action (B, m)``, ``target`` a batch of :class:`SobolevTarget` (value
    ``(B,)``, grads ``(B, n)``, ``(B, m)``); ``value_fn(params, s, a) -> Q`` (one example;
    the agents' MLP critic by default). Returns the loss and diagnostics: the first critic's
    mean squared value and gradient errors, and the weights.
    """
    target = jax.lax.stop_gradient(target)
    weight_s, weight_a = gradient_weights(target, lambda_s, lambda_a, normalization)
    total, diagnostics = 0.0, {}
    for index, params in enumerate(critic):
        q, (dq_ds, dq_da) = jax.vmap(
            jax.value_and_grad(value_fn, argnums=(1, 2)), in_axes=(None, 0, 0)
        )(params, obs, action)
        assert q.shape == target.value.shape and dq_ds.shape == target.grad_state.shape
        losses = jax.vmap(
            lambda *args: sobolev_td_loss(*args, lambda_s=weight_s, lambda_a=weight_a)
        )(q, dq_ds, dq_da, target.value, target.grad_state, target.grad_action)
        total = total + jnp.mean(losses)
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


def _min_critic(critic_pair):
    def value(obs, action, noise=None):
        del noise
        return jnp.minimum(
            critic_value(critic_pair[0], obs, action), critic_value(critic_pair[1], obs, action)
        )

    return value


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
        _min_critic(state.critic_target),
        policy,
        transition,
        item["obs"],
        item["action"],
        noise,
        None,
        item["terminated"],
        hyper.gamma,
    )


def _make_sobolev_td3(info: EnvInfo, hyper: SobolevTD3Config) -> Agent:
    actor = actor_from_info(info.action_low, info.action_high)
    source = derivative_source(info, fd_eps=hyper.fd_eps, algo="sobolev-td3")
    actor_optimizer = optax.adam(hyper.actor_lr)
    critic_optimizer = optax.adam(hyper.critic_lr)
    td_target = functools.partial(td3_target, actor=actor, source=source, hyper=hyper)

    def critic_loss(critic, state, minibatch, key):
        keys = jax.random.split(key, minibatch["obs"].shape[0])
        targets = jax.vmap(td_target, in_axes=(None, 0, 0))(state, minibatch, keys)
        loss, diagnostics = sobolev_critic_loss(
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
        return _min_critic(state.critic_target)(next_obs, next_action) - alpha * log_prob

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
    q = jax.vmap(_min_critic(critic))(obs, actions)
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
        loss, diagnostics = sobolev_critic_loss(
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


def make_agent(info: EnvInfo, options: dict, *, algo: str = "sobolev-td3") -> Agent:
    """The :class:`~agents.training.Agent` of ``algo`` (``sobolev-td3``, ``sobolev-sac``,
    ``sac``) for ``info`` with ``options`` applied."""
    hyper = hyperparameters_for(algo, options)
    if algo == "sobolev-td3":
        return _make_sobolev_td3(info, hyper)
    return _make_sac(info, hyper, sobolev=algo == "sobolev-sac")
