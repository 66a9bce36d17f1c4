"""What an algorithm is to the training loops: an :class:`Agent` built for an :class:`EnvInfo`.

An algorithm module has ``make_agent(env_info, options) -> Agent``: an :class:`Agent` is a
NamedTuple of jitted functions (``init``, ``explore``, ``act``, ``update``) plus its
hyperparameter dataclass. The algorithms are listed in :mod:`agents.registry`; the loops
(:func:`agents.training.run_training`, :func:`agents.device_loop.run_device_training`) train,
evaluate, checkpoint and resume every one of them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:  # annotations only: importing the envs needs the 'agents' extra
    import jax

    from agents.envs import DiffModel, TrainingEnv

__all__ = ["Agent", "EnvInfo", "env_info"]


class EnvInfo(NamedTuple):
    """What an algorithm may know about its env when it builds its networks."""

    env_id: str
    obs_dim: int
    action_dim: int
    action_low: np.ndarray
    action_high: np.ndarray
    diff_model: DiffModel | None
    is_mujoco: bool


class Agent(NamedTuple):
    """An algorithm as functions (all jitted by the algorithm module).

    Attributes:
      hyper: the hyperparameter dataclass; the loop reads ``gamma``, ``batch_size``,
        ``updates_per_step``, ``start_steps`` and ``buffer_size`` from it.
      init: ``key -> state`` (a pytree: parameters, target parameters, optimiser states).
      explore: ``(state, obs, key) -> action`` for collecting data.
      act: ``(state, obs) -> action``, the deterministic evaluation policy.
      update: ``(state, batch, key) -> (state, losses)``; ``batch`` holds the replay fields
        with leading shape ``(updates_per_step, batch_size)``, ``losses`` maps names to
        scalars (means over the updates).
      extra_fields: replay fields beyond ``obs, action, reward, next_obs, terminated``
        (name -> per-item shape).
      extras: ``(training_env, obs, action, info) -> {name: array}`` filling the extra
        fields; called before the env steps (it may query the env's current state), with the
        step's ``info`` patched in by :func:`agents.training.run_training` through
        ``info_fields``.
      info_fields: extra fields copied from the step's ``info`` (e.g. ``noise``).
    """

    hyper: Any
    init: Callable[[jax.Array], Any]
    explore: Callable[[Any, jax.Array, jax.Array], jax.Array]
    act: Callable[[Any, jax.Array], jax.Array]
    update: Callable[[Any, dict[str, jax.Array], jax.Array], tuple[Any, dict[str, jax.Array]]]
    extra_fields: Mapping[str, tuple[int, ...]] = {}
    extras: Callable[[TrainingEnv, np.ndarray, np.ndarray], dict[str, np.ndarray]] | None = None
    info_fields: tuple[str, ...] = ()


def env_info(training_env: TrainingEnv) -> EnvInfo:
    """The :class:`EnvInfo` of a training env (:func:`agents.envs.make_training_env`)."""
    space = training_env.env.action_space
    return EnvInfo(
        env_id=training_env.env_id,
        obs_dim=int(np.prod(training_env.env.observation_space.shape)),
        action_dim=int(np.prod(space.shape)),
        action_low=np.asarray(space.low, dtype=np.float32),
        action_high=np.asarray(space.high, dtype=np.float32),
        diff_model=training_env.diff_model,
        is_mujoco=training_env.is_mujoco,
    )
