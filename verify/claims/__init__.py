"""The claim set, one module per claim (docs/claims.md): each has ``SETTINGS`` (budget ->
frozen settings), ``run(settings, seed)`` and ``score(findings, versions) -> list[Record]``,
bsuite's settings/run/score. ``CLAIMS`` is the table ``sobolev-verify report`` runs, in order;
``report --claims C1,C6`` selects from it. Budgets: ``testing`` (CI, seconds), ``quick`` (the
default report, about a minute on two cores), ``full`` (more samples, κ on MuJoCo, C6's
long runs).

Problems are built by ``properties.generators``/``properties.neural`` and checked with the
predicates of ``properties.predicates``; a predicate's ``AssertionError`` becomes a
``fails`` verdict carrying its message. Empirical claims (C6's comparisons) are scored
``supported``, ``contradicted`` or ``inconclusive``.

Modules: ``c1`` (Wasserstein contraction), ``c1_sweep`` (the smoothness trade-off),
``c2`` (MSMMD contraction), ``c3`` (policy-gradient bound), ``c4`` (negative controls),
``c5`` (fixed points), ``c6`` ([FS] Sobolev TD), ``kernels`` (the kernel table), ``kappa``
(κ of MuJoCo dynamics); ``verify/claims/c7_law.py`` holds C7's premise.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verify.claims import _c6_settings, c1, c1_sweep, c2, c3, c4, c5, kappa, kernels
from verify.claims._common import BUDGETS, Finding, finding, outcome_of, score, verdict
from verify.claims.kernels import KERNEL_SPECS, kernel_records
from verify.records import Record

__all__ = [
    "BUDGETS",
    "CLAIMS",
    "KERNEL_SPECS",
    "Claim",
    "Finding",
    "claim_from_module",
    "finding",
    "kernel_records",
    "outcome_of",
    "select",
    "verdict",
]


@dataclass(frozen=True)
class Claim:
    """One claim of the report: its ``settings`` per budget, ``run`` and ``score``.

    ``run(settings, seed)`` returns what was measured; with ``writes_runs`` it is
    ``run(settings, seed, folder)`` and keeps its training runs under ``folder``.
    ``default``: part of ``report`` when no ``--claims`` are named. ``load``: imports what
    ``run`` needs (an ``ImportError`` naming a missing install extra), so that a claim named
    with ``--claims`` is refused before anything is written.
    """

    name: str
    title: str
    settings: Mapping[str, Any]
    run: Callable[..., Any]
    score: Callable[[Any, dict[str, str]], list[Record]]
    default: bool = True
    writes_runs: bool = False
    load: Callable[[], object] | None = None

    def records(
        self, budget: str, seed: int, versions: dict[str, str], folder: Path
    ) -> list[Record]:
        """``score(run(SETTINGS[budget], seed), versions)``."""
        settings = self.settings[budget]
        if self.writes_runs:
            return self.score(self.run(settings, seed, folder), versions)
        return self.score(self.run(settings, seed), versions)


def claim_from_module(module, **options) -> Claim:
    """The :class:`Claim` of a claim module (its ``NAME``, ``TITLE``, ``SETTINGS``, ``run``
    and ``score``)."""
    return Claim(module.NAME, module.TITLE, module.SETTINGS, module.run, module.score, **options)


def _load_c6():
    from verify.claims import c6  # the agents extra: JAX agents, Gymnasium, optax

    return c6


def _run_c6(settings, seed, folder):
    return _load_c6().run(settings, seed, folder)


class _LazySettings(Mapping):
    """A training claim's ``SETTINGS``, imported on first use (they hold suites of agents)."""

    def __init__(self, load: Callable[[], object]):
        self._load = load

    def __getitem__(self, budget: str):
        return self._load().SETTINGS[budget]

    def __iter__(self):
        return iter(BUDGETS)

    def __len__(self) -> int:
        return len(BUDGETS)


def _training_claim(module_name: str, name: str, title: str) -> Claim:
    """A claim trained by agents: its module (and the agents extra) is imported when it runs;
    ``name`` and ``title`` repeat the module's ``NAME`` and ``TITLE`` (a test checks them)."""

    def load():
        return importlib.import_module(f"verify.claims.{module_name}")

    def run(settings, seed, folder):
        return load().run(settings, seed, folder)

    return Claim(
        name, title, _LazySettings(load), run, score, default=False, writes_runs=True, load=load
    )


def _fidelity_claim() -> Claim:
    """C7's critic fidelity (``c7_fidelity``): DSDPG critics fitted for a fixed policy against
    the Monte Carlo law; its records get the library versions here."""
    import dataclasses

    def load():
        return importlib.import_module("verify.claims.c7_fidelity")

    def run(settings, seed, folder):
        del folder  # nothing trained to keep: the fits live in memory
        return load().run(settings, seed)

    def score_fidelity(result, versions):
        return [dataclasses.replace(r, versions=versions) for r in load().score(result)]

    return Claim(
        "C7-fidelity",
        "C7 — critic fidelity against the Monte Carlo law (point mass)",
        _LazySettings(load),
        run,
        score_fidelity,
        default=False,
        writes_runs=True,
        load=load,
    )


TRAINING_CLAIMS = {
    "c6_learning": ("C6-learning", "C6 — Sobolev agents against value-only ones (training)"),
    "c7_mujoco": ("C7-mujoco", "C7 — DSDPG under noise on MuJoCo (training)"),
    "c7_toy": ("C7-toy", "C7 — DSDPG's critic losses on the point mass (training)"),
}

CLAIMS = (
    claim_from_module(c1),
    claim_from_module(c2),
    claim_from_module(c1_sweep),
    claim_from_module(c5),
    claim_from_module(c3),
    claim_from_module(c4),
    claim_from_module(kernels),
    claim_from_module(kappa),
    Claim(
        _c6_settings.NAME,
        _c6_settings.TITLE,
        _c6_settings.SETTINGS,
        _run_c6,
        score,  # c6.score, without importing the agents for it
        default=False,
        writes_runs=True,
        load=_load_c6,
    ),
    *(_training_claim(module, *named) for module, named in TRAINING_CLAIMS.items()),
    _fidelity_claim(),
)


def select(names: str | None, claims: tuple[Claim, ...] = ()) -> tuple[Claim, ...]:
    """The claims named in ``names`` (comma-separated, in ``CLAIMS`` order), or the default
    ones when ``names`` is None; an unknown name is a ``ValueError`` listing the accepted."""
    claims = claims or CLAIMS
    if names is None:
        return tuple(claim for claim in claims if claim.default)
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = [claim.name for claim in claims]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise ValueError(
            f"unknown claim(s) {', '.join(map(repr, unknown)) or repr(names)}; "
            f"accepted: {', '.join(known)} (comma-separated)"
        )
    return tuple(claim for claim in claims if claim.name in wanted)
