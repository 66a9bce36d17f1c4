"""``sobolev-verify report`` and ``render``: run the claim set, keep finished claims on disk,
write records and the rendered report.

``--claims C1,C6`` runs the named claims (``verify.claims.CLAIMS``) instead of the default
set; ``fs-claims`` is ``report --claims C6`` with its own folder and title. A named claim
that needs a missing install extra is refused at once (exit 2, nothing written).

Exit status: 0 every record passes (holds, detected, supported); 1 some record failed
(fails, missed, contradicted); 4 nothing failed but some empirical claim is inconclusive.

Each claim's records go to ``OUT/.partial/<claim>.json`` as soon as the claim finishes;
``--resume`` reuses those whose budget and seed match, so an interrupted full run loses
nothing finished. ``records.json`` gathers all records; ``reports`` renders them. A claim
that needs a missing install extra (``kappa-mujoco`` needs ``agents``) is skipped with a
line naming the extra (and listed under the report's title); the others still run.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from agents.files import write_json
from verify.records import Record, library_versions, load_records, save_records
from verify.usage import UsageError, missing_extra_message, writable_out

DEFAULT_OUT = "sobolev-report"
EXIT_FOR = {"pass": 0, "fail": 1, "inconclusive": 4}  # verify/cli.py EXIT_STATUS


def _writable_folder(out: str | None, command: str) -> Path:
    return writable_out(out or DEFAULT_OUT, f"sobolev-verify {command}: error:")


def _render(records: list[Record], folder: Path, meta: dict, title: str | None = None) -> dict:
    from reports import render_report

    titled = {} if title is None else {"title": title}
    return render_report([asdict(r) for r in records], folder, meta=meta, **titled)


def status_of(records: list[Record]) -> str:
    """``fail`` when any record failed, else ``inconclusive`` when any is, else ``pass``."""
    if any(r.failed for r in records):
        return "fail"
    return "inconclusive" if any(r.inconclusive for r in records) else "pass"


def _summary(records: list[Record], folder: Path, seconds: float) -> dict:
    return dict(
        status=status_of(records),
        records=len(records),
        failing=[f"{r.claim} {r.case}: {r.verdict}" for r in records if r.failed],
        inconclusive=[f"{r.claim} {r.case}" for r in records if r.inconclusive],
        seconds=round(seconds, 1),
        out=str(folder),
        index=str(folder / "index.html"),
    )


def run_report(
    *,
    budget: str,
    seed: int,
    out: str | None,
    as_json: bool,
    resume: bool = False,
    claims: str | None = None,
    title: str | None = None,
    command: str = "report",
    lines: bool = False,
) -> int:
    """Run the claims (``claims``: comma-separated names, None: the default set) at
    ``budget``; return the exit status (``EXIT_FOR``). ``lines``: print ``case: verdict`` per
    record on stdout (the ``fs-claims`` alias)."""
    import verify.claims as claim_set

    if budget not in claim_set.BUDGETS:
        raise UsageError(
            f"sobolev-verify {command}: error: --budget must be one of "
            f"{sorted(claim_set.BUDGETS)}; got {budget!r}"
        )
    try:
        chosen = claim_set.select(claims, claim_set.CLAIMS)
    except ValueError as error:
        raise UsageError(f"sobolev-verify {command}: error: --claims: {error}") from None
    if claims is not None:  # named on purpose: a missing extra is refused before any work
        for claim in chosen:
            if claim.load is not None:
                claim.load()
    folder = _writable_folder(out, command)
    partial = folder / ".partial"
    partial.mkdir(exist_ok=True)
    start = time.perf_counter()
    versions = library_versions()
    key = dict(budget=budget, seed=seed)
    records: list[Record] = []
    skipped: dict[str, str] = {}  # claim -> why (a missing install extra)
    for number, claim in enumerate(chosen, start=1):
        stored = partial / f"{claim.name}.json"
        prefix = f"[{number}/{len(chosen)}] {claim.name}: {claim.title}"
        if resume and stored.exists():
            try:
                saved = json.loads(stored.read_text())
                found = [Record(**item) for item in saved["records"]]
            except (OSError, ValueError, TypeError, KeyError):
                saved = {}  # unreadable (not written by this code): run the claim again
            if saved.get("key") == key:
                records.extend(found)
                print(
                    f"{prefix} ... reused {len(found)} finished records",
                    file=sys.stderr,
                    flush=True,
                )
                continue
        print(f"{prefix} ...", end="", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            found = claim.records(budget, seed, versions, folder)
        except ImportError as error:
            message = missing_extra_message(error)
            if message is None:
                raise
            skipped[claim.name] = message
            print(f" SKIPPED: it {message}", file=sys.stderr, flush=True)
            continue  # nothing stored: a --resume after the install runs it
        write_json(stored, dict(key=key, records=[asdict(r) for r in found]), indent=None)
        records.extend(found)
        bad, unsure = sum(r.failed for r in found), sum(r.inconclusive for r in found)
        outcome = f"{len(found)} records, {bad} failing"
        if unsure:
            outcome += f", {unsure} inconclusive"
        if not found:
            outcome = f"skipped at budget {budget!r}"
        print(f" {time.perf_counter() - began:.1f} s, {outcome}", file=sys.stderr, flush=True)
    if not records:
        raise UsageError(
            f"sobolev-verify {command}: error: nothing to report: the chosen claims have no "
            f"cases at budget {budget!r}" + (f" ({'; '.join(skipped.values())})" if skipped else "")
        )
    save_records(records, folder / "records.json")
    records = load_records(folder / "records.json")  # render what is on disk, as `render` does
    meta = dict(budget=budget, seed=seed, seconds=round(time.perf_counter() - start, 1))
    if skipped:
        meta["skipped claims"] = "; ".join(f"{name}: {why}" for name, why in skipped.items())
    if claims is not None:
        meta["claims"] = ", ".join(claim.name for claim in chosen)
    _render(records, folder, meta, title)
    summary = _summary(records, folder, time.perf_counter() - start)
    summary["skipped"] = skipped
    if lines:
        for record in records:
            print(f"{record.case}: {record.verdict}")
    if as_json:
        print(json.dumps(summary))
    unsure = f"{len(summary['inconclusive'])} inconclusive, " if summary["inconclusive"] else ""
    print(
        f"{command} {summary['status'].upper()}: {len(records)} records, "
        f"{len(summary['failing'])} failing, {unsure}"
        + (f"{len(skipped)} claims skipped (missing extras), " if skipped else "")
        + f"{summary['seconds']} s -> {folder / 'index.html'}",
        file=sys.stderr,
    )
    return EXIT_FOR[summary["status"]]


def run_render(*, records_path: str, out: str | None, as_json: bool) -> int:
    path = Path(records_path)
    if not path.is_file():
        raise UsageError(f"sobolev-verify render: error: RECORDS {records_path!r} is not a file")
    try:
        records = load_records(path)
    except ValueError as error:
        raise UsageError(f"sobolev-verify render: error: {error}") from None
    folder = _writable_folder(out or str(path.parent), "render")
    try:
        _render(records, folder, dict(rendered_from=str(path)))
    except ValueError as error:  # well-formed records the renderer still cannot show
        raise UsageError(
            f"sobolev-verify render: error: cannot render {records_path!r}: {error}"
        ) from None
    summary = _summary(records, folder, 0.0)
    if as_json:
        print(json.dumps(summary))
    print(f"rendered {len(records)} records -> {folder / 'index.html'}", file=sys.stderr)
    return EXIT_FOR[summary["status"]]
