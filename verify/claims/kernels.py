"""The kernel table (docs/claims.md#c2 requirements): each kernel is checked for conditional
positive definiteness, shift invariance, its scale-sensitivity order ``α`` and MSMMD
contraction at ``(γκ)^(α/2)``; the kernels expected to be rejected (Gaussian, Laplacian,
inverse multiquadric) must be."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import properties.predicates as P
import sobolev_core as sc
from verify.claims._common import Finding, finding, rng, tabular_problems, worst
from verify.claims._common import score as _score
from verify.records import Record

NAME, TITLE = "kernels", "kernel table"
KERNEL_SPECS = (
    "multiquadric:h=100",
    "multiquadric:h=1",
    "energy:beta=1",
    "energy:beta=1.5",
    "inverse_multiquadric:h=1",
    "gaussian:bandwidth=1",
    "laplacian:bandwidth=1",
)


@dataclass(frozen=True)
class Settings:
    kernel_mdps: int  # random tabular MDPs for each kernel's MSMMD contraction check


SETTINGS = {
    "testing": Settings(kernel_mdps=2),
    "quick": Settings(kernel_mdps=4),
    "full": Settings(kernel_mdps=20),
}


def kernel_finding(kernel: sc.Kernel | str, kernel_mdps: int, seed: int, label: str | None = None):
    """Validate one kernel (a :class:`sobolev_core.Kernel`, or a spec of the table, parsed
    here); ``measured``/``bound`` are the worst MSMMD ratio and its bound (``nan`` when the
    kernel is not scale sensitive). ``label`` names the case (default: the spec)."""
    spec = label or (kernel if isinstance(kernel, str) else kernel.spec)
    kernel = sc.kernel_from_spec(kernel)  # a Kernel passes through unchanged
    generator = rng(seed, 1000)
    failures = []
    cpd = math.inf
    for _ in range(20):
        points = generator.normal(
            scale=10 ** generator.uniform(-2, 1), size=int(generator.integers(3, 12))
        )
        try:
            cpd = min(cpd, P.check_conditionally_positive_definite(kernel, points))
        except AssertionError as error:
            failures.append(str(error))
            cpd = -math.inf
            break
    gap = 0.0
    try:
        gap = P.check_shift_invariance(
            kernel,
            generator.normal(size=20),
            generator.normal(size=20),
            float(generator.normal(scale=5)),
        )
    except AssertionError as error:
        failures.append(str(error))
        gap = math.inf
    estimate = P.estimate_scale_order(kernel, generator)
    alpha = kernel.scale_order if kernel.scale_order is not None else estimate["alpha_min"]
    largest, bound = math.nan, math.nan
    if alpha is not None and alpha > 0:
        problems = list(
            tabular_problems(
                n_mdps=kernel_mdps, n_pairs=1, seed=seed, label=1100, gamma=0.8, kappa=1.2
            )
        )
        largest, bound, failure = worst(
            functools.partial(P.check_msmmd_contraction, kernel=kernel, alpha=alpha, seed=seed),
            [(m.gamma, m.transitions, a, b) for m, a, b in problems],
        )
        if failure:
            failures.append(failure)
    else:
        failures.append(
            f"not scale sensitive: the smallest exponent log(MMD²(cU,cV)/MMD²(U,V))/log c seen is "
            f"{estimate['alpha_min']:.4g} (MMD² rose when shrinking)"
        )
    passes = not failures
    expected = (
        "holds"
        if kernel.scale_order is not None
        or kernel.name not in ("gaussian", "laplacian", "inverse_multiquadric")
        else "fails"
    )
    return finding(
        "kernel",
        spec,
        dict(kernel=spec, mdps=kernel_mdps),
        seed,
        largest,
        bound,
        passes if expected == "holds" else not passes,
        expected=expected,
        alpha_min=estimate["alpha_min"],
        alpha_quantiles=estimate["quantiles"],
        alpha_used=alpha,
        cpd_min_eigenvalue=cpd,
        shift_invariance_gap=gap,
        msmmd_ratio=largest,
        msmmd_bound=bound,
        passes=passes,
        failures=failures,
    )


def kernel_records(
    kernel: sc.Kernel | str,
    budget: Mapping[str, Any],
    seed: int,
    versions: dict,
    label: str | None = None,
) -> Record:
    """One kernel's record (``sobolev-verify kernel``, which parses the user's spec once and
    passes the :class:`~sobolev_core.Kernel`); ``budget["kernel_mdps"]`` random MDPs."""
    return _score([kernel_finding(kernel, budget["kernel_mdps"], seed, label)], versions)[0]


def run(settings: Settings, seed: int) -> list[Finding]:
    return [kernel_finding(spec, settings.kernel_mdps, seed) for spec in KERNEL_SPECS]


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """``holds``/``fails`` for a kernel expected to be accepted, ``detected``/``missed`` for one
    expected to be rejected."""
    return _score(findings, versions)
