"""C1: the Sobolev Bellman operator contracts in Wasserstein-p at modulus ``γκ``
(docs/claims.md#c1), on random tabular MDPs (complete and incomplete operators), random
stable linear-Gaussian systems and random neural transitions."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import properties.predicates as P
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

NAME, TITLE = "C1", "Wasserstein contraction (tabular, linear, neural)"
_TABULAR = [(0.9, 1.0, True), (0.8, 1.2, True), (0.6, 1.6, False)]  # (γ, κ, complete)


@dataclass(frozen=True)
class Settings:
    n_mdps: int  # random tabular MDPs per (γ, κ) case
    n_pairs: int  # pairs of random laws per MDP
    n_systems: int  # random linear systems, and random networks


SETTINGS = {
    "testing": Settings(n_mdps=2, n_pairs=1, n_systems=1),
    "quick": Settings(n_mdps=6, n_pairs=3, n_systems=3),
    "full": Settings(n_mdps=30, n_pairs=6, n_systems=10),
}


def run(settings: Settings, seed: int) -> list[Finding]:
    findings = []
    for label, (gamma, kappa, complete) in enumerate(_TABULAR):
        for p in (1, 2):
            problems = list(
                tabular_problems(
                    n_mdps=settings.n_mdps,
                    n_pairs=settings.n_pairs,
                    seed=seed,
                    label=100 + label,
                    gamma=gamma,
                    kappa=kappa,
                    complete=complete,
                )
            )
            largest, _, failure = worst(
                functools.partial(P.check_wasserstein_contraction, p=p),
                [(m.gamma, m.transitions, a, b) for m, a, b in problems],
            )
            operator = "complete" if complete else "incomplete"
            findings.append(
                finding(
                    NAME,
                    f"tabular/{operator}/W{p}",
                    dict(gamma=gamma, kappa=kappa, p=p, n_problems=len(problems)),
                    seed,
                    largest,
                    gamma * kappa,
                    failure is None,
                    failure=failure,
                )
            )
    for p in (1, 2):
        checks = []
        generator = rng(seed, 200)
        for _ in range(settings.n_systems):
            system = stable_linear_system(generator)
            checks.append(linear_problem(generator, system, n_points=3, n_noises=4))
        largest, bound, failure = worst(
            functools.partial(P.check_wasserstein_contraction, p=p), checks
        )
        findings.append(
            finding(
                NAME,
                f"linear/W{p}",
                dict(p=p, n_systems=settings.n_systems),
                seed,
                largest,
                bound,
                failure is None,
                failure=failure,
            )
        )
        checks = []
        generator = rng(seed, 300)
        for _ in range(settings.n_systems):
            case = random_neural_case(generator, gamma=0.9)
            points = generator.normal(size=(2, case.state_dim + case.action_dim))
            transitions, next_a, next_b = neural_backup(
                case,
                points,
                generator.normal(size=(3, case.state_dim)),
                generator.normal(size=(4, 1)),
            )
            checks.append((case.gamma, transitions, next_a, next_b))
        largest, bound, failure = worst(
            functools.partial(P.check_wasserstein_contraction, p=p), checks
        )
        findings.append(
            finding(
                NAME,
                f"neural/W{p}",
                dict(p=p, gamma=0.9, n_networks=settings.n_systems),
                seed,
                largest,
                bound,
                failure is None,
                failure=failure,
                note="bound = γ max ‖L‖ over the sampled transitions of the evaluation set",
            )
        )
    return findings


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """Theorem checks: ``holds`` when no predicate failed, else ``fails``."""
    return _score(findings, versions)
