"""Render claim records as a Markdown report, a self-contained HTML page and PNG plots.

Input is plain dicts, as ``records.json`` holds them (the fields of ``verify.records.Record``:
claim, case, settings, seed, measured, bound, verdict, expected, details, versions). This
module imports no other project package, so a report is rebuilt from the JSON alone
(STYLE.md, "Layering").

One document model (headings, paragraphs, tables of cells, figures) is built once and
written twice, as Markdown and as HTML, so both carry the same content; every number in
either goes through :func:`fmt`.
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.claim_text import C4_TEXT, CLAIM_TEXT, CONTROL_TEXT, SECTION_ORDER, ClaimText

__all__ = ["fmt", "load_records_json", "render_report"]

THEOREM_VERDICTS = ("holds", "fails", "detected", "missed")
# an empirical claim's three states (supported / contradicted / inconclusive)
EMPIRICAL_VERDICTS = ("supported", "contradicted", "inconclusive")
VERDICTS = (*THEOREM_VERDICTS, *EMPIRICAL_VERDICTS)
# expected outcome -> the verdicts a record with that expectation may carry
VERDICTS_FOR = {"holds": ("holds", "fails", *EMPIRICAL_VERDICTS), "fails": ("detected", "missed")}
FAILING = ("fails", "missed", "contradicted")
# where an empirical record keeps the 95% interval its verdict reads (first found is shown)
INTERVAL_KEYS = ("ratio_ci95", "difference_ci95", "interval")
REQUIRED = ("claim", "case", "measured", "bound", "verdict")
PLOT_NAMES = ("ratios", "gamma_sweep", "kappa", "kernels", "learning_curves")
KAPPA_GAMMA = 0.99  # the discount of the ‖L‖ = 1/γ line in kappa.png
KERNEL_COLUMNS = (
    ("alpha_min", "α min"),
    ("alpha_quantiles", "α quantiles"),
    ("cpd_min_eigenvalue", "CPD min eigenvalue"),
    ("shift_invariance_gap", "shift-invariance gap"),
    ("msmmd_ratio", "MS-MMD ratio"),
    ("msmmd_bound", "MS-MMD bound"),
)
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.92em; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td { overflow-wrap: anywhere; }
th { background: #f2f2f2; }
td.num { text-align: right; font-family: ui-monospace, monospace; white-space: nowrap; }
td.derived { text-align: right; font-family: ui-monospace, monospace; }
td.verdict { font-weight: bold; text-align: center; overflow-wrap: normal; }
td.holds, td.detected, td.supported { background: #d8f3dc; color: #1b4332; }
td.fails, td.missed, td.contradicted { background: #ffd6d6; color: #7f1d1d; }
td.inconclusive { background: #fff1c2; color: #6b4e00; }
p.status { font-size: 1.3em; font-weight: bold; padding: 0.4em 0.8em; display: inline-block; }
p.pass { background: #d8f3dc; color: #1b4332; }
p.fail { background: #ffd6d6; color: #7f1d1d; }
p.inconclusive { background: #fff1c2; color: #6b4e00; }
p.versions { color: #555; font-size: 0.85em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
p.formula { font-family: ui-monospace, monospace; background: #f6f6f6; padding: 0.3em 0.6em; }
p.legend { color: #333; margin: 0.2em 0; }
p.failure { color: #7f1d1d; font-size: 0.9em; }
td.status-rejected { color: #7f1d1d; font-weight: bold; }
td.status-accepted { color: #1b4332; }
"""


