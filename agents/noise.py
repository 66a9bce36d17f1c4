"""Noise wrappers for the docs/claims.md#c7 robustness runs: observation, dynamics and action noise.

A noise setting is a short string, parsed by :func:`parse_noise` into a :class:`NoiseSpec`
whose canonical ``.spec`` is what a result records:

    none            the bare env
    obs-mult:X      every observation entry o_i becomes o_i · u_i, u_i ~ U[1 − X, 1 + X] i.i.d.,
                    0 ≤ X < 1 (C7 uses X = 0.2, i.e. U[0.8, 1.2]); reset observations too
    dyn-gauss:σ     after every env step the MuJoCo state is perturbed,
                    qpos ← qpos ⊕ σ ξ_q,  qvel ← qvel + σ ξ_v,  ξ ~ N(0, I_{2nv}), σ ≥ 0
    act-gauss:σ     the env receives clip(a + σ ξ, low, high), ξ ~ N(0, I), σ ≥ 0 (absolute
                    units of the action space, not a fraction of its range)

:func:`with_noise` wraps an env in the ``gymnasium.Wrapper`` for the kind.

**Randomness.** Each wrapper owns a ``numpy.random.Generator``, never the env's: it is
``default_rng(SeedSequence([seed, tag]))`` with ``tag`` a fixed integer per kind (so stacked
wrappers draw independent streams) and ``seed`` the ``seed=`` given to :func:`with_noise`,
replaced by the reset's seed whenever ``reset(seed=s)`` names one. So, as for a Gymnasium env,
``reset(seed=s)`` fixes the whole episode, noise included; ``reset()`` without a seed continues
the stream. The env's own ``np_random`` is untouched, so the noise never shifts the env's
initial-state draws.

**Zero noise is the bare env, bit for bit.** ``obs-mult:0`` multiplies by exactly 1.0;
``act-gauss:0`` adds 0.0 and clips (a no-op for actions inside the action space; an action
outside it is clipped, as for any σ); ``dyn-gauss:0`` skips the perturbation and the
re-computation of the observation entirely (see :class:`DynamicsGaussianNoise`).

**Dynamics noise details.** The perturbation happens after the step's reward and termination
are computed, so they belong to the unperturbed state ``f(s, a)``; the returned observation
and the next step start from the perturbed one. Positions are perturbed in MuJoCo's tangent
space (``mj_integratePos``, the convention of :mod:`agents.mujoco_fd`): plain addition
for hinge and slide joints, a rotation by ``exp(σ ξ / 2)`` for the quaternion of a free or
ball joint, which stays a unit quaternion. After ``set_state`` (``mj_forward``) the wrapper
runs ``mj_rnePostConstraint`` like the env's own step, so force read-outs in the observation
(Humanoid's ``cfrc_ext``) are those of the perturbed state.

**Spec of a wrapped env.** Every wrapper is a ``RecordConstructorArgs``, so
``wrapped.spec.additional_wrappers`` names it with ``noise=`` (canonical string) and
``seed=``, and ``wrapped.spec.make()`` rebuilds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
from gymnasium.utils import RecordConstructorArgs

__all__ = [
    "NOISE_KINDS",
    "ActionGaussianNoise",
    "DynamicsGaussianNoise",
    "NoNoise",
    "NoiseSpec",
    "ObservationMultiplicativeNoise",
    "check_noise_for_env",
    "parse_noise",
    "with_noise",
]

# Each kind with its stream tag (the second SeedSequence entry) and its accepted form.
_TAGS = {"none": 0, "obs-mult": 1, "dyn-gauss": 2, "act-gauss": 3}
NOISE_KINDS: tuple[str, ...] = tuple(_TAGS)
_FORMS = "'none', 'obs-mult:X' (0 <= X < 1), 'dyn-gauss:SIGMA' (SIGMA >= 0), 'act-gauss:SIGMA' (SIGMA >= 0)"


@dataclass(frozen=True)
class NoiseSpec:
    """One noise setting: ``kind`` (one of :data:`NOISE_KINDS`) and its ``scale``.

    ``scale`` is X for ``obs-mult``, σ for ``dyn-gauss`` and ``act-gauss``, 0 for ``none``.
    Build it with :func:`parse_noise`, which validates the range.

    >>> parse_noise("obs-mult:0.20").spec
    'obs-mult:0.2'
    >>> parse_noise("act-gauss:0").is_zero
    True
    """

    kind: str
    scale: float

    @property
    def spec(self) -> str:
        """The canonical string, ``parse_noise(s.spec) == s``; record this with results."""
        return "none" if self.kind == "none" else f"{self.kind}:{self.scale!r}"

    @property
    def is_zero(self) -> bool:
        """Whether the wrapped env is the bare env (``none`` or a zero scale)."""
        return self.scale == 0.0


def parse_noise(spec: str) -> NoiseSpec:
    """Parse a noise setting; ``ValueError`` names the spec, the bad part and the accepted forms.

    >>> parse_noise("dyn-gauss:0.05")
    NoiseSpec(kind='dyn-gauss', scale=0.05)
    >>> parse_noise(" none ") == NoiseSpec("none", 0.0)
    True
    """
    if not isinstance(spec, str):
        raise ValueError(f"noise spec must be a string, got {spec!r}; accepted forms: {_FORMS}")
    text = spec.strip()
    if text == "none":
        return NoiseSpec("none", 0.0)
    kind, sep, value = text.partition(":")
    kind, value = kind.strip(), value.strip()
    if not sep or kind not in _TAGS or kind == "none":
        raise ValueError(
            f"noise spec {spec!r}: unknown kind {kind!r} or missing ':VALUE'; accepted forms: {_FORMS}"
        )
    try:
        scale = float(value)
    except ValueError:
        raise ValueError(
            f"noise spec {spec!r}: value {value!r} is not a number; accepted forms: {_FORMS}"
        ) from None
    if not math.isfinite(scale) or scale < 0 or (kind == "obs-mult" and scale >= 1):
        bound = "0 <= X < 1" if kind == "obs-mult" else "SIGMA >= 0"
        raise ValueError(
            f"noise spec {spec!r}: value {scale!r} is outside {bound}; accepted forms: {_FORMS}"
        )
    return NoiseSpec(kind, scale + 0.0)  # + 0.0 turns -0.0 into 0.0


def _env_name(env: gym.Env) -> str:
    """What a user calls ``env``: its toolkit or Gymnasium id, else its class name."""
    unwrapped = env.unwrapped
    name = getattr(unwrapped, "env_id", None) or getattr(unwrapped.spec, "id", None)
    return repr(name) if isinstance(name, str) else f"of type {type(unwrapped).__name__}"


def _not_mujoco(noise: NoiseSpec, env_name: str) -> str:
    return (
        f"noise {noise.spec!r} perturbs a MuJoCo state (qpos, qvel), but env {env_name} is not "
        "a gymnasium MujocoEnv; dyn-gauss needs a MuJoCo env (the -v5 ids, such as "
        "InvertedPendulum-v5 or Hopper-v5); for this env use 'obs-mult:X' or 'act-gauss:SIGMA'"
    )


def check_noise_for_env(noise: NoiseSpec | str, env_id: str, *, is_mujoco: bool) -> NoiseSpec:
    """The parsed ``noise`` if it can wrap the env ``env_id``, else ``ValueError`` saying why.

    ``dyn-gauss`` needs a MuJoCo env (``is_mujoco``); every other kind wraps any env with
    ``Box`` spaces. Call it while validating settings, before building anything.

    >>> check_noise_for_env("act-gauss:0.1", "pendulum", is_mujoco=False).kind
    'act-gauss'
    """
    noise_spec = _as_spec(noise)
    if noise_spec.kind == "dyn-gauss" and not is_mujoco:
        raise ValueError(_not_mujoco(noise_spec, repr(env_id)))
    return noise_spec


def _as_spec(noise: NoiseSpec | str) -> NoiseSpec:
    return noise if isinstance(noise, NoiseSpec) else parse_noise(noise)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


class _NoiseWrapper(gym.Wrapper, RecordConstructorArgs):
    """Owns the noise generator and reseeds it on ``reset(seed=s)``; subclasses add the noise."""

    _kind = "none"

    def __init__(self, env: gym.Env, noise: NoiseSpec | str, seed: int):
        noise_spec = _as_spec(noise)
        if noise_spec.kind != self._kind:
            raise ValueError(
                f"{type(self).__name__} takes '{self._kind}' noise, got {noise_spec.spec!r}"
            )
        seed = _check_seed(seed)
        RecordConstructorArgs.__init__(self, noise=noise_spec.spec, seed=seed)
        gym.Wrapper.__init__(self, env)
        self.noise_spec = noise_spec
        self._reseed(seed)

    def _reseed(self, seed: int) -> None:
        self.noise_rng = np.random.default_rng(np.random.SeedSequence([seed, _TAGS[self._kind]]))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._reseed(_check_seed(seed))
        return self.env.reset(seed=seed, options=options)


class NoNoise(_NoiseWrapper):
    """``none``: passes everything through unchanged (so every run carries a ``noise_spec``)."""

    _kind = "none"


class ObservationMultiplicativeNoise(_NoiseWrapper):
    """``obs-mult:X``: ``o ↦ o ⊙ u``, ``u_i ~ U[1 − X, 1 + X]`` i.i.d., on reset and step.

    The observation space must be a ``Box``; its finite bounds are widened to the range of
    ``o ⊙ u`` (``low·(1+X)`` for a negative ``low``, ``low·(1−X)`` for a non-negative one, and
    the same for ``high``) so noisy observations stay inside it. ``X = 0`` keeps the space.
    """

    _kind = "obs-mult"

    def __init__(self, env: gym.Env, noise: NoiseSpec | str, seed: int):
        super().__init__(env, noise, seed)
        space = env.observation_space
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"obs-mult noise needs a Box observation space, got {space!r}; accepted: Box"
            )
        x = self.noise_spec.scale
        low = np.minimum(space.low * (1 - x), space.low * (1 + x))
        high = np.maximum(space.high * (1 - x), space.high * (1 + x))
        self.observation_space = spaces.Box(low, high, space.shape, space.dtype)

    def _noisy(self, observation: np.ndarray) -> np.ndarray:
        x = self.noise_spec.scale
        factor = self.noise_rng.uniform(1 - x, 1 + x, size=np.shape(observation))
        return (observation * factor).astype(self.observation_space.dtype, copy=False)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        observation, info = super().reset(seed=seed, options=options)
        return self._noisy(observation), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._noisy(observation), reward, terminated, truncated, info


class ActionGaussianNoise(_NoiseWrapper):
    """``act-gauss:σ``: the env receives ``clip(a + σ ξ, low, high)``, ``ξ ~ N(0, I)``.

    The action space must be a ``Box``. The noise is added in float64 and the result cast back
    to the action's own floating dtype (float32 for a float32 action), so ``σ = 0`` hands the
    env the very action it was given whenever that action lies in the space.
    """

    _kind = "act-gauss"

    def __init__(self, env: gym.Env, noise: NoiseSpec | str, seed: int):
        super().__init__(env, noise, seed)
        if not isinstance(env.action_space, spaces.Box):
            raise ValueError(
                f"act-gauss noise needs a Box action space, got {env.action_space!r}; accepted: Box"
            )

    def step(self, action):
        space = self.action_space
        action = np.asarray(action)
        dtype = action.dtype if np.issubdtype(action.dtype, np.floating) else space.dtype
        if action.shape != space.shape:
            raise ValueError(f"action shape {action.shape} != action space shape {space.shape}")
        xi = self.noise_rng.standard_normal(space.shape)
        noisy = np.clip(action + self.noise_spec.scale * xi, space.low, space.high)
        return self.env.step(noisy.astype(dtype))


class DynamicsGaussianNoise(_NoiseWrapper):
    """``dyn-gauss:σ``: after each step, ``qpos ← qpos ⊕ σ ξ_q``, ``qvel ← qvel + σ ξ_v``.

    Needs a Gymnasium ``MujocoEnv`` underneath. The observation is recomputed by the env's
    ``_get_obs()`` from the perturbed state; reward, termination and info are the env's, of
    the unperturbed state. With ``σ = 0`` the step is passed through untouched (re-running
    ``mj_forward`` would refresh quantities that ``mj_step`` leaves one substep stale, such as
    Humanoid's ``cinert``, and change the observation without any noise).
    """

    _kind = "dyn-gauss"

    def __init__(self, env: gym.Env, noise: NoiseSpec | str, seed: int):
        super().__init__(env, noise, seed)
        if not isinstance(env.unwrapped, MujocoEnv):
            raise ValueError(_not_mujoco(self.noise_spec, _env_name(env)))

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        sigma = self.noise_spec.scale
        if sigma == 0.0:
            return observation, reward, terminated, truncated, info
        sim = self.env.unwrapped
        model, data = sim.model, sim.data
        xi = self.noise_rng.standard_normal(2 * model.nv)
        qpos = data.qpos.copy()
        mujoco.mj_integratePos(model, qpos, sigma * xi[: model.nv], 1.0)
        qvel = data.qvel + sigma * xi[model.nv :]
        sim.set_state(qpos, qvel)
        mujoco.mj_rnePostConstraint(model, data)
        return sim._get_obs(), reward, terminated, truncated, info


_WRAPPERS: dict[str, type[_NoiseWrapper]] = {
    "none": NoNoise,
    "obs-mult": ObservationMultiplicativeNoise,
    "dyn-gauss": DynamicsGaussianNoise,
    "act-gauss": ActionGaussianNoise,
}


def with_noise(env: gym.Env, spec: NoiseSpec | str, *, seed: int) -> gym.Wrapper:
    """``env`` wrapped in the noise wrapper for ``spec`` (a string or a :class:`NoiseSpec`).

    ``seed`` seeds the wrapper's own generator until a ``reset(seed=s)`` reseeds it from ``s``.
    Raises ``ValueError`` for a bad spec, a bad seed, ``dyn-gauss`` on a non-MuJoCo env, and
    ``obs-mult`` / ``act-gauss`` on non-``Box`` spaces.

    >>> from agents.mujoco_fd import make_env
    >>> with_noise(make_env("InvertedPendulum-v5"), "obs-mult:0.2", seed=0).noise_spec.spec
    'obs-mult:0.2'
    """
    noise_spec = _as_spec(spec)
    return _WRAPPERS[noise_spec.kind](env, noise_spec, seed)
