"""Property predicates for the Sobolev claims (docs/claims.md): each raises ``AssertionError``
naming the quantities when the property fails, and returns its measurement otherwise.

Every comparison allows only floating-point round-off, stated next to it; the checks are
sound: a failure means the inequality is false for the concrete objects given, never
that a search fell short (see ``check_msmmd_contraction``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

import sobolev_core as sc
from properties.systems import TanhSystem, operator_sobolev_return, pathwise_return

__all__ = [
    "Contraction",
    "backup_modulus",
    "check_chain_rule",
    "check_conditionally_positive_definite",
    "check_fixed_point",
    "check_linear_fixed_point",
    "check_mmd_metric_axioms",
    "check_mmd_nonexpansion",
    "check_msmmd_contraction",
    "check_policy_gradient_bound",
    "check_scale_sensitivity",
    "check_shift_invariance",
    "check_wasserstein_contraction",
    "estimate_scale_order",
    "spec_modulus",
]

# Exact solvers in float64 (POT's network simplex, closed-form MMD): relative round-off of
# a few 1e-10 has been seen; 1e-8 relative leaves a margin and is far below any real violation.
RELATIVE_ROUND_OFF = 1e-8


@dataclass(frozen=True)
class Contraction:
    """A measured contraction: ``after <= bound * before`` was checked.

    ``ratio = after / before``; ``index`` is the evaluation point where ``after`` is largest.
    """

    before: float
    after: float
    bound: float
    index: int

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else 0.0


def backup_modulus(gamma: float, transitions) -> float:
    """``γ max ‖L‖_op`` over the branches with positive probability."""
    return gamma * max(np.linalg.norm(t[3], 2) for row in transitions for t in row if t[0] > 0)


def spec_modulus(gamma: float, jacobians: Sequence[dict]) -> float:
    """C1's bound (docs/claims.md#c1) from the Jacobians: ``γ max(1, C_f sqrt(1 + L_π²))`` with
    ``C_f = max ‖[F_s F_a]‖`` and ``L_π = max ‖Π'‖`` over the given transitions."""
    c_f = max(np.linalg.norm(np.hstack([j["jac_s"], j["jac_a"]]), 2) for j in jacobians)
    l_pi = max(np.linalg.norm(j["policy_jac"], 2) for j in jacobians)
    return gamma * max(1.0, c_f * math.sqrt(1.0 + l_pi**2))


def check_wasserstein_contraction(
    gamma: float,
    transitions,
    next_a: Sequence[sc.ParticleLaw],
    next_b: Sequence[sc.ParticleLaw],
    p: float = 1,
    modulus: float | None = None,
) -> Contraction:
    """C1: ``max_e W_p((Tη₁)(e), (Tη₂)(e)) <= γκ · max_j W_p(η₁(j), η₂(j))``.

    ``transitions[e]`` lists ``(prob, j, b, L)`` reading ``next_*[j]`` (a tabular MDP's
    ``transitions`` and laws, or one evaluation set of the linear/neural operator). The
    modulus defaults to ``γ max ‖L‖_op`` over the branches; pass another (e.g. ``spec_modulus``).
    """
    modulus = backup_modulus(gamma, transitions) if modulus is None else modulus
    image_a = sc.apply_backup(gamma, transitions, next_a)
    image_b = sc.apply_backup(gamma, transitions, next_b)

    def distance(a, b):
        return sc.wasserstein(a.points, b.points, p, a.weights, b.weights)

    before, worst_next = sc.sup_distance(distance, next_a, next_b)
    after, index = sc.sup_distance(distance, image_a, image_b)
    measured = Contraction(before, after, modulus, index)
    if after > modulus * before * (1 + RELATIVE_ROUND_OFF) + 1e-12:
        raise AssertionError(
            f"W{p:g} contraction fails at evaluation point {index}: W(Tη₁, Tη₂) = {after:.6g} > "
            f"γκ · sup W(η₁, η₂) = {modulus:.6g} × {before:.6g} = {modulus * before:.6g} "
            f"(ratio {measured.ratio:.6g}; sup attained at next law {worst_next})"
        )
    return measured


