"""What each claim says, in words and as a formula, and what its records' numbers are.

The report renderer reads records only (no import of ``verify``), so the explanation of a
claim lives here, keyed by the record's ``claim`` field. The mathematics behind each entry
is in ``docs/claims.md``.

``kind`` says how a record's ``measured`` relates to its ``bound``:

- ``"ratio"``: a measured quantity under an upper bound; the margin ``1 − measured/bound``
  is the share of the bound left unused (negative when the bound is exceeded).
- ``"exceed"``: a negative control whose search must push ``measured`` above ``bound``.
- ``"count"``: ``measured`` counts tries (0: never caught); ``bound`` is the try budget.
- ``"kappa"``: ``measured`` is the modulus κ itself; the report shows ``γ_max = 1/κ``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLAIM_TEXT", "CONTROL_TEXT", "SECTION_ORDER", "ClaimText"]


@dataclass(frozen=True)
class ClaimText:
    heading: str  # "C1 — Wasserstein contraction"
    words: str  # the claim in one or two sentences
    formula: str  # the claim as a formula (plain Unicode)
    measured: str  # what a record's ``measured`` is
    bound: str  # what a record's ``bound`` is
    kind: str = "ratio"


CLAIM_TEXT: dict[str, ClaimText] = {
    "C1": ClaimText(
        "C1 — Wasserstein contraction",
        "The Sobolev Bellman operator contracts the supremum Wasserstein distance between two "
        "families of return laws by γκ, where κ bounds the operator norm of the linear part L "
        "of every transition ([DS] Theorem 1).",
        "W̄_p(Tη₁, Tη₂) ≤ γκ · W̄_p(η₁, η₂),   κ = sup ‖L‖_op ≥ 1",
        "the worst ratio W̄_p(Tη₁, Tη₂) / W̄_p(η₁, η₂) over random pairs (η₁, η₂) on random "
        "tabular MDPs, linear-Gaussian systems or neural critics",
        "γκ (for the linear and neural cases: γ · max ‖L‖_op over the sampled transitions)",
    ),
    "C1-sweep": ClaimText(
        "C1 sweep — the smoothness trade-off",
        "On one MDP with κ = 1.5 the discount γ is swept: the ratio stays under γκ for every "
        "γ, and the operator is a contraction (ratio < 1) only while γκ < 1, i.e. γ < 1/κ. "
        "Gradient awareness (κ ≥ 1) shortens the horizon over which contraction is guaranteed.",
        "ratio(γ) ≤ γκ;   contraction guaranteed for γ < 1/κ",
        "the worst W₁ ratio at that γ (random pairs plus an adversarial pair split along "
        "the top singular vector of the largest L)",
        "γκ",
    ),
    "C2": ClaimText(
        "C2 — Max-sliced MMD contraction",
        "With a shift-invariant kernel that is scale sensitive of order α, and γκ ≤ 1, the "
        "max-sliced MMD contracts by (γκ)^(α/2) ([DS] Theorem 2). Slicing reduces the affine "
        "map to a shift plus a 1-D scaling by at most γκ.",
        "MSMMD̄(Tη₁, Tη₂) ≤ (γκ)^(α/2) · MSMMD̄(η₁, η₂)",
        "the worst ratio of searched max-sliced MMDs after / before the backup (each left-side "
        "direction is certified against exact per-direction terms, so a pass is never search "
        "luck)",
        "(γκ)^(α/2) with the kernel's order α (multiquadric α = 1, energy(β) α = β)",
    ),
    "C3": ClaimText(
        "C3 — Policy-gradient error bound",
        "Replacing the true action-gradient law by a model's changes the deterministic policy "
        "gradient by at most L_ψ/(1 − γ) times the worst W₁ distance between the two laws "
        "([DS] Proposition 1).",
        "‖∇J − ∇̂J‖ ≤ L_ψ (1 − γ)⁻¹ sup_s W₁(η_a(s), η̂_a(s))",
        "the largest ‖∇J − ∇̂J‖ / (L_ψ (1 − γ)⁻¹ sup W₁) over random problems "
        "(1: the bound is attained)",
        "1 (the bound, normalised)",
    ),
    "C5": ClaimText(
        "C5 — Fixed points",
        "Iterating the operator from different starts converges to one law (a unique fixed "
        "point). In the linear-Gaussian case the fixed point's gradient block is a Gaussian "
        "with closed-form mean and covariance (discrete Lyapunov equations).",
        "sup W_p(Tᴺη₁, Tᴺη₂) ≤ (γκ)ᴺ sup W_p(η₁, η₂) + compression errors;   "
        "linear case: (∇_s G, ∇_a G) ~ N(μ(s, a), C)",
        "per row, as its case says: the relative error of the fixed point's mean, the worst "
        "z-score of its covariance entries, or the final distance of two iterates over its "
        "bound",
        "per row: 1e-8 (round-off of the mean), 5 standard deviations, or 1",
    ),
    "C6": ClaimText(
        "C6 — First-order Sobolev TD ([FS])",
        "The gradient targets of Sobolev TD equal finite differences of the value target with "
        "frozen target networks (exact); claimed effects: faster critic convergence and less "
        "variable policy gradients than value-only TD (empirical, with bootstrap intervals).",
        "g_s = ∂_s r + γ F_sᵀ c,   g_a = ∂_a r + γ F_aᵀ c,   (g_s, g_a) = ∇_(s,a) y(s, a)",
        "per row (see its note): the largest target error, an error ratio or IQM difference "
        "(an empirical row's verdict is supported, contradicted or inconclusive, read from "
        "its 95% interval), or a cost ratio",
        "per row: the error tolerance, 0 or 1 for a difference or ratio, or a time budget",
    ),
    "kappa-mujoco": ClaimText(
        "κ of MuJoCo dynamics — C1's modulus on real simulators",
        "Jacobians of the whole environment step by finite differences along a random-linear-"
        "policy rollout; C1 certifies contraction for γ < γ_max = 1/κ.",
        "κ = max_t ‖L_t‖_op,   γ_max = 1/κ",
        "κ, the largest ‖L‖ along the rollout",
        "1 (κ ≥ 1 always; the row is informational)",
        kind="kappa",
    ),
    "kernel": ClaimText(
        "Kernels — what C2 needs of a kernel",
        "A kernel is accepted when it is conditionally positive definite, shift invariant and "
        "scale sensitive of some order α > 0, and the max-sliced MMD then contracts at "
        "(γκ)^(α/2) on random Sobolev MDPs. The Gaussian, Laplacian and inverse multiquadric "
        "kernels are not scale sensitive: they must be rejected ('detected').",
        "MMD²(cU, cV) ≤ c^α MMD²(U, V) for 0 < c ≤ 1   ⇒   MSMMD contracts by (γκ)^(α/2)",
        "the worst max-sliced MMD ratio on random MDPs (undefined when no α > 0 exists: the "
        "contraction test is not run)",
        "(γκ)^(α/2) (undefined with α)",
    ),
}

# C4's controls, one line each: what is built to fail, and what its numbers are.
CONTROL_TEXT: dict[str, ClaimText] = {
    "C4a": ClaimText(
        "C4a — γκ > 1",
        "with γκ > 1 a search must find pairs whose W₁ distance grows (C1's hypothesis fails)",
        "W̄₁(Tη₁, Tη₂) > W̄₁(η₁, η₂)",
        "the largest W₁ ratio found",
        "1",
        kind="exceed",
    ),
    "C4b": ClaimText(
        "C4b — Gaussian kernel",
        "Gaussian-kernel MMD is not scale sensitive: shrinking two wide laws by c < 1 can "
        "raise it (C2's hypothesis fails)",
        "MMD²(cU, cV) > MMD²(U, V)",
        "the largest MMD²(cU, cV) / MMD²(U, V) found, c < 1",
        "1",
        kind="exceed",
    ),
    "C4c": ClaimText(
        "C4c — full-vector MMD",
        "the full-vector MMD (unsliced) expands under some linear map of norm 0.95 < 1",
        "MMD(Lx, Ly) > MMD(x, y),  ‖L‖ < 1",
        "the largest MMD(Lx, Ly) / MMD(x, y) found",
        "1",
        kind="exceed",
    ),
    "C4d": ClaimText(
        "C4d — broken operators",
        "a deliberately broken operator (a transpose missing, γ dropped, Π' ignored, the "
        "terminal mask dropped) must fail the chain-rule check against finite differences",
        "X₀ ≠ (G, ∇_s G, ∇_a G) by finite differences",
        "random systems tried until the check caught the mutant (a count; 0: never caught)",
        "the try budget",
        kind="count",
    ),
}

C4_TEXT = ClaimText(
    "C4 — Negative controls: the checks must be able to fail",
    "Each control is a case built to violate a claim's hypotheses, so its check must fail "
    "there. 'detected': the check caught it, as it must. 'missed': the check passed a broken "
    "case, so it has no power there, and the report fails.",
    "",
    "",
    "",
)

# Section order of a claim report: C1…C7, then the kernel table and κ.
SECTION_ORDER = ("C1", "C1-sweep", "C2", "C3", "C4", "C5", "C6", "C7", "kernel", "kappa-mujoco")
