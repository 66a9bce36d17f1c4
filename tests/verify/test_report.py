"""The main job end to end: the default report, its HTML against records.json, resume,
re-rendering, and the kernel and jacobians subcommands."""

from __future__ import annotations

import base64
import dataclasses
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

import verify.claims as claims
from reports import fmt
from verify.cli import main
from verify.records import load_records


@pytest.fixture(scope="module")
def default_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    code = main(["report", "--out", str(out)])
    return code, out


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.images, self._open = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if "data-record" in attrs and "data-field" in attrs:
            self._open = [int(attrs["data-record"]), attrs["data-field"], ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if self._open is not None and tag in ("td", "span"):
            self.cells.append(tuple(self._open))
            self._open = None


def test_default_report_passes_and_covers_every_claim(default_report):
    code, out = default_report
    assert code == 0
    records = load_records(out / "records.json")
    claims_seen = {r.claim for r in records}
    assert {"C1", "C2", "C1-sweep", "C3", "C4a", "C4b", "C4c", "C4d", "C5", "kernel"} <= claims_seen
    cases = {r.case for r in records if r.claim == "C1"}
    assert any(c.startswith("tabular") for c in cases) and any(
        c.startswith("linear") for c in cases
    )
    assert any(c.startswith("neural") for c in cases)
    for record in records:
        assert record.ok, (record.claim, record.case, record.details)
        assert record.versions["jax"] and record.seed == 0
    verdicts = {r.case: r.verdict for r in records if r.claim == "kernel"}
    assert verdicts["gaussian:bandwidth=1"] == "detected"  # expected to fail validation, and does
    assert verdicts["multiquadric:h=100"] == "holds" and verdicts["energy:beta=1.5"] == "holds"


def test_html_numbers_equal_the_records_and_images_exist(default_report):
    _, out = default_report
    raw = json.loads((out / "records.json").read_text())
    page = _Cells()
    page.feed((out / "index.html").read_text())
    assert len(page.cells) >= 2 * len(raw)  # every record's measured and bound are shown
    for index, field, text in page.cells:
        value = raw[index]
        for part in field.split("."):
            value = value[part]
        assert text.strip() == fmt(value), (index, field)
    assert page.images
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,")
        embedded = base64.b64decode(image["src"].split(",", 1)[1])
        on_disk = (out / image["data-file"]).read_bytes()
        assert embedded == on_disk and on_disk.startswith(b"\x89PNG")
    assert "http" not in (out / "index.html").read_text().split("<body", 1)[0]


def test_render_reproduces_the_report_from_records_alone(default_report, tmp_path):
    _, out = default_report
    assert main(["render", str(out / "records.json"), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text().split("## Summary", 1)[1] == (
        out / "report.md"
    ).read_text().split("## Summary", 1)[1]


def test_resume_reuses_finished_claims(tmp_path, monkeypatch, capsys):
    calls = []

    def counted(claim):
        def run(settings, seed):
            calls.append(claim.name)
            return claim.run(settings, seed)

        return dataclasses.replace(claim, run=run)

    original = claims.CLAIMS
    chosen = [c for c in original if c.name in ("C1-sweep", "C3")]

    def interrupted(settings, seed):
        raise KeyboardInterrupt

    c4 = next(c for c in original if c.name == "C4")
    monkeypatch.setattr(
        claims, "CLAIMS", (*[counted(c) for c in chosen], dataclasses.replace(c4, run=interrupted))
    )
    assert main(["report", "--out", str(tmp_path)]) == 130
    assert calls == ["C1-sweep", "C3"] and not (tmp_path / "records.json").exists()
    monkeypatch.setattr(
        claims,
        "CLAIMS",
        tuple(counted(c) for c in original if c.name in ("C1-sweep", "C3", "C4")),
    )
    assert main(["report", "--out", str(tmp_path), "--resume"]) == 0
    assert calls == ["C1-sweep", "C3", "C4"]  # only the unfinished claim ran again
    assert "reused" in capsys.readouterr().err
    resumed = load_records(tmp_path / "records.json")
    fresh_dir = tmp_path / "fresh"
    assert main(["report", "--out", str(fresh_dir)]) == 0
    fresh = load_records(fresh_dir / "records.json")
    assert [(r.case, r.measured) for r in resumed] == [(r.case, r.measured) for r in fresh]


def _fake_claim(name, findings, default=True):
    """A claim whose run returns ``findings`` at every budget (no computing)."""
    return claims.Claim(
        name,
        f"fake {name}",
        {budget: None for budget in claims.BUDGETS},
        lambda settings, seed: findings,
        claims.score,
        default=default,
    )


def test_a_failing_claim_gives_exit_1_and_still_writes_the_report(tmp_path, monkeypatch):
    broken = claims.finding("C1", "broken", {}, 0, 2.0, 1.0, False, failure="forced")
    monkeypatch.setattr(claims, "CLAIMS", (_fake_claim("C1", [broken]),))
    assert main(["report", "--out", str(tmp_path), "--json"]) == 1
    assert "FAIL" in (tmp_path / "report.md").read_text()


def _empirical(case, outcome):
    return claims.finding("C6", case, {}, 0, 0.5, 1.0, outcome == "supported", outcome=outcome)


@pytest.mark.parametrize(
    "outcomes, code, status",
    [
        (["supported", "supported"], 0, "PASS"),
        (["supported", "inconclusive"], 4, "INCONCLUSIVE"),
        # negative control of the exit status: a contradicted record is a failure
        (["inconclusive", "contradicted"], 1, "FAIL"),
        (["contradicted"], 1, "FAIL"),
    ],
)
def test_exit_status_of_empirical_verdicts(outcomes, code, status, tmp_path, monkeypatch, capsys):
    found = [_empirical(f"case-{i}", outcome) for i, outcome in enumerate(outcomes)]
    monkeypatch.setattr(claims, "CLAIMS", (_fake_claim("C6", found, default=False),))
    assert main(["report", "--claims", "C6", "--out", str(tmp_path), "--json"]) == code
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == status.lower()
    assert len(summary["inconclusive"]) == outcomes.count("inconclusive")
    assert len(summary["failing"]) == outcomes.count("contradicted")
    assert f"Overall: {status}" in (tmp_path / "report.md").read_text()
    records = load_records(tmp_path / "records.json")
    assert [r.verdict for r in records] == outcomes
    # re-rendering from the records alone gives the same exit status
    assert main(["render", str(tmp_path / "records.json"), "--out", str(tmp_path / "re")]) == code


def test_fs_claims_is_report_claims_c6(tmp_path, monkeypatch, capsys):
    found = [
        claims.finding("C6", "exact", {}, 0, 1e-9, 1e-6, True),
        _empirical("comparison", "inconclusive"),
    ]
    monkeypatch.setattr(claims, "CLAIMS", (_fake_claim("C1", []), _fake_claim("C6", found, False)))
    assert main(["fs-claims", "--budget", "testing", "--out", str(tmp_path / "fs")]) == 4
    assert capsys.readouterr().out.splitlines() == ["exact: holds", "comparison: inconclusive"]
    assert (
        main(["report", "--claims", "C6", "--budget", "testing", "--out", str(tmp_path / "r")]) == 4
    )
    assert capsys.readouterr().out == ""  # report prints no per-record lines
    alias = json.loads((tmp_path / "fs" / "records.json").read_text())
    assert alias == json.loads((tmp_path / "r" / "records.json").read_text())
    assert "[FS] Sobolev-TD claims" in (tmp_path / "fs" / "report.md").read_text()


def test_claims_selects_and_rejects(tmp_path, monkeypatch, capsys):
    c1 = [claims.finding("C1", "one", {}, 0, 0.5, 1.0, True)]
    c2 = [claims.finding("C2", "two", {}, 0, 0.5, 1.0, True)]
    monkeypatch.setattr(claims, "CLAIMS", (_fake_claim("C1", c1), _fake_claim("C2", c2)))
    assert main(["report", "--claims", "C2", "--out", str(tmp_path)]) == 0
    assert [r.claim for r in load_records(tmp_path / "records.json")] == ["C2"]
    capsys.readouterr()
    assert main(["report", "--claims", "C2,C9", "--out", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err
    assert "unknown claim(s) 'C9'; accepted: C1, C2" in err and err.count("\n") == 1
    assert not (tmp_path / "no").exists()


def test_kernel_command_verdicts(capsys):
    assert main(["kernel", "gaussian:bandwidth=1"]) == 1
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out and "shrunk counterexample" in out
    assert main(["kernel", "energy:beta=1.5", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["passes"] and summary["msmmd_ratio"] <= summary["msmmd_bound"]


def test_jacobians_command(capsys):
    assert main(["jacobians", "InvertedPendulum-v5", "--steps", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["kappa"] >= 1 and summary["gamma_max"] == pytest.approx(1 / summary["kappa"])


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["jacobians", "Nope-v5"], "unknown ENV 'Nope-v5'"),
        (["kernel", "nope"], "unknown kernel spec 'nope'"),
        (["render", "missing.json"], "is not a file"),
        (["jacobians", "Hopper-v5", "--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_bad_usage_exits_2_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_render_rejects_a_malformed_records_file(tmp_path, capsys):
    bad = tmp_path / "records.json"
    bad.write_text("{not json")
    assert main(["render", str(bad)]) == 2
    assert "cannot read records" in capsys.readouterr().err


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", "--out", str(Path(blocker) / "sub")]) == 2
    assert "cannot write to --out" in capsys.readouterr().err


@pytest.mark.heavy
def test_full_budget_report_with_mujoco_kappa(tmp_path):
    """The full budget (several minutes): every claim at larger samples plus κ for the seven
    MuJoCo envs. Its small version is the default report above, which runs in CI."""
    assert main(["report", "--budget", "full", "--out", str(tmp_path)]) == 0
    records = load_records(tmp_path / "records.json")
    kappas = {r.case: r for r in records if r.claim == "kappa-mujoco"}
    assert len(kappas) == 7
    for record in kappas.values():
        assert record.measured >= 1 and record.details["gamma_max"] == pytest.approx(
            1 / record.measured
        )
    assert (tmp_path / "plots" / "kappa.png").exists()