def _sliced(kernel, law_a, law_b, theta) -> float:
    return sc.mmd(law_a.points @ theta, law_b.points @ theta, kernel, law_a.weights, law_b.weights)


def _kernel_scale(kernel, laws) -> float:
    spread = max(float(np.ptp(law.points)) for law in laws) + 1.0
    return abs(float(kernel(spread, 0.0))) + abs(float(kernel(0.0, 0.0))) + 1.0


def check_msmmd_contraction(
    gamma: float,
    transitions,
    next_a: Sequence[sc.ParticleLaw],
    next_b: Sequence[sc.ParticleLaw],
    kernel,
    alpha: float | None = None,
    *,
    seed: int = 0,
) -> Contraction:
    """C2: ``MSMMD̄(Tη₁, Tη₂) <= (γκ)^(α/2) MSMMD̄(η₁, η₂)`` for a scale-sensitive kernel.

    Soundness. A searched MSMMD is only a lower bound of the supremum, so comparing two
    searched values could fail spuriously when the right side is underestimated. Instead,
    for the direction ``θ`` found at each evaluation point on the left, the check verifies
    the per-direction certificate (every term an exact evaluation, none a search):

        MMD(θ#Tη₁, θ#Tη₂) <= Σ_t p_t c_t^(α/2) MMD(u_t#η₁(j_t), u_t#η₂(j_t)),
        c_t = γ |L_tᵀ θ|,  u_t = L_tᵀ θ / |L_tᵀ θ|,

    (shift invariance, scale sensitivity with ``c_t <= γκ <= 1``, convexity of MMD in
    mixtures). The right side is at most ``(γκ)^(α/2)`` times the largest sliced MMD along
    the ``u_t`` — each a value of the true supremum's objective — so the reported
    ``before`` (max over searched directions *and* every ``u_t``) makes the final
    ratio check a consequence of the certificate, never of search luck.
    """
    kernel = sc.as_kernel(kernel)
    alpha = kernel.scale_order if alpha is None else alpha
    if alpha is None:
        raise ValueError(f"kernel {kernel.spec} has no known scale order; pass alpha explicitly")
    modulus = backup_modulus(gamma, transitions)
    if modulus > 1 + 1e-12:
        raise ValueError(f"C2 needs γκ <= 1; got γκ = {modulus:.6g}")
    image_a = sc.apply_backup(gamma, transitions, next_a)
    image_b = sc.apply_backup(gamma, transitions, next_b)
    scale = _kernel_scale(kernel, [*image_a, *image_b, *next_a, *next_b])
    # MMD² of float64 sums of kernel values of size ~scale: cancellation error ~1e-13·scale.
    absolute = 1e-6 * math.sqrt(scale)
    before = 0.0
    for j, (law_a, law_b) in enumerate(zip(next_a, next_b, strict=True)):
        if law_a.dimension > 1:
            found = sc.max_sliced_mmd(
                law_a.points,
                law_b.points,
                kernel,
                seed=seed + j,
                x_weights=law_a.weights,
                y_weights=law_b.weights,
            )
            before = max(before, found.value)
        else:
            before = max(before, _sliced(kernel, law_a, law_b, np.ones(1)))
    after, worst = 0.0, 0
    for e, branches in enumerate(transitions):
        if image_a[e].dimension > 1:
            found = sc.max_sliced_mmd(
                image_a[e].points,
                image_b[e].points,
                kernel,
                seed=seed + 7919 + e,
                x_weights=image_a[e].weights,
                y_weights=image_b[e].weights,
            )
            theta = found.direction
        else:
            theta = np.ones(1)
        left = _sliced(kernel, image_a[e], image_b[e], theta)
        certificate = 0.0
        for prob, j, _, linear in branches:
            pulled = np.asarray(linear).T @ theta
            norm = float(np.linalg.norm(pulled))
            if prob == 0 or norm == 0.0:
                continue
            along = _sliced(kernel, next_a[j], next_b[j], pulled / norm)
            before = max(before, along)
            certificate += prob * (gamma * norm) ** (alpha / 2) * along
        if left > certificate * (1 + RELATIVE_ROUND_OFF) + absolute:
            raise AssertionError(
                f"MSMMD certificate fails at evaluation point {e} (kernel {kernel.spec}, α = {alpha:g}): "
                f"sliced MMD of the images along θ = {np.round(theta, 4).tolist()} is {left:.6g} > "
                f"Σ p_t (γ|L_tᵀθ|)^(α/2) MMD(u_t#η₁, u_t#η₂) = {certificate:.6g}"
            )
        if left > after:
            after, worst = left, e
    bound = modulus ** (alpha / 2)
    if after > bound * before * (1 + RELATIVE_ROUND_OFF) + absolute:  # implied by the certificates
        raise AssertionError(
            f"MSMMD contraction fails at evaluation point {worst}: {after:.6g} > (γκ)^(α/2) × {before:.6g} "
            f"= {bound:.6g} × {before:.6g}"
        )
    return Contraction(before, after, bound, worst)


