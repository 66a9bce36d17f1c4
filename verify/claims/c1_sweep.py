"""C1's smoothness trade-off: on a fixed tabular MDP with ``κ = 1.5``, the worst measured
W1 ratio (random pairs plus the pair aligned with ``L``'s top singular vector) against
``γκ`` as ``γ`` is swept; contraction is lost where ``γκ > 1`` (docs/claims.md#c1)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

import properties.predicates as P
import sobolev_core as sc
from properties.generators import build_tabular_mdp, parts_with_kappa, random_tabular_parts
from verify.claims._common import Finding, finding, laws, rng, worst
from verify.claims._common import score as _score
from verify.records import Record

NAME, TITLE = "C1-sweep", "smoothness trade-off: ratio against γ"


@dataclass(frozen=True)
class Settings:
    sweep_gammas: int  # values of γ in [0.1, 0.95]
    n_pairs: int  # random pairs of laws per γ (plus the adversarial one)


SETTINGS = {
    "testing": Settings(sweep_gammas=3, n_pairs=1),
    "quick": Settings(sweep_gammas=8, n_pairs=3),
    "full": Settings(sweep_gammas=19, n_pairs=6),
}


def run(settings: Settings, seed: int) -> list[Finding]:
    generator = rng(seed, 600)
    kappa = 1.5
    parts = parts_with_kappa(
        random_tabular_parts(generator, n_state_actions=2, n_branches=2, state_dim=2, action_dim=1),
        kappa,
    )
    findings = []
    for gamma in np.linspace(0.1, 0.95, settings.sweep_gammas):
        mdp = build_tabular_mdp(parts, float(gamma))
        pairs = [
            (laws(generator, 2, mdp.dimension), laws(generator, 2, mdp.dimension))
            for _ in range(settings.n_pairs)
        ]
        # adversarial pair: point masses split along the top right-singular vector of the worst L
        linear = max(
            (b.linear for row in mdp.transitions for b in row), key=lambda m: np.linalg.norm(m, 2)
        )
        direction = np.linalg.svd(linear)[2][0]
        same = [sc.ParticleLaw(np.zeros((1, mdp.dimension))) for _ in range(2)]
        pairs.append((same, [sc.ParticleLaw(direction[None]) for _ in range(2)]))
        largest, _, failure = worst(
            functools.partial(P.check_wasserstein_contraction, p=1),
            [(mdp.gamma, mdp.transitions, a, b) for a, b in pairs],
        )
        findings.append(
            finding(
                NAME,
                "tabular/W1",
                dict(gamma=round(float(gamma), 4), kappa=kappa, p=1),
                seed,
                largest,
                float(gamma) * kappa,
                failure is None,
                contracts=bool(largest < 1),
                failure=failure,
            )
        )
    return findings


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """Theorem checks: ``holds`` when the predicate held at every ``γ``."""
    return _score(findings, versions)
