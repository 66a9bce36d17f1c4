"""κ of MuJoCo dynamics: the largest operator norm of the whole-step Jacobian along a
random-linear-policy rollout, for seven Gymnasium MuJoCo envs (the ``full`` budget only;
needs the ``agents`` extra). Informational: the theorem certifies ``γ < γ_max = 1/κ``."""

from __future__ import annotations

from dataclasses import dataclass

from verify.claims._common import Finding, finding
from verify.claims._common import score as _score
from verify.records import Record

NAME, TITLE = "kappa-mujoco", "κ of MuJoCo dynamics (full budget)"
ENVS = (
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "Humanoid-v5",
)


@dataclass(frozen=True)
class Settings:
    mujoco_envs: tuple[str, ...]  # empty: nothing runs (and nothing is imported)
    mujoco_steps: int = 50  # rollout length


SETTINGS = {
    "testing": Settings(mujoco_envs=()),
    "quick": Settings(mujoco_envs=()),
    "full": Settings(mujoco_envs=ENVS, mujoco_steps=50),
}


def run(settings: Settings, seed: int) -> list[Finding]:
    if not settings.mujoco_envs:  # nothing to import, so no extra needed
        return []
    from agents.mujoco_kappa import kappa_along_rollout

    findings = []
    for env_id in settings.mujoco_envs:
        rollout = kappa_along_rollout(env_id, None, settings.mujoco_steps, seed)
        findings.append(
            finding(
                NAME,
                env_id,
                dict(steps=settings.mujoco_steps, policy="random-linear", eps=1e-6),
                seed,
                rollout.kappa,
                1.0,
                True,
                norms=[float(v) for v in rollout.op_norms],
                median=rollout.median,
                q90=rollout.q90,
                gamma_max=rollout.gamma_max,
                seconds_per_jacobian=rollout.seconds_per_jacobian,
                note="measured: κ = max ‖L‖ along the rollout; the theorem certifies γ < γ_max = 1/κ",
            )
        )
    return findings


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """Informational records: ``holds`` (a measured κ, not a pass/fail check)."""
    return _score(findings, versions)