def check_chain_rule(
    system: TanhSystem,
    state,
    action,
    noises,
    dones,
    gamma: float,
    affine_map: Callable = sc.sobolev_affine_map,
    step: float = 1e-5,
) -> float:
    """The operator's Sobolev return equals finite differences of the pathwise return.

    Central differences with step ``h = 1e-5`` in float64: truncation ``h²|G'''|/6`` and
    rounding ``ε|G|/h`` are both below 1e-7 for this system's O(10) returns and
    derivatives; the tolerance ``1e-5 (1 + |∇G|)`` leaves two orders of margin. Returns
    the largest absolute error.
    """
    sobolev_return = operator_sobolev_return(
        system, state, action, noises, dones, gamma, affine_map
    )
    value = pathwise_return(system, state, action, noises, dones, gamma)
    names = [f"dG/ds[{i}]" for i in range(system.state_dim)] + [
        f"dG/da[{i}]" for i in range(system.action_dim)
    ]
    worst = abs(sobolev_return[0] - value)
    if worst > 1e-9 * (1 + abs(value)):
        raise AssertionError(
            f"value block {sobolev_return[0]:.10g} != pathwise return {value:.10g}"
        )
    for k, name in enumerate(names):
        bump = np.zeros(system.state_dim + system.action_dim)
        bump[k] = step
        ds, da = bump[: system.state_dim], bump[system.state_dim :]
        finite = (
            pathwise_return(system, state + ds, action + da, noises, dones, gamma)
            - pathwise_return(system, state - ds, action - da, noises, dones, gamma)
        ) / (2 * step)
        error = abs(sobolev_return[1 + k] - finite)
        worst = max(worst, error)
        if error > 1e-5 * (1 + abs(finite)):
            raise AssertionError(
                f"chain rule fails for {name}: operator gives {sobolev_return[1 + k]:.8g}, finite "
                f"differences give {finite:.8g} (|error| {error:.3g})"
            )
    return worst


