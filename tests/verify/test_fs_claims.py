"""C6 ([FS], ``verify.claims.c6``) at the ``testing`` budget through the ``fs-claims``
alias: well-formed records with three-state verdicts, the printed lines and the exit status,
a negative control for the consistency check, the interval reading, the usage error."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math

import pytest

from agents import sobolev_td
from sobolev_core import SobolevTarget
from verify.claims import c6, outcome_of
from verify.cli import main


@pytest.fixture(scope="module")
def testing_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fs")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["fs-claims", "--budget", "testing", "--out", str(out)])
    return out, code, printed.getvalue()


def test_the_testing_budget_writes_well_formed_records(testing_run):
    out, code, printed = testing_run
    records = json.loads((out / "records.json").read_text())
    assert (out / "index.html").is_file() and (out / "report.md").is_file()
    cases = [record["case"] for record in records]
    assert len(cases) == len(set(cases))
    # the alias prints one line per record: "case: verdict"
    assert printed.splitlines() == [f"{r['case']}: {r['verdict']}" for r in records]
    verdicts = [r["verdict"] for r in records]
    failed = any(v in ("fails", "missed", "contradicted") for v in verdicts)
    assert code == (1 if failed else 4 if "inconclusive" in verdicts else 0)
    for record in records:
        assert record["claim"] == "C6" and math.isfinite(record["measured"])
        outcome = record["details"].get("outcome")
        if outcome is not None:  # an empirical claim: its verdict is the three-state outcome
            assert record["verdict"] == outcome
            assert outcome in ("supported", "contradicted", "inconclusive")
        else:
            assert record["verdict"] in ("holds", "fails")
    by_prefix = {case.split("/")[0] for case in cases}
    assert by_prefix == {
        "targets-vs-fd",
        "targets-vs-closed-form",
        "lq-evaluation",
        "learning-curve",
        "policy-gradient-variance",
    }  # update-cost is skipped at the testing budget
    for record in records:
        details = record["details"]
        if record["case"].startswith("targets-vs"):  # exact claims must hold
            assert record["verdict"] == "holds", record
            assert details["max_abs_gradient"] > 1e-3  # a non-trivial comparison
        elif record["case"].startswith("lq-evaluation"):
            low, high = details["ratio_ci95"]
            assert low <= record["measured"] <= high
            assert len(details["curve_sobolev"]["iqm"]) == c6.SETTINGS["testing"].lq_evals
        elif record["case"].startswith("policy-gradient-variance"):
            assert all(value > 0 for values in details["trace_cov"].values() for value in values)
        elif record["case"].startswith("update-cost"):
            assert all(seconds > 0 for seconds in details["seconds"].values())
    assert (out / "runs").is_dir()


def test_a_target_without_the_bootstrap_gradient_fails_the_consistency_check(monkeypatch):
    """Negative control: dropping ``γ Fᵀ c`` from the gradient targets is detected."""
    real = sobolev_td.sobolev_target

    def without_bootstrap_gradient(critic, policy, transition, state, action, *args, **kw):
        full = real(critic, policy, transition, state, action, *args, **kw)
        reward_only = real(critic, policy, transition, state, action, *args[:3], 0.0, **kw)
        return SobolevTarget(full.value, reward_only.grad_state, reward_only.grad_action)

    monkeypatch.setattr(sobolev_td, "sobolev_target", without_bootstrap_gradient)
    settings = dataclasses.replace(
        c6.SETTINGS["testing"], consistency_cases=(("toy-1d", "sobolev-td3"),), consistency_points=2
    )
    records = c6.score(c6.consistency_records(settings, seed=0), versions={})
    broken = [r for r in records if r.case.startswith("targets-vs-fd")]
    assert broken and all(r.verdict == "fails" for r in broken)
    assert broken[0].measured > 100 * broken[0].bound


@pytest.mark.parametrize(
    "low, high, better_below, outcome",
    [
        (-2.0, -1.0, True, "supported"),
        (1.0, 2.0, True, "contradicted"),
        (-1.0, 1.0, True, "inconclusive"),
        (1.0, 2.0, False, "supported"),
        (-2.0, -1.0, False, "contradicted"),
    ],
)
def test_outcome_reads_the_interval(low, high, better_below, outcome):
    assert outcome_of(low, high, better_below=better_below) == outcome


def test_an_unknown_budget_is_a_one_line_usage_error(tmp_path, capsys):
    assert main(["fs-claims", "--budget", "huge", "--out", str(tmp_path / "fs")]) == 2
    err = capsys.readouterr().err
    assert "fs-claims: error: --budget must be one of" in err and "'huge'" in err
    assert err.count("\n") == 1 and not (tmp_path / "fs").exists()
