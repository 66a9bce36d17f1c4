"""``sobolev-verify kernel SPEC``: validate a kernel choice for MSMMD critics (docs/claims.md#c2)."""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from verify.usage import UsageError, missing_extra_message

KERNEL_BUDGET = dict(kernel_mdps=12)


def _shrunk_counterexample(kernel, failures: list[str]) -> str | None:
    """Re-find the first failing property with Hypothesis and return its shrunk example
    (``None`` when none is found; ``ImportError`` when Hypothesis is not installed)."""
    from hypothesis import find, settings
    from hypothesis import strategies as st

    import properties.predicates as P

    search = settings(max_examples=500, database=None, derandomize=True, deadline=None)
    samples = st.lists(st.floats(-20, 20), min_size=1, max_size=6).map(np.asarray)
    checks = {
        "conditionally positive definite": (
            st.lists(st.floats(-10, 10), min_size=2, max_size=8).map(np.asarray),
            lambda points: P.check_conditionally_positive_definite(kernel, points),
        ),
        "shift invariant": (
            st.tuples(samples, samples, st.floats(-10, 10)).filter(
                lambda v: len(v[0]) == len(v[1])
            ),
            lambda v: P.check_shift_invariance(kernel, *v),
        ),
        "scale sensitive": (
            st.tuples(samples, samples, st.floats(0.01, 1.0)),
            lambda v: P.check_scale_sensitivity(kernel, v[0], v[1], v[2], alpha=0.0),
        ),
    }
    for label, (strategy, check) in checks.items():
        if not any(label.split()[-1] in failure or label in failure for failure in failures):
            continue

        def fails(value, check=check):
            try:
                check(value)
            except AssertionError:
                return True
            return False

        try:
            value = find(strategy, fails, settings=search)
        except Exception:
            continue
        try:
            check(value)
        except AssertionError as error:
            return f"{label}: {error}"
    return None


def run_kernel(*, spec: str, seed: int, as_json: bool) -> int:
    import sobolev_core as sc
    from verify.claims import kernel_records
    from verify.records import library_versions

    try:
        kernel = sc.kernel_from_spec(spec)
    except ValueError as error:
        raise UsageError(f"sobolev-verify kernel: error: {error}") from None
    record = kernel_records(
        kernel,
        KERNEL_BUDGET,
        seed,
        library_versions(),
        label=kernel.spec if kernel.params else spec,
    )
    details = record.details
    counterexample = shrinking = None
    if not details["passes"]:
        try:
            counterexample = _shrunk_counterexample(kernel, details["failures"])
        except ImportError as error:
            shrinking = missing_extra_message(error)
            if shrinking is None:
                raise
    lines = [
        f"kernel {spec}",
        f"  conditionally positive definite: min eigenvalue on zero-sum subspace {details['cpd_min_eigenvalue']:.3g}",
        f"  shift invariance: largest gap {details['shift_invariance_gap']:.3g}",
        f"  scale-sensitivity order α: min {details['alpha_min']:.4g}, quantiles "
        + ", ".join(f"{q}: {v:.4g}" for q, v in details["alpha_quantiles"].items())
        + (
            f" (declared {kernel.scale_order:g})"
            if kernel.scale_order is not None
            else " (none declared)"
        ),
    ]
    if math.isfinite(record.measured):
        lines.append(
            f"  MSMMD contraction on {KERNEL_BUDGET['kernel_mdps']} random Sobolev MDPs (γκ = 0.96): worst ratio "
            f"{record.measured:.4g} <= (γκ)^(α/2) = {record.bound:.4g}"
        )
    for failure in details["failures"]:
        lines.append(f"  FAILED: {failure}")
    if counterexample:
        lines.append(f"  shrunk counterexample ({counterexample})")
    if shrinking:
        lines.append(f"  (no shrunk counterexample: shrinking {shrinking})")
    lines.append(f"verdict: {'PASS' if details['passes'] else 'FAIL'}")
    print("\n".join(lines), file=sys.stderr if as_json else sys.stdout)
    if as_json:
        print(
            json.dumps(
                dict(
                    kernel=spec,
                    passes=details["passes"],
                    alpha_min=details["alpha_min"],
                    msmmd_ratio=record.measured,
                    msmmd_bound=record.bound,
                    failures=details["failures"],
                    counterexample=counterexample,
                )
            )
        )
    return 0 if details["passes"] else 1