def _mmd2_round_off(kernel, x, y) -> float:
    """A bound on the float64 round-off of ``mmd2(x, y)`` for 1-D samples (uniform weights).

    The samples were scaled in float64 (``fl(c x_i)`` is off by ``ε|c x_i|/2``), so each difference
    of distinct points is off by at most ``δ = 2ε(|x_i| + |x_j| + |x_i - x_j|)`` (equal points stay
    equal and subtract to exactly 0); its kernel value by
    ``|k(|d| + δ, 0) - k(|d|, 0)|``. Near-ties make this large for kernels steep at 0 (energy
    with small β: ``d^β`` has slope ``β d^(β-1)``), so a fixed relative tolerance is not sound.
    Adds a relative ``64ε`` of the summed magnitudes for the products and sums.
    """
    kernel = sc.as_kernel(kernel)
    points = np.concatenate([np.ravel(x), np.ravel(y)]).astype(float)
    weights = np.concatenate(
        [np.full(np.size(x), 1.0 / np.size(x)), np.full(np.size(y), 1.0 / np.size(y))]
    )
    gap = np.abs(points[:, None] - points[None, :])
    # Equal points stay equal under scaling and subtract to exactly 0: no error there.
    delta = 2 * np.finfo(float).eps * (np.abs(points)[:, None] + np.abs(points)[None, :] + gap)
    delta = np.where(gap > 0, delta, 0.0)
    values = np.asarray(kernel(gap, 0.0), dtype=float)
    moved = np.abs(np.asarray(kernel(gap + delta, 0.0), dtype=float) - values)
    outer = np.outer(weights, weights)
    return float(
        (outer * moved).sum() * 4 + 64 * np.finfo(float).eps * (outer * np.abs(values)).sum() * 4
    )


