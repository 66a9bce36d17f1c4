"""C2: the Sobolev Bellman operator contracts in MSMMD at modulus ``(γκ)^(α/2)`` for a
kernel of scale-sensitivity order ``α`` (docs/claims.md#c2), on tabular, linear and neural
cases."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import properties.predicates as P
import sobolev_core as sc
from properties.neural import neural_backup, random_neural_case
from verify.claims._common import (
    Finding,
    finding,
    linear_problem,
    rng,
    stable_linear_system,
    tabular_problems,
    worst,
)
from verify.claims._common import score as _score
from verify.records import Record

NAME, TITLE = "C2", "MSMMD contraction"


@dataclass(frozen=True)
class Settings:
    n_mdps: int  # random tabular MDPs per kernel (one pair of laws each)
    n_systems: int  # random linear systems, and random networks


SETTINGS = {
    "testing": Settings(n_mdps=2, n_systems=1),
    "quick": Settings(n_mdps=6, n_systems=3),
    "full": Settings(n_mdps=30, n_systems=10),
}


def run(settings: Settings, seed: int) -> list[Finding]:
    findings = []
    kernels = (("multiquadric:h=100", sc.multiquadric(100.0)), ("energy:beta=1", sc.energy(1.0)))
    for label, (spec, kernel) in enumerate(kernels):
        gamma, kappa = 0.8, 1.2
        problems = list(
            tabular_problems(
                n_mdps=settings.n_mdps,
                n_pairs=1,
                seed=seed,
                label=400 + label,
                gamma=gamma,
                kappa=kappa,
                complete=True,
            )
        )
        largest, bound, failure = worst(
            functools.partial(P.check_msmmd_contraction, kernel=kernel, seed=seed),
            [(m.gamma, m.transitions, a, b) for m, a, b in problems],
        )
        findings.append(
            finding(
                NAME,
                f"tabular/MSMMD/{spec}",
                dict(gamma=gamma, kappa=kappa, alpha=kernel.scale_order, n_problems=len(problems)),
                seed,
                largest,
                (gamma * kappa) ** (kernel.scale_order / 2),
                failure is None,
                failure=failure,
                note="left side searched; soundness by per-direction certificates (properties.predicates)",
            )
        )
    generator = rng(seed, 500)
    checks = []
    for _ in range(settings.n_systems):
        system = stable_linear_system(generator, gamma=0.5, max_gradient_norm=1.8)  # γκ <= 0.9
        checks.append(linear_problem(generator, system, n_points=2, n_noises=3))
    largest, bound, failure = worst(
        functools.partial(P.check_msmmd_contraction, kernel=sc.energy(1.0), seed=seed), checks
    )
    findings.append(
        finding(
            NAME,
            "linear/MSMMD/energy:beta=1",
            dict(gamma=0.5, n_systems=len(checks)),
            seed,
            largest,
            bound,
            failure is None and bool(checks),
            failure=failure,
        )
    )
    generator = rng(seed, 510)
    checks = []
    for _ in range(settings.n_systems):
        case = random_neural_case(generator, gamma=0.3, scale=0.4)  # γ small: C2 needs γκ <= 1
        points = generator.normal(size=(2, case.state_dim + case.action_dim))
        transitions, next_a, next_b = neural_backup(
            case,
            points,
            generator.normal(size=(2, case.state_dim)),
            generator.normal(size=(4, 1)),
        )
        if P.backup_modulus(case.gamma, transitions) <= 1:
            checks.append((case.gamma, transitions, next_a, next_b))
    largest, bound, failure = worst(
        functools.partial(P.check_msmmd_contraction, kernel=sc.multiquadric(100.0), seed=seed),
        checks,
    )
    findings.append(
        finding(
            NAME,
            "neural/MSMMD/multiquadric:h=100",
            dict(gamma=0.3, n_networks=len(checks)),
            seed,
            largest,
            bound,
            failure is None and bool(checks),
            failure=failure,
            note="evaluation sets whose sampled γκ exceeds 1 are skipped (C2 needs γκ <= 1)",
        )
    )
    return findings


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """Theorem checks: ``holds`` when no predicate failed (and something was checked)."""
    return _score(findings, versions)
