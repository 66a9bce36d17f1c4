"""``sobolev-verify report``: run the claim set, write records and a report folder."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

import sobolev_core as sc
from properties.generators import random_particle_law, random_tabular_mdp
from verify.cli import UsageError
from verify.records import Record, library_versions, save_records

BUDGETS = {"quick": dict(n_mdps=6, n_pairs=4), "full": dict(n_mdps=40, n_pairs=16)}


def _tabular_wasserstein(budget: dict, seed: int, versions: dict) -> list[Record]:
    """C1 on random tabular MDPs: worst ratio W̄_p(Tη₁,Tη₂)/W̄_p(η₁,η₂) against γκ."""
    records = []
    for p in (1, 2):
        for gamma, kappa in ((0.9, 1.0), (0.8, 1.2), (0.5, 1.8)):
            rng = np.random.default_rng([seed, p, int(100 * gamma)])
            worst = 0.0
            for _ in range(budget["n_mdps"]):
                mdp = random_tabular_mdp(rng, gamma=gamma, kappa=kappa)
                for _ in range(budget["n_pairs"]):
                    laws = [
                        [
                            random_particle_law(rng, mdp.dimension)
                            for _ in range(mdp.n_state_actions)
                        ]
                        for _ in range(2)
                    ]
                    images = [sc.apply_operator(mdp, law) for law in laws]

                    def distance(a, b, p=p):
                        return sc.wasserstein(a.points, b.points, p, a.weights, b.weights)

                    before, _ = sc.sup_distance(distance, *laws)
                    after, _ = sc.sup_distance(distance, *images)
                    worst = max(worst, after / before)
            bound = gamma * kappa
            # exact solvers in float64: allow 1e-9 relative for the network simplex's round-off
            verdict = "holds" if worst <= bound * (1 + 1e-9) else "fails"
            records.append(
                Record(
                    claim="C1",
                    case=f"tabular/W{p}",
                    settings=dict(gamma=gamma, kappa=kappa, p=p, **budget),
                    seed=seed,
                    measured=worst,
                    bound=bound,
                    verdict=verdict,
                    versions=versions,
                )
            )
    return records


def run_report(*, budget: str, seed: int, out: str | None, as_json: bool) -> int:
    if budget not in BUDGETS:
        raise UsageError(
            f"sobolev-verify report: error: --budget must be one of {sorted(BUDGETS)}; got {budget!r}"
        )
    folder = Path(out or "sobolev-report")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".write-test").write_text("")
        (folder / ".write-test").unlink()
    except OSError as error:
        raise UsageError(
            f"sobolev-verify report: error: cannot write to --out {str(folder)!r}: {error.strerror}"
        ) from None
    start = time.perf_counter()
    versions = library_versions()
    print("[1/1] C1 Wasserstein contraction, tabular", file=sys.stderr, flush=True)
    records = _tabular_wasserstein(BUDGETS[budget], seed, versions)
    save_records(records, folder / "records.json")
    lines = [
        "# Sobolev contraction report",
        "",
        "| claim | case | measured | bound | verdict |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.claim} | {r.case} | {r.measured:.4f} | {r.bound:.4f} | {r.verdict} |"
        for r in records
    ]
    (folder / "report.md").write_text("\n".join(lines) + "\n")
    failed = [r for r in records if not r.ok]
    summary = dict(
        records=len(records),
        failed=len(failed),
        seconds=round(time.perf_counter() - start, 1),
        out=str(folder),
    )
    if as_json:
        print(json.dumps(summary))
    print(
        f"report written to {folder}/ ({len(records)} records, {len(failed)} failing)",
        file=sys.stderr,
    )
    return 1 if failed else 0
