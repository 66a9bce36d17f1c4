"""Command-line behaviour: help, one-line usage errors with exit 2, the report job."""

from __future__ import annotations

import pytest

from verify.cli import main


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
