"""κ along the states a MuJoCo run visited: does the Sobolev backup expand where the agent goes?

The state-gradient block of the complete Sobolev backup (docs/math.md, the C1 row of
docs/claims.md) maps a gradient at ``s'`` back to ``s`` through the closed-loop Jacobian

    J(s) = F_s(s, π(s)) + F_a(s, π(s)) ∇π(s),

so it contracts with modulus ``γ ‖J‖₂`` and can expand wherever ``γ ‖J(s)‖₂ > 1``. A
Sobolev-TD3 run on a MuJoCo env stores the finite-difference Jacobians ``F_s`` (``jac_obs``)
and ``F_a`` (``jac_act``) of every env step it took in its replay buffer; this module reads
them from the run's checkpoint, takes ``∇π`` from the checkpoint's actor by forward-mode
autodiff, and summarises three norms over the visited states, split by when they were
visited:

- ``open_loop``: ``‖F_s‖₂``, the dynamics alone;
- ``joint``: ``‖[F_s F_a]‖₂``, the bound C1 uses when the policy's Jacobian is unknown;
- ``closed_loop``: ``‖J(s)‖₂`` with the final actor, and its spectral radius ``ρ(J(s))``
  (``ρ < 1`` is a stable closed loop even where the norm exceeds 1).

Each summary gives quantiles and the fraction of states where ``γ · norm > 1``.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["closed_loop_jacobians", "kappa_summary", "visited_kappa"]

_QUANTILES = (0.1, 0.5, 0.9, 1.0)


def _load_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    config_path, checkpoint_path = run_dir / "config.json", run_dir / "checkpoint.pkl"
    for path in (config_path, checkpoint_path):
        if not path.is_file():
            raise ValueError(
                f"run_dir {str(run_dir)!r} has no {path.name}: not a finished host-loop run"
            )
    config = json.loads(config_path.read_text())
    with open(checkpoint_path, "rb") as handle:
        checkpoint = pickle.load(handle)
    fields = checkpoint["buffer"].data
    if "jac_obs" not in fields:
        raise ValueError(
            f"run_dir {str(run_dir)!r}: its replay buffer holds no jac_obs/jac_act (fields "
            f"{sorted(fields)}); only Sobolev runs on MuJoCo envs store the step Jacobians"
        )
    return config, checkpoint


def closed_loop_jacobians(act, state, obs, jac_obs, jac_act) -> np.ndarray:
    """``F_s + F_a ∇π`` at each row of ``obs``; ``act(state, obs) -> action`` is the policy."""
    policy_jacobian = jax.jit(jax.vmap(jax.jacfwd(lambda o: act(state, o))))
    grads = np.asarray(policy_jacobian(jnp.asarray(obs)), dtype=np.float64)
    return np.asarray(jac_obs, np.float64) + np.einsum("bij,bjk->bik", jac_act, grads)


def kappa_summary(norms: np.ndarray, gamma: float) -> dict[str, Any]:
    """Quantiles of ``norms`` and the fraction of states where ``gamma * norm > 1``."""
    norms = np.asarray(norms, dtype=np.float64)
    return {
        "quantiles": {f"q{round(100 * q)}": float(np.quantile(norms, q)) for q in _QUANTILES},
        "mean": float(norms.mean()),
        "frac_expanding": float(np.mean(gamma * norms > 1.0)),
        "states": int(norms.size),
    }


def visited_kappa(run_dir: str | Path, *, windows: int = 4, gamma: float | None = None) -> dict:
    """The κ summaries of a finished Sobolev run, over all its visited states and per window.

    ``windows`` splits the buffer (in visiting order) into that many equal spans, so the
    random phase and the learned phase can be told apart; ``gamma`` defaults to the run's.
    """
    from agents.agent import env_info
    from agents.envs import make_training_env
    from agents.registry import make_agent

    run_dir = Path(run_dir)
    if isinstance(windows, bool) or not isinstance(windows, int) or windows < 1:
        raise ValueError(f"windows must be an integer >= 1; got {windows!r}")
    config, checkpoint = _load_run(run_dir)
    run, hyper = config["run"], config["hyperparameters"]
    gamma = float(hyper["gamma"] if gamma is None else gamma)
    buffer = checkpoint["buffer"]
    if buffer.size < buffer.capacity and buffer.cursor != buffer.size:
        raise ValueError(f"run_dir {str(run_dir)!r}: inconsistent replay buffer")
    order = np.arange(buffer.size)
    if buffer.size == buffer.capacity:  # a full ring: the oldest item sits at the cursor
        order = (order + buffer.cursor) % buffer.capacity
    data = {name: column[order] for name, column in buffer.data.items()}

    training_env = make_training_env(run["env"], run["noise"], run["seed"])
    try:
        agent = make_agent(run["algo"], env_info(training_env), run["options"])
    finally:
        training_env.env.close()
    closed = closed_loop_jacobians(
        agent.act, checkpoint["agent"], data["obs"], data["jac_obs"], data["jac_act"]
    )
    jac_obs = data["jac_obs"].astype(np.float64)
    joint = np.concatenate([jac_obs, data["jac_act"].astype(np.float64)], axis=-1)
    norms = {
        "open_loop": np.linalg.norm(jac_obs, ord=2, axis=(1, 2)),
        "joint": np.linalg.norm(joint, ord=2, axis=(1, 2)),
        "closed_loop": np.linalg.norm(closed, ord=2, axis=(1, 2)),
        "closed_loop_radius": np.abs(np.linalg.eigvals(closed)).max(axis=-1),
    }
    spans = np.array_split(np.arange(len(order)), windows)
    return {
        "run_dir": str(run_dir),
        "algo": run["algo"],
        "env": run["env"],
        "gamma": gamma,
        "steps": int(run["steps"]),
        "all": {name: kappa_summary(value, gamma) for name, value in norms.items()},
        "windows": [
            {
                "visited": [int(span[0]), int(span[-1]) + 1],
                **{name: kappa_summary(value[span], gamma) for name, value in norms.items()},
            }
            for span in spans
            if span.size
        ],
    }
