"""What the claim modules share: the finding a run returns, its scoring into a ``Record``,
seeded generators and the random problems of several claims."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import properties.predicates as P
import sobolev_core as sc
from properties.generators import (
    build_tabular_mdp,
    linear_backup,
    parts_with_kappa,
    random_particle_law,
    random_tabular_parts,
)
from verify.records import EMPIRICAL_VERDICTS, Record

BUDGETS = ("testing", "quick", "full")


@dataclass(frozen=True)
class Finding:
    """One measured case of one claim, before scoring.

    ``passed``: the check came out as ``expected`` (a theorem check holds, a negative
    control is detected). ``outcome``: for an empirical claim, ``supported``,
    ``contradicted`` or ``inconclusive`` (then it is the verdict and ``passed`` is unused).
    """

    claim: str
    case: str
    settings: dict[str, Any]
    seed: int
    measured: float
    bound: float
    passed: bool = False
    expected: str = "holds"
    outcome: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.outcome is not None and self.outcome not in EMPIRICAL_VERDICTS:
            raise ValueError(f"outcome must be one of {EMPIRICAL_VERDICTS}; got {self.outcome!r}")


def finding(
    claim, case, settings, seed, measured, bound, passed, expected="holds", outcome=None, **details
) -> Finding:
    """A theorem check (``expected="holds"``), a negative control (``"fails"``), or with
    ``outcome`` an empirical claim; the outcome is also kept as ``details["outcome"]``, where
    records written before the three-state verdict carried it."""
    if outcome is not None:
        details = {"outcome": outcome, **details}
    return Finding(
        claim=claim,
        case=case,
        settings=settings,
        seed=int(seed),
        measured=float(measured),
        bound=float(bound),
        passed=bool(passed),
        expected=expected,
        outcome=outcome,
        details=details,
    )


def outcome_of(low: float, high: float, *, better_below: bool) -> str:
    """``supported`` / ``contradicted`` / ``inconclusive`` for an interval around 0: supported
    when it lies on the claimed side (below 0 when ``better_below``), contradicted when it
    lies on the other side, inconclusive when it contains 0."""
    if (high < 0) if better_below else (low > 0):
        return "supported"
    if (low > 0) if better_below else (high < 0):
        return "contradicted"
    return "inconclusive"


def verdict(found: Finding) -> str:
    """``holds``/``fails`` (theorem check), ``detected``/``missed`` (negative control), or the
    empirical outcome itself."""
    if found.outcome is not None:
        return found.outcome
    if found.expected == "holds":
        return "holds" if found.passed else "fails"
    return "detected" if found.passed else "missed"


def score(findings: Iterable[Finding], versions: dict[str, str]) -> list[Record]:
    """Findings -> typed records carrying their verdict and the library versions."""
    return [
        Record(
            claim=found.claim,
            case=found.case,
            settings=found.settings,
            seed=found.seed,
            measured=found.measured,
            bound=found.bound,
            verdict=verdict(found),
            expected=found.expected,
            details=found.details,
            versions=versions,
        )
        for found in findings
    ]


def rng(seed: int, *labels: int) -> np.random.Generator:
    return np.random.default_rng([seed, *labels])


def laws(generator, size, dimension):
    return [
        random_particle_law(generator, dimension, n_particles=int(generator.integers(1, 6)))
        for _ in range(size)
    ]


def worst(check: Callable[..., P.Contraction], problems) -> tuple[float, float, str | None]:
    """Run ``check(*args)`` for each argument tuple; return the worst ratio, its bound and the
    first failure message (a predicate's ``AssertionError``)."""
    largest, bound, failure = 0.0, 0.0, None
    for args in problems:
        try:
            measured = check(*args)
        except AssertionError as error:
            failure = failure or str(error)
            continue
        if measured.ratio >= largest:
            largest, bound = measured.ratio, measured.bound
    return largest, bound, failure


def tabular_problems(*, n_mdps, n_pairs, seed, label, gamma, kappa, complete=True):
    """``n_mdps`` random tabular Sobolev MDPs with ``γ``, ``κ``, each with ``n_pairs`` random
    pairs of particle laws: yields ``(mdp, laws_a, laws_b)``."""
    generator = rng(seed, label)
    for _ in range(n_mdps):
        shape = dict(
            n_state_actions=int(generator.integers(1, 4)),
            n_branches=int(generator.integers(1, 4)),
            state_dim=int(generator.integers(1, 3)),
            action_dim=int(generator.integers(1, 3)),
        )
        while True:  # redraw the rare MDP whose every branch is terminal (κ cannot be set)
            raw = random_tabular_parts(generator, complete=complete, terminal_prob=0.2, **shape)
            if not all(b["done"] for row in raw.branches for b in row):
                break
        mdp = build_tabular_mdp(parts_with_kappa(raw, kappa), gamma)
        for _ in range(n_pairs):
            yield (
                mdp,
                laws(generator, mdp.n_state_actions, mdp.dimension),
                laws(generator, mdp.n_state_actions, mdp.dimension),
            )


def linear_problem(generator, system, *, n_points: int, n_noises: int):
    """``(gamma, transitions, next_a, next_b)`` for the linear case: two random affine-plus-
    particle laws, ``n_points`` evaluation points and ``n_noises`` shared noise samples."""
    dim = system.state_dim + system.action_dim
    pair = [
        sc.LinearSobolevLaw(
            generator.normal(size=(dim, dim)) * 0.1, generator.normal(size=(6, dim))
        )
        for _ in range(2)
    ]
    points, noises = (
        generator.normal(size=(n_points, dim)),
        system.sample_noise(n_noises, generator),
    )
    transitions, next_a = linear_backup(system, pair[0], points, noises)
    _, next_b = linear_backup(system, pair[1], points, noises)
    return system.gamma, transitions, next_a, next_b


def stable_linear_system(generator, n=2, m=1, target=0.6, gamma=0.9, max_gradient_norm=None):
    """Random linear-Gaussian system with ``γ ρ(A+BK)² = target``; with ``max_gradient_norm``
    set, ``(A, B)`` are scaled down further so that ``‖M‖ <= max_gradient_norm``."""
    a_mat = generator.normal(size=(n, n))
    b_mat, k_mat = generator.normal(size=(n, m)), generator.normal(size=(m, n))
    rho = max(abs(np.linalg.eigvals(a_mat + b_mat @ k_mat)))
    factor = math.sqrt(target / gamma) / rho
    if max_gradient_norm is not None:
        grad_block = np.vstack([a_mat.T, b_mat.T]) @ np.hstack([np.eye(n), k_mat.T])
        factor = min(factor, max_gradient_norm / np.linalg.norm(grad_block, 2))
    return sc.LinearGaussianSobolev(
        A=factor * a_mat,
        B=factor * b_mat,
        K=k_mat,
        Q=np.eye(n),
        R=np.eye(m),
        Sigma=0.1 * np.eye(n),
        gamma=gamma,
    )