def check_scale_sensitivity(kernel, x, y, shrink: float, alpha: float) -> float:
    """``MMD²(cU, cV) <= c^α MMD²(U, V)`` for ``0 < c <= 1``; returns the measured ratio.

    The comparison allows the float64 round-off bound of ``_mmd2_round_off`` on both sides
    (plus the relative 1e-8 of the other checks), so near-tied particles cannot raise a
    false alarm; a real violation (the Gaussian kernel's) is orders of magnitude larger.
    """
    if not 0 < shrink <= 1:
        raise ValueError(f"shrink must be in (0, 1]; got {shrink!r}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    wide = float(sc.mmd2(x, y, kernel))
    narrow = float(sc.mmd2(shrink * x, shrink * y, kernel))
    slack = _mmd2_round_off(kernel, shrink * x, shrink * y) + shrink**alpha * _mmd2_round_off(
        kernel, x, y
    )
    if narrow > shrink**alpha * wide * (1 + RELATIVE_ROUND_OFF) + slack:
        raise AssertionError(
            f"kernel {sc.as_kernel(kernel).spec} is not scale sensitive of order {alpha:g}: shrinking "
            f"by c = {shrink:.4g} gives MMD² {narrow:.6g} > c^α × {wide:.6g} = {shrink**alpha * wide:.6g}"
        )
    return narrow / wide if wide > 0 else 0.0


def estimate_scale_order(
    kernel, rng: np.random.Generator, *, n_pairs: int = 200, n_samples: int = 8
) -> dict:
    """Empirical scale-sensitivity exponent: ``α̂ = log(MMD²(cU,cV)/MMD²(U,V)) / log c``.

    Pairs of random laws at scales spanning 1e-3..1e2 and shrink factors ``c`` in
    [0.05, 0.95]. A kernel is scale sensitive of order α when ``α̂ >= α`` for every pair,
    so the estimate is the minimum; its spread is reported by quantiles.
    """
    exponents = []
    for _ in range(n_pairs):
        scale = 10 ** rng.uniform(-3, 2)
        x = rng.normal(scale=scale, size=n_samples)
        y = rng.normal(
            loc=rng.normal(scale=scale), scale=scale * rng.uniform(0.3, 3), size=n_samples
        )
        shrink = rng.uniform(0.05, 0.95)
        wide = float(sc.mmd2(x, y, kernel))
        narrow = float(sc.mmd2(shrink * x, shrink * y, kernel))
        if wide > 1e-12 and narrow > 0:
            exponents.append(math.log(narrow / wide) / math.log(shrink))
    values = np.asarray(exponents)
    return dict(
        alpha_min=float(values.min()),
        quantiles={q: float(np.quantile(values, q)) for q in (0.01, 0.5, 0.99)},
        n_pairs=len(values),
    )


def check_conditionally_positive_definite(kernel, points) -> float:
    """``cᵀKc >= 0`` for every zero-sum ``c``: the Gram matrix projected on the zero-sum
    subspace has no negative eigenvalue beyond round-off (``1e-10 · max|K|`` plus ``n``
    float64 ulps). Returns the smallest eigenvalue."""
    points = np.asarray(points, dtype=float).reshape(len(points), -1)
    gram = np.asarray(sc.gram(points, points, sc.as_kernel(kernel)), dtype=float)
    n = gram.shape[0]
    projector = np.eye(n) - np.full((n, n), 1.0 / n)
    smallest = float(np.linalg.eigvalsh(projector @ gram @ projector).min())
    tolerance = 1e-10 * (np.abs(gram).max() + 1.0) * n
    if smallest < -tolerance:
        raise AssertionError(
            f"kernel {sc.as_kernel(kernel).spec} is not conditionally positive definite: the Gram "
            f"matrix on {n} points has a zero-sum direction with cᵀKc = {smallest:.6g} < 0 "
            f"(points {np.round(points.ravel(), 4).tolist()})"
        )
    return smallest


def check_shift_invariance(kernel, x, y, shift) -> float:
    """``k(x + t, y + t) = k(x, y)`` elementwise; returns the largest gap.

    Allowed: 1e-9 relative, plus the effect of rounding ``x + t`` and ``y + t`` in float64
    (each off by ``ε|x + t|``): the largest change of ``k`` when its arguments move by that
    much (a subnormal gap such as ``1 + 4e-43 - 1 = 0`` is lost to rounding, not to the kernel).
    """
    kernel = sc.as_kernel(kernel)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    base = np.asarray(kernel(x, y), dtype=float)
    moved = np.asarray(kernel(x + shift, y + shift), dtype=float)
    gap = np.abs(moved - base)
    eps = np.finfo(float).eps
    step_x, step_y = eps * (np.abs(x + shift) + np.abs(x)), eps * (np.abs(y + shift) + np.abs(y))
    rounding = np.max(
        [
            np.abs(np.asarray(kernel(x + a * step_x, y + b * step_y), dtype=float) - base)
            for a in (-1, 1)
            for b in (-1, 1)
        ],
        axis=0,
    )
    limit = 1e-9 * (np.abs(base) + 1.0) + rounding
    if np.any(gap > limit):
        k = int(np.argmax(gap - limit))
        raise AssertionError(
            f"kernel {kernel.spec} is not shift invariant: k({x.ravel()[k]:.4g}, {y.ravel()[k]:.4g}) = "
            f"{base.ravel()[k]:.6g} but shifted by {shift:.4g} it is {moved.ravel()[k]:.6g}"
        )
    return float(gap.max())


def check_mmd_metric_axioms(kernel, x, y, z) -> None:
    """MMD on samples: non-negative, ``MMD(x, x) = 0``, symmetric, triangle inequality
    (each to round-off ``1e-7 · sqrt(scale)``, from the square root of a float64 MMD²)."""
    scale = _kernel_scale(kernel, [sc.ParticleLaw(np.asarray(v)) for v in (x, y, z)])
    slack = 1e-7 * math.sqrt(scale)
    xy, yz, xz = sc.mmd(x, y, kernel), sc.mmd(y, z, kernel), sc.mmd(x, z, kernel)
    squared = float(sc.mmd2(x, y, kernel))
    if squared < -1e-12 * scale:
        raise AssertionError(
            f"MMD²(x, y) = {squared:.6g} < 0 for kernel {sc.as_kernel(kernel).spec}"
        )
    if sc.mmd(x, x, kernel) > slack:
        raise AssertionError(f"MMD(x, x) = {sc.mmd(x, x, kernel):.6g} != 0")
    if abs(sc.mmd(y, x, kernel) - xy) > slack:
        raise AssertionError(f"MMD not symmetric: {xy:.6g} vs {sc.mmd(y, x, kernel):.6g}")
    if xz > xy + yz + slack:
        raise AssertionError(
            f"triangle inequality fails: MMD(x, z) = {xz:.6g} > {xy:.6g} + {yz:.6g}"
        )


def check_mmd_nonexpansion(kernel, x, y, linear) -> float:
    """The (false in general; docs/claims.md#c2 and #c4) claim ``MMD(Lx, Ly) <= MMD(x, y)`` for ``‖L‖ <= 1``
    with the full-vector MMD; returns the ratio. A negative control: a search finds maps
    that expand."""
    linear = np.asarray(linear, dtype=float)
    norm = np.linalg.norm(linear, 2)
    if norm > 1 + 1e-12:
        raise ValueError(f"linear must have operator norm <= 1; got {norm:.6g}")
    before = sc.mmd(x, y, kernel)
    after = sc.mmd(np.asarray(x) @ linear.T, np.asarray(y) @ linear.T, kernel)
    if after > before * (1 + RELATIVE_ROUND_OFF) + 1e-9:
        raise AssertionError(
            f"full-vector MMD expands under a map of norm {norm:.4g}: {after:.6g} > {before:.6g} "
            f"(ratio {after / before:.4g})"
        )
    return after / before if before > 0 else 0.0


def check_policy_gradient_bound(
    policy_param_jacs,
    true_grads: Sequence[sc.ParticleLaw],
    model_grads: Sequence[sc.ParticleLaw],
    gamma: float,
    state_weights=None,
    *,
    slack: float = 1.0,
) -> dict:
    """C3: ``‖∇J − ∇̂J‖ <= L_ψ (1−γ)⁻¹ sup_s W₁(η_a(s), η̂_a(s))``.

    ``∇J = (1−γ)⁻¹ Σ_s w_s ∂_ψπ(s)ᵀ E[∇_a G(s, π(s))]``; ``policy_param_jacs`` has shape
    ``(S, m, P)``; the laws are of action gradients in ``R^m``; ``L_ψ = max_s ‖∂_ψπ(s)‖_op``.
    ``slack < 1`` shrinks the bound (a negative control: the bound is tight).
    """
    gamma = sc.check_gamma(gamma)
    jacs = np.asarray(policy_param_jacs, dtype=float)
    weights = (
        np.full(len(jacs), 1 / len(jacs))
        if state_weights is None
        else np.asarray(state_weights) / np.sum(state_weights)
    )
    true_means = np.stack([law.mean() for law in true_grads])
    model_means = np.stack([law.mean() for law in model_grads])
    grad_true = np.einsum("s,smp,sm->p", weights, jacs, true_means) / (1 - gamma)
    grad_model = np.einsum("s,smp,sm->p", weights, jacs, model_means) / (1 - gamma)
    lipschitz = max(np.linalg.norm(j, 2) for j in jacs)
    w1 = max(
        sc.wasserstein(a.points, b.points, 1, a.weights, b.weights)
        for a, b in zip(true_grads, model_grads, strict=True)
    )
    error = float(np.linalg.norm(grad_true - grad_model))
    bound = slack * lipschitz * w1 / (1 - gamma)
    if error > bound * (1 + RELATIVE_ROUND_OFF) + 1e-12:
        raise AssertionError(
            f"policy-gradient bound fails: ‖∇J − ∇̂J‖ = {error:.6g} > {slack:g} × L_ψ/(1−γ) × sup W₁ "
            f"= {slack:g} × {lipschitz:.4g}/{1 - gamma:.4g} × {w1:.4g} = {bound:.6g}"
        )
    return dict(error=error, bound=bound, tightness=error / bound if bound > 0 else 1.0)


def check_fixed_point(
    mdp: sc.TabularSobolevMDP,
    start_a,
    start_b,
    n_iterations: int,
    *,
    max_particles: int = 64,
    p: float = 1,
) -> dict:
    """C5: iterates from two starts approach each other as ``(γκ)^N`` (unique fixed point).

    Checks ``sup W_p(T^N η₁, T^N η₂) <= (γκ)^N sup W_p(η₁, η₂) + e₁ + e₂`` where ``e`` are
    the compression error bounds of ``iterate_operator`` (exact otherwise).
    """
    modulus = sc.contraction_modulus(mdp)

    def distance(a, b):
        return sc.wasserstein(a.points, b.points, p, a.weights, b.weights)

    initial, _ = sc.sup_distance(distance, start_a, start_b)
    end_a, error_a = sc.iterate_operator(
        mdp, start_a, n_iterations, max_particles=max_particles, p=p
    )
    end_b, error_b = sc.iterate_operator(
        mdp, start_b, n_iterations, max_particles=max_particles, p=p
    )
    final, index = sc.sup_distance(distance, end_a, end_b)
    bound = modulus**n_iterations * initial + error_a + error_b
    if final > bound * (1 + RELATIVE_ROUND_OFF) + 1e-12:
        raise AssertionError(
            f"iterates from two starts do not merge: after {n_iterations} steps sup W{p:g} = {final:.6g} "
            f"at index {index} > (γκ)^N × {initial:.4g} + compression {error_a + error_b:.3g} = {bound:.6g}"
        )
    return dict(initial=initial, final=final, bound=bound, modulus=modulus)


def check_linear_fixed_point(
    system: sc.LinearGaussianSobolev,
    rng: np.random.Generator,
    *,
    n_particles: int = 20_000,
    start: sc.LinearSobolevLaw | None = None,
    z_limit: float = 5.0,
) -> dict:
    """C5, linear case: iterating the sampled operator reaches the closed-form gradient law.

    Runs enough iterations that the transient ``(γρ²)^k`` is below 1e-12. The gain is
    deterministic, so ``gain @ [s; a]`` must equal the closed-form mean to 1e-8 (relative to
    its scale). The particles are then i.i.d. ``N(0, C)``: the particle mean's entries have
    standard deviation ``sqrt(C_kk / N)`` and the second moment's ``sqrt((C_ij² + C_ii C_jj)/N)``;
    every deviation must stay below ``z_limit`` of those (5: false-alarm probability < 6e-7
    per entry). Returns the worst mean error and the worst z-score.
    """
    margin = system.stability_margin()
    if not margin < 1:
        raise ValueError(f"the closed loop has γρ² = {margin:.4g} >= 1: no fixed point to reach")
    iterations = int(np.ceil(np.log(1e-12) / np.log(max(margin, 1e-12)))) + 10
    law = system.iterate_operator(iterations, n_particles, rng, start)
    dim = system.state_dim + system.action_dim
    points = rng.normal(size=(4, dim))
    mean_error = 0.0
    for point in points:
        mean, cov = system.gradient_law(point[: system.state_dim], point[system.state_dim :])
        mean_error = max(
            mean_error, float(np.max(np.abs(law.gain @ point - mean)) / (1 + np.max(np.abs(mean))))
        )
    # Work in units of each coordinate's standard deviation, so tiny blocks (e.g. B ~ 1e-100)
    # neither underflow nor dominate: the scaled second moment has unit diagonal.
    scale = np.sqrt(np.diag(cov))
    scale = np.where(scale > 0, scale, 1.0)
    sample = law.noise / scale
    correlation = cov / np.outer(scale, scale)
    z_mean = np.abs(sample.mean(axis=0)) * np.sqrt(n_particles)
    spread = np.sqrt(
        (correlation**2 + np.outer(np.diag(correlation), np.diag(correlation))) / n_particles
    )
    z_cov = np.abs(sample.T @ sample / n_particles - correlation) / np.where(
        spread > 0, spread, 1.0
    )
    z_max = float(max(z_mean.max(), z_cov.max()))
    if mean_error > 1e-8:
        raise AssertionError(
            f"the gain iterate misses the closed-form mean by {mean_error:.3g} (relative) after {iterations} steps"
        )
    if z_max > z_limit:
        raise AssertionError(
            f"the particle law misses the closed-form covariance: worst deviation {z_max:.3g} standard "
            f"deviations > {z_limit:g} (N = {n_particles}, {iterations} steps)"
        )
    return dict(mean_error=mean_error, z_max=z_max, iterations=iterations)
