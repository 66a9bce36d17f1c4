"""Command-line behaviour: help, one-line usage errors with exit 2, the report job."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from verify.cli import main
from verify.records import load_records


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert "report" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        ([], "required"),
        (["bogus"], "invalid choice"),
        (["report", "--budget", "huge"], "--budget must be one of"),
        (["report", "--seed", "x"], "invalid int value"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unwritable_out_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", "--out", str(blocker / "sub")]) == 2
    assert "cannot write to --out" in capsys.readouterr().err


def test_module_entry_point_runs_without_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "verify", "report", "--budget", "nope"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("sobolev-verify report: error:")


def test_report_writes_records_that_hold(tmp_path, capsys):
    code = main(["report", "--out", str(tmp_path), "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    records = load_records(tmp_path / "records.json")
    assert code == 0 and summary["failed"] == 0 and summary["records"] == len(records) > 0
    for record in records:
        assert record.measured <= record.bound * (1 + 1e-9)
        assert record.versions["numpy"]
    assert (tmp_path / "report.md").read_text().count("| C1 |") == len(records)