def fmt(value: Any) -> str:
    """The one number format of a report: floats to 6 significant digits, integers exact.

    ``None`` (a missing value) is an em dash; anything that is not a number is ``str``-ed.

    >>> fmt(0.123456789), fmt(1.0), fmt(2.5e-9)
    ('0.123457', '1', '2.5e-09')
    >>> fmt(3), fmt(None), fmt(float("inf")), fmt(True)
    ('3', '—', 'inf', 'true')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    return str(value)


# -- reading and checking -------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_records(records: Any, source: str) -> None:
    """Raise ``ValueError`` naming ``source``, the record index and the field if malformed."""
    if not isinstance(records, Sequence) or isinstance(records, str | bytes):
        raise ValueError(f"{source}: records must be a list of dicts; got {type(records).__name__}")
    if len(records) == 0:
        raise ValueError(f"{source}: no records to render (got an empty list)")
    for index, record in enumerate(records):
        where = f"{source}: record {index}"
        if not isinstance(record, Mapping):
            raise ValueError(f"{where} must be a dict; got {type(record).__name__}")
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise ValueError(f"{where} lacks {missing}; every record needs {list(REQUIRED)}")
        for key in ("claim", "case"):
            if not isinstance(record[key], str):
                raise ValueError(f"{where}: {key} must be a string; got {record[key]!r}")
        for key in ("measured", "bound"):
            if not _is_number(record[key]):
                raise ValueError(f"{where}: {key} must be a number; got {record[key]!r}")
        verdict, expected = record["verdict"], record.get("expected", "holds")
        if verdict not in VERDICTS:
            raise ValueError(f"{where}: verdict must be one of {VERDICTS}; got {verdict!r}")
        if expected not in VERDICTS_FOR:
            raise ValueError(
                f"{where}: expected must be one of {tuple(VERDICTS_FOR)}; got {expected!r}"
            )
        if verdict not in VERDICTS_FOR[expected]:
            raise ValueError(
                f"{where}: verdict {verdict!r} does not go with expected {expected!r} "
                f"(accepted: {VERDICTS_FOR[expected]})"
            )
        for key in ("settings", "details", "versions"):
            if not isinstance(record.get(key, {}), Mapping):
                raise ValueError(f"{where}: {key} must be a dict; got {record[key]!r}")


def load_records_json(path: Path | str) -> list[dict]:
    """Read ``records.json`` (a JSON list of record dicts); malformed input is a ``ValueError``.

    The message names the path and, for a bad record, its index and field.
    """
    path = Path(path)
    try:
        records = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"cannot read records from {str(path)!r}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read records from {str(path)!r}: not JSON ({error})") from None
    _check_records(records, repr(str(path)))
    return records


# -- document model -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    text: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Paragraph:
    text: str
    css: str = ""


@dataclass(frozen=True)
class _Table:
    header: tuple[str, ...]
    rows: list[list[_Cell]]


@dataclass(frozen=True)
class _Figure:
    name: str  # plots/<name>.png
    caption: str


def _show(value: Any) -> str:
    """A settings or meta value as text: numbers through ``fmt``, short lists in full."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        shown = [_show(v) for v in value[:6]]
        more = f", … ({len(value)} items)" if len(value) > 6 else ""
        return "[" + ", ".join(shown) + more + "]"
    return fmt(value)


def _settings_text(settings: Mapping) -> str:
    return ", ".join(f"{key}={_show(value)}" for key, value in settings.items()) or "—"


def _number_cell(index: int, field_name: str, value: Any) -> _Cell:
    attrs = {"class": "num", "data-record": str(index), "data-field": field_name}
    return _Cell(fmt(value), attrs)


def _verdict_cell(verdict: str) -> _Cell:
    return _Cell(verdict, {"class": f"verdict {verdict}"})


def _quantiles(spread: Any) -> list[tuple[str, float]]:
    """``alpha_quantiles`` as (label, value) pairs: a dict {level: value} or a list of values."""
    if isinstance(spread, Mapping):
        pairs = [(str(level), value) for level, value in spread.items()]

        def level_order(pair):
            try:
                return float(pair[0])
            except ValueError:
                return math.inf

        pairs.sort(key=level_order)
    elif isinstance(spread, list | tuple):
        pairs = [(str(position), value) for position, value in enumerate(spread)]
    else:
        return []
    return [(label, float(value)) for label, value in pairs if _is_number(value)]


def _quantile_text(spread: Any) -> str:
    if isinstance(spread, Mapping):
        pairs = _quantiles(spread)
        if not pairs:
            return "—"
        levels = "/".join(f"q{label}" for label, _ in pairs)
        return f"{levels}: " + " / ".join(fmt(value) for _, value in pairs)
    if isinstance(spread, list | tuple):
        return ", ".join(fmt(value) for _, value in _quantiles(spread)) or "—"
    return fmt(spread)


def _claim_key(record: Mapping) -> str:
    """The section a record belongs to: every negative control (C4a…C4d, or any record
    expected to fail but a kernel's) goes to "C4"; other records by their claim."""
    claim = record["claim"]
    if claim in CONTROL_TEXT or (record.get("expected", "holds") == "fails" and claim != "kernel"):
        return "C4"
    return claim


def _margin(measured: float, bound: float) -> float | None:
    """``1 − measured/bound``: the share of the bound left unused (None: undefined)."""
    if not (math.isfinite(measured) and math.isfinite(bound)) or bound == 0:
        return None
    return 1.0 - measured / bound


