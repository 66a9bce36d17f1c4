"""The Sobolev Bellman operator in pseudo-affine form, and its tabular (particle) case.

docs/math.md#operator: for a transition with noise ``eps`` the Sobolev return maps as
``T X = b + gamma L X'`` where, for the complete return ``X = (G, dG/ds, dG/da)``,

    b = (r, dr/ds, dr/da),     L = blockdiag(1, [F_sᵀ; F_aᵀ] [I_n, Π'ᵀ]),

and for the incomplete (action) return ``X = (G, dG/da)`` with the borrowed state
gradient modelled as ``u' = C X'``, ``C = [C_g, C_v]`` of shape ``(n, 1 + m)``,

    b = (r, dr/da),            L = [[1, 0], [F_aᵀ C_g, F_aᵀ (C_v + Π'ᵀ)]].

Terminal transitions multiply ``L`` by ``1 - done``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from sobolev_core._arrays import array_module, check_finite, check_gamma

__all__ = [
    "ParticleLaw",
    "TabularSobolevMDP",
    "Transition",
    "apply_backup",
    "apply_operator",
    "compress_law",
    "contraction_modulus",
    "iterate_operator",
    "sobolev_affine_map",
    "sup_distance",
]


def _shape(value) -> tuple[int, ...]:
    return tuple(getattr(value, "shape", np.shape(value)))


def _expect(name: str, value, shape: tuple[int, ...], meaning: str) -> None:
    if _shape(value) != shape:
        raise ValueError(f"{name} must have shape {shape} ({meaning}); got shape {_shape(value)}")
    check_finite(name, value)


def sobolev_affine_map(reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, *, coupling=None, done=0.0):
    """Offset ``b`` and linear part ``L`` of one transition's Sobolev backup ``T X = b + γ L X'``.

    Args:
      reward: scalar ``r``.
      dr_ds: ``(n,)`` reward gradient in the state.
      dr_da: ``(m,)`` reward gradient in the action.
      jac_s: ``(n, n)`` ``F_s = ∂s'/∂s``.
      jac_a: ``(n, m)`` ``F_a = ∂s'/∂a``.
      policy_jac: ``(m, n)`` ``Π' = ∂π/∂s`` at the next state.
      coupling: ``None`` for the complete return ``(G, ∇_s G, ∇_a G)``; a matrix ``C`` of
        shape ``(n, 1 + m)`` for the incomplete return ``(G, ∇_a G)`` whose missing next-state
        gradient is modelled as ``u' = C X'``.
      done: 1 for a terminal transition (the bootstrap ``L`` is multiplied by ``1 - done``).

    Returns:
      ``(b, L)`` of shapes ``(D,)`` and ``(D, D)``, ``D = 1 + n + m`` (complete) or ``1 + m``.

    >>> import numpy as np
    >>> b, L = sobolev_affine_map(1.0, [0.0], [0.0], [[0.5]], [[1.0]], [[2.0]])
    >>> L.tolist()  # blockdiag(1, [[F_s],[F_a]] @ [1, Π'])
    [[1.0, 0.0, 0.0], [0.0, 0.5, 1.0], [0.0, 1.0, 2.0]]
    """
    xp = array_module(reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, coupling, done)
    if xp.__name__ == "torch":
        raise ValueError("sobolev_affine_map takes NumPy or JAX arrays; got torch tensors")
    if xp is np:
        reward, dr_ds, dr_da, jac_s, jac_a, policy_jac = (
            np.asarray(v, dtype=float) for v in (reward, dr_ds, dr_da, jac_s, jac_a, policy_jac)
        )
        coupling = None if coupling is None else np.asarray(coupling, dtype=float)
    n_state = _shape(dr_ds)[0] if len(_shape(dr_ds)) == 1 else -1
    n_action = _shape(dr_da)[0] if len(_shape(dr_da)) == 1 else -1
    if n_state < 1 or n_action < 1:
        raise ValueError(
            f"dr_ds and dr_da must be 1-D vectors (n,) and (m,); got shapes {_shape(dr_ds)} "
            f"and {_shape(dr_da)}"
        )
    _expect("reward", reward, (), "a scalar")
    _expect("jac_s", jac_s, (n_state, n_state), "F_s = ds'/ds, n x n")
    _expect("jac_a", jac_a, (n_state, n_action), "F_a = ds'/da, n x m")
    _expect("policy_jac", policy_jac, (n_action, n_state), "Π' = dπ/ds at s', m x n")
    check_finite("dr_ds", dr_ds)
    check_finite("dr_da", dr_da)
    bootstrap = 1.0 - xp.asarray(done, dtype=jac_s.dtype)
    if coupling is None:
        offset = xp.concatenate([reward[None], dr_ds, dr_da])
        # [F_sᵀ; F_aᵀ] [I_n, Π'ᵀ]: ((n + m) x n) @ (n x (n + m))
        grad_block = xp.concatenate([jac_s.T, jac_a.T]) @ xp.concatenate(
            [xp.eye(n_state, dtype=jac_s.dtype), policy_jac.T], axis=1
        )
        assert grad_block.shape == (n_state + n_action, n_state + n_action)
        linear = xp.block(
            [
                [
                    xp.ones((1, 1), dtype=jac_s.dtype),
                    xp.zeros((1, n_state + n_action), dtype=jac_s.dtype),
                ],
                [xp.zeros((n_state + n_action, 1), dtype=jac_s.dtype), grad_block],
            ]
        )
    else:
        _expect("coupling", coupling, (n_state, 1 + n_action), "C with u' = C X', n x (1 + m)")
        offset = xp.concatenate([reward[None], dr_da])
        coupling_g, coupling_v = coupling[:, :1], coupling[:, 1:]
        linear = xp.block(
            [
                [xp.ones((1, 1), dtype=jac_s.dtype), xp.zeros((1, n_action), dtype=jac_s.dtype)],
                [jac_a.T @ coupling_g, jac_a.T @ (coupling_v + policy_jac.T)],
            ]
        )
    return offset, bootstrap * linear


@dataclass(frozen=True)
class ParticleLaw:
    """A weighted particle law ``Σ_k w_k δ_{x_k}`` on ``R^D``.

    ``points`` has shape ``(K, D)`` (a ``(K,)`` input becomes ``(K, 1)``); ``weights`` are
    non-negative and normalised to sum 1 (uniform when omitted).
    """

    points: np.ndarray
    weights: np.ndarray | None = None

    def __post_init__(self):
        points = np.asarray(self.points, dtype=float)
        if points.ndim == 1:
            points = points[:, None]
        if points.ndim != 2 or points.shape[0] == 0:
            raise ValueError(f"points must have shape (K, D) with K >= 1; got shape {points.shape}")
        check_finite("points", points)
        if self.weights is None:
            weights = np.full(points.shape[0], 1.0 / points.shape[0])
        else:
            weights = np.asarray(self.weights, dtype=float)
            if weights.shape != (points.shape[0],):
                raise ValueError(
                    f"weights must have shape ({points.shape[0]},) to match points; got {weights.shape}"
                )
            check_finite("weights", weights)
            if np.any(weights < 0) or weights.sum() <= 0:
                raise ValueError(
                    f"weights must be non-negative with a positive sum; got min {weights.min():.6g}, "
                    f"sum {weights.sum():.6g}"
                )
            weights = weights / weights.sum()
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "weights", weights)

    @property
    def dimension(self) -> int:
        return self.points.shape[1]

    def mean(self) -> np.ndarray:
        return self.weights @ self.points

    def push_forward(self, offset, linear, gamma: float) -> ParticleLaw:
        """Law of ``offset + gamma * linear @ X`` for ``X`` drawn from this law."""
        return ParticleLaw(
            np.asarray(offset) + gamma * self.points @ np.asarray(linear).T, self.weights
        )


class Transition(NamedTuple):
    """One branch of the backup at a state-action: probability, next index, ``b`` and ``L``."""

    prob: float
    next_index: int
    offset: np.ndarray
    linear: np.ndarray


@dataclass(frozen=True)
class TabularSobolevMDP:
    """A finite Sobolev MDP over state-action indices ``i = 0..S-1``.

    ``transitions[i]`` lists ``(prob, j, b, L)``: with probability ``prob`` the backup at
    ``i`` reads the law at index ``j`` (the next state-action ``(s', π(s'))``) and maps it by
    ``X -> b + gamma L X``. All ``b`` share one dimension ``D``; probabilities at each ``i``
    are non-negative and sum to 1 (within 1e-9).
    """

    gamma: float
    transitions: Sequence[Sequence[Transition]]

    def __post_init__(self):
        gamma = check_gamma(self.gamma)
        if len(self.transitions) == 0:
            raise ValueError("transitions must list at least one state-action; got an empty list")
        size = len(self.transitions)
        dimension = None
        table = []
        for i, branches in enumerate(self.transitions):
            if len(branches) == 0:
                raise ValueError(
                    f"transitions[{i}] must hold at least one (prob, j, b, L); got none"
                )
            row = []
            for k, branch in enumerate(branches):
                prob, j, offset, linear = branch
                offset = np.asarray(offset, dtype=float).reshape(-1)
                linear = np.asarray(linear, dtype=float)
                where = f"transitions[{i}][{k}]"
                dimension = offset.shape[0] if dimension is None else dimension
                if offset.shape != (dimension,) or linear.shape != (dimension, dimension):
                    raise ValueError(
                        f"{where}: b must have shape ({dimension},) and L ({dimension}, {dimension}); "
                        f"got {offset.shape} and {linear.shape}"
                    )
                if not (isinstance(j, int | np.integer) and 0 <= j < size):
                    raise ValueError(
                        f"{where}: next index must be an integer in [0, {size}); got {j!r}"
                    )
                if not (np.isfinite(prob) and prob >= 0):
                    raise ValueError(f"{where}: prob must be finite and >= 0; got {prob!r}")
                check_finite(f"{where} b", offset)
                check_finite(f"{where} L", linear)
                row.append(Transition(float(prob), int(j), offset, linear))
            total = sum(branch.prob for branch in row)
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"transitions[{i}]: probabilities must sum to 1; got {total!r}")
            table.append(tuple(row))
        object.__setattr__(self, "gamma", gamma)
        object.__setattr__(self, "transitions", tuple(table))

    @property
    def n_state_actions(self) -> int:
        return len(self.transitions)

    @property
    def dimension(self) -> int:
        return self.transitions[0][0].offset.shape[0]


def _check_laws(mdp: TabularSobolevMDP, laws: Sequence[ParticleLaw], name: str = "laws") -> None:
    if len(laws) != mdp.n_state_actions:
        raise ValueError(
            f"{name} must hold one law per state-action ({mdp.n_state_actions}); got {len(laws)}"
        )
    for i, law in enumerate(laws):
        if not isinstance(law, ParticleLaw):
            raise ValueError(f"{name}[{i}] must be a ParticleLaw; got {type(law).__name__}")
        if law.dimension != mdp.dimension:
            raise ValueError(
                f"{name}[{i}] has dimension {law.dimension}; the MDP's b has {mdp.dimension}"
            )


def _merge_duplicates(points: np.ndarray, weights: np.ndarray) -> ParticleLaw:
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    merged = np.zeros(unique.shape[0])
    np.add.at(merged, inverse.reshape(-1), weights)
    return ParticleLaw(unique, merged)


def apply_backup(
    gamma: float, transitions: Sequence[Sequence[Transition]], next_laws: Sequence[ParticleLaw]
) -> list[ParticleLaw]:
    """Exact one-step image at each point ``e``: ``Σ_t p_t · Law(b_t + γ L_t X')``, ``X' ~ next_laws[j_t]``.

    ``transitions[e]`` lists ``Transition(prob, j, b, L)`` whose ``j`` indexes ``next_laws``.
    This is the operator on a finite evaluation set (the neural and linear cases: one branch
    per sampled noise, ``next_laws`` at the sampled next state-actions). Particles that
    coincide exactly are merged (no approximation).
    """
    gamma = check_gamma(gamma)
    image = []
    for e, branches in enumerate(transitions):
        points, weights = [], []
        for prob, next_index, offset, linear in branches:
            if prob == 0:
                continue
            if not 0 <= next_index < len(next_laws):
                raise ValueError(
                    f"transitions[{e}] reads next law {next_index}; next_laws has {len(next_laws)}"
                )
            pushed = next_laws[next_index].push_forward(offset, linear, gamma)
            points.append(pushed.points)
            weights.append(prob * pushed.weights)
        image.append(_merge_duplicates(np.concatenate(points), np.concatenate(weights)))
    return image


def apply_operator(mdp: TabularSobolevMDP, laws: Sequence[ParticleLaw]) -> list[ParticleLaw]:
    """Exact image ``(T η)(i) = Σ_t p_t · Law(b_t + γ L_t X')``, ``X' ~ η(j_t)``.

    Each image is the mixture of the affine push-forwards of the next laws; particles that
    coincide exactly are merged (no approximation). The particle count can grow by the
    branching factor each application: use ``compress_law`` (with its error bound) to cap it.
    """
    _check_laws(mdp, laws)
    return apply_backup(mdp.gamma, mdp.transitions, laws)


def contraction_modulus(mdp: TabularSobolevMDP) -> float:
    """``γ κ`` with ``κ = max ‖L‖_op`` over the branches with positive probability (docs/claims.md#c1)."""
    kappa = max(
        float(np.linalg.norm(branch.linear, 2))
        for branches in mdp.transitions
        for branch in branches
        if branch.prob > 0
    )
    return mdp.gamma * kappa


def compress_law(
    law: ParticleLaw, max_particles: int, p: float = 1.0, n_lloyd: int = 10
) -> tuple[ParticleLaw, float]:
    """Reduce a law to at most ``max_particles`` atoms; return it with a ``W_p`` error bound.

    Centres are chosen by weighted farthest-point traversal (deterministic) and refined
    by ``n_lloyd`` weighted Lloyd steps; each particle moves to its nearest centre. That
    assignment is a coupling, so ``W_p(law, compressed) <= (Σ_k w_k |x_k - c(x_k)|^p)^(1/p)``,
    the bound returned (0 when no compression is needed).
    """
    if not (isinstance(max_particles, int) and max_particles >= 1):
        raise ValueError(f"max_particles must be a positive integer; got {max_particles!r}")
    if law.points.shape[0] <= max_particles:
        return law, 0.0
    points, weights = law.points, law.weights
    centres = [int(np.argmax(weights))]
    distance = np.linalg.norm(points - points[centres[0]], axis=1)
    while len(centres) < max_particles:
        nxt = int(np.argmax(distance * (weights > 0)))
        centres.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(points - points[nxt], axis=1))
    centre_points = points[centres].copy()
    for _ in range(n_lloyd + 1):
        gaps = np.linalg.norm(points[:, None, :] - centre_points[None, :, :], axis=2)
        assignment = np.argmin(gaps, axis=1)
        mass = np.bincount(assignment, weights=weights, minlength=max_particles)
        if _ == n_lloyd:
            break
        for c in np.flatnonzero(mass > 0):
            members = assignment == c
            centre_points[c] = weights[members] @ points[members] / mass[c]
    keep = mass > 0
    moved = gaps[np.arange(points.shape[0]), assignment]
    bound = float((weights @ moved**p) ** (1.0 / p))
    return ParticleLaw(centre_points[keep], mass[keep]), bound


def iterate_operator(
    mdp: TabularSobolevMDP,
    laws: Sequence[ParticleLaw],
    n_iterations: int,
    *,
    max_particles: int | None = None,
    p: float = 1.0,
) -> tuple[list[ParticleLaw], float]:
    """Apply ``T`` ``n_iterations`` times, compressing to ``max_particles`` after each step.

    Returns the laws and an upper bound on ``sup_i W_p`` between them and the exact iterate:
    compression errors ``e_k`` propagate through the later steps with modulus ``γκ`` (C1), so
    the bound is ``Σ_k (γκ)^(N-1-k) e_k``.
    """
    _check_laws(mdp, laws)
    modulus = contraction_modulus(mdp)
    bound = 0.0
    for _ in range(n_iterations):
        laws = apply_operator(mdp, laws)
        step_error = 0.0
        if max_particles is not None:
            compressed = [compress_law(law, max_particles, p) for law in laws]
            laws = [law for law, _ in compressed]
            step_error = max(error for _, error in compressed)
        bound = modulus * bound + step_error
    return list(laws), bound


def sup_distance(
    distance: Callable[[ParticleLaw, ParticleLaw], Any],
    laws_a: Sequence[ParticleLaw],
    laws_b: Sequence[ParticleLaw],
) -> tuple[float, int]:
    """Supremum extension ``d̄(η₁, η₂) = max_i d(η₁(i), η₂(i))``; returns the value and the index."""
    if len(laws_a) != len(laws_b):
        raise ValueError(
            f"laws_a and laws_b must have the same length; got {len(laws_a)} and {len(laws_b)}"
        )
    values = [float(distance(a, b)) for a, b in zip(laws_a, laws_b, strict=True)]
    index = int(np.argmax(values))
    return values[index], index
