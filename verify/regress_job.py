"""``sobolev-verify regress SUITE``: run a suite of training runs, compare with references.

Steps: check the usage and the committed references (``verify/references/<suite>.json``)
*before* training anything; run every run of the suite through ``verify.executors`` (results
in ``OUT/runs/<key>.json``, reused on a rerun while the code fingerprint is unchanged);
compare each cell's final evaluation returns with the reference's by ``verify.stats.compare``
(bootstrap interval of the IQM difference against a 10 % margin); print one line per cell;
write ``OUT/<suite>/`` (``records.json``, ``report.md``, ``index.html``, plots) with the same
renderer as ``sobolev-verify report``.

Exit status: 0 when no cell regressed, 1 when a cell regressed or a run crashed, 2 with one
line for bad usage (unknown suite, bad ``-j``/``--executor``/``--ray-address``, missing or
stale references without ``--update-references``). ``--update-references`` records the new
scores as the reference deliberately (exit 0; 1 without writing when a run crashed).

**Report records.** One ``verify.records.Record`` per cell, ``claim="regress"``,
``case`` = ``"algo env noise steps"``, with ``measured = −Δ_hi`` (the smallest drop of the IQM
the 95 % interval of ``new − reference`` allows) and ``bound = margin`` (the drop tolerated),
so ``measured <= bound`` exactly when the cell is not ``regressed`` and the renderer's
"measured against bound" semantics hold. ``details`` carries the IQMs, their intervals, the
per-seed scores and the learning-curve bands (``details["curves"]["new"|"reference"]``:
``steps``, ``iqm``, ``low``, ``high``). A crashed cell has ``measured = inf``.

**Reference file** (JSON): ``suite``, ``created`` (UTC ISO date), ``versions``
(``library_versions()``), ``machine`` (platform, processor, cpu_count), ``fingerprint`` and
``cells``: ``{cell_key: {"name", "settings", "runs": {seed: {"key", "final_eval_return",
"eval_curve"}}}}``.

**Command line.** ``verify.cli`` adds the subcommand with ``add_regress_parser(commands)`` and
dispatches ``regress`` to ``regress_from_args(args)``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agents.files import write_json
from verify.suites import SUITES, cell_key, cell_name, suite_tasks
from verify.usage import UsageError, writable_out

__all__ = [
    "DEFAULT_OUT",
    "REFERENCES_DIR",
    "add_regress_parser",
    "regress_from_args",
    "run_regress",
]

DEFAULT_OUT = "sobolev-regress"
REFERENCES_DIR = Path(__file__).resolve().parent / "references"
PROG = "sobolev-verify regress"


def add_regress_parser(commands) -> argparse.ArgumentParser:
    """Add the ``regress`` subcommand to an ``argparse`` subparsers object; return its parser."""
    regress = commands.add_parser(
        "regress", help="run a regression suite of training runs and compare with references"
    )
    regress.add_argument("suite", metavar="SUITE", help=f"one of {', '.join(SUITES)}")
    regress.add_argument(
        "--out", default=None, help=f"results and report folder (default {DEFAULT_OUT})"
    )
    regress.add_argument(
        "-j", "--jobs", type=int, default=1, help="parallel runs (default 1: in this process)"
    )
    regress.add_argument("--executor", default="local", help="local (default) or ray")
    regress.add_argument(
        "--ray-address",
        default=None,
        help="'auto' or HOST:PORT of a running Ray cluster (default: a private local instance)",
    )
    regress.add_argument(
        "--references",
        default=None,
        help="folder holding SUITE.json (default: verify/references of the package)",
    )
    regress.add_argument(
        "--update-references",
        action="store_true",
        help="record this run's scores as the new references (deliberately)",
    )
    regress.add_argument(
        "--seed-boot", type=int, default=0, help="seed of the bootstrap resampling (default 0)"
    )
    regress.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    return regress


def regress_from_args(args: argparse.Namespace, *, run_fn=None) -> int:
    """:func:`run_regress` with the arguments parsed by :func:`add_regress_parser`'s parser."""
    return run_regress(
        suite=args.suite,
        out=args.out,
        jobs=args.jobs,
        executor=args.executor,
        ray_address=args.ray_address,
        references=args.references,
        update_references=args.update_references,
        seed_boot=args.seed_boot,
        as_json=args.json,
        run_fn=run_fn,
    )


