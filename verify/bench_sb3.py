"""Env steps per second of stable-baselines3's TD3 with the toolkit's TD3 settings.

A comparison for ``sobolev-verify bench`` (issue 11: the host loop on MuJoCo against SB3's
PyTorch TD3 on the same machine). Needs the optional ``compare`` extra
(``stable-baselines3``, PyTorch); :func:`sb3_missing_message` says how to install it.
Printing-free: functions return numbers or the skip message.

Settings, those of :class:`agents.td3.TD3Config` (Fujimoto et al. 2018): actor and twin
critics 256-256 ReLU, Adam with learning rate 3e-4, batch 256, ``γ = 0.99``, ``τ = 0.005``,
policy delay 2, target-policy noise 0.2 clipped at 0.5, Gaussian exploration noise 0.1 (SB3
adds both in its normalised ``[-1, 1]`` action space, i.e. times the action half-range, as the
toolkit does), one gradient step per env step, no evaluation, CPU, one torch thread.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

__all__ = ["SB3_SKIP_MESSAGE", "sb3_missing_message", "sb3_td3_rates", "sb3_td3_steps_per_second"]

SB3_SKIP_MESSAGE = (
    "skipped: stable-baselines3 is not installed; install the compare extra "
    "(pip install 'sobolev-verify[compare]', or pip install '.[compare]' in a checkout)"
)


def sb3_missing_message() -> str | None:
    """``None`` when stable-baselines3 (and torch) can be imported, else :data:`SB3_SKIP_MESSAGE`."""
    if all(importlib.util.find_spec(name) for name in ("stable_baselines3", "torch")):
        return None
    return SB3_SKIP_MESSAGE


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def sb3_td3_steps_per_second(
    env_id: str,
    steps: int,
    seed: int,
    *,
    warmup_steps: int = 300,
    learning_starts: int | None = None,
) -> float:
    """Env steps per second of SB3 TD3 over ``steps`` timed steps after ``warmup_steps``.

    ``model.learn(warmup_steps)`` first (start-up, torch's first calls, the first updates),
    then the timed ``model.learn(steps, reset_num_timesteps=False)``. ``learning_starts``
    is SB3's count of uniform-random steps before updates begin; the default
    ``warmup_steps // 2`` puts the first updates in the warm-up, and every timed step then
    samples the actor and makes one update. The torch thread count is set
    to 1 for the call and restored after.

    Args:
      env_id: a Gymnasium MuJoCo id of :data:`agents.mujoco_fd.ENV_IDS`.
      steps: timed env steps (>= 1).
      seed: seed of SB3 (networks, noise, replay sampling) and of the env.
      warmup_steps: untimed env steps before (>= 1).
      learning_starts: SB3's ``learning_starts`` (>= 0).

    Raises:
      ModuleNotFoundError: stable-baselines3 or torch is missing (see :func:`sb3_missing_message`).
    """
    from agents.mujoco_fd import ENV_IDS, make_env

    if env_id not in ENV_IDS:
        raise ValueError(f"env_id must be one of {', '.join(ENV_IDS)}; got {env_id!r}")
    steps = _check_count("steps", steps, 1)
    warmup_steps = _check_count("warmup_steps", warmup_steps, 1)
    seed = _check_count("seed", seed, 0)
    learning_starts = warmup_steps // 2 if learning_starts is None else learning_starts
    learning_starts = _check_count("learning_starts", learning_starts, 0)

    import torch
    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import NormalActionNoise

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    env = make_env(env_id)
    try:
        n_action = env.action_space.shape[0]
        model = TD3(
            "MlpPolicy",
            env,
            learning_rate=3e-4,
            buffer_size=warmup_steps + steps,
            learning_starts=learning_starts,
            batch_size=256,
            tau=0.005,
            gamma=0.99,
            train_freq=1,
            gradient_steps=1,
            action_noise=NormalActionNoise(np.zeros(n_action), 0.1 * np.ones(n_action)),
            policy_delay=2,
            target_policy_noise=0.2,
            target_noise_clip=0.5,
            policy_kwargs={"net_arch": [256, 256], "activation_fn": torch.nn.ReLU},
            verbose=0,
            seed=seed,
            device="cpu",
        )
        model.learn(total_timesteps=warmup_steps)
        start = time.perf_counter()
        model.learn(total_timesteps=steps, reset_num_timesteps=False)
        seconds = time.perf_counter() - start
        assert model.num_timesteps == warmup_steps + steps, model.num_timesteps
    finally:
        env.close()
        torch.set_num_threads(threads)
    return steps / seconds


def sb3_td3_rates(
    env_ids=("Hopper-v5", "InvertedPendulum-v5"),
    steps: int = 1500,
    seed: int = 0,
    *,
    warmup_steps: int = 300,
) -> dict:
    """``{env_id: env steps/s}`` of :func:`sb3_td3_steps_per_second`, or
    ``{"skipped": SB3_SKIP_MESSAGE}`` when the compare extra is not installed."""
    message = sb3_missing_message()
    if message is not None:
        return {"skipped": message}
    return {
        env_id: sb3_td3_steps_per_second(env_id, steps, seed, warmup_steps=warmup_steps)
        for env_id in env_ids
    }
