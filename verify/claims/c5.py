"""C5: fixed points (docs/claims.md#c5) — on a linear-Gaussian system the iterated
operator's fixed point has the closed-form mean and covariance; on tabular MDPs two starts
merge at the contraction rate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import properties.predicates as P
from verify.claims._common import Finding, finding, rng, stable_linear_system, tabular_problems
from verify.claims._common import score as _score
from verify.records import Record

NAME, TITLE = "C5", "fixed points"
N_PARTICLES = 20000


@dataclass(frozen=True)
class Settings:
    n_mdps: int  # random tabular MDPs for "two starts merge"


SETTINGS = {
    "testing": Settings(n_mdps=2),
    "quick": Settings(n_mdps=6),
    "full": Settings(n_mdps=30),
}


def run(settings: Settings, seed: int) -> list[Finding]:
    findings = []
    generator = rng(seed, 700)
    system = stable_linear_system(generator, n=2, m=1, target=0.5, gamma=0.9)
    try:
        result = P.check_linear_fixed_point(system, generator, n_particles=N_PARTICLES)
        mean_error, z_max, failure = result["mean_error"], result["z_max"], None
        iterations = result["iterations"]
    except AssertionError as error:
        mean_error, z_max, failure, iterations = math.inf, math.inf, str(error), None
    fixed = dict(iterations=iterations, n_particles=N_PARTICLES)
    findings.append(
        finding(
            NAME,
            "linear/mean (closed form, relative error)",
            fixed,
            seed,
            mean_error,
            1e-8,
            mean_error <= 1e-8,
            failure=failure,
        )
    )
    findings.append(
        finding(
            NAME,
            "linear/covariance (closed form, z-score)",
            fixed,
            seed,
            z_max,
            5.0,
            z_max <= 5.0,
            failure=failure,
            note="5 standard deviations per entry (mean and second moment): false-alarm probability < 6e-7 per entry",
        )
    )
    largest, failure = 0.0, None
    problems = tabular_problems(
        n_mdps=settings.n_mdps, n_pairs=1, seed=seed, label=710, gamma=0.8, kappa=1.1
    )
    for mdp, start_a, start_b in problems:
        try:
            result = P.check_fixed_point(mdp, start_a, start_b, 8, max_particles=32)
        except AssertionError as error:
            failure = failure or str(error)
            continue
        share = result["final"] / result["bound"] if result["bound"] > 0 else 0.0
        largest = max(largest, share)
    findings.append(
        finding(
            NAME,
            "tabular/two starts merge (final / bound)",
            dict(iterations=8, gamma=0.8, kappa=1.1),
            seed,
            largest,
            1.0,
            failure is None,
            failure=failure,
        )
    )
    return findings


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """Theorem checks: ``holds`` when the measured error is within the stated bound."""
    return _score(findings, versions)