def _derived_cell(index: int, record: Mapping, kind: str) -> _Cell:
    """The column that says what measured against bound means for this record's kind."""
    measured, bound = record["measured"], record["bound"]
    attrs = {"class": "derived", "data-record": str(index), "data-derived": kind}
    if kind == "count":
        tries, budget = fmt(measured), fmt(bound)
        caught = record["verdict"] == "detected"
        text = f"caught after {tries} of {budget} tries" if caught else f"not caught in {budget}"
        return _Cell(text, attrs)
    if kind == "kappa":
        text = f"γ_max = 1/κ = {fmt(1 / measured)}" if measured > 0 else "—"
        return _Cell(text, attrs)
    if kind == "interval":
        details = record.get("details", {})
        for key in INTERVAL_KEYS:
            interval = details.get(key)
            if isinstance(interval, list | tuple) and len(interval) == 2:
                if all(map(_is_number, interval)):
                    return _Cell(f"95% interval [{fmt(interval[0])}, {fmt(interval[1])}]", attrs)
        return _Cell("no interval recorded", attrs)
    if not (math.isfinite(measured) and math.isfinite(bound)):
        return _Cell("undefined (not a number)", attrs)
    if bound == 0:
        return _Cell("undefined (bound 0)", attrs)
    if kind == "exceed":
        excess = measured / bound - 1.0
        if excess > 0:
            return _Cell(f"{fmt(100 * excess)}% above the bound", attrs)
        return _Cell(f"not above the bound ({fmt(100 * -excess)}% below)", attrs)
    return _Cell(fmt(_margin(measured, bound)), attrs)


def _note(record: Mapping) -> str:
    details = record.get("details", {})
    parts = [
        details[key] for key in ("note", "statistic", "oracle") if isinstance(details.get(key), str)
    ]
    if isinstance(details.get("outcome"), str) and details["outcome"] != record["verdict"]:
        parts.append(f"outcome: {details['outcome']}")  # older records: verdict holds/fails
    return "; ".join(parts)


def _explain(text: ClaimText) -> list:
    blocks: list = [_Paragraph(text.words)]
    if text.formula:
        blocks.append(_Paragraph(f"Claim: {text.formula}", "formula"))
    if text.measured:
        blocks.append(_Paragraph(f"measured: {text.measured}.", "legend"))
        blocks.append(_Paragraph(f"bound: {text.bound}.", "legend"))
    return blocks


def _failures(records: list[dict], indices: list[int]) -> list:
    lines = []
    for i in indices:
        failure = records[i].get("details", {}).get("failure")
        if records[i]["verdict"] in FAILING and isinstance(failure, str):
            lines.append(_Paragraph(f"{records[i]['case']} fails: {failure}", "failure"))
    return lines


def _case_counts(chosen: list[dict]) -> str:
    """ "3 of 4 cases hold." and, for empirical claims, how many are supported, contradicted
    and inconclusive."""
    held = sum(r["verdict"] == "holds" for r in chosen)
    text = f"{fmt(held)} of {fmt(len(chosen))} cases hold"
    if any(r["verdict"] in EMPIRICAL_VERDICTS for r in chosen):
        counts = ", ".join(
            f"{fmt(sum(r['verdict'] == v for r in chosen))} {v}" for v in EMPIRICAL_VERDICTS
        )
        text = f"{fmt(len(chosen))} cases: {fmt(held)} hold; of the empirical ones {counts}"
    return text + "."


def report_status(records: list[dict]) -> str:
    """``FAIL`` when any verdict fails (fails, missed, contradicted), else ``INCONCLUSIVE``
    when any is inconclusive, else ``PASS``."""
    if any(r["verdict"] in FAILING for r in records):
        return "FAIL"
    return "INCONCLUSIVE" if any(r["verdict"] == "inconclusive" for r in records) else "PASS"


def _claim_section(records: list[dict], key: str, indices: list[int]) -> list:
    text = CLAIM_TEXT.get(key) or ClaimText(
        f"{key} — claim without a description in reports/claim_text.py",
        "No description is known for this claim.",
        "",
        "the record's measured value",
        "the record's bound",
    )
    blocks: list = [_Heading(2, text.heading), *_explain(text)]
    blocks.append(_Paragraph(_case_counts([records[i] for i in indices])))
    third = "γ_max" if text.kind == "kappa" else "margin 1 − measured/bound"
    empirical = [records[i]["verdict"] in EMPIRICAL_VERDICTS for i in indices]
    if any(empirical):
        third += " (empirical rows: the 95% interval the verdict reads)"
    notes = [_note(records[i]) for i in indices]
    header = ("case", "settings", "measured", "bound", third, "verdict")
    if any(notes):
        header = (*header, "note")
    rows = []
    for i, note, is_empirical in zip(indices, notes, empirical, strict=True):
        row = [
            _Cell(records[i]["case"]),
            _Cell(_settings_text(records[i].get("settings", {}))),
            _number_cell(i, "measured", records[i]["measured"]),
            _number_cell(i, "bound", records[i]["bound"]),
            _derived_cell(i, records[i], "interval" if is_empirical else text.kind),
            _verdict_cell(records[i]["verdict"]),
        ]
        if any(notes):
            row.append(_Cell(note))
        rows.append(row)
    blocks.append(_Table(header, rows))
    return blocks + _failures(records, indices)


