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


def test_help_documents_the_inconclusive_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "4    nothing failed, but an empirical claim is inconclusive" in text
    assert "1    a claim failed (fails, missed or contradicted)" in text
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--claims NAMES" in capsys.readouterr().out


def test_the_exit_statuses_are_distinct_and_documented():
    import verify.cli as cli
    from verify.report_job import EXIT_FOR

    assert EXIT_FOR == {"pass": 0, "fail": 1, "inconclusive": 4}
    for status in EXIT_FOR.values():
        assert f"  {status}    " in cli.EXIT_STATUS and f"{status} " in cli.__doc__
