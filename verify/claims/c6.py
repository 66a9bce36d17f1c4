"""C6: first-order Sobolev TD ([FS], docs/claims.md#c6): settings -> run -> score.

Five measurements (one private module each), every one a :class:`verify.records.Record`:

1. ``_c6_targets`` — the gradient targets ``(g_s, g_a)`` of ``sobolev_core.sobolev_target``
   equal float64 central differences of ``y(s, a)`` with frozen random networks (toy-1d,
   point-mass, pendulum; TD3 and SAC targets; terminal rows), and, on the linear-quadratic
   system with the exact ``Q^K`` as the frozen critic and ``ε = 0``, equal the closed-form
   ``∇Q^K`` (an independent oracle). Exact claims: ``holds`` or ``fails``.
2. ``_c6_lq`` — policy evaluation of a fixed linear policy on ``agents.envs.lq_system()``:
   one critic trained by value-only TD (``λ = 0``) and one by Sobolev TD (``λ_s = λ_a = 1``,
   the agents' default normalisation) on the same transitions, the same initialisation and
   the same minibatches (paired seeds), scored against ``LinearQuadraticEnv.exact_q`` over
   the updates. Critics: ``quadratic`` (features ``1, z, z_i z_j`` of ``z = (s, a)``: the
   exact ``Q`` is representable) and ``mlp`` (the agents' ReLU MLP critic).
   Claim: Sobolev TD converges faster, measured as the per-seed ratio (Sobolev / value-only)
   of the mean over the evaluation grid of the relative value error (and, separately, of
   the relative gradient error); supported when the 95 % bootstrap interval of the IQM of
   the log-ratio lies below 0.
3. ``_c6_curves`` — learning curves of ``sobolev-td3`` vs ``td3`` (and ``sobolev-sac`` vs
   ``sac``) through :func:`agents.training.run_training`; claim: the Sobolev agent's mean
   evaluation return over the curve is not below the baseline's (IQM difference, 95 %
   interval; ``verify.stats.compare`` with zero tolerance). With the seeds an affordable
   budget allows this is mostly ``inconclusive``, and the records say so.
4. Policy-gradient variance, from the same runs' checkpoints: the actor objective's
   gradient ``∇_θ J`` on ``K`` independent minibatches of the replay buffer, ``tr Cov =
   (1/(K−1)) Σ_k ‖g_k − ḡ‖²`` and its ratio to ``‖ḡ‖²``; claim: Sobolev's is lower (IQM of
   log tr Cov, difference interval below 0).
5. ``_c6_cost`` — the wall time of one jitted update of ``sobolev-td3`` over ``td3`` on the
   same batch in the same process (informational; the bound is a budget): ``holds``/``fails``.

The empirical verdicts (2–4) are three-state: ``supported`` (the interval is on the claimed
side), ``contradicted`` (on the other side) or ``inconclusive`` (it contains 0); the same
word is kept in ``details["outcome"]``. Budgets (``SETTINGS``): ``testing`` (CI, seconds),
``quick`` (about three minutes on two cores), ``full`` (about fifteen).

``sobolev-verify report --claims C6 --budget B --out DIR`` (or its alias ``fs-claims``)
keeps the training runs under ``DIR/runs`` (finished runs are reused when the command is
repeated).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from verify.claims._c6_cost import cost_records
from verify.claims._c6_curves import curve_records
from verify.claims._c6_lq import lq_records
from verify.claims._c6_settings import NAME, SETTINGS, TITLE, Settings
from verify.claims._c6_targets import consistency_records
from verify.claims._common import Finding
from verify.claims._common import score as _score
from verify.records import Record

__all__ = [
    "NAME",
    "SETTINGS",
    "TITLE",
    "Settings",
    "consistency_records",
    "cost_records",
    "curve_records",
    "lq_records",
    "run",
    "score",
]


def run(settings: Settings, seed: int, folder: str | Path | None = None) -> list[Finding]:
    """Every C6 measurement; the training runs go to ``folder/runs`` (a temporary folder,
    removed afterwards, when ``folder`` is None)."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="sobolev-c6-") as temporary:
            return run(settings, seed, temporary)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    return [
        *consistency_records(settings, seed),
        *lq_records(settings, seed),
        *curve_records(settings, out, seed),
        *cost_records(settings, seed),
    ]


def score(findings: list[Finding], versions: dict[str, str]) -> list[Record]:
    """Exact checks and the cost: ``holds``/``fails``; empirical claims: their outcome."""
    return _score(findings, versions)
