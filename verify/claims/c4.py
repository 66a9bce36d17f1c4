"""C4 negative controls (docs/claims.md#c4): each is expected to fail and must be detected —
growth when ``γκ > 1`` (C4a), a Gaussian kernel that is not scale sensitive (C4b), the
full-vector MMD under a rank-one map (C4c), and broken Sobolev operators caught by the
chain-rule property (C4d)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import properties.predicates as P
import sobolev_core as sc
from properties.generators import build_tabular_mdp, parts_with_kappa, random_tabular_parts
from properties.mutants import MUTANTS
from properties.systems import random_tanh_system
from verify.claims._common import Finding, finding, laws, rng
from verify.claims._common import score as _score
from verify.records import Record

NAME, TITLE = "C4", "negative controls"


@dataclass(frozen=True)
class Settings:
    n_controls: int  # random problems per control (C4d: tries per mutant)


SETTINGS = {
    "testing": Settings(n_controls=60),  # as quick: C4d must catch every mutant within it
    "quick": Settings(n_controls=60),
    "full": Settings(n_controls=400),
}


def _growth(generator, n_controls, seed) -> Finding:
    """C4a: with ``γκ = 1.62 > 1`` the W1 distance grows on some random MDP."""
    found = 0.0
    for _ in range(n_controls):
        parts = parts_with_kappa(
            random_tabular_parts(generator, n_state_actions=1, n_branches=1), 1.8
        )
        mdp = build_tabular_mdp(parts, 0.9)
        ratio = P.check_wasserstein_contraction(
            mdp.gamma, mdp.transitions, *[laws(generator, 1, mdp.dimension) for _ in range(2)], 1
        ).ratio
        found = max(found, ratio)
    return finding(
        "C4a",
        "γκ = 1.62 > 1: distance grows",
        dict(gamma=0.9, kappa=1.8),
        seed,
        found,
        1.0,
        found > 1.0,
        expected="fails",
        note="measured: largest W1 ratio found (growth if > 1)",
    )


def _gaussian_kernel(generator, n_controls, seed) -> Finding:
    """C4b: the Gaussian kernel is not scale sensitive: shrinking can raise MMD²."""
    gaussian, largest = sc.gaussian(1.0), 0.0
    for _ in range(n_controls):
        x, y = generator.normal(scale=10, size=5), generator.normal(scale=10, size=5)
        shrink = float(generator.uniform(0.05, 0.95))
        largest = max(
            largest,
            float(sc.mmd2(shrink * x, shrink * y, gaussian))
            / max(float(sc.mmd2(x, y, gaussian)), 1e-300),
        )
    return finding(
        "C4b",
        "Gaussian kernel: shrinking raises MMD²",
        {"kernel": gaussian.spec},
        seed,
        largest,
        1.0,
        largest > 1.0,
        expected="fails",
        note="measured: largest MMD²(cU,cV)/MMD²(U,V), c < 1",
    )


def _rank_one(generator, n_controls, seed) -> Finding:
    """C4c: the full-vector MMD can grow under a rank-one map of norm 0.95."""
    kernel, largest = sc.multiquadric(1.0), 0.0
    for _ in range(n_controls):
        scale = 10 ** generator.uniform(-1, 1)
        x = generator.normal(scale=scale, size=(3, 2))
        y = generator.normal(scale=scale, size=(3, 2))
        u, v = generator.normal(size=2), generator.normal(size=2)
        linear = 0.95 * np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
        largest = max(
            largest,
            sc.mmd(x @ linear.T, y @ linear.T, kernel) / max(sc.mmd(x, y, kernel), 1e-300),
        )
    return finding(
        "C4c",
        "full-vector MMD under a rank-one map of norm 0.95",
        {"kernel": kernel.spec},
        seed,
        largest,
        1.0,
        largest > 1.0,
        expected="fails",
        note="measured: largest MMD(Lx,Ly)/MMD(x,y)",
    )


def _mutant(generator, name, make, n_controls, seed) -> Finding:
    """C4d: a broken Sobolev operator is caught by the chain rule against finite differences."""
    caught, tries = None, 0
    while caught is None and tries < n_controls:
        tries += 1
        system = random_tanh_system(generator)
        horizon = int(generator.integers(2, 6))
        dones = [bool(d) for d in generator.uniform(size=horizon) < 0.3]
        gamma = float(generator.uniform(0.5, 0.99))
        state = generator.normal(size=system.state_dim)
        action = generator.normal(size=system.action_dim)
        noises = generator.normal(size=(horizon, system.state_dim))
        try:
            P.check_chain_rule(system, state, action, noises, dones, gamma, make(gamma))
        except AssertionError as error:
            caught = str(error)
    return finding(
        "C4d",
        f"broken operator: {name}",
        {"property": "chain rule vs finite differences"},
        seed,
        tries if caught else 0,
        n_controls,
        caught is not None,
        expected="fails",
        note="measured: random systems tried until caught",
        caught_by=caught,
    )


def run(settings: Settings, seed: int) -> list[Finding]:
    """Every control, in this order, from one generator (the order fixes the draws)."""
    generator, count = rng(seed, 900), settings.n_controls
    findings = [
        _growth(generator, count, seed),
        _gaussian_kernel(generator, count, seed),
        _rank_one(generator, count, seed),
    ]
    for name, make in sorted(MUTANTS.items()):
        findings.append(_mutant(generator, name, make, count, seed))
    return findings


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """Negative controls: ``detected`` when the failure was found, else ``missed``."""
    return _score(findings, versions)
