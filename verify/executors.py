"""Run a list of training runs through an injected trainer, locally or on a Ray cluster.

A task is a settings dict (``verify.suites``); the trainer is any picklable function

    run_fn(settings: dict, out_dir: str) -> dict        (the result, JSON-serialisable)

``out_dir`` is ``OUT/work/<fingerprint>/<key>/``, the run's own folder for side files (a
trainer may keep checkpoints there and resume an interrupted run from them; the fingerprint
in the path keeps changed code from resuming an old run; old folders may be deleted). What
the sweep keeps is written by the **driver** (the process that called :func:`run_tasks`)
from the returned dict, the moment each run finishes:

    OUT/runs/<key>.json         {"key", "settings", "result", "seconds", "host", "fingerprint"}
    OUT/runs/<key>.error.json   {"key", "settings", "error", "traceback", "host"}  (a crash)

Both are written atomically (:func:`agents.files.write_json`: a temporary file, then a rename),
so a file that exists is complete. A rerun with the same ``OUT`` reuses every ``<key>.json``
whose ``fingerprint`` matches (pass a hash of the code that trains, so a result from before a
code change is run again, not reused) and runs only the rest, crashed runs included (a crash
may be transient; the retry's success deletes the error file). A crash never stops the sweep;
``KeyboardInterrupt`` does, after the runs already finished are on disk: rerun the same command
to continue. **SIGTERM** to the driver does the same: while :func:`run_tasks` runs (in the main
thread) it raises :class:`Terminated` (a ``KeyboardInterrupt``), the worker processes are ended
at once (they never saw the signal, unlike a terminal's Ctrl-C, which reaches the whole process
group) and the runs they had in flight are lost, neither results nor crashes; the finished runs
stay on disk.

Executors:

``local``
    ``jobs == 1`` runs in this process, in order. ``jobs > 1`` uses a
    ``ProcessPoolExecutor`` with the ``spawn`` start method (a forked JAX process can
    deadlock on its thread pools), with at most ``jobs`` runs submitted at a time, so an
    interruption leaves nothing queued. A worker that dies (segfault, out of memory) marks
    its in-flight runs as crashed and the pool is restarted.
``ray``
    Every run is a ``@ray.remote(num_cpus=1, max_retries=0)`` task; the result comes back as
    the task's return value and the driver writes the files, so **no shared filesystem is
    needed** (only the trainer's side files in ``out_dir`` stay on the machine that ran it).
    ``ray_address=None`` starts a private local instance (``ray.init(num_cpus=jobs,
    include_dashboard=False)``) and shuts it down at the end; ``"auto"`` or ``"HOST:PORT"``
    joins a running cluster (``-j`` is then ignored: the cluster's CPUs decide). When Ray is
    already initialised in this process, that instance is used and left running. Every
    machine of a cluster needs the same checkout and virtual environment (the trainer is
    imported there by name). To build one::

        machine A:   ray start --head --port 6379 --num-cpus 16
        others:      ray start --address A:6379
        driver (A):  sobolev-verify regress full --executor ray --ray-address A:6379
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import platform
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from agents.files import write_json
from verify.suites import run_key

__all__ = ["EXECUTORS", "Batching", "RunOutcome", "Terminated", "result_path", "run_tasks"]

EXECUTORS = ("local", "ray")
OUTCOMES = ("done", "reused", "crashed")
RunFn = Callable[[dict, str], dict]


class Batching(NamedTuple):
    """Runs that train together: the seeds of one cell as one vmapped program, say.

    ``group(settings)`` is a hashable key, equal for runs that ``run`` can train in one call,
    or ``None`` for a run that trains alone (through ``run_fn``). ``run(settings_list,
    out_dirs)`` returns one entry per run, in order: its result dict, or the exception that
    ended that run alone (it is recorded as that run's crash). An exception raised by ``run``
    itself crashes every run of the group.
    """

    group: Callable[[dict], Any]
    run: Callable[[list[dict], list[str]], list[Any]]


class Terminated(KeyboardInterrupt):
    """The driver received SIGTERM: handled like Ctrl-C, and the workers are ended too."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (once; repeats are ignored while it
    unwinds). Only the main thread can own a signal handler; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = []

    def handler(signum, frame):
        if not raised:
            raised.append(signum)
            raise Terminated(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes and reap them (SIGTERM reached only the driver)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=10)


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one task: ``done`` now, ``reused`` from disk, or ``crashed``."""

    key: str
    settings: dict[str, Any]
    status: str
    result: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0

    def __post_init__(self):
        if self.status not in OUTCOMES:
            raise ValueError(f"status must be one of {OUTCOMES}; got {self.status!r}")


def result_path(out: str | Path, key: str) -> Path:
    """``OUT/runs/<key>.json``, where a finished run's result lives."""
    return Path(out) / "runs" / f"{key}.json"


