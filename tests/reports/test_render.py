"""Report rendering: well-formed offline HTML, numbers traceable to records, plots, status."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports import fmt, load_records_json, render_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
VERSIONS = {"python": "3.11.9", "numpy": "2.1.0", "matplotlib": "3.11.2"}


def _record(claim, case, measured, bound, verdict, *, expected="holds", settings=None, **details):
    return dict(
        claim=claim,
        case=case,
        settings=settings or {},
        seed=0,
        measured=measured,
        bound=bound,
        verdict=verdict,
        expected=expected,
        details=details,
        versions=VERSIONS,
    )


def _records() -> list[dict]:
    """Every plot type, a failing claim and a missed negative control; values span decades."""
    records = [
        _record("C1", "tabular/W1", 0.81, 0.9, "holds", settings=dict(gamma=0.9, kappa=1.0, p=1)),
        _record("C1", "tabular/W2", 1.0 / 3.0, 0.96, "holds", settings=dict(gamma=0.8, p=2)),
        _record("C1", "tabular/broken", 1.2345678, 0.9, "fails", settings=dict(gamma=0.9)),
        _record("C2", "linear-gaussian", 2.5e-4, 3.1e-3, "holds", settings=dict(d=3)),
        _record("C2", "zero-bound", 0.0, 0.0, "holds"),
    ]
    for case, kappa in (("tabular/W1", 1.2), ("linear/W2", 1.5)):
        for gamma in (0.5, 0.6, 0.7, 0.8, 0.9, 0.99):
            bound = gamma * kappa
            measured = 0.93 * bound
            records.append(
                _record(
                    "C1-sweep",
                    case,
                    measured,
                    bound,
                    "holds",
                    settings=dict(gamma=gamma, kappa=kappa, p=1),
                )
            )
    records += [
        _record(
            "kappa-mujoco", "HalfCheetah-v5", 3.2, 1 / 0.99, "holds", norms=[0.5, 1.1, 3.2, 12.0]
        ),
        _record("kappa-mujoco", "Hopper-v5", 0.9, 1 / 0.99, "holds", norms=[0.2, 0.4, 0.9]),
        _record(
            "kernel",
            "energy(1.5)",
            0.5,
            1.0,
            "holds",
            alpha_min=1.5,
            alpha_quantiles={"0.01": 1.5, "0.5": 1.5, "0.99": 1.5},
            cpd_min_eigenvalue=-3.2e-15,
            shift_invariance_gap=0.0,
            msmmd_ratio=0.5,
            msmmd_bound=0.9,
        ),
        _record(
            "kernel",
            "multiquadric(100)",
            0.7,
            1.0,
            "holds",
            alpha_min=1.0000001,
            alpha_quantiles={"0.01": 1.01, "0.5": 1.7, "0.99": 1.98},
            cpd_min_eigenvalue=1e-9,
            shift_invariance_gap=2e-16,
            msmmd_ratio=0.7,
            msmmd_bound=0.9,
        ),
        _record(
            "C4b",
            "gaussian-not-scale-sensitive",
            1.7,
            1.0,
            "detected",
            expected="fails",
            note="Gaussian kernel",
        ),
        _record("C3", "mutant/no-gamma", 0.5, 0.9, "missed", expected="fails"),
    ]
    return records


def _round_trip(records: list[dict], folder: Path) -> list[dict]:
    """What a report reads: records.json on disk."""
    path = folder / "records.json"
    path.write_text(json.dumps(records, indent=2))
    return load_records_json(path)


class _Page(HTMLParser):
    """Tag balance, every src/href, images, and the text of every data-record cell."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.links: list[str] = []
        self.images: list[dict] = []
        self.cells: list[tuple[dict, str]] = []
        self.verdicts: list[tuple[str, str]] = []
        self.styles: list[str] = []
        self._open: tuple[dict, list[str]] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[key] for key in ("src", "href") if key in attrs]
        if tag == "img":
            self.images.append(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "td" or tag == "style":
            self._open = (dict(attrs, tag=tag), [])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append(f"end tag for void element <{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]} ")
        else:
            self.stack.pop()
        if self._open is not None and tag == self._open[0]["tag"]:
            attrs, parts = self._open
            text = "".join(parts)
            if tag == "style":
                self.styles.append(text)
            elif "data-record" in attrs:
                self.cells.append((attrs, text))
            if "verdict" in attrs.get("class", "").split():
                self.verdicts.append((attrs["class"], text))
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open[1].append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _field(record: dict, name: str):
    value = record
    for part in name.split("."):
        value = value[part]
    return value


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    records = _round_trip(_records(), folder)
    written = render_report(records, folder, meta={"budget": "quick", "seconds": 12.345678})
    return records, folder, written


def test_fmt_is_six_significant_digits_and_exact_integers():
    assert fmt(0.123456789) == "0.123457"
    assert fmt(1.0 / 3.0) == "0.333333"
    assert fmt(1234567.0) == "1.23457e+06"
    assert fmt(2.5e-4) == "0.00025"
    assert fmt(1234567) == "1234567"
    assert fmt(None) == "—"
    assert fmt(float("nan")) == "nan"


def test_returns_every_file_written(rendered):
    _, folder, written = rendered
    expected = {"report.md", "index.html"} | {
        f"plots/{name}.png" for name in ("ratios", "gamma_sweep", "kappa", "kernels")
    }
    assert set(written) == expected
    for relative, path in written.items():
        assert path == folder / relative and path.is_file() and path.stat().st_size > 0


def test_html_is_well_formed(rendered):
    _, folder, _ = rendered
    page = _parse(folder / "index.html")
    assert page.errors == []
    assert page.stack == [], f"unclosed tags: {page.stack}"


def test_html_makes_no_external_reference(rendered):
    _, folder, _ = rendered
    page = _parse(folder / "index.html")
    assert page.links, "expected the embedded images' src"
    for link in page.links:
        assert not link.lower().startswith(("http", "//", "file:")), link[:60]
        assert link.startswith("data:image/png;base64,"), link[:60]
    css = "".join(page.styles)
    assert css and "url(" not in css and "@import" not in css
    text = (folder / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|iframe)\b", text)


def test_every_image_is_embedded_and_written_to_plots(rendered):
    _, folder, _ = rendered
    page = _parse(folder / "index.html")
    files = sorted(image["data-file"] for image in page.images)
    assert files == sorted(f"plots/{n}.png" for n in ("ratios", "gamma_sweep", "kappa", "kernels"))
    for image in page.images:
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        embedded = base64.b64decode(image["src"][len(prefix) :], validate=True)
        assert embedded.startswith(PNG_MAGIC)
        on_disk = (folder / image["data-file"]).read_bytes()
        assert on_disk.startswith(PNG_MAGIC)
        assert on_disk == embedded


def test_every_number_cell_matches_its_record(rendered):
    records, folder, _ = rendered
    page = _parse(folder / "index.html")
    seen = set()
    for attrs, text in page.cells:
        record = records[int(attrs["data-record"])]
        if "data-field" in attrs:
            value = _field(record, attrs["data-field"])
            seen.add((int(attrs["data-record"]), attrs["data-field"]))
        elif attrs["data-derived"] == "ratio":  # the margin column
            bound = record["bound"]
            if bound == 0:
                assert text == "undefined (bound 0)"
                continue
            value = 1 - record["measured"] / bound
        else:
            continue  # counts, excesses and κ: test_rows_say_what_their_numbers_are
        assert text == fmt(value), (attrs, text)
    for index in range(len(records)):
        assert {(index, "measured"), (index, "bound")} <= seen, f"record {index} not shown"
    assert (len(records) - 4, "details.alpha_min") in seen  # kernel table
    # Spot-check against literal strings, so the test is not only fmt against itself.
    texts = {(int(a["data-record"]), a.get("data-field")): t for a, t in page.cells}
    assert texts[(2, "measured")] == "1.23457"
    assert texts[(1, "measured")] == "0.333333"
    margins = {int(a["data-record"]): t for a, t in page.cells if a.get("data-derived")}
    assert margins[0] == "0.1"  # 1 − 0.81/0.9
    assert margins[2] == "-0.371742"  # 1 − 1.2345678/0.9: the bound is exceeded


def test_verdict_cells_are_colour_coded(rendered):
    _, folder, _ = rendered
    page = _parse(folder / "index.html")
    assert page.verdicts
    for css_class, text in page.verdicts:
        assert css_class.split() == ["verdict", text]
    css = "".join(page.styles)
    for verdict in ("holds", "fails", "detected", "missed"):
        assert f"td.{verdict}" in css


def test_markdown_has_every_case_the_counts_and_the_versions(rendered):
    records, folder, _ = rendered
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    for record in records:
        assert record["case"] in markdown
    for verdict in ("holds", "fails", "detected", "missed"):
        count = sum(r["verdict"] == verdict for r in records)
        assert f"| {verdict} | {count} |" in markdown
    assert "**Overall: FAIL**" in markdown
    assert "## C4 — Negative controls" in markdown and "'missed': the check passed" in markdown
    assert "## Kernels — what C2 needs of a kernel" in markdown
    assert "## C1 — Wasserstein contraction" in markdown
    assert "versions: python 3.11.9, numpy 2.1.0, matplotlib 3.11.2" in markdown
    assert "seconds: 12.3457" in markdown
    for name in ("ratios", "gamma_sweep", "kappa", "kernels"):
        assert f"(plots/{name}.png)" in markdown


def test_html_carries_the_markdown_content(rendered):
    records, folder, _ = rendered
    text = (folder / "index.html").read_text(encoding="utf-8")
    assert "Overall: FAIL" in text and "status fail" in text
    for record in records:
        assert record["case"] in text


def test_all_ok_passes_and_skips_absent_plots(tmp_path):
    """Only C1 claims and a detected control: PASS; stale plots of an earlier run go."""
    records = [r for r in _records() if r["verdict"] in ("holds", "detected")]
    only_c1 = [r for r in records if r["claim"] in ("C1", "C4b")]
    render_report(_records(), tmp_path)
    assert (tmp_path / "plots" / "kappa.png").exists()
    written = render_report(_round_trip(only_c1, tmp_path), tmp_path, title="Tiny")
    assert set(written) == {"report.md", "index.html", "plots/ratios.png"}
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["ratios.png"]
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Tiny\n") and "**Overall: PASS**" in markdown
    assert "FAIL" not in markdown
    page = _parse(tmp_path / "index.html")
    assert page.errors == [] and page.stack == []
    assert [image["data-file"] for image in page.images] == ["plots/ratios.png"]


def test_a_missed_control_alone_fails_the_report(tmp_path):
    records = [r for r in _records() if r["verdict"] != "fails"]
    render_report(records, tmp_path)
    assert "**Overall: FAIL**" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_empty_and_malformed_records_are_clear_value_errors(tmp_path):
    with pytest.raises(ValueError, match="no records to render"):
        render_report([], tmp_path)
    with pytest.raises(ValueError, match=r"record 1 lacks \['bound'\]"):
        render_report(
            [_records()[0], {k: v for k, v in _records()[0].items() if k != "bound"}], tmp_path
        )
    with pytest.raises(ValueError, match="verdict 'holds' does not go with expected 'fails'"):
        render_report([dict(_records()[0], expected="fails")], tmp_path)
    with pytest.raises(ValueError, match="measured must be a number"):
        render_report([dict(_records()[0], measured="0.8")], tmp_path)
    with pytest.raises(ValueError, match="details\\['norms'\\]"):
        render_report([_record("kappa-mujoco", "Ant-v5", 1.0, 1.0, "holds")], tmp_path)
    assert not (tmp_path / "report.md").exists()


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not JSON"),
        ('{"claim": "C1"}', "must be a list"),
        ("[]", "no records to render"),
        ('[{"claim": "C1", "case": "x", "measured": 1, "bound": 1}]', "record 0 lacks"),
    ],
)
def test_load_records_json_names_the_path(tmp_path, content, fragment):
    path = tmp_path / "records.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=fragment) as error:
        load_records_json(path)
    assert str(path) in str(error.value)


