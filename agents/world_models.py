"""World models for DSDPG: a cVAE with a learned prior, and a conditional normalising flow.

DSDPG ([DS], SPEC §5) builds its targets from model samples ``(ŝ', r̂) ~ p(s', r | s, a)``,

    y = r̂ + γ (1 − d) Z_φ̄(ŝ', π̄(ŝ'), ξ'),   g_a = ∇_a y,

so a sample must be a *pathwise differentiable* function of ``(s, a)`` for a fixed key: both
models draw reparameterised noise and push it through smooth networks.

Both models describe ``x = (s' − s, r)`` of size ``D = obs_dim + 1``: the state *delta* (as
MAGE and PETS/MBPO do; a delta is small and near zero-mean, so an untrained model starts at
"nothing moves" rather than at ``s' = 0``), then the reward.

- **cVAE** (the DSDPG model). Prior ``p(z|s,a) = N(μ_p, diag σ_p²)``, encoder
  ``q(z|s,a,x) = N(μ_q, diag σ_q²)``, decoder mean ``g(s,a,z)`` with the Gaussian likelihood
  ``p(x|s,a,z) = N(g(s,a,z), diag σ_x²)``. ``log σ_x`` is one learned, state-independent
  vector of size ``D``: state-dependent stochasticity goes through the conditional prior and
  the latent, and a homoscedastic floor keeps the ELBO well posed. Loss per example, one
  reparameterised ``z ~ q``:

      −ELBO = −log N(x; g(s,a,z), diag σ_x²) + KL(q ‖ p),
      KL = Σ_j [log σ_p,j − log σ_q,j + (σ_q,j² + (μ_q,j − μ_p,j)²) / (2 σ_p,j²) − ½].

  Sample: ``z = μ_p + σ_p ⊙ ε_z``, ``x̂ = g(s,a,z) + σ_x ⊙ ε_x`` (the ``σ_x`` term only with
  ``sample_noise=True``, the default: targets need the full predictive distribution).
- **Flow** (the ablation). ``x̃ = μ(c) + σ(c) ⊙ f_K ∘ … ∘ f_1(u)``, ``u ~ N(0, I_D)``, with
  ``c = (s, a)`` and affine couplings (RealNVP) ``f_k(y) = m ⊙ y + (1 − m) ⊙ (y ⊙ exp(ℓ_k) +
  t_k)``, ``(ℓ_k, t_k) = NN_k(m ⊙ y, c)``, log-scale bounded as ``ℓ = L tanh(ℓ_raw / L)``,
  ``L = 2``. The masks ``m`` cycle through first half / second half / even indices / odd
  indices of ``x`` (so for ``D ≥ 2`` every coordinate is transformed, odd ``D`` included,
  and coordinates in the same half still meet through the parity masks). The last
  conditional elementwise affine ``(μ(c), σ(c))`` carries the conditional mean and scale, so
  ``n_layers=0`` is a conditional diagonal Gaussian. Loss: ``−log p(x|s,a)`` by change of
  variables, ``log p(x) = log N(u; 0, I) − Σ_k Σ (1 − m) ⊙ ℓ_k − Σ log σ(c) − Σ log s_x``.

Normalisation: ``params["stats"]`` holds the input mean/std of ``(s, a)`` and the target
mean/std of ``x`` (identity at init; set them from one batch with :func:`set_normalisation`,
or keep them up to date inside a jitted training step with :func:`update_normalisation`,
which merges every minibatch into count-weighted running moments, :class:`Moments`). They
enter every function through ``lax.stop_gradient``, so their gradient is exactly zero and
Adam leaves them untouched (mask them out of optimisers with weight decay). Log-densities and
losses are in raw units (the ``−Σ log s_x`` Jacobian term is included), so losses of two
normalisations compare.

Defaults (SPEC §5 leaves widths and latent size to us):

- ``hidden=(200, 200)`` per network: MBPO/PETS-sized models are 200 wide; two layers keep the
  Dyna loop (10 critic updates, N = 10 model samples per transition) cheap.
- ``act="swish"``: smooth (``C^∞``) like MAGE's and PETS's models, so ``∂ŝ'/∂a`` is
  continuous in ``a``; ReLU would make the gradient targets piecewise constant.
- ``latent_dim = min(obs_dim + 1, 32)``: with ``D`` latents a linear decoder already
  represents any full covariance of ``x`` (factor analysis ``Σ = W Wᵀ + diag σ_x²``); capped
  at 32 because the noises of the verification (multiplicative observation noise, Gaussian
  dynamics noise, SPEC §4 C-claims) are per-coordinate, which the diagonal likelihood
  already carries, and a wider latent only slows the KL term down.
- ``n_layers=4``: one full cycle of the four masks, so every coordinate is rescaled twice
  conditioned on the others; more layers add depth, not coverage.
- Log-std bounds ``[−10, 2]`` in normalised units (soft, PETS-style softplus clamps).

Interface: :func:`make_world_model` returns a :class:`WorldModel` of pure functions on ONE
example (batch with ``jax.vmap``): ``init(key) -> params``,
``loss(params, state, action, next_state, reward, key) -> scalar``,
``sample(params, state, action, key) -> (next_state, reward)``. Shapes: ``state`` and
``next_state`` ``(obs_dim,)``, ``action`` ``(action_dim,)``, ``reward`` ``()``. Shapes are
checked at trace time (so also under ``jit``/``vmap``) with a ``ValueError``; finiteness is
not (values are tracers under ``jit``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from agents.networks import activation, mlp_apply, mlp_init

__all__ = [
    "CVAEConfig",
    "FlowConfig",
    "Moments",
    "WorldModel",
    "cvae_init",
    "cvae_loss",
    "cvae_sample",
    "flow_init",
    "flow_log_prob",
    "flow_loss",
    "flow_sample",
    "flow_transform",
    "gaussian_kl",
    "init_moments",
    "make_world_model",
    "set_normalisation",
    "update_normalisation",
]

KINDS = ("cvae", "flow")
MIN_LOG_STD = -10.0
MAX_LOG_STD = 2.0
MAX_LOG_SCALE = 2.0  # coupling log-scale bound L: each coupling rescales by at most e^±2
_STD_FLOOR = 1e-6  # data dimensions with a smaller std are left unscaled (std := 1)
_FINAL_SCALE = 0.01  # last-layer init scale: outputs (shifts, log-scales) start near zero

Params = dict[str, Any]


# ----------------------------------------------------------------------------- settings


def _positive_int(where: str, name: str, value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}; got {value!r}")
    return value


def _hidden(where: str, value: Any) -> tuple[int, ...]:
    try:
        sizes = tuple(value)
    except TypeError:
        sizes = None
    if (
        not sizes
        or any(isinstance(size, bool) or not isinstance(size, int) for size in sizes)
        or min(sizes) < 1
    ):
        raise ValueError(
            f"{where}: hidden must be a non-empty sequence of integers >= 1; got {value!r}"
        )
    return sizes


def _act(where: str, value: Any) -> str:
    try:
        activation(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{where}: act must be one of relu, swish, tanh, elu; got {value!r}"
        ) from None
    return value


@dataclass(frozen=True)
class CVAEConfig:
    """Sizes and settings of the cVAE world model.

    Attributes:
      obs_dim: size of the state ``s`` (>= 1).
      action_dim: size of the action ``a`` (>= 1).
      hidden: hidden widths of each of the prior, encoder and decoder MLPs.
      latent_dim: size of ``z`` (>= 1).
      act: hidden activation (see :func:`agents.networks.activation`).
      sample_noise: add the likelihood noise ``σ_x ⊙ ε_x`` to samples (else decoder mean).
    """

    obs_dim: int
    action_dim: int
    hidden: tuple[int, ...] = (200, 200)
    latent_dim: int = 16
    act: str = "swish"
    sample_noise: bool = True

    def __post_init__(self) -> None:
        where = "CVAEConfig"
        _positive_int(where, "obs_dim", self.obs_dim)
        _positive_int(where, "action_dim", self.action_dim)
        object.__setattr__(self, "hidden", _hidden(where, self.hidden))
        _positive_int(where, "latent_dim", self.latent_dim)
        _act(where, self.act)
        if not isinstance(self.sample_noise, bool):
            raise ValueError(f"{where}: sample_noise must be a bool; got {self.sample_noise!r}")

    @property
    def x_dim(self) -> int:
        """``D = obs_dim + 1``, the size of ``x = (s' − s, r)``."""
        return self.obs_dim + 1


@dataclass(frozen=True)
class FlowConfig:
    """Sizes and settings of the conditional affine-coupling flow.

    Attributes:
      obs_dim: size of the state ``s`` (>= 1).
      action_dim: size of the action ``a`` (>= 1).
      hidden: hidden widths of each coupling conditioner and of the base ``(μ(c), σ(c))`` MLP.
      n_layers: number of coupling layers ``K`` (>= 0; 0 = conditional diagonal Gaussian).
      act: hidden activation (see :func:`agents.networks.activation`).
    """

    obs_dim: int
    action_dim: int
    hidden: tuple[int, ...] = (200, 200)
    n_layers: int = 4
    act: str = "swish"

    def __post_init__(self) -> None:
        where = "FlowConfig"
        _positive_int(where, "obs_dim", self.obs_dim)
        _positive_int(where, "action_dim", self.action_dim)
        object.__setattr__(self, "hidden", _hidden(where, self.hidden))
        _positive_int(where, "n_layers", self.n_layers, minimum=0)
        _act(where, self.act)

    @property
    def x_dim(self) -> int:
        """``D = obs_dim + 1``, the size of ``x = (s' − s, r)``."""
        return self.obs_dim + 1


Config = CVAEConfig | FlowConfig


class WorldModel(NamedTuple):
    """A world model as pure functions on one example (batch with ``jax.vmap``).

    Attributes:
      kind: ``"cvae"`` or ``"flow"``.
      config: the :class:`CVAEConfig` or :class:`FlowConfig`.
      init: ``init(key) -> params``.
      loss: ``loss(params, state, action, next_state, reward, key) -> scalar`` (nats).
      sample: ``sample(params, state, action, key) -> (next_state, reward)``, differentiable
        in ``(state, action)`` for a fixed ``key``.
    """

    kind: str
    config: Config
    init: Callable[[jax.Array], Params]
    loss: Callable[..., jax.Array]
    sample: Callable[..., tuple[jax.Array, jax.Array]]


# ----------------------------------------------------------------------------- shared pieces


def _example(where: str, name: str, value: Any, shape: tuple[int, ...]) -> jax.Array:
    """``value`` as a float array of exactly ``shape`` (one example), else ``ValueError``."""
    array = jnp.asarray(value)
    if jnp.issubdtype(array.dtype, jnp.integer):
        array = array.astype(jnp.result_type(float))
    elif not jnp.issubdtype(array.dtype, jnp.floating):
        raise ValueError(f"{where}: {name} must be a real array; got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(
            f"{where}: {name} must have shape {shape} (one example; use jax.vmap for a batch); "
            f"got shape {array.shape}"
        )
    return array


def _soft_clip(raw: jax.Array, low: float = MIN_LOG_STD, high: float = MAX_LOG_STD) -> jax.Array:
    """Smooth clamp into ``(low, high)``: ``low + softplus(high − softplus(high − raw) − low)``."""
    upper = high - jax.nn.softplus(high - raw)
    return low + jax.nn.softplus(upper - low)


def _identity_stats(config: Config) -> dict[str, jax.Array]:
    n_in = config.obs_dim + config.action_dim
    return {
        "input_mean": jnp.zeros(n_in),
        "input_std": jnp.ones(n_in),
        "target_mean": jnp.zeros(config.x_dim),
        "target_std": jnp.ones(config.x_dim),
    }


def _stats(params: Params) -> dict[str, jax.Array]:
    return lax.stop_gradient(params["stats"])


def _condition(params: Params, state: jax.Array, action: jax.Array) -> jax.Array:
    """Normalised ``c = ((s, a) − mean) / std``, shape ``(obs_dim + action_dim,)``."""
    stats = _stats(params)
    return (jnp.concatenate([state, action]) - stats["input_mean"]) / stats["input_std"]


def _target(params: Params, state, next_state, reward) -> jax.Array:
    """Normalised ``x̃ = ((s' − s, r) − mean) / std``, shape ``(obs_dim + 1,)``."""
    stats = _stats(params)
    x = jnp.concatenate([next_state - state, reward[None]])
    return (x - stats["target_mean"]) / stats["target_std"]


def _from_target(params: Params, state, x_normalised) -> tuple[jax.Array, jax.Array]:
    """``(s + Δ, r)`` from a normalised ``x̃``: the inverse of :func:`_target`."""
    stats = _stats(params)
    x = stats["target_mean"] + stats["target_std"] * x_normalised
    return state + x[:-1], x[-1]


def _gaussian_log_prob(x: jax.Array, mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """``Σ_j log N(x_j; mean_j, exp(log_std_j)²)``."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * jnp.log(2 * jnp.pi))


def gaussian_kl(
    mean_q: jax.Array, log_std_q: jax.Array, mean_p: jax.Array, log_std_p: jax.Array
) -> jax.Array:
    """``KL(N(μ_q, diag σ_q²) ‖ N(μ_p, diag σ_p²))`` in closed form.

        KL = Σ_j [log σ_p,j − log σ_q,j + (σ_q,j² + (μ_q,j − μ_p,j)²) / (2 σ_p,j²) − ½]

    All arguments have shape ``(k,)``; returns a scalar.

    >>> float(gaussian_kl(jnp.ones(3), jnp.zeros(3), jnp.ones(3), jnp.zeros(3)))
    0.0
    """
    ratio = jnp.exp(2 * (log_std_q - log_std_p))
    mahalanobis = (mean_q - mean_p) ** 2 * jnp.exp(-2 * log_std_p)
    return jnp.sum(log_std_p - log_std_q + 0.5 * (ratio + mahalanobis) - 0.5)


def _noise(key: jax.Array, shape: tuple[int, ...], like: jax.Array) -> jax.Array:
    return jax.random.normal(key, shape, dtype=jnp.promote_types(like.dtype, jnp.float32))


def _batch_rows(where: str, stats, states, actions, next_states, rewards):
    """The checked batch as rows of inputs ``(s, a)`` and targets ``(s' − s, r)``."""
    n_in, x_dim = stats["input_mean"].shape[0], stats["target_mean"].shape[0]
    obs_dim = x_dim - 1
    states = jnp.asarray(states)
    n = states.shape[0] if states.ndim == 2 else -1
    states = _example(where, "states", states, (n, obs_dim))
    actions = _example(where, "actions", actions, (n, n_in - obs_dim))
    next_states = _example(where, "next_states", next_states, (n, obs_dim))
    rewards = _example(where, "rewards", rewards, (n,))
    if n < 1:
        raise ValueError(f"{where}: need at least one transition; got {n}")
    inputs = jnp.concatenate([states, actions], axis=1)
    return inputs, jnp.concatenate([next_states - states, rewards[:, None]], axis=1)


def set_normalisation(
    params: Params,
    states: jax.Array,
    actions: jax.Array,
    next_states: jax.Array,
    rewards: jax.Array,
) -> Params:
    """``params`` with ``params["stats"]`` set to the mean/std of a batch of transitions.

    Inputs ``(s, a)`` and targets ``x = (s' − s, r)`` are standardised per coordinate;
    a coordinate with std below 1e-6 is left unscaled (std := 1). Shapes: ``states`` and
    ``next_states`` ``(n, obs_dim)``, ``actions`` ``(n, action_dim)``, ``rewards`` ``(n,)``.
    Works for both kinds (the stats layout is shared).
    """
    stats = params["stats"]
    inputs, targets = _batch_rows("set_normalisation", stats, states, actions, next_states, rewards)
    new_stats = {
        "input_mean": jnp.mean(inputs, axis=0),
        "input_std": _std_from_var(jnp.var(inputs, axis=0)),
        "target_mean": jnp.mean(targets, axis=0),
        "target_std": _std_from_var(jnp.var(targets, axis=0)),
    }
    new_stats = {name: value.astype(stats[name].dtype) for name, value in new_stats.items()}
    return {**params, "stats": new_stats}


class Moments(NamedTuple):
    """Count-weighted running moments of the inputs ``(s, a)`` and targets ``x = (s' − s, r)``.

    ``count`` (scalar) transitions seen; per-coordinate ``input_mean``, ``input_var``
    (``(obs_dim + action_dim,)``), ``target_mean``, ``target_var`` (``(obs_dim + 1,)``): the
    mean and the population variance (divisor ``count``) of every transition merged so far.
    """

    count: jax.Array
    input_mean: jax.Array
    input_var: jax.Array
    target_mean: jax.Array
    target_var: jax.Array


def init_moments(params: Params) -> Moments:
    """No transition seen yet: ``count = 0``, zero means and variances (stats' shapes, dtype)."""
    stats = params["stats"]
    zeros_in, zeros_x = jnp.zeros_like(stats["input_mean"]), jnp.zeros_like(stats["target_mean"])
    return Moments(jnp.zeros((), zeros_in.dtype), zeros_in, zeros_in, zeros_x, zeros_x)


def _merge(count, mean, var, batch: jax.Array):
    """Chan et al.'s pairwise merge of ``(count, mean, var)`` with a batch ``(b, d)``.

        n = n_a + n_b,  δ = m_b − m_a,  m = m_a + (n_b/n) δ,
        v = v_a + (n_b/n)(v_b − v_a) + (n_a n_b / n²) δ²

    written with the weights ``n_b/n`` and ``n_a/n`` rather than sums of squares, so float32
    keeps its relative precision however many transitions were merged.
    """
    n_b = jnp.asarray(batch.shape[0], count.dtype)
    total = count + n_b
    share = n_b / total
    batch_mean = jnp.mean(batch, axis=0)
    batch_var = jnp.mean((batch - batch_mean) ** 2, axis=0)
    delta = batch_mean - mean
    new_mean = mean + share * delta
    new_var = var + share * (batch_var - var) + share * (count / total) * delta**2
    return total, new_mean, new_var


def _std_from_var(var: jax.Array) -> jax.Array:
    spread = jnp.sqrt(var)
    return jnp.where(spread < _STD_FLOOR, 1.0, spread)


def update_normalisation(
    params: Params,
    moments: Moments,
    states: jax.Array,
    actions: jax.Array,
    next_states: jax.Array,
    rewards: jax.Array,
) -> tuple[Params, Moments]:
    """Merge a batch into the running ``moments`` and set ``params["stats"]`` from them.

    After batches ``B_1 … B_t`` the stats are the per-coordinate mean and population std of
    their union ``B_1 ∪ … ∪ B_t`` (repeats counted), with the rule of
    :func:`set_normalisation` for a std below 1e-6 (std := 1); after one batch they equal
    ``set_normalisation`` of it. Pure and jit-able (a training step calls it on each
    minibatch). Shapes as in :func:`set_normalisation`; ``moments`` from :func:`init_moments`.
    """
    stats = params["stats"]
    inputs, targets = _batch_rows(
        "update_normalisation", stats, states, actions, next_states, rewards
    )
    dtype = moments.input_mean.dtype
    inputs, targets = inputs.astype(dtype), targets.astype(dtype)
    count, input_mean, input_var = _merge(
        moments.count, moments.input_mean, moments.input_var, inputs
    )
    _, target_mean, target_var = _merge(
        moments.count, moments.target_mean, moments.target_var, targets
    )
    moments = Moments(count, input_mean, input_var, target_mean, target_var)
    new_stats = {
        "input_mean": input_mean,
        "input_std": _std_from_var(input_var),
        "target_mean": target_mean,
        "target_std": _std_from_var(target_var),
    }
    new_stats = {name: value.astype(stats[name].dtype) for name, value in new_stats.items()}
    return {**params, "stats": new_stats}, moments


def _check_transition(where: str, config: Config, state, action, next_state=None, reward=None):
    state = _example(where, "state", state, (config.obs_dim,))
    action = _example(where, "action", action, (config.action_dim,))
    if next_state is None:
        return state, action
    next_state = _example(where, "next_state", next_state, (config.obs_dim,))
    reward = _example(where, "reward", reward, ())
    return state, action, next_state, reward


# ----------------------------------------------------------------------------- cVAE


def cvae_init(key: jax.Array, config: CVAEConfig) -> Params:
    """cVAE parameters: ``{"prior", "encoder", "decoder": MLP, "log_std": (D,), "stats"}``.

    Prior ``(s,a) -> (μ_p, log σ_p)``, encoder ``(s,a,x) -> (μ_q, log σ_q)``, decoder
    ``(s,a,z) -> g`` (sizes ``2·latent_dim``, ``2·latent_dim``, ``D``); ``log σ_x`` starts at 0.
    """
    n_in, d, k = config.obs_dim + config.action_dim, config.x_dim, config.latent_dim
    prior_key, encoder_key, decoder_key = jax.random.split(key, 3)
    return {
        "prior": mlp_init(prior_key, (n_in, *config.hidden, 2 * k), final_scale=_FINAL_SCALE),
        "encoder": mlp_init(
            encoder_key, (n_in + d, *config.hidden, 2 * k), final_scale=_FINAL_SCALE
        ),
        "decoder": mlp_init(decoder_key, (n_in + k, *config.hidden, d)),
        "log_std": jnp.zeros(d),
        "stats": _identity_stats(config),
    }


def _split_gaussian(outputs: jax.Array) -> tuple[jax.Array, jax.Array]:
    mean, raw_log_std = jnp.split(outputs, 2)
    return mean, _soft_clip(raw_log_std)


def _cvae_prior(params, config, c):
    return _split_gaussian(mlp_apply(params["prior"], c, act=config.act))


def _cvae_decode(params, config, c, z):
    return mlp_apply(params["decoder"], jnp.concatenate([c, z]), act=config.act)


def cvae_loss(
    params: Params,
    config: CVAEConfig,
    state: jax.Array,
    action: jax.Array,
    next_state: jax.Array,
    reward: jax.Array,
    key: jax.Array,
) -> jax.Array:
    """Negative ELBO of one transition with one reparameterised ``z ~ q(z|s,a,x)``, in nats.

        −ELBO = −log N(x; g(s,a,z), diag σ_x²) + KL(q(z|s,a,x) ‖ p(z|s,a)),  x = (s' − s, r)

    Shapes: ``state``, ``next_state`` ``(obs_dim,)``; ``action`` ``(action_dim,)``;
    ``reward`` ``()``. Returns a scalar; its expectation bounds ``−log p(s', r | s, a)`` above.
    """
    state, action, next_state, reward = _check_transition(
        "cvae_loss", config, state, action, next_state, reward
    )
    c = _condition(params, state, action)
    x = _target(params, state, next_state, reward)
    mean_p, log_std_p = _cvae_prior(params, config, c)
    mean_q, log_std_q = _split_gaussian(
        mlp_apply(params["encoder"], jnp.concatenate([c, x]), act=config.act)
    )
    z = mean_q + jnp.exp(log_std_q) * _noise(key, mean_q.shape, c)
    log_std_x = _soft_clip(params["log_std"])
    log_likelihood = _gaussian_log_prob(x, _cvae_decode(params, config, c, z), log_std_x)
    log_likelihood = log_likelihood - jnp.sum(jnp.log(_stats(params)["target_std"]))
    kl = gaussian_kl(mean_q, log_std_q, mean_p, log_std_p)
    return kl - log_likelihood


def cvae_sample(
    params: Params, config: CVAEConfig, state: jax.Array, action: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """One model transition ``(ŝ', r̂)``, pathwise differentiable in ``(state, action)``.

        z = μ_p(s,a) + σ_p(s,a) ⊙ ε_z,  x̂ = g(s,a,z) [+ σ_x ⊙ ε_x],  ŝ' = s + x̂_{:-1},  r̂ = x̂_{-1}

    with ``ε_z, ε_x ~ N(0, I)`` drawn from ``key`` (the bracket only if
    ``config.sample_noise``). Shapes: ``state`` ``(obs_dim,)``, ``action`` ``(action_dim,)``;
    returns ``next_state`` ``(obs_dim,)`` and ``reward`` ``()``.
    """
    state, action = _check_transition("cvae_sample", config, state, action)
    c = _condition(params, state, action)
    latent_key, likelihood_key = jax.random.split(key)
    mean_p, log_std_p = _cvae_prior(params, config, c)
    z = mean_p + jnp.exp(log_std_p) * _noise(latent_key, mean_p.shape, c)
    x = _cvae_decode(params, config, c, z)
    if config.sample_noise:
        x = x + jnp.exp(_soft_clip(params["log_std"])) * _noise(likelihood_key, x.shape, c)
    return _from_target(params, state, x)


# ----------------------------------------------------------------------------- flow


def _masks(config: FlowConfig) -> list[jax.Array]:
    """Coupling masks (1 = passed through, 0 = transformed), cycling half/half/even/odd."""
    d = config.x_dim
    index = jnp.arange(d)
    first_half = index < (d + 1) // 2
    even = index % 2 == 0
    cycle = [first_half, ~first_half, even, ~even]
    return [cycle[k % 4].astype(jnp.float32) for k in range(config.n_layers)]


def flow_init(key: jax.Array, config: FlowConfig) -> Params:
    """Flow parameters: ``{"base": MLP, "couplings": [MLP] * K, "stats"}``.

    ``base``: ``c -> (μ(c), log σ(c))`` (size ``2D``); coupling ``k``:
    ``(m ⊙ y, c) -> (t_k, ℓ_raw,k)`` (size ``2D``). Last layers start small, so the flow
    starts near ``x̃ = u``.
    """
    n_in, d = config.obs_dim + config.action_dim, config.x_dim
    base_key, *coupling_keys = jax.random.split(key, config.n_layers + 1)
    return {
        "base": mlp_init(base_key, (n_in, *config.hidden, 2 * d), final_scale=_FINAL_SCALE),
        "couplings": [
            mlp_init(layer_key, (d + n_in, *config.hidden, 2 * d), final_scale=_FINAL_SCALE)
            for layer_key in coupling_keys
        ],
        "stats": _identity_stats(config),
    }


def _coupling(params, config, mask, y, c):
    """Shift ``t`` and bounded log-scale ``ℓ = L tanh(ℓ_raw / L)`` of one coupling, ``(D,)``."""
    shift, raw_log_scale = jnp.split(
        mlp_apply(params, jnp.concatenate([mask * y, c]), act=config.act), 2
    )
    log_scale = MAX_LOG_SCALE * jnp.tanh(raw_log_scale / MAX_LOG_SCALE)
    return (1 - mask) * shift, (1 - mask) * log_scale


def flow_log_prob(
    params: Params,
    config: FlowConfig,
    state: jax.Array,
    action: jax.Array,
    next_state: jax.Array,
    reward: jax.Array,
) -> jax.Array:
    """``log p(s', r | s, a)`` of the flow by change of variables, in nats.

        u = f_1⁻¹ ∘ … ∘ f_K⁻¹((x̃ − μ(c)) / σ(c)),
        log p = log N(u; 0, I) − Σ_k Σ_j ℓ_k,j − Σ_j log σ_j(c) − Σ_j log s_x,j

    with ``f_k⁻¹(y) = m ⊙ y + (1 − m) ⊙ (y − t_k) ⊙ exp(−ℓ_k)``. Shapes: ``state``,
    ``next_state`` ``(obs_dim,)``; ``action`` ``(action_dim,)``; ``reward`` ``()``.
    """
    state, action, next_state, reward = _check_transition(
        "flow_log_prob", config, state, action, next_state, reward
    )
    c = _condition(params, state, action)
    x = _target(params, state, next_state, reward)
    mean, log_std = _split_gaussian(mlp_apply(params["base"], c, act=config.act))
    y = (x - mean) * jnp.exp(-log_std)
    log_det = -jnp.sum(log_std) - jnp.sum(jnp.log(_stats(params)["target_std"]))
    for layer, mask in reversed(list(zip(params["couplings"], _masks(config), strict=True))):
        shift, log_scale = _coupling(layer, config, mask, y, c)
        y = mask * y + (1 - mask) * (y - shift) * jnp.exp(-log_scale)
        log_det = log_det - jnp.sum(log_scale)
    return _gaussian_log_prob(y, jnp.zeros_like(y), jnp.zeros_like(y)) + log_det


def flow_loss(
    params: Params,
    config: FlowConfig,
    state: jax.Array,
    action: jax.Array,
    next_state: jax.Array,
    reward: jax.Array,
    key: jax.Array,
) -> jax.Array:
    """Negative log-likelihood ``−log p(s', r | s, a)`` (exact; ``key`` is unused).

    Same shapes as :func:`flow_log_prob`; ``key`` is accepted so both kinds share one loss
    signature.
    """
    del key  # the flow's likelihood is exact
    return -flow_log_prob(params, config, state, action, next_state, reward)


def flow_transform(
    params: Params,
    config: FlowConfig,
    state: jax.Array,
    action: jax.Array,
    base_noise: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """The flow's map from base noise ``u`` to a transition ``(ŝ', r̂)``, given ``u``.

        y = f_K ∘ … ∘ f_1(u),  f_k(y) = m ⊙ y + (1 − m) ⊙ (y ⊙ exp(ℓ_k) + t_k),
        x̃ = μ(c) + σ(c) ⊙ y,  ŝ' = s + x_{:-1},  r̂ = x_{-1}  (x = x̃ un-normalised)

    Shapes: ``state`` ``(obs_dim,)``, ``action`` ``(action_dim,)``, ``base_noise``
    ``(obs_dim + 1,)``; returns ``next_state`` ``(obs_dim,)`` and ``reward`` ``()``. With
    ``u ~ N(0, I)`` this is a sample; a fixed ``u`` gives common random numbers.
    """
    state, action = _check_transition("flow_transform", config, state, action)
    y = _example("flow_transform", "base_noise", base_noise, (config.x_dim,))
    c = _condition(params, state, action)
    for layer, mask in zip(params["couplings"], _masks(config), strict=True):
        shift, log_scale = _coupling(layer, config, mask, y, c)
        y = mask * y + (1 - mask) * (y * jnp.exp(log_scale) + shift)
    mean, log_std = _split_gaussian(mlp_apply(params["base"], c, act=config.act))
    return _from_target(params, state, mean + jnp.exp(log_std) * y)


def flow_sample(
    params: Params, config: FlowConfig, state: jax.Array, action: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """One model transition ``(ŝ', r̂) = flow_transform(s, a, u)``, ``u ~ N(0, I_D)`` from ``key``.

    Pathwise differentiable in ``(state, action)`` for a fixed ``key``. Shapes: ``state``
    ``(obs_dim,)``, ``action`` ``(action_dim,)``; returns ``next_state`` ``(obs_dim,)`` and
    ``reward`` ``()``.
    """
    state, action = _check_transition("flow_sample", config, state, action)
    base_noise = _noise(key, (config.x_dim,), jnp.concatenate([state, action]))
    return flow_transform(params, config, state, action, base_noise)


# ----------------------------------------------------------------------------- factory


def make_world_model(
    kind: str,
    obs_dim: int,
    action_dim: int,
    *,
    hidden: Sequence[int] = (200, 200),
    latent_dim: int | None = None,
    n_layers: int = 4,
    act: str = "swish",
    sample_noise: bool = True,
) -> WorldModel:
    """The world model ``kind`` (``"cvae"`` or ``"flow"``) as a :class:`WorldModel`.

    ``latent_dim`` (cVAE only; default ``min(obs_dim + 1, 32)``) and ``sample_noise`` (cVAE
    only) are ignored by the flow; ``n_layers`` (flow only) is ignored by the cVAE. Bad
    values raise ``ValueError`` naming the argument, the value and what is accepted.

    >>> model = make_world_model("flow", 3, 1, hidden=(8,))
    >>> params = model.init(jax.random.key(0))
    >>> [x.shape for x in model.sample(params, jnp.zeros(3), jnp.zeros(1), jax.random.key(1))]
    [(3,), ()]
    """
    where = "make_world_model"
    if kind not in KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}; got {kind!r}")
    _positive_int(where, "obs_dim", obs_dim)
    _positive_int(where, "action_dim", action_dim)
    hidden = _hidden(where, hidden)
    if kind == "cvae":
        if latent_dim is None:
            latent_dim = min(obs_dim + 1, 32)
        _positive_int(where, "latent_dim", latent_dim)
        config = CVAEConfig(obs_dim, action_dim, hidden, latent_dim, _act(where, act), sample_noise)
        return WorldModel(
            kind=kind,
            config=config,
            init=lambda key: cvae_init(key, config),
            loss=lambda params, state, action, next_state, reward, key: cvae_loss(
                params, config, state, action, next_state, reward, key
            ),
            sample=lambda params, state, action, key: cvae_sample(
                params, config, state, action, key
            ),
        )
    _positive_int(where, "n_layers", n_layers, minimum=0)
    config = FlowConfig(obs_dim, action_dim, hidden, n_layers, _act(where, act))
    return WorldModel(
        kind=kind,
        config=config,
        init=lambda key: flow_init(key, config),
        loss=lambda params, state, action, next_state, reward, key: flow_loss(
            params, config, state, action, next_state, reward, key
        ),
        sample=lambda params, state, action, key: flow_sample(params, config, state, action, key),
    )