def _error_path(out: str | Path, key: str) -> Path:
    return Path(out) / "runs" / f"{key}.error.json"


def _execute(run_fn: RunFn, settings: dict, out_dir: str) -> dict[str, Any]:
    """Run one task where it is scheduled; a crash comes back as data, not as an exception.

    ``KeyboardInterrupt`` propagates, so an interrupted run is neither a result nor a crash.
    """
    start = time.perf_counter()
    host = platform.node()
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        result = run_fn(dict(settings), str(out_dir))
        if not isinstance(result, Mapping):
            raise TypeError(f"run_fn returned {type(result).__name__}; expected a dict")
        result = dict(result)
        json.dumps(result)  # fail here, with the run's name, if it cannot be stored
    except (Exception, SystemExit) as error:
        return dict(
            ok=False,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - start,
            host=host,
        )
    return dict(ok=True, result=result, seconds=time.perf_counter() - start, host=host)


def _execute_unit(run_fn: RunFn, batching, settings_list, out_dirs) -> list[dict[str, Any]]:
    """One scheduled job: a lone run through ``run_fn``, or a group through ``batching.run``."""
    if batching is None:
        (settings,), (out_dir,) = settings_list, out_dirs
        return [_execute(run_fn, settings, out_dir)]
    start = time.perf_counter()
    host = platform.node()
    try:
        for out_dir in out_dirs:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        results = list(batching.run([dict(item) for item in settings_list], list(out_dirs)))
        if len(results) != len(settings_list):
            raise TypeError(
                f"batching.run returned {len(results)} results for {len(out_dirs)} runs"
            )
    except (Exception, SystemExit) as error:
        crash = dict(
            ok=False,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - start,
            host=host,
        )
        return [crash] * len(settings_list)
    seconds = (time.perf_counter() - start) / len(settings_list)  # the group's time, shared
    payloads = []
    for result in results:
        if isinstance(result, BaseException):
            payloads.append(
                dict(
                    ok=False,
                    error=f"{type(result).__name__}: {result}",
                    traceback="",
                    seconds=seconds,
                    host=host,
                )
            )
        else:
            payloads.append(dict(ok=True, result=dict(result), seconds=seconds, host=host))
    return payloads


def _crash(message: str) -> dict[str, Any]:
    return dict(ok=False, error=message, traceback="", seconds=0.0, host="")


def _describe(settings: Mapping[str, Any]) -> str:
    return (
        f"{settings['algo']} {settings['env']} {settings['noise']} "
        f"seed={settings['seed']} steps={settings['steps']}"
    )