def test_load_records_json_missing_file(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(ValueError, match="cannot read records") as error:
        load_records_json(path)
    assert str(path) in str(error.value)


def test_regress_records_get_learning_curves_with_bands(tmp_path):
    band = {
        "steps": [100, 200, 300],
        "iqm": [1.0, 2.0, 3.0],
        "low": [0.5, 1.5, 2.0],
        "high": [1.5, 2.5, 3.5],
    }
    records = [
        _record(
            "regress",
            "td3 pendulum none 300",
            -0.2,
            0.3,
            "holds",
            status="pass",
            curves={"new": band, "reference": band},
        ),
        _record(
            "regress",
            "mage point-mass:4 none 300",
            0.9,
            0.3,
            "fails",
            status="regressed",
            curves={"new": band},
        ),
        _record("regress", "no curves", 0.0, 0.3, "holds", status="pass", curves={}),
    ]
    written = render_report(records, tmp_path)
    assert "plots/learning_curves.png" in written
    assert written["plots/learning_curves.png"].read_bytes().startswith(PNG_MAGIC)
    assert "learning_curves" in (tmp_path / "index.html").read_text()
    # without regress records, no learning-curve plot (and a stale one is removed)
    written = render_report(_records(), tmp_path)
    assert "plots/learning_curves.png" not in written
    assert not (tmp_path / "plots" / "learning_curves.png").exists()


# -- the report explains itself ------------------------------------------------------------------


def _headings(markdown: str) -> list[str]:
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


def _section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_sections_name_their_claim_in_c1_to_c7_order(tmp_path):
    """Records arrive in any order (here reversed); the sections come C1…C7, then kernels."""
    render_report(_round_trip(list(reversed(_records())), tmp_path), tmp_path)
    headings = _headings((tmp_path / "report.md").read_text(encoding="utf-8"))
    assert headings == [
        "Summary",
        "C1 — Wasserstein contraction",
        "C1 sweep — the smoothness trade-off",
        "C2 — Max-sliced MMD contraction",
        "C4 — Negative controls: the checks must be able to fail",
        "Kernels — what C2 needs of a kernel",
        "κ of MuJoCo dynamics — C1's modulus on real simulators",
        "Plots",
    ]


def test_each_claim_section_states_the_claim_measured_bound_and_margin(rendered):
    _, folder, _ = rendered
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    c1 = _section(markdown, "C1 — Wasserstein contraction")
    assert "contracts the supremum Wasserstein distance" in c1  # in words
    assert "Claim: W̄_p(Tη₁, Tη₂) ≤ γκ · W̄_p(η₁, η₂)" in c1  # as a formula
    assert "measured: the worst ratio W̄_p(Tη₁, Tη₂) / W̄_p(η₁, η₂)" in c1
    assert "bound: γκ" in c1
    assert "| case | settings | measured | bound | margin 1 − measured/bound | verdict |" in c1
    assert "| tabular/W1 | gamma=0.9, kappa=1, p=1 | 0.81 | 0.9 | 0.1 | holds |" in c1
    c2 = _section(markdown, "C2 — Max-sliced MMD contraction")
    assert "Claim: MSMMD̄(Tη₁, Tη₂) ≤ (γκ)^(α/2) · MSMMD̄(η₁, η₂)" in c2
    assert "| zero-bound | — | 0 | 0 | undefined (bound 0) | holds |" in c2
    assert "| measured/bound |" not in markdown  # the bare ratio column is gone


def _c4d(tries, budget, verdict):
    return _record(
        "C4d",
        f"broken operator: {verdict}",
        tries,
        budget,
        verdict,
        expected="fails",
        settings={"property": "chain rule"},
        note="measured: random systems tried until caught",
    )


def test_rows_say_what_their_numbers_are(tmp_path):
    """Counts read as counts, NaN as undefined, and each control type is explained once."""
    nan_kernel = _record(
        "kernel",
        "gaussian:bandwidth=1",
        float("nan"),
        float("nan"),
        "detected",
        expected="fails",
        alpha_min=-0.5,
        alpha_quantiles={"0.01": -0.4, "0.5": 1.8, "0.99": 2.9},
        passes=False,
        failures=["not scale sensitive: MMD² rose when shrinking"],
    )
    controls = [
        _c4d(3, 60, "detected"),
        _c4d(0, 60, "missed"),
        _record("C4b", "gaussian", 1.35, 1.0, "detected", expected="fails", note="largest"),
        _record("C4b", "gaussian again", 1.5, 1.0, "detected", expected="fails", note="largest"),
        _record("kappa-mujoco", "Hopper-v5", 4.0, 1.0, "holds", norms=[1.0, 4.0]),
        nan_kernel,
    ]
    render_report(_round_trip(controls, tmp_path), tmp_path)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    control_rows = _section(markdown, "C4 — Negative controls: the checks must be able to fail")
    assert "| 3 | 60 | caught after 3 of 60 tries | detected |" in control_rows
    assert "| 0 | 60 | not caught in 60 | missed |" in control_rows
    assert "| 1.35 | 1 | 35% above the bound | detected |" in control_rows
    assert "0.05" not in control_rows  # no tries/budget ratio
    # one explanation per control type, not one per row
    assert control_rows.count("C4b: Gaussian-kernel MMD is not scale sensitive") == 1
    assert control_rows.count("C4d: a deliberately broken operator") == 1
    assert "caught: the check rejects this case" not in markdown
    kernels = _section(markdown, "Kernels — what C2 needs of a kernel")
    row = next(line for line in kernels.splitlines() if line.startswith("| gaussian"))
    assert row.split(" | ")[1] == "rejected"
    assert "| nan | nan | undefined (not a number) | detected |" in row
    assert "gaussian:bandwidth=1 rejected: not scale sensitive" in kernels
    kappa = _section(markdown, "κ of MuJoCo dynamics — C1's modulus on real simulators")
    assert "| Hopper-v5 | — | 4 | 1 | γ_max = 1/κ = 0.25 | holds |" in kappa


def test_plots_name_the_claims_and_mark_rejected_kernels(tmp_path, monkeypatch):
    import reports.render as render

    figures = {}
    save = render._save

    def keep(figure, path):
        figures[path.stem] = figure
        save(figure, path)

    monkeypatch.setattr(render, "_save", keep)
    records = [
        *_records(),
        _record(
            "kernel",
            "gaussian:bandwidth=1",
            float("nan"),
            float("nan"),
            "detected",
            expected="fails",
            alpha_min=-0.5,
            alpha_quantiles={"0.01": -0.4, "0.99": 2.9},
            passes=False,
        ),
    ]
    render_report(_round_trip(records, tmp_path), tmp_path)
    _, labels = figures["ratios"].axes[0].get_legend_handles_labels()
    assert "C1 — Wasserstein contraction (3)" in labels
    assert "C2 — Max-sliced MMD contraction (2)" in labels
    assert "C1 sweep — the smoothness trade-off (12)" in labels
    kernel_axes = figures["kernels"].axes[0]
    ticks = [tick.get_text() for tick in kernel_axes.get_xticklabels()]
    assert ticks[-1] == "gaussian:bandwidth=1\n(rejected)" and "(rejected)" not in ticks[0]
    assert "rejected kernel" in kernel_axes.get_legend_handles_labels()[1]


def _regress_record(case, status, verdict, **numbers):
    band = {"steps": [100, 200], "iqm": [1.0, 2.0], "low": [0.5, 1.5], "high": [1.5, 2.5]}
    return _record(
        "regress",
        case,
        0.0,
        0.0,
        verdict,
        settings={"algo": "td3", "seeds": [0, 1]},
        status=status,
        curves={"new": band, "reference": band},
        **numbers,
    )


def test_regress_report_has_its_own_verdict_table(tmp_path):
    records = [
        _regress_record(
            "td3 pendulum none 300",
            "regressed",
            "fails",
            reference_iqm=102.5,
            reference_ci=[100.0, 105.0],
            new_iqm=52.5,
            new_ci=[50.0, 55.0],
            difference=-50.0,
            difference_ci=[-55.0, -45.0],
            margin=10.25,
        ),
        _regress_record(
            "mage point-mass:4 none 300",
            "pass",
            "holds",
            reference_iqm=10.0,
            reference_ci=[9.0, 11.0],
            new_iqm=10.5,
            new_ci=[9.5, 11.5],
            difference=0.5,
            difference_ci=[-1.0, 2.0],
            margin=1.0,
        ),
        _regress_record("sac toy-1d none 300", "pass", "holds", new_iqm=3.0, new_ci=[2.0, 4.0]),
    ]
    written = render_report(_round_trip(records, tmp_path), tmp_path, title="Regression suite s")
    assert set(written) == {"report.md", "index.html", "plots/learning_curves.png"}
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert _headings(markdown) == ["Verdicts", "Learning curves"]
    table = _section(markdown, "Verdicts")
    assert (
        "| cell | reference IQM [95% CI] | new IQM [95% CI] | difference [95% CI] | verdict |"
        in table
    )
    assert (
        "| td3 pendulum none 300 | 102.5 [100, 105] | 52.5 [50, 55] | -50 [-55, -45] | regressed |"
        in table
    )
    assert (
        "| mage point-mass:4 none 300 | 10 [9, 11] | 10.5 [9.5, 11.5] | 0.5 [-1, 2] | pass |"
        in table
    )
    assert "| sac toy-1d none 300 | — | 3 [2, 4] | — | no reference (recorded) |" in table
    for word in ("measured", "bound", "holds", "margin 1 −"):
        assert word not in markdown, word
    assert "**Overall: FAIL**" in markdown
    page = _parse(tmp_path / "index.html")
    assert page.errors == [] and page.stack == []
    assert [v for v in page.verdicts] == [
        ("verdict fails", "regressed"),
        ("verdict holds", "pass"),
        ("verdict holds", "no reference (recorded)"),
    ]


# -- empirical claims: supported / contradicted / inconclusive ------------------------------


def _empirical_records(last: str) -> list[dict]:
    """C6 as ``report --claims C6`` writes it: an exact check and three comparisons."""
    return [
        _record("C6", "targets-vs-fd/toy-1d/td3", 1e-10, 1e-6, "holds"),
        _record(
            "C6", "lq/value", 0.5, 1.0, "supported", outcome="supported", ratio_ci95=[0.4, 0.6]
        ),
        _record("C6", "curve", 2.0, 0.0, "inconclusive", difference_ci95=[-1.0, 5.0]),
        _record("C6", "variance", 1.5, 1.0, last, outcome=last, ratio_ci95=[1.25, 1.75]),
    ]


def test_an_inconclusive_record_has_its_own_colour_label_and_count(tmp_path):
    records = _empirical_records("inconclusive")
    render_report(records, tmp_path)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**Overall: INCONCLUSIVE**" in markdown  # nothing failed, something inconclusive
    for verdict, count in (("holds", 1), ("fails", 0), ("supported", 1), ("inconclusive", 2)):
        assert f"| {verdict} | {count} |" in markdown
    assert (
        "4 cases: 1 hold; of the empirical ones 1 supported, 0 contradicted, 2 inconclusive."
        in (markdown)
    )
    assert "C4 — Negative controls" not in markdown  # no claim that the controls guard
    page = _parse(tmp_path / "index.html")
    assert ("verdict inconclusive", "inconclusive") in page.verdicts
    assert ("verdict supported", "supported") in page.verdicts
    css = "".join(page.styles)
    assert "td.inconclusive {" in css and "p.inconclusive {" in css
    assert '<p class="status inconclusive">' in (tmp_path / "index.html").read_text()
    intervals = {int(a["data-record"]): t for a, t in page.cells if a.get("data-derived")}
    assert intervals[1] == "95% interval [0.4, 0.6]"
    assert intervals[2] == "95% interval [-1, 5]"
    assert intervals[0] == "0.9999"  # the exact check keeps its margin, 1 − 1e-10/1e-6
    assert "outcome: supported" not in markdown  # the verdict already says it


def test_a_contradicted_record_fails_the_report(tmp_path):
    render_report(_empirical_records("contradicted"), tmp_path)
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "**Overall: FAIL**" in markdown and "| contradicted | 1 |" in markdown
    page = _parse(tmp_path / "index.html")
    assert ("verdict contradicted", "contradicted") in page.verdicts
    assert "td.fails, td.missed, td.contradicted {" in "".join(page.styles)  # the failure colour


def test_a_theorem_only_report_lists_only_the_theorem_verdicts(rendered):
    _, folder, _ = rendered
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "| supported |" not in markdown and "| inconclusive |" not in markdown


def test_an_empirical_verdict_must_go_with_expected_holds(tmp_path):
    bad = _record("C6", "x", 1.0, 1.0, "inconclusive", expected="fails")
    with pytest.raises(ValueError, match="verdict 'inconclusive' does not go with expected"):
        render_report([bad], tmp_path)
