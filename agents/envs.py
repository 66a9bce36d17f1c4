"""Training environments by id: Gymnasium MuJoCo, the 2-D point-mass toy and the JAX envs.

Ids accepted by :func:`make_training_env`:

- a Gymnasium MuJoCo v5 id of :data:`agents.mujoco_fd.ENV_IDS` (Ant without contact
  forces in the observation);
- ``point-mass:N``: the stochastic 2-D point mass with ``N`` reward locations
  (:mod:`agents.point_mass`), episodes of 100 steps;
- ``pendulum``, ``toy-1d``, ``lq``: the differentiable JAX environments of
  :mod:`agents.jax_envs` behind a Gymnasium interface (:class:`JaxGymEnv`). ``lq`` is a
  fixed 2-state, 1-action linear-quadratic system (constants in :func:`lq_system`).

Every env is wrapped in the noise wrapper of ``noise`` (``none`` included, so every result
carries its noise spec). Envs whose dynamics are JAX functions also come with a
:class:`DiffModel`: the transition in *observation* coordinates, ``(obs, action, ε) ->
(next_obs, reward)``, for one example, so Sobolev-TD can differentiate it. The noise ``ε`` of
each step is reported in ``info["noise"]``. The model describes the bare env: an observation
or action noise wrapper on top is not part of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces

from agents import jax_envs
from agents.mujoco_fd import ENV_IDS, make_env
from agents.noise import NoiseSpec, parse_noise, with_noise
from agents.point_mass import make_point_mass

__all__ = [
    "ENV_FORMS",
    "DiffModel",
    "JaxGymEnv",
    "TrainingEnv",
    "check_env_id",
    "lq_system",
    "make_training_env",
]

JAX_ENV_IDS = ("pendulum", "toy-1d", "lq")
ENV_FORMS = f"{', '.join(ENV_IDS)}, point-mass:N (N >= 1), {', '.join(JAX_ENV_IDS)}"


class DiffModel(NamedTuple):
    """A differentiable one-step model in observation coordinates (JAX, one example).

    Attributes:
      transition: ``(obs (n,), action (m,), noise (k,)) -> (next_obs (n,), reward ())``.
      noise_dim: ``k``, the size of ``info["noise"]`` (0 for deterministic envs).
    """

    transition: Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]
    noise_dim: int


class TrainingEnv(NamedTuple):
    """An env ready for training: the wrapped Gymnasium env and what is known about it."""

    env: gym.Env
    env_id: str
    noise: NoiseSpec
    diff_model: DiffModel | None
    is_mujoco: bool


def lq_system() -> dict[str, np.ndarray]:
    """The ``lq`` env's constants: a lightly damped oscillator, one input, small noise.

    ``A = [[1, 0.1], [−0.1, 0.95]]`` (spectral radius 0.976), ``B = [0, 0.1]ᵀ``, ``Q = I``,
    ``R = 0.1``, ``Σ = 0.01² I``.
    """
    return {
        "A": np.array([[1.0, 0.1], [-0.1, 0.95]]),
        "B": np.array([[0.0], [0.1]]),
        "Q": np.eye(2),
        "R": np.array([[0.1]]),
        "Sigma": 1e-4 * np.eye(2),
    }


_LQ_ACTION_BOUND = 5.0  # the box the agents' actors act in; the system itself is unbounded


def _jax_env(env_id: str) -> jax_envs.JaxEnv:
    if env_id == "pendulum":
        return jax_envs.pendulum()
    if env_id == "toy-1d":
        return jax_envs.toy_1d()
    return jax_envs.linear_quadratic(**lq_system())


def _state_from_obs(env_id: str) -> Callable[[jax.Array], jax.Array]:
    """Inverse of ``observe``: Pendulum's ``θ = atan2(sin θ, cos θ)``; the others ``obs = s``.

    For Pendulum this extends the transition from the circle ``cos² + sin² = 1`` to R³ with a
    zero radial derivative; gradients with respect to the observation are those of that
    extension (their tangential part is the true one).
    """
    if env_id == "pendulum":
        return lambda obs: jnp.stack([jnp.arctan2(obs[1], obs[0]), obs[2]])
    return lambda obs: obs


class JaxGymEnv(gym.Env):
    """A :class:`agents.jax_envs.JaxEnv` behind Gymnasium's interface (float64 observations).

    ``reset`` draws the JAX key from ``np_random``; ``step`` draws the noise ``ε`` likewise
    and reports it in ``info["noise"]``; episodes are truncated after the env's
    ``max_episode_steps``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, env_id: str):
        if env_id not in JAX_ENV_IDS:
            raise ValueError(f"env_id {env_id!r} is not a JAX env; accepted: {JAX_ENV_IDS}")
        self.env_id = env_id
        self.jax_env = jax_env = _jax_env(env_id)
        low = np.array(jax_env.action_low, dtype=np.float64)
        high = np.array(jax_env.action_high, dtype=np.float64)
        if env_id == "lq":
            low, high = np.full_like(low, -_LQ_ACTION_BOUND), np.full_like(high, _LQ_ACTION_BOUND)
        self.action_space = spaces.Box(low.astype(np.float32), high.astype(np.float32))
        self.observation_space = spaces.Box(-np.inf, np.inf, (jax_env.obs_dim,), np.float64)
        self._reset = jax.jit(lambda key: jax_env.observe(jax_env.reset(key)))
        self._reset_state = jax.jit(jax_env.reset)
        self._step = jax.jit(jax_env.step)
        self._observe = jax.jit(jax_env.observe)
        self._noise = jax.jit(jax_env.sample_noise)
        self._state = np.zeros(jax_env.state_dim)
        self._steps = 0

    def _key(self) -> jax.Array:
        return jax.random.key(int(self.np_random.integers(0, 2**31 - 1)))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._state = np.asarray(self._reset_state(self._key()), dtype=np.float64)
        self._steps = 0
        return np.asarray(self._observe(self._state), dtype=np.float64), {}

    def step(self, action):
        action = np.asarray(action, dtype=np.float64).reshape(self.action_space.shape)
        noise = np.asarray(self._noise(self._key()), dtype=np.float64)
        step = self._step(self._state, action, noise if noise.size else None)
        self._state = np.asarray(step.next_state, dtype=np.float64)
        self._steps += 1
        truncated = self._steps >= self.jax_env.max_episode_steps
        observation = np.asarray(self._observe(self._state), dtype=np.float64)
        return observation, float(step.reward), bool(step.terminated), truncated, {"noise": noise}

    def diff_model(self) -> DiffModel:
        jax_env, to_state = self.jax_env, _state_from_obs(self.env_id)

        def transition(obs, action, noise):
            state = to_state(obs)
            step = jax_env.step(state, action, noise if jax_env.noise_dim else None)
            return jax_env.observe(step.next_state), step.reward

        return DiffModel(transition, jax_env.noise_dim)