def _reused(out: Path, key: str, settings: dict, fingerprint: str | None) -> RunOutcome | None:
    path = result_path(out, key)
    try:
        stored = json.loads(path.read_text())
        if stored.get("fingerprint") != fingerprint:
            return None  # another version of the code: run it again
        return RunOutcome(key, settings, "reused", stored["result"], None, stored["seconds"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing or unreadable: run it again


def _spawn_pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _run_local(units, run_fn, batching, jobs, work, finish) -> None:
    if jobs == 1:
        for keys, settings_list, grouped in units:
            payloads = _execute_unit(
                run_fn, batching if grouped else None, settings_list, [work(k) for k in keys]
            )
            for key, payload in zip(keys, payloads, strict=True):
                finish(key, payload)
        return
    waiting = list(reversed(units))  # pop() takes the next job
    running: dict = {}  # future -> keys; never more than `jobs`, so nothing sits queued
    pool = _spawn_pool(jobs)

    def finish_all(keys, payloads) -> None:
        for key, payload in zip(keys, payloads, strict=True):
            finish(key, payload)

    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                keys, settings_list, grouped = unit = waiting.pop()
                try:
                    future = pool.submit(
                        _execute_unit,
                        run_fn,
                        batching if grouped else None,
                        settings_list,
                        [work(k) for k in keys],
                    )
                except BrokenProcessPool:  # a worker died after its last result came back
                    waiting.append(unit)  # never started: it runs in the next pool
                    break
                running[future] = keys
            if not running:  # the pool broke with nothing in flight: start afresh
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _spawn_pool(jobs)
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                keys = running.pop(future)
                try:
                    payloads = future.result()
                except BrokenProcessPool as error:
                    broken = True
                    payloads = [_crash(f"a worker process died while running it ({error})")] * len(
                        keys
                    )
                finish_all(keys, payloads)
            if broken:  # a broken pool loses every in-flight run: record them, start afresh
                for keys in running.values():
                    finish_all(keys, [_crash("lost when another worker process died")] * len(keys))
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _spawn_pool(jobs)
    except Terminated:
        _end_workers(pool)  # their runs in flight are lost; the finished ones are on disk
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except KeyboardInterrupt:
        # keep what the other workers still finish (a Ctrl-C interrupts them too, so this
        # is short); a second Ctrl-C abandons them
        try:
            for future in wait(running).done:
                try:
                    payloads = future.result()
                except BaseException:
                    continue
                finish_all(running[future], payloads)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_ray(units, run_fn, batching, jobs, address, work, finish) -> None:
    import ray

    started = not ray.is_initialized()
    if started:
        if address is None:
            ray.init(num_cpus=jobs, include_dashboard=False)
        else:
            ray.init(address=address)
    remote = ray.remote(num_cpus=1, max_retries=0)(_execute_unit)
    refs: dict = {}
    try:
        for keys, settings_list, grouped in units:
            job = remote.remote(
                run_fn, batching if grouped else None, settings_list, [work(k) for k in keys]
            )
            refs[job] = keys
        while refs:
            finished, _ = ray.wait(list(refs), num_returns=1)
            for ref in finished:
                keys = refs.pop(ref)
                try:
                    payloads = ray.get(ref)
                except ray.exceptions.RayError as error:  # the worker died, or was cancelled
                    message = f"{type(error).__name__}: {str(error).splitlines()[0]}"
                    payloads = [_crash(message)] * len(keys)
                for key, payload in zip(keys, payloads, strict=True):
                    finish(key, payload)
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def run_tasks(
    tasks: Sequence[Mapping[str, Any]],
    run_fn: RunFn,
    out: str | Path,
    *,
    executor: str = "local",
    jobs: int = 1,
    ray_address: str | None = None,
    fingerprint: str | None = None,
    log: Callable[[str], None] | None = None,
    batching: Batching | None = None,
) -> list[RunOutcome]:
    """Run every task not already finished in ``out``; return one outcome per task, in order.

    ``tasks``: settings dicts (``verify.suites.suite_tasks``); equal settings run once.
    ``executor``: ``"local"`` or ``"ray"`` (module docstring); ``jobs`` >= 1 worker processes
    (local) or CPUs of a private local Ray instance; ``ray_address`` ``None``, ``"auto"`` or
    ``"HOST:PORT"`` (Ray only). ``fingerprint``: stored with every result; a stored result
    is reused only when its fingerprint equals this one. ``log`` receives one plain-text
    line per finished run (default: stderr). ``batching``: runs of one group train in one
    job (:class:`Batching`); the others, one job each. Raises ``ValueError`` for a bad executor,
    ``jobs`` or ``ray_address``, and re-raises ``KeyboardInterrupt`` after storing every
    finished run; SIGTERM raises :class:`Terminated` the same way, after ending the workers.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}; got {executor!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")
    if ray_address is not None and executor != "ray":
        raise ValueError(f"ray_address is for executor 'ray'; got it with {executor!r}")
    if log is None:

        def log(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    keyed = {}
    for settings in tasks:
        keyed.setdefault(run_key(settings), dict(settings))
    outcomes: dict[str, RunOutcome] = {}
    for key, settings in keyed.items():
        stored = _reused(out, key, settings, fingerprint)
        if stored is not None:
            outcomes[key] = stored
    pending = [(key, settings) for key, settings in keyed.items() if key not in outcomes]
    where = f"{executor}, -j {jobs}" if ray_address is None else f"ray at {ray_address}"
    log(
        f"{len(keyed)} runs: {len(outcomes)} finished earlier (reused from {out / 'runs'}), "
        f"{len(pending)} to run ({where})"
    )
    count = len(pending)

    def work(key: str) -> str:
        return str((out / "work" / (fingerprint or "unversioned") / key).resolve())

    def finish(key: str, payload: dict[str, Any]) -> None:
        settings = keyed[key]
        number = sum(o.status != "reused" for o in outcomes.values()) + 1
        prefix = f"[{number}/{count}]"
        if payload["ok"]:
            write_json(
                result_path(out, key),
                dict(
                    key=key,
                    settings=settings,
                    result=payload["result"],
                    seconds=payload["seconds"],
                    host=payload["host"],
                    fingerprint=fingerprint,
                ),
                indent=1,
            )
            _error_path(out, key).unlink(missing_ok=True)
            outcomes[key] = RunOutcome(
                key, settings, "done", payload["result"], None, payload["seconds"]
            )
            score = payload["result"].get("final_eval_return")
            shown = f"  final_eval_return={score:.6g}" if isinstance(score, int | float) else ""
            log(f"{prefix} done {_describe(settings)}{shown}  {payload['seconds']:.1f} s")
        else:
            error_file = _error_path(out, key)
            write_json(
                error_file,
                dict(
                    key=key,
                    settings=settings,
                    error=payload["error"],
                    traceback=payload["traceback"],
                    host=payload["host"],
                ),
                indent=1,
            )
            outcomes[key] = RunOutcome(
                key, settings, "crashed", None, payload["error"], payload["seconds"]
            )
            log(f"{prefix} CRASHED {_describe(settings)}: {payload['error']}  ({error_file})")

    units: list[tuple[list[str], list[dict], bool]] = []
    groups: dict[Any, int] = {}
    for key, settings in pending:
        group = batching.group(settings) if batching is not None else None
        if group is None:
            units.append(([key], [settings], False))
        elif group in groups:
            units[groups[group]][0].append(key)
            units[groups[group]][1].append(settings)
        else:
            groups[group] = len(units)
            units.append(([key], [settings], True))
    try:
        with _sigterm_raises():
            if units and executor == "local":
                _run_local(units, run_fn, batching, jobs, work, finish)
            elif units:
                _run_ray(units, run_fn, batching, jobs, ray_address, work, finish)
    except KeyboardInterrupt as error:
        done = sum(o.status == "done" for o in outcomes.values())
        how = "terminated (SIGTERM)" if isinstance(error, Terminated) else "interrupted"
        log(
            f"{how}: {done} runs finished in this sweep are kept in {out / 'runs'}; "
            "rerun the same command to run the rest"
        )
        raise
    return [outcomes[run_key(settings)] for settings in tasks]