def _controls_section(records: list[dict], indices: list[int]) -> list:
    blocks: list = [_Heading(2, C4_TEXT.heading), _Paragraph(C4_TEXT.words)]
    if not indices:
        return [*blocks, _Paragraph("No negative controls in this record set.")]
    present = list(dict.fromkeys(records[i]["claim"] for i in indices))
    for claim in present:
        text = CONTROL_TEXT.get(claim)
        if text is not None:
            blocks.append(
                _Paragraph(
                    f"{claim}: {text.words}. measured: {text.measured}; bound: {text.bound}.",
                    "legend",
                )
            )
    caught = sum(records[i]["verdict"] == "detected" for i in indices)
    blocks.append(_Paragraph(f"{fmt(caught)} of {fmt(len(indices))} controls detected."))
    rows = []
    for i in indices:
        record = records[i]
        text = CONTROL_TEXT.get(record["claim"])
        kind = text.kind if text is not None else "exceed"
        rows.append(
            [
                _Cell(record["claim"]),
                _Cell(record["case"]),
                _Cell(_settings_text(record.get("settings", {}))),
                _number_cell(i, "measured", record["measured"]),
                _number_cell(i, "bound", record["bound"]),
                _derived_cell(i, record, kind),
                _verdict_cell(record["verdict"]),
            ]
        )
    header = ("control", "case", "settings", "measured", "bound", "what it shows", "verdict")
    blocks.append(_Table(header, rows))
    return blocks


def _kernel_section(records: list[dict], indices: list[int]) -> list:
    text = CLAIM_TEXT["kernel"]
    blocks: list = [_Heading(2, text.heading), *_explain(text)]
    blocks.append(
        _Paragraph(
            "verdict: 'holds' = accepted as expected; 'detected' = rejected as expected; "
            "'fails' = an expected kernel was rejected; 'missed' = a kernel expected to be "
            "rejected was accepted.",
            "legend",
        )
    )
    rows, reasons = [], []
    for i in indices:
        record = records[i]
        details = record.get("details", {})
        accepted = details.get("passes")
        status = "—" if not isinstance(accepted, bool) else "accepted" if accepted else "rejected"
        row = [_Cell(record["case"]), _Cell(status, {"class": f"status-{status}"})]
        for key, _ in KERNEL_COLUMNS[:4]:
            if key == "alpha_quantiles":
                row.append(_Cell(_quantile_text(details.get(key)), {"class": "derived"}))
            else:
                row.append(_number_cell(i, f"details.{key}", details.get(key)))
        row += [
            _number_cell(i, "measured", record["measured"]),
            _number_cell(i, "bound", record["bound"]),
            _derived_cell(i, record, "ratio"),
            _verdict_cell(record["verdict"]),
        ]
        rows.append(row)
        failures = details.get("failures")
        if isinstance(failures, list) and failures and isinstance(failures[0], str):
            reasons.append(_Paragraph(f"{record['case']} rejected: {failures[0]}", "failure"))
    header = (
        "kernel",
        "accepted",
        *(label for _, label in KERNEL_COLUMNS[:4]),
        "MS-MMD ratio (measured)",
        "bound (γκ)^(α/2)",
        "margin",
        "verdict",
    )
    return [*blocks, _Table(header, rows), *reasons]


def _interval(value: Any, interval: Any) -> str:
    if not _is_number(value):
        return "—"
    if isinstance(interval, list | tuple) and len(interval) == 2 and all(map(_is_number, interval)):
        return f"{fmt(value)} [{fmt(interval[0])}, {fmt(interval[1])}]"
    return fmt(value)


def _regress_section(records: list[dict], indices: list[int], heading: bool) -> list:
    blocks: list = []
    if heading:
        blocks.append(_Heading(2, "Regression cells"))
    blocks.append(
        _Paragraph(
            "Each cell (algorithm × environment × noise × steps) is scored by the IQM over "
            "seeds of the final evaluation return, with stratified-bootstrap 95% intervals. "
            "'regressed': the interval of the difference new − reference lies below the "
            "tolerated drop; 'improved': above the tolerated rise; 'pass' otherwise; "
            "'crashed': a run did not finish."
        )
    )
    rows = []
    for i in indices:
        record = records[i]
        details = record.get("details", {})
        status = str(details.get("status", record["verdict"]))
        difference = details.get("difference")
        if not _is_number(difference) and _is_number(details.get("new_iqm")):
            if _is_number(details.get("reference_iqm")):
                difference = details["new_iqm"] - details["reference_iqm"]
        reference = _interval(details.get("reference_iqm"), details.get("reference_ci"))
        if reference == "—" and status == "pass":
            status = "no reference (recorded)"
        crashed = details.get("crashed")
        if isinstance(crashed, Mapping) and crashed:
            finished = record.get("settings", {}).get("seeds")
            total = len(crashed) + (len(finished) if isinstance(finished, list) else 0)
            status = f"{status} ({len(crashed)} of {total} runs)"
        css = "fails" if record["verdict"] == "fails" else "holds"
        rows.append(
            [
                _Cell(record["case"]),
                _Cell(reference, {"class": "num"}),
                _Cell(_interval(details.get("new_iqm"), details.get("new_ci")), {"class": "num"}),
                _Cell(_interval(difference, details.get("difference_ci")), {"class": "num"}),
                _Cell(status, {"class": f"verdict {css}"}),
            ]
        )
    header = (
        "cell",
        "reference IQM [95% CI]",
        "new IQM [95% CI]",
        "difference [95% CI]",
        "verdict",
    )
    blocks.append(_Table(header, rows))
    for i in indices:
        crashed = records[i].get("details", {}).get("crashed")
        if isinstance(crashed, Mapping):
            for seed, error in crashed.items():
                blocks.append(_Paragraph(f"{records[i]['case']} seed {seed}: {error}", "failure"))
    return blocks


