"""The ``sobolev-verify`` command line (also ``python -m verify``).

Bad usage prints one line and exits 2; a claim that fails exits 1; success exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

PROG = "sobolev-verify"


class UsageError(Exception):
    """Bad command-line usage: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage + message; we want one line
        raise UsageError(f"{self.prog}: error: {message}")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Verify the claims of Sobolev reinforcement learning.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    report = commands.add_parser(
        "report", help="run the claim set and write a contraction-coefficient report"
    )
    report.add_argument("--budget", default="quick", help="quick (default) or full")
    report.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
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
    kernel.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    kernel.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    jacobians = commands.add_parser(
        "jacobians", help="κ of a Gymnasium MuJoCo env's whole-step Jacobians"
    )
    jacobians.add_argument("env", metavar="ENV", help="e.g. HalfCheetah-v5, Hopper-v5, Ant-v5")
    jacobians.add_argument("--steps", type=int, default=20, help="rollout length (default 20)")
    jacobians.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    jacobians.add_argument(
        "--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)"
    )
    jacobians.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    from verify.train_job import add_train_parser

    add_train_parser(commands)

    from verify.regress_job import add_regress_parser

    add_regress_parser(commands)

    fs_claims = commands.add_parser(
        "fs-claims", help="[FS] first-order Sobolev TD claims (C6): targets, LQ, curves, cost"
    )
    fs_claims.add_argument("--budget", default="quick", help="testing, quick (default) or full")
    fs_claims.add_argument("--out", default="sobolev-fs-claims", help="output folder")
    fs_claims.add_argument("--seed", type=int, default=0, help="seed (default 0)")

    from verify.bench_job import add_bench_parser

    add_bench_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Like `python -m`, let 'package.module:function' kernel specs name modules in the
    # current directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "report":
            from verify.report_job import run_report

            return run_report(
                budget=args.budget,
                seed=args.seed,
                out=args.out,
                as_json=args.json,
                resume=args.resume,
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
        if args.command == "fs-claims":
            from verify.fs_claims import BUDGETS, run_claims

            if args.budget not in BUDGETS:
                raise UsageError(
                    f"{PROG} fs-claims: error: --budget {args.budget!r} is unknown; accepted: "
                    f"{', '.join(BUDGETS)}"
                )
            payload = run_claims(args.budget, args.out, args.seed)
            from reports import render_report

            render_report(payload["records"], args.out, title="[FS] Sobolev-TD claims")
            for record in payload["records"]:
                outcome = record["details"].get("outcome", "")
                print(f"{record['case']}: {record['verdict']} {outcome}".rstrip())
            return 0
        if args.command == "bench":
            from verify.bench_job import run_bench

            return run_bench(args)
        if args.command == "regress":
            from verify.regress_job import regress_from_args

            return regress_from_args(args)
        raise UsageError(f"{PROG}: error: unknown command {args.command!r}")
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
