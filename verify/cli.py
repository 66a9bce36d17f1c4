"""The ``sobolev-verify`` command line (also ``python -m verify``).

Exit status (also in ``--help``): 0 success; 1 a claim failed (a theorem check fails, a
negative control is missed or an empirical claim is contradicted), a cell regressed or a run
crashed or diverged; 2 bad usage or a missing optional extra (one line on stderr); 3 an
internal error (one line; ``SOBOLEV_VERIFY_DEBUG=1`` shows the traceback); 4 nothing failed
but an empirical claim is inconclusive (``report``, ``render``, ``fs-claims``); 130
interrupted (Ctrl-C); 143 terminated (SIGTERM). Finished work is kept on disk after 130 and
143.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from verify.usage import UsageError, missing_extra_message, seed_value

PROG = "sobolev-verify"
EXIT_STATUS = """exit status:
  0    success
  1    a claim failed (fails, missed or contradicted), a cell regressed, or a run
       crashed or diverged
  2    bad usage, or a missing optional extra (one line on stderr)
  3    internal error (one line; set SOBOLEV_VERIFY_DEBUG=1 for the traceback)
  4    nothing failed, but an empirical claim is inconclusive
  130  interrupted (Ctrl-C); 143 terminated (SIGTERM): finished work is kept"""
DEBUG_VARIABLE = "SOBOLEV_VERIFY_DEBUG"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message; we want one line
        raise UsageError(f"{self.prog}: error: {message}")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Verify the claims of Sobolev reinforcement learning.",
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    report = commands.add_parser(
        "report", help="run the claim set and write a contraction-coefficient report"
    )
    report.add_argument(
        "--budget", default="quick", help="testing (seconds), quick (default) or full"
    )
    report.add_argument(
        "--claims",
        default=None,
        metavar="NAMES",
        help="comma-separated claims to run, e.g. C1,C6 (default: every claim but C6)",
    )
    report.add_argument("--seed", type=seed_value, default=0, help="base seed >= 0 (default 0)")
    report.add_argument("--out", default=None, help="report folder (default sobolev-report)")
    report.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    report.add_argument(
        "--resume", action="store_true", help="reuse claims already finished in --out"
    )

    render = commands.add_parser("render", help="re-render a report from its records.json")
    render.add_argument("records", metavar="RECORDS", help="path to records.json")
    render.add_argument("--out", default=None, help="report folder (default: the records' folder)")
    render.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    kernel = commands.add_parser("kernel", help="validate a kernel choice for MSMMD critics")
    kernel.add_argument(
        "spec", metavar="SPEC", help="'multiquadric:h=100', 'energy:beta=1.5' or 'pkg.mod:fn'"
    )
    kernel.add_argument("--seed", type=seed_value, default=0, help="seed >= 0 (default 0)")
    kernel.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    jacobians = commands.add_parser(
        "jacobians", help="κ of a Gymnasium MuJoCo env's whole-step Jacobians"
    )
    jacobians.add_argument("env", metavar="ENV", help="e.g. HalfCheetah-v5, Hopper-v5, Ant-v5")
    jacobians.add_argument("--steps", type=int, default=20, help="rollout length (default 20)")
    jacobians.add_argument("--seed", type=seed_value, default=0, help="seed >= 0 (default 0)")
    jacobians.add_argument(
        "--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)"
    )
    jacobians.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    from verify.train_job import add_train_parser

    add_train_parser(commands)

    from verify.regress_job import add_regress_parser

    add_regress_parser(commands)

    fs_claims = commands.add_parser(
        "fs-claims",
        help="[FS] first-order Sobolev TD claims (C6): targets, LQ, curves, cost; "
        "the same as report --claims C6",
    )
    fs_claims.add_argument(
        "--budget",
        default="quick",
        help="testing (seconds; what CI runs), quick (default; about 3 min) or full (about 15 min)",
    )
    fs_claims.add_argument(
        "--out",
        default="sobolev-fs-claims",
        help="output folder: records.json, the report and the training runs "
        "(default sobolev-fs-claims)",
    )
    fs_claims.add_argument("--seed", type=seed_value, default=0, help="seed >= 0 (default 0)")

    from verify.bench_job import add_bench_parser

    add_bench_parser(commands)
    return parser


def import_from_current_directory() -> None:
    """Put the current directory first on ``sys.path`` (as ``python -m`` does), so that a
    ``'package.module:function'`` kernel spec can name a module there; the pytest plugin
    does the same for ``--sobolev-kernel``."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (module docstring). Never a traceback:
    an unexpected exception is one line and status 3 (``SOBOLEV_VERIFY_DEBUG=1`` re-raises it)."""
    import_from_current_directory()
    try:
        return _dispatch(argv)
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:
        from verify.executors import Terminated

        if isinstance(error, Terminated):
            print(f"{PROG}: terminated ({error}); finished work is kept", file=sys.stderr)
            return 143
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except ImportError as error:
        message = missing_extra_message(error)
        if message is None:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            return _internal_error(error)
        print(f"{PROG}: error: this command {message}", file=sys.stderr)
        return 2
    except Exception as error:
        if os.environ.get(DEBUG_VARIABLE):
            raise
        return _internal_error(error)


def _internal_error(error: BaseException) -> int:
    """One line: the exception, where it was raised, and how to see the traceback."""
    text = " ".join(str(error).split())
    frames = traceback.extract_tb(error.__traceback__)
    at = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    print(
        f"{PROG}: internal error: {type(error).__name__}: {text[:300]}{at} (a bug, not your "
        f"usage; rerun with {DEBUG_VARIABLE}=1 for the traceback, and please report it)",
        file=sys.stderr,
    )
    return 3


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "report":
        from verify.report_job import run_report

        return run_report(
            budget=args.budget,
            seed=args.seed,
            out=args.out,
            as_json=args.json,
            resume=args.resume,
            claims=args.claims,
        )
    if args.command == "render":
        from verify.report_job import run_render

        return run_render(records_path=args.records, out=args.out, as_json=args.json)
    if args.command == "kernel":
        from verify.kernel_job import run_kernel

        return run_kernel(spec=args.spec, seed=args.seed, as_json=args.json)
    if args.command == "jacobians":
        from verify.jacobians_job import run_jacobians

        return run_jacobians(
            env_id=args.env, steps=args.steps, seed=args.seed, eps=args.eps, as_json=args.json
        )
    if args.command == "train":
        from verify.train_job import run_train

        return run_train(args)
    if args.command == "fs-claims":  # an alias: report --claims C6, one line per record
        from verify.report_job import run_report

        return run_report(
            budget=args.budget,
            seed=args.seed,
            out=args.out,
            as_json=False,
            claims="C6",
            title="[FS] Sobolev-TD claims",
            command="fs-claims",
            lines=True,
        )
    if args.command == "bench":
        from verify.bench_job import run_bench

        return run_bench(args)
    if args.command == "regress":
        from verify.regress_job import regress_from_args

        return regress_from_args(args)
    raise UsageError(f"{PROG}: error: unknown command {args.command!r}")
