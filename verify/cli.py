"""The ``sobolev-verify`` command line (also ``python -m verify``).

Bad usage prints one line and exits 2; a claim that fails exits 1; success exits 0.
"""

from __future__ import annotations

import argparse
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "report":
            from verify.report_job import run_report

            return run_report(budget=args.budget, seed=args.seed, out=args.out, as_json=args.json)
        raise UsageError(f"{PROG}: error: unknown command {args.command!r}")
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