# -- references --------------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    return dict(
        platform=platform.platform(), processor=platform.processor(), cpu_count=os.cpu_count()
    )


def _score(result: Any) -> tuple[float | None, str | None]:
    """A run's score (``final_eval_return``) or why it has none."""
    if not isinstance(result, dict):
        return None, "no result"
    score = result.get("final_eval_return")
    if isinstance(score, bool) or not isinstance(score, int | float):
        return None, f"result has no numeric final_eval_return (got {score!r})"
    if not math.isfinite(score):
        return None, f"final_eval_return is {score!r} (diverged?)"
    return float(score), None


def _load_references(path: Path, cells: dict[str, dict], suite: str) -> dict[str, Any]:
    """The reference document, checked to cover every cell of the suite (else ``UsageError``)."""
    again = f"record them with `sobolev-verify regress {suite} --update-references`"
    if not path.is_file():
        raise UsageError(f"no references for suite {suite!r} at {str(path)!r}; {again}")
    try:
        document = json.loads(path.read_text())
        stored = document["cells"]
        for key, cell in stored.items():
            if not cell["runs"]:
                raise ValueError(f"cell {key} has no runs")
            for run in cell["runs"].values():
                if _score(run)[0] is None:
                    raise ValueError(f"cell {key}: {_score(run)[1]}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise UsageError(f"references {str(path)!r} are malformed ({error}); {again}") from None
    missing = [cells[key]["name"] for key in cells if key not in stored]
    if missing:
        raise UsageError(
            f"references {str(path)!r} lack {len(missing)} of {len(cells)} cells of suite "
            f"{suite!r} (e.g. {missing[0]!r}: the suite changed since they were recorded); {again}"
        )
    return document


def _write_references(path: Path, suite: str, cells: dict, fingerprint: str) -> None:
    from verify.records import library_versions

    document = dict(
        suite=suite,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        versions=library_versions(),
        machine=_machine(),
        fingerprint=fingerprint,
        cells={
            key: dict(
                name=cell["name"],
                settings=cell["settings"],
                runs={
                    str(seed): dict(
                        key=run["key"],
                        final_eval_return=run["score"],
                        eval_curve=run["result"].get("eval_curve", []),
                    )
                    for seed, run in cell["runs"].items()
                },
            )
            for key, cell in cells.items()
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, document, indent=1)


def code_fingerprint(run_fn) -> str:
    """Hash of what a result depends on beyond its settings: the training code and libraries.

    SHA-256 over every ``.py`` file of ``agents/`` and ``sobolev_core/`` (path and bytes),
    ``library_versions()`` and the run function's qualified name; a stored run is reused only
    under the same fingerprint.
    """
    from verify.records import library_versions

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in ("agents", "sobolev_core"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    digest.update(json.dumps(library_versions(), sort_keys=True).encode())
    name = f"{getattr(run_fn, '__module__', '?')}:{getattr(run_fn, '__qualname__', repr(run_fn))}"
    digest.update(name.encode())
    return digest.hexdigest()[:16]


# -- the job -------------------------------------------------------------------------------------


def _check_usage(suite, jobs, executor, ray_address, seed_boot) -> None:
    from verify.executors import EXECUTORS

    if suite not in SUITES:
        raise UsageError(f"unknown suite {suite!r}; accepted: {', '.join(SUITES)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"-j/--jobs must be an integer >= 1; got {jobs!r}")
    if executor not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if ray_address is not None and executor != "ray":
        raise UsageError(f"--ray-address {ray_address!r} needs --executor ray (got {executor!r})")
    if isinstance(seed_boot, bool) or not isinstance(seed_boot, int) or seed_boot < 0:
        raise UsageError(f"--seed-boot must be an integer >= 0; got {seed_boot!r}")


def _trainer(run_fn):
    """``(run_fn, batching)``: the default trains a cell's seeds on a JAX env as one program."""
    if run_fn is not None:
        return run_fn, None
    try:
        from agents.device_loop import device_group, run_seeds_from_settings
        from agents.training import run_from_settings
    except ImportError as error:
        raise UsageError(
            f"the trainer agents.training.run_from_settings cannot be imported ({error}); "
            "install the 'agents' extra: pip install 'sobolev-verify[agents]'"
        ) from None
    from verify.executors import Batching

    return run_from_settings, Batching(device_group, run_seeds_from_settings)


def _run(tasks, trainer, folder, executor, jobs, ray_address, fingerprint):
    from verify.executors import run_tasks

    run_fn, batching = trainer
    try:
        return run_tasks(
            tasks,
            run_fn,
            folder,
            executor=executor,
            jobs=jobs,
            ray_address=ray_address,
            fingerprint=fingerprint,
            batching=batching,
        )
    except ImportError as error:  # ray missing
        raise UsageError(
            f"--executor {executor} needs a package that is missing ({error}); "
            "install the 'ray' extra: pip install 'sobolev-verify[ray]'"
        ) from None
    except ConnectionError as error:
        raise UsageError(f"cannot connect to Ray at {ray_address!r}: {error}") from None


def _interval_text(value: float | None, interval) -> str:
    if value is None or interval is None:
        return "—"
    return f"{value:.5g} [{interval[0]:.5g}, {interval[1]:.5g}]"


def _curve(runs: dict, rng, n_boot: int) -> dict | None:
    """IQM learning curve with its bootstrap band (``verify.stats.iqm_curve``) as a dict."""
    from verify.stats import iqm_curve

    curves = [run["eval_curve"] for run in runs.values() if run.get("eval_curve")]
    if not curves:
        return None
    try:
        return asdict(iqm_curve(curves, n_boot=min(n_boot, 1000), seed=rng))
    except ValueError:
        return None  # a malformed curve: the verdict does not need it


def _compare_cell(cell: dict, stored: dict | None, rng, n_boot: int) -> dict[str, Any]:
    """Verdict, report-record fields and table texts of one cell.

    ``stored``: the reference runs (``{seed: {"final_eval_return", "eval_curve", ...}}``) or
    ``None`` (references being recorded for the first time: nothing to compare).
    """
    from verify.stats import bootstrap_iqm_ci, compare, iqm

    new_scores = {str(seed): run["score"] for seed, run in cell["runs"].items()}
    details: dict[str, Any] = dict(
        new_scores=new_scores,
        keys={str(seed): run["key"] for seed, run in cell["runs"].items()},
        n_boot=n_boot,
        curves=dict(
            new=_curve({s: r["result"] for s, r in cell["runs"].items()}, rng, n_boot),
            reference=_curve(stored, rng, n_boot) if stored else None,
        ),
    )
    reference_scores = [run["final_eval_return"] for run in (stored or {}).values()]
    if stored:
        details["reference_scores"] = {
            seed: run["final_eval_return"] for seed, run in stored.items()
        }
    verdict = None
    if cell.get("crashed"):
        status = "crashed"
        details["crashed"] = {str(seed): error for seed, error in cell["crashed"].items()}
        if stored:
            details["reference_iqm"] = iqm(reference_scores)
            details["reference_ci"] = bootstrap_iqm_ci(reference_scores, n_boot=n_boot, seed=rng)
    elif stored:
        verdict = compare(reference_scores, list(new_scores.values()), seed=rng, n_boot=n_boot)
        status = verdict.status
        details.update(asdict(verdict))
    else:
        status = "pass"
        details["new_iqm"] = iqm(list(new_scores.values()))
        details["new_ci"] = bootstrap_iqm_ci(list(new_scores.values()), n_boot=n_boot, seed=rng)
    details["status"] = status
    fields = ("reference_iqm", "reference_ci", "new_iqm", "new_ci", "difference_ci", "margin")
    summary = dict(status=status, **{name: details.get(name) for name in fields})
    # measured <= bound  <=>  not regressed (module docstring); a crash always fails
    if verdict is not None:
        measured, bound = 0.0 - verdict.difference_ci[1], verdict.margin  # no -0.0
    else:
        measured, bound = (math.inf if status == "crashed" else 0.0), 0.0
    return dict(
        status=status,
        measured=measured,
        bound=bound,
        details=details,
        summary=summary,
        reference_text=_interval_text(summary["reference_iqm"], summary["reference_ci"]),
        new_text=_interval_text(summary["new_iqm"], summary["new_ci"]),
    )


def run_regress(
    *,
    suite: str,
    out: str | None,
    jobs: int,
    executor: str,
    ray_address: str | None,
    references: str | None,
    update_references: bool,
    as_json: bool,
    seed_boot: int = 0,
    n_boot: int = 2000,
    run_fn=None,
) -> int:
    """Run ``suite``, compare with its references, render the report; return the exit status.

    ``run_fn(settings, out_dir) -> dict`` trains one run (default: the lazily imported
    ``agents.training.run_from_settings``); its result needs ``final_eval_return`` (the score)
    and ``eval_curve`` (``[[env_steps, return], ...]``). ``references`` is a folder holding
    ``<suite>.json`` (default :data:`REFERENCES_DIR`). Bad usage prints one line and returns 2.
    """
    try:
        return _regress(
            suite=suite,
            out=out,
            jobs=jobs,
            executor=executor,
            ray_address=ray_address,
            references=references,
            update_references=update_references,
            as_json=as_json,
            seed_boot=seed_boot,
            n_boot=n_boot,
            run_fn=run_fn,
        )
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


def _regress(
    *,
    suite,
    out,
    jobs,
    executor,
    ray_address,
    references,
    update_references,
    as_json,
    seed_boot,
    n_boot,
    run_fn,
) -> int:
    import numpy as np

    from reports import render_report
    from verify.records import Record, library_versions, load_records, save_records
    from verify.stats import DEFAULT_ATOL, DEFAULT_TOLERANCE

    _check_usage(suite, jobs, executor, ray_address, seed_boot)
    tasks = suite_tasks(SUITES[suite])
    cells: dict[str, dict] = {}
    for settings in tasks:
        shared = {k: v for k, v in settings.items() if k != "seed"}
        cells.setdefault(
            cell_key(settings), dict(name=cell_name(settings), settings=shared, runs={})
        )
    reference_path = Path(references) if references else REFERENCES_DIR
    reference_path = reference_path / f"{suite}.json"
    previous = None
    if not update_references:
        previous = _load_references(reference_path, cells, suite)
    elif reference_path.is_file():
        try:
            previous = _load_references(reference_path, cells, suite)
        except UsageError:
            previous = None  # being replaced anyway
    folder = writable_out(out or DEFAULT_OUT)
    trainer = _trainer(run_fn)
    fingerprint = code_fingerprint(trainer[0])
    start = time.perf_counter()
    outcomes = _run(tasks, trainer, folder, executor, jobs, ray_address, fingerprint)

    crashes: list[str] = []
    for outcome in outcomes:
        score, problem = _score(outcome.result) if outcome.status != "crashed" else (None, None)
        cell = cells[cell_key(outcome.settings)]
        if outcome.status == "crashed" or score is None:
            cell.setdefault("crashed", {})[outcome.settings["seed"]] = outcome.error or problem
            crashes.append(
                f"{cell['name']} seed {outcome.settings['seed']}: {outcome.error or problem}"
            )
        else:
            cell["runs"][outcome.settings["seed"]] = dict(
                key=outcome.key, score=score, result=outcome.result
            )

    versions = library_versions()
    records, rows, summary_cells = [], [], []
    for index, (key, cell) in enumerate(cells.items()):
        stored = previous["cells"][key]["runs"] if previous else None
        rng = np.random.default_rng([seed_boot, index])
        entry = _compare_cell(cell, stored, rng, n_boot)
        records.append(
            Record(
                claim="regress",
                case=cell["name"],
                settings={**cell["settings"], "seeds": sorted(cell["runs"])},
                seed=seed_boot,
                measured=entry["measured"],
                bound=entry["bound"],
                verdict="fails" if entry["status"] in ("regressed", "crashed") else "holds",
                details={**entry["details"], "references": str(reference_path)},
                versions=versions,
            )
        )
        shown = entry["status"]
        if shown == "crashed":
            total = len(cell["crashed"]) + len(cell["runs"])
            shown = f"crashed ({len(cell['crashed'])} of {total} runs)"
        elif update_references:
            shown = "recorded"
        rows.append((cell["name"], entry["reference_text"], entry["new_text"], shown))
        summary_cells.append(dict(cell=cell["name"], **entry["summary"]))

    wrote_references = False
    if update_references and not crashes:
        _write_references(reference_path, suite, cells, fingerprint)
        wrote_references = True

    report_dir = folder / suite
    report_dir.mkdir(parents=True, exist_ok=True)
    save_records(records, report_dir / "records.json")
    seconds = round(time.perf_counter() - start, 1)
    meta = dict(
        suite=suite,
        references=str(reference_path),
        executor=executor,
        jobs=jobs,
        seed_boot=seed_boot,
        seconds=seconds,
        rule="regressed when the 95% bootstrap interval of IQM(new) − IQM(reference) lies "
        f"below −({DEFAULT_TOLERANCE}·|IQM(reference)| + {DEFAULT_ATOL})",
    )
    render_report(
        [asdict(r) for r in load_records(report_dir / "records.json")],
        report_dir,
        title=f"Regression suite {suite}",
        meta=meta,
    )

    header = ("cell", "reference IQM [95% CI]", "new IQM [95% CI]", "verdict")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    table = [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    ]
    regressed = [c["cell"] for c in summary_cells if c["status"] == "regressed"]
    failed = bool(regressed or crashes)
    status = "fail" if failed else "pass"
    summary = dict(
        suite=suite,
        status=status,
        regressed=regressed,
        crashed=crashes,
        improved=[c["cell"] for c in summary_cells if c["status"] == "improved"],
        cells=summary_cells,
        references=str(reference_path),
        wrote_references=wrote_references,
        seconds=seconds,
        out=str(folder),
        index=str(report_dir / "index.html"),
    )
    print("\n".join(table), file=sys.stderr if as_json else sys.stdout, flush=True)
    if as_json:
        print(json.dumps(summary))
    for line in crashes:
        print(f"crashed: {line}", file=sys.stderr)
    if previous is not None:
        recorded = previous.get("versions", {}) if isinstance(previous, dict) else {}
        changed = [
            f"{name} {recorded.get(name)} (now {value})"
            for name, value in versions.items()
            if name in recorded and recorded[name] != value
        ]
        if changed:
            print(
                f"note: the references were recorded with {', '.join(changed)}: runs may differ "
                "in floating point from theirs",
                file=sys.stderr,
            )
    if update_references:
        outcome = (
            f"wrote references for {len(cells)} cells to {reference_path}"
            if wrote_references
            else f"references NOT written: {len(crashes)} runs crashed"
        )
        print(f"regress {suite}: {outcome} -> {report_dir / 'index.html'}", file=sys.stderr)
        return 1 if crashes else 0
    print(
        f"regress {suite} {status.upper()}: {len(cells)} cells, {len(regressed)} regressed, "
        f"{len(crashes)} crashed runs, {seconds} s -> {report_dir / 'index.html'}",
        file=sys.stderr,
    )
    if summary["improved"] and not failed:
        print(
            f"{len(summary['improved'])} cells improved; if intended, record them with "
            f"`sobolev-verify regress {suite} --update-references`",
            file=sys.stderr,
        )
    return 1 if failed else 0
