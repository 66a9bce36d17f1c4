"""``sobolev-verify jacobians ENV``: κ of a Gymnasium MuJoCo env's whole-step Jacobians."""

from __future__ import annotations

import json
import math
import sys

from verify.usage import UsageError


def run_jacobians(*, env_id: str, steps: int, seed: int, eps: float, as_json: bool) -> int:
    from agents.mujoco_fd import ENV_IDS
    from agents.mujoco_kappa import kappa_along_rollout

    if env_id not in ENV_IDS:
        raise UsageError(
            f"sobolev-verify jacobians: error: unknown ENV {env_id!r}; valid: {', '.join(ENV_IDS)}"
        )
    if steps < 1:
        raise UsageError(f"sobolev-verify jacobians: error: --steps must be >= 1; got {steps}")
    if not (math.isfinite(eps) and eps > 0):
        raise UsageError(
            f"sobolev-verify jacobians: error: --eps must be a positive number; got {eps}"
        )
    rollout = kappa_along_rollout(env_id, None, steps, seed, eps=eps)
    summary = dict(
        env=env_id,
        steps=steps,
        seed=seed,
        median=rollout.median,
        q90=rollout.q90,
        kappa=rollout.kappa,
        gamma_max=rollout.gamma_max,
        seconds_per_jacobian=rollout.seconds_per_jacobian,
    )
    print(
        f"{env_id}: ‖L‖ along a {steps}-step random-linear rollout: median {rollout.median:.4g}, "
        f"90% {rollout.q90:.4g}, max κ = {rollout.kappa:.4g}; the theorem certifies γ < γ_max = "
        f"{rollout.gamma_max:.3g} ({rollout.seconds_per_jacobian * 1e3:.1f} ms per whole-step Jacobian)",
        file=sys.stderr if as_json else sys.stdout,
    )
    if as_json:
        print(json.dumps(summary))
    return 0