def _header_blocks(records: list[dict], title: str, meta: Mapping | None) -> list:
    status = report_status(records)
    blocks: list = [
        _Heading(1, title),
        _Paragraph(f"Overall: {status}", f"status {status.lower()}"),
    ]
    for key, value in (meta or {}).items():
        blocks.append(_Paragraph(f"{key}: {_show(value)}"))
    return blocks


def _versions_block(records: list[dict]) -> _Paragraph:
    versions = records[0].get("versions", {})
    shown = ", ".join(f"{name} {value}" for name, value in versions.items())
    return _Paragraph(f"versions: {shown or 'not recorded'}", "versions")


def _build_regress_document(
    records: list[dict], title: str, meta: Mapping | None, figures: list[_Figure]
) -> list:
    blocks = _header_blocks(records, title, meta)
    blocks.append(_Heading(2, "Verdicts"))
    regressed = sum(r["verdict"] == "fails" for r in records)
    blocks.append(
        _Paragraph(
            f"{fmt(len(records))} cells, {fmt(regressed)} regressed or crashed. The suite fails "
            "when any cell regressed or crashed."
        )
    )
    blocks += _regress_section(records, list(range(len(records))), heading=False)
    if figures:
        blocks.append(_Heading(2, "Learning curves"))
        blocks.extend(figures)
    blocks.append(_versions_block(records))
    return blocks


def _build_document(
    records: list[dict], title: str, meta: Mapping | None, figures: list[_Figure]
) -> list:
    if all(r["claim"] == "regress" for r in records):
        return _build_regress_document(records, title, meta, figures)
    counts = {verdict: 0 for verdict in VERDICTS}
    for record in records:
        counts[record["verdict"]] += 1
    blocks = _header_blocks(records, title, meta)
    blocks.append(_Heading(2, "Summary"))
    shown = THEOREM_VERDICTS
    empirical = ""
    if any(r["verdict"] in EMPIRICAL_VERDICTS for r in records):
        shown = VERDICTS
        empirical = (
            " An empirical claim is 'supported' when the 95% interval of its statistic lies "
            "on the claimed side, 'contradicted' when it lies on the other side, and "
            "'inconclusive' when it contains the null value: neither a pass nor a failure. "
            "The report is INCONCLUSIVE when nothing failed but some claim is inconclusive."
        )
    blocks.append(
        _Paragraph(
            f"{fmt(len(records))} records. The report fails when any claim fails, any "
            "negative control is missed or any empirical claim is contradicted."
            f"{empirical} Each section states its claim, what 'measured' and "
            "'bound' are for it, and the margin 1 − measured/bound (the share of the bound "
            "left unused; negative when the bound is exceeded). The mathematics is in "
            "docs/claims.md of the sobolev-verify repository."
        )
    )
    blocks.append(
        _Table(
            ("verdict", "records"),
            [[_verdict_cell(v), _Cell(fmt(counts[v]), {"class": "num"})] for v in shown],
        )
    )
    sections: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        sections.setdefault(_claim_key(record), []).append(index)
    # the controls' section is shown (even empty) wherever the claims they guard are
    guarded = any(key in sections for key in ("C1", "C1-sweep", "C2", "C3", "C5"))
    known = [key for key in SECTION_ORDER if key in sections or (key == "C4" and guarded)]
    ordered = known + [key for key in sections if key not in SECTION_ORDER]
    for key in ordered:
        indices = sections.get(key, [])
        if key == "C4":
            blocks += _controls_section(records, indices)
        elif key == "kernel":
            blocks += _kernel_section(records, indices)
        elif key == "regress":
            blocks += _regress_section(records, indices, heading=True)
        else:
            blocks += _claim_section(records, key, indices)
    if figures:
        blocks.append(_Heading(2, "Plots"))
        blocks.extend(figures)
    blocks.append(_versions_block(records))
    return blocks


