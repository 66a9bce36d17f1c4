"""C3: replacing the true action-gradient law by a model's changes the deterministic policy
gradient by at most ``L_ψ/(1 − γ) sup_s W₁(η_a(s), η̂_a(s))`` ([DS] Proposition 1,
docs/claims.md#c3); measured: the worst ratio error / bound over random problems."""

from __future__ import annotations

from dataclasses import dataclass

import properties.predicates as P
from properties.generators import random_particle_law
from verify.claims._common import Finding, finding, rng
from verify.claims._common import score as _score
from verify.records import Record

NAME, TITLE = "C3", "policy-gradient error bound"


@dataclass(frozen=True)
class Settings:
    n_controls: int  # random problems


SETTINGS = {
    "testing": Settings(n_controls=20),
    "quick": Settings(n_controls=60),
    "full": Settings(n_controls=400),
}


def run(settings: Settings, seed: int) -> list[Finding]:
    generator = rng(seed, 800)
    tightness, failure = 0.0, None
    for _ in range(settings.n_controls):
        n_states, m, n_params = (int(v) for v in generator.integers(1, 5, size=3))
        jacs = generator.normal(size=(n_states, m, n_params))
        true = [random_particle_law(generator, m, n_particles=4) for _ in range(n_states)]
        model = [random_particle_law(generator, m, n_particles=4) for _ in range(n_states)]
        try:
            result = P.check_policy_gradient_bound(
                jacs, true, model, float(generator.uniform(0, 0.99))
            )
        except AssertionError as error:
            failure = failure or str(error)
            continue
        tightness = max(tightness, result["tightness"])
    return [
        finding(
            NAME,
            "policy-gradient error / bound (worst)",
            dict(n_problems=settings.n_controls),
            seed,
            tightness,
            1.0,
            failure is None,
            failure=failure,
            note="a ratio near 1 means the bound is nearly attained",
        )
    ]


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """A theorem check: ``holds`` when the bound held on every problem."""
    return _score(findings, versions)