def _point_mass_model(env: gym.Env) -> DiffModel:
    unwrapped = env.unwrapped

    def transition(obs, action, noise):
        return unwrapped.dynamics_jax(obs, action, noise), unwrapped.reward_jax(obs, action)

    return DiffModel(transition, 2)


def check_env_id(env_id: str) -> str:
    """``env_id`` if accepted, else ``ValueError`` naming it and the accepted ids."""
    if not isinstance(env_id, str):
        raise ValueError(f"env must be a string; got {env_id!r}; accepted: {ENV_FORMS}")
    if env_id in ENV_IDS or env_id in JAX_ENV_IDS:
        return env_id
    kind, sep, count = env_id.partition(":")
    if kind == "point-mass" and sep and count.isdigit() and int(count) >= 1:
        return env_id
    name = _toolkit_name(env_id)
    if name is not None:
        raise ValueError(f"env {env_id!r} is called {name!r} here; accepted: {ENV_FORMS}")
    raise ValueError(f"env {env_id!r} is unknown; accepted: {ENV_FORMS}")


def _toolkit_name(env_id: str) -> str | None:
    """The toolkit's id for a Gymnasium id a user may type (``Pendulum-v1``, ``Hopper-v4``)."""
    stem, _, version = env_id.rpartition("-v")
    if not stem or not version.isdigit():
        stem = env_id
    if stem.lower() == "pendulum":
        return "pendulum"
    for known in ENV_IDS:
        if known.rpartition("-v")[0].lower() == stem.lower():
            return known
    return None


def make_training_env(env_id: str, noise: str | NoiseSpec, seed: int) -> TrainingEnv:
    """The env called ``env_id`` wrapped in ``noise`` (its generator seeded from ``seed``)."""
    check_env_id(env_id)
    noise_spec = noise if isinstance(noise, NoiseSpec) else parse_noise(noise)
    diff_model = None
    if env_id in ENV_IDS:
        bare = make_env(env_id)
    elif env_id in JAX_ENV_IDS:
        bare = gym.wrappers.PassiveEnvChecker(JaxGymEnv(env_id))
        diff_model = bare.unwrapped.diff_model()
    else:
        bare = make_point_mass(int(env_id.partition(":")[2]))
        diff_model = _point_mass_model(bare)
    if not math.isfinite(seed):
        raise ValueError(f"seed must be a finite integer; got {seed!r}")
    env = with_noise(bare, noise_spec, seed=int(seed))
    return TrainingEnv(env, env_id, noise_spec, diff_model, env_id in ENV_IDS)