# -- writers --------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _to_markdown(blocks: list) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, _Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, _Paragraph):
            text = f"**{block.text}**" if "status" in block.css else block.text
            lines += [text, ""]
        elif isinstance(block, _Table):
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_md_cell(c.text) for c in row) + " |" for row in block.rows]
            lines.append("")
        elif isinstance(block, _Figure):
            lines += [f"![{block.caption}](plots/{block.name}.png)", "", f"*{block.caption}*", ""]
    return "\n".join(lines)


def _attrs(attrs: Mapping[str, str]) -> str:
    return "".join(f' {key}="{html.escape(value, quote=True)}"' for key, value in attrs.items())


def _to_html(blocks: list, title: str, plots_dir: Path) -> str:
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    for block in blocks:
        if isinstance(block, _Heading):
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, _Paragraph):
            css = _attrs({"class": block.css}) if block.css else ""
            out.append(f"<p{css}>{esc(block.text)}</p>")
        elif isinstance(block, _Table):
            out.append("<table>")
            out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in block.header))
            out.append("</tr></thead>")
            out.append("<tbody>")
            for row in block.rows:
                cells = "".join(f"<td{_attrs(c.attrs)}>{esc(c.text)}</td>" for c in row)
                out.append(f"<tr>{cells}</tr>")
            out.append("</tbody>")
            out.append("</table>")
        elif isinstance(block, _Figure):
            png = (plots_dir / f"{block.name}.png").read_bytes()
            source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            image = _attrs(
                {"src": source, "data-file": f"plots/{block.name}.png", "alt": block.caption}
            )
            out.append(f"<figure><img{image}>")
            out.append(f"<figcaption>{esc(block.caption)}</figcaption></figure>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


# -- plots ----------------------------------------------------------------------------------


def _new_axes(size=(6.4, 4.8)):
    from matplotlib.figure import Figure  # no pyplot: no global figure state, Agg on save

    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.add_subplot()


def _save(figure, path: Path) -> None:
    figure.savefig(path, format="png", dpi=100, metadata={"Software": None})


def _colours(count: int) -> list:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return [palette(i % 10) for i in range(count)]


def _spans_decades(values: list[float]) -> bool:
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 100


def _plot_ratios(records: list[dict], path: Path) -> bool:
    chosen = [
        r
        for r in records
        if r.get("expected", "holds") == "holds"
        # κ and kernels are plotted on their own; C5's tolerances (1e-8 on an error of
        # 1e-15) would squash the contraction ratios into a corner
        and r["claim"] not in ("kappa-mujoco", "kernel", "C5", "regress")
        and r["verdict"] not in EMPIRICAL_VERDICTS  # intervals, not a measured-vs-bound check
        and math.isfinite(r["measured"])
        and math.isfinite(r["bound"])
    ]
    if not chosen:
        return False
    figure, axes = _new_axes((7.6, 5.2))
    claims = list(dict.fromkeys(r["claim"] for r in chosen))
    markers = "osD^vP*Xh"
    for number, (claim, colour) in enumerate(zip(claims, _colours(len(claims)), strict=True)):
        points = [r for r in chosen if r["claim"] == claim]
        text = CLAIM_TEXT.get(claim)
        axes.scatter(
            [r["bound"] for r in points],
            [r["measured"] for r in points],
            color=colour,
            marker=markers[number % len(markers)],
            label=f"{text.heading if text else claim} ({len(points)})",
        )
    failing = [r for r in chosen if r["verdict"] == "fails"]
    if failing:
        axes.scatter(
            [r["bound"] for r in failing],
            [r["measured"] for r in failing],
            marker="o",
            s=160,
            facecolors="none",
            edgecolors="red",
            linewidths=2,
            label="fails",
        )
    values = [r[key] for r in chosen for key in ("measured", "bound")]
    low, high = min(values), max(values)
    axes.plot([low, high], [low, high], "k--", linewidth=1, label="measured = bound")
    if _spans_decades(values):
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.set_xlabel("bound")
    axes.set_ylabel("measured")
    axes.set_title(
        "Measured against bound, one colour and marker per claim\n(on or below the diagonal: holds)"
    )
    axes.legend(fontsize="small", title="claim (records)", title_fontsize="small")
    _save(figure, path)
    return True


def _plot_gamma_sweep(records: list[dict], path: Path) -> bool:
    sweep = [r for r in records if r["claim"] == "C1-sweep"]
    if not sweep:
        return False
    for record in sweep:
        settings = record.get("settings", {})
        for key in ("gamma", "kappa"):
            if not _is_number(settings.get(key)):
                raise ValueError(
                    f"C1-sweep record {record['case']!r} needs a numeric settings[{key!r}]; "
                    f"got {settings.get(key)!r}"
                )
    figure, axes = _new_axes((7.2, 5.0))
    cases = list(dict.fromkeys(r["case"] for r in sweep))
    for case, colour in zip(cases, _colours(len(cases)), strict=True):
        points = sorted(
            (r for r in sweep if r["case"] == case), key=lambda r: r["settings"]["gamma"]
        )
        gammas = [r["settings"]["gamma"] for r in points]
        axes.plot(
            gammas, [r["measured"] for r in points], "o-", color=colour, label=f"{case}: measured"
        )
        axes.plot(
            gammas, [r["bound"] for r in points], "--", color=colour, label=f"{case}: bound γκ"
        )
        for kappa in dict.fromkeys(r["settings"]["kappa"] for r in points):
            if kappa > 0:
                axes.axvline(
                    1 / kappa,
                    color=colour,
                    linestyle=":",
                    label=f"{case}: γκ = 1 at γ = 1/κ = {fmt(1 / kappa)}",
                )
        failing = [r for r in points if r["verdict"] == "fails"]
        if failing:
            axes.scatter(
                [r["settings"]["gamma"] for r in failing],
                [r["measured"] for r in failing],
                marker="x",
                s=90,
                color="red",
                zorder=3,
            )
    axes.axhline(1.0, color="black", linewidth=1, label="ratio = 1")
    axes.set_xlabel("γ (discount)")
    axes.set_ylabel("worst contraction ratio")
    axes.set_title("Smoothness trade-off: the Sobolev operator contracts while γκ < 1")
    axes.legend(fontsize="x-small")
    _save(figure, path)
    return True


def _plot_kappa(records: list[dict], path: Path) -> bool:
    chosen = [r for r in records if r["claim"] == "kappa-mujoco"]
    if not chosen:
        return False
    samples, labels = [], []
    for record in chosen:
        norms = record.get("details", {}).get("norms")
        if not isinstance(norms, list | tuple) or not norms or not all(map(_is_number, norms)):
            raise ValueError(
                f"kappa-mujoco record {record['case']!r} needs details['norms'], a non-empty "
                f"list of numbers; got {norms!r}"
            )
        samples.append([float(v) for v in norms])
        labels.append(record["case"])
    figure, axes = _new_axes((max(6.4, 1.2 * len(chosen) + 2), 4.8))
    axes.boxplot(samples, tick_labels=labels)
    line = 1 / KAPPA_GAMMA
    axes.axhline(line, color="red", linestyle="--", label=f"‖L‖ = 1/γ, γ = {fmt(KAPPA_GAMMA)}")
    if min(min(s) for s in samples) > 0:
        axes.set_yscale("log")
    axes.set_ylabel("‖L‖")
    axes.set_title("Distribution of ‖L‖ per environment")
    axes.legend(fontsize="small")
    for tick in axes.get_xticklabels():
        tick.set_rotation(20)
        tick.set_horizontalalignment("right")
    _save(figure, path)
    return True


def _plot_kernels(records: list[dict], path: Path) -> bool:
    chosen = [
        r
        for r in records
        if r["claim"] == "kernel" and _is_number(r.get("details", {}).get("alpha_min"))
    ]
    if not chosen:
        return False
    figure, axes = _new_axes((max(6.4, 1.0 * len(chosen) + 2), 4.8))
    positions = range(len(chosen))
    for position, record in zip(positions, chosen, strict=True):
        details = record["details"]
        spread = [value for _, value in _quantiles(details.get("alpha_quantiles"))]
        if spread:
            axes.vlines(position, min(spread), max(spread), color="tab:blue", linewidth=3)
            axes.scatter([position] * len(spread), spread, color="tab:blue", s=20, zorder=3)
        axes.scatter(position, details["alpha_min"], marker="v", s=80, color="black", zorder=4)
        if details.get("passes") is False:
            axes.axvspan(position - 0.45, position + 0.45, color="red", alpha=0.12, zorder=0)
    axes.scatter([], [], color="tab:blue", s=20, label="α quantiles (spread)")
    axes.scatter([], [], marker="v", color="black", label="α min (estimate)")
    axes.axhline(0.0, color="red", linestyle="--", linewidth=1, label="α = 0")
    rejected = [r.get("details", {}).get("passes") is False for r in chosen]
    if any(rejected):
        axes.fill_between([], [], color="red", alpha=0.12, label="rejected kernel")
    labels = [
        f"{r['case']}\n(rejected)" if flag else r["case"]
        for r, flag in zip(chosen, rejected, strict=True)
    ]
    axes.set_xticks(list(positions), labels, rotation=20, ha="right")
    for tick, flag in zip(axes.get_xticklabels(), rejected, strict=True):
        if flag:
            tick.set_color("darkred")
    axes.set_xlim(-0.6, len(chosen) - 0.4)
    axes.set_ylabel("scale-sensitivity order α")
    axes.set_title("Kernel order estimates (shaded, red label: rejected)")
    axes.legend(fontsize="small")
    _save(figure, path)
    return True


def _band(curve: Any) -> tuple[list[float], list[float], list[float], list[float]] | None:
    if not isinstance(curve, Mapping):
        return None
    columns = [curve.get(name) for name in ("steps", "iqm", "low", "high")]
    if not all(isinstance(c, list | tuple) and c and all(map(_is_number, c)) for c in columns):
        return None
    if len({len(c) for c in columns}) != 1:
        return None
    return tuple([float(v) for v in c] for c in columns)


def _plot_learning_curves(records: list[dict], path: Path) -> bool:
    chosen = [
        r
        for r in records
        if r["claim"] == "regress" and _band(r.get("details", {}).get("curves", {}).get("new"))
    ]
    if not chosen:
        return False
    columns = min(3, len(chosen))
    rows = -(-len(chosen) // columns)
    import matplotlib.pyplot as plt

    figure, grid = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False, layout="constrained"
    )
    for axes, record in zip(grid.flat, chosen, strict=False):
        curves = record["details"]["curves"]
        for which, colour in (("reference", "grey"), ("new", "tab:blue")):
            band = _band(curves.get(which))
            if band is None:
                continue
            steps, iqm, low, high = band
            axes.plot(steps, iqm, color=colour, label=which)
            axes.fill_between(steps, low, high, color=colour, alpha=0.25)
        status = str(record["details"].get("status", record["verdict"]))
        axes.set_title(
            f"{record['case']}\n{status}",
            fontsize="small",
            color="red" if status in ("regressed", "crashed") else "black",
        )
        axes.set_xlabel("env steps")
        axes.set_ylabel("eval return")
        axes.legend(fontsize="x-small")
    for axes in list(grid.flat)[len(chosen) :]:
        axes.set_visible(False)
    _save(figure, path)
    return True


_PLOTTERS = {
    "ratios": (
        _plot_ratios,
        "Measured against bound for every record expected to hold (C5's tolerances, κ, kernels "
        "and regression cells are shown elsewhere); the legend names each claim.",
    ),
    "gamma_sweep": (
        _plot_gamma_sweep,
        "C1 sweep: worst contraction ratio and the bound γκ against γ; dotted lines mark γκ = 1.",
    ),
    "kappa": (
        _plot_kappa,
        f"‖L‖ per MuJoCo environment, with the contraction threshold 1/γ at γ = {fmt(KAPPA_GAMMA)}.",
    ),
    "kernels": (
        _plot_kernels,
        "Kernel order α: minimum estimate and quantile spread; rejected kernels shaded red.",
    ),
    "learning_curves": (
        _plot_learning_curves,
        "IQM evaluation return over seeds with 95% bootstrap bands: reference grey, new blue.",
    ),
}


# -- entry point ----------------------------------------------------------------------------


def render_report(
    records: list[dict],
    out_dir: Path,
    *,
    title: str = "Sobolev contraction report",
    meta: dict | None = None,
) -> dict[str, Path]:
    """Write ``report.md``, ``index.html`` and ``plots/*.png`` for ``records`` into ``out_dir``.

    ``records`` are plain dicts (as ``records.json`` holds them); ``meta`` is shown under the
    title (e.g. budget, seed, run time). The overall status is FAIL when any verdict is
    ``fails``, ``missed`` or ``contradicted``, else INCONCLUSIVE when any is
    ``inconclusive``, else PASS. Plots whose records are absent are skipped (and a stale copy
    from an earlier run is removed). Returns ``{relative path: absolute path}`` of every file
    written, e.g. ``{"report.md": ..., "index.html": ..., "plots/ratios.png": ...}``.

    Raises ``ValueError`` for an empty or malformed record list.
    """
    _check_records(records, "render_report")
    if meta is not None and not isinstance(meta, Mapping):
        raise ValueError(f"render_report: meta must be a dict or None; got {type(meta).__name__}")
    out_dir = Path(out_dir)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    figures = []
    for name in PLOT_NAMES:
        plotter, caption = _PLOTTERS[name]
        path = plots_dir / f"{name}.png"
        if plotter(records, path):
            written[f"plots/{name}.png"] = path
            figures.append(_Figure(name, caption))
        else:
            path.unlink(missing_ok=True)
    blocks = _build_document(records, title, meta, figures)
    (out_dir / "report.md").write_text(_to_markdown(blocks), encoding="utf-8")
    (out_dir / "index.html").write_text(_to_html(blocks, title, plots_dir), encoding="utf-8")
    written["report.md"] = out_dir / "report.md"
    written["index.html"] = out_dir / "index.html"
    return written
