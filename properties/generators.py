"""Deterministic builders of random Sobolev problems (NumPy ``Generator`` in, objects out).

The Hypothesis strategies in ``properties.strategies`` and the claim runners in
``verify`` both build their problems here, so a report and a property test exercise
the same constructions. Randomness is always an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import sobolev_core as sc

__all__ = [
    "TabularParts",
    "build_tabular_mdp",
    "linear_backup",
    "parts_with_kappa",
    "random_particle_law",
    "random_tabular_mdp",
    "random_tabular_parts",
    "rescale_parts",
]


@dataclass(frozen=True)
class TabularParts:
    """Raw ingredients of a tabular Sobolev MDP, one entry per branch ``(i, k)``.

    Shapes: ``probs[i]`` ``(B,)``; ``next_index[i]`` ``(B,)``; per branch the reward, its
    gradients, ``jac_s (n, n)``, ``jac_a (n, m)``, ``policy_jac (m, n)``, ``done`` and, for
    the incomplete operator, ``coupling (n, 1 + m)``.
    """

    probs: list[np.ndarray]
    next_index: list[np.ndarray]
    branches: list[list[dict]]
    complete: bool


def _maps(parts: TabularParts, jacobian_scale: float):
    rows = []
    for i, branches in enumerate(parts.branches):
        row = []
        for k, branch in enumerate(branches):
            offset, linear = sc.sobolev_affine_map(
                branch["reward"],
                branch["dr_ds"],
                branch["dr_da"],
                jacobian_scale * branch["jac_s"],
                jacobian_scale * branch["jac_a"],
                branch["policy_jac"],
                coupling=branch.get("coupling"),
                done=branch["done"],
            )
            row.append((float(parts.probs[i][k]), int(parts.next_index[i][k]), offset, linear))
        rows.append(row)
    return rows


def rescale_parts(parts: TabularParts, factor: float) -> TabularParts:
    """The same parts with ``F_s`` and ``F_a`` multiplied by ``factor``."""
    branches = [
        [dict(b, jac_s=factor * b["jac_s"], jac_a=factor * b["jac_a"]) for b in row]
        for row in parts.branches
    ]
    return TabularParts(parts.probs, parts.next_index, branches, parts.complete)


def build_tabular_mdp(
    parts: TabularParts, gamma: float, kappa: float | None = None
) -> sc.TabularSobolevMDP:
    """Assemble the MDP; with ``kappa`` set, first rescale as ``parts_with_kappa`` does."""
    if kappa is not None:
        parts = parts_with_kappa(parts, kappa)
    return sc.TabularSobolevMDP(gamma, _maps(parts, 1.0))


def parts_with_kappa(parts: TabularParts, kappa: float) -> TabularParts:
    """Rescale the dynamics Jacobians ``F_s, F_a`` by one common factor so that
    ``max ‖L‖_op = kappa`` (bisection to 1e-12 relative in the factor).

    ``kappa`` must be >= 1 (the value block has norm 1). ``max ‖L‖`` is non-decreasing in
    the factor; ``ValueError`` if ``kappa`` is unreachable (zero Jacobians, or every branch
    terminal).
    """
    if not (np.isfinite(kappa) and kappa >= 1.0):
        raise ValueError(
            f"kappa must be a finite number >= 1 (the value block has norm 1); got {kappa!r}"
        )
    # Scaling F_s and F_a by c scales every row of L but the value row (docs/math.md#operator, complete and
    # incomplete alike), so the linear parts are built once and rescaled here.
    linears = np.stack(
        [linear for row in _maps(parts, 1.0) for prob, _, _, linear in row if prob > 0]
    )

    def largest_norm(factor: float) -> float:
        scaled = np.concatenate([linears[:, :1], factor * linears[:, 1:]], axis=1)
        return float(np.linalg.svd(scaled, compute_uv=False)[:, 0].max())

    low, high = 0.0, 1.0
    while largest_norm(high) < kappa:
        high *= 2.0
        if high > 1e12:
            raise ValueError(
                f"kappa={kappa!r} is unreachable: the Jacobians are (near) zero or every branch is terminal"
            )
    for _ in range(200):
        middle = 0.5 * (low + high)
        if largest_norm(middle) < kappa:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return rescale_parts(parts, high)


def random_tabular_parts(
    rng: np.random.Generator,
    *,
    n_state_actions: int = 3,
    n_branches: int = 2,
    state_dim: int = 2,
    action_dim: int = 1,
    complete: bool = True,
    terminal_prob: float = 0.0,
) -> TabularParts:
    """Gaussian Jacobians and reward gradients, Dirichlet branch probabilities."""
    probs, next_index, branches = [], [], []
    n, m = state_dim, action_dim
    for _ in range(n_state_actions):
        probs.append(rng.dirichlet(np.ones(n_branches)))
        next_index.append(rng.integers(0, n_state_actions, size=n_branches))
        row = []
        for _ in range(n_branches):
            branch = dict(
                reward=rng.normal(),
                dr_ds=rng.normal(size=n),
                dr_da=rng.normal(size=m),
                jac_s=rng.normal(size=(n, n)),
                jac_a=rng.normal(size=(n, m)),
                policy_jac=rng.normal(size=(m, n)),
                done=float(rng.uniform() < terminal_prob),
            )
            if not complete:
                branch["coupling"] = rng.normal(size=(n, 1 + m)) * 0.5
            row.append(branch)
        branches.append(row)
    return TabularParts(probs, next_index, branches, complete)


def random_tabular_mdp(
    rng: np.random.Generator, *, gamma: float, kappa: float | None = None, **shape
) -> sc.TabularSobolevMDP:
    """A random tabular Sobolev MDP with ``contraction_modulus == gamma * kappa`` when given."""
    return build_tabular_mdp(random_tabular_parts(rng, **shape), gamma, kappa)


def random_particle_law(
    rng: np.random.Generator, dimension: int, *, n_particles: int = 6, scale: float = 1.0
) -> sc.ParticleLaw:
    """Gaussian particles with random positive weights."""
    return sc.ParticleLaw(
        rng.normal(scale=scale, size=(n_particles, dimension)), rng.uniform(0.1, 1.0, n_particles)
    )


def linear_backup(system: sc.LinearGaussianSobolev, law: sc.LinearSobolevLaw, points, noises):
    """The linear case's operator on a finite evaluation set, as ``(transitions, next_laws)``.

    For each evaluation point ``(s, a)`` in ``points`` (rows of ``[s; a]``) and each noise
    sample ``w_k`` (rows of ``noises``), the branch ``(1/K, j, b(s, a), M)`` reads the
    gradient-block law at ``(s'_k, K s'_k)``, ``s'_k = A s + B a + w_k`` (docs/math.md#linear-gaussian;
    ``M = [Aᵀ; Bᵀ][I, Kᵀ]``). Returns the transitions and the next laws as ``ParticleLaw``.
    """
    n = system.state_dim
    offset_fn = system.affine_map().offset
    matrix = system.gradient_operator_matrix()
    transitions, next_laws = [], []
    for point in np.atleast_2d(points):
        s, a = point[:n], point[n:]
        offset = offset_fn(s, a)[1:]  # the gradient block; the value block is not in the family
        row = []
        for w in np.atleast_2d(noises):
            nxt = system.A @ s + system.B @ a + w
            row.append((1.0 / len(noises), len(next_laws), offset, matrix))
            next_laws.append(sc.ParticleLaw(law.sample_at(nxt, system.K @ nxt)))
        transitions.append(row)
    return transitions, next_laws
