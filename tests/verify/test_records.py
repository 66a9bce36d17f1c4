"""``verify.records``: every verdict round-trips through save/load, the verdict goes with
``expected``, records written before the three-state verdict still load, and a record's
state (``ok``, ``failed``, ``inconclusive``) is what docs/claims.md says."""

from __future__ import annotations

import json

import pytest

from verify.records import Record, load_records, save_records

# (verdict, expected, ok, failed, inconclusive), written from the docstring's table
STATES = [
    ("holds", "holds", True, False, False),
    ("fails", "holds", False, True, False),
    ("detected", "fails", True, False, False),
    ("missed", "fails", False, True, False),
    ("supported", "holds", True, False, False),
    ("contradicted", "holds", False, True, False),
    ("inconclusive", "holds", False, False, True),
]


def _record(verdict, expected="holds", **fields):
    return Record(
        claim="C6",
        case=f"case-{verdict}",
        settings={"seeds": [0, 1]},
        seed=3,
        measured=0.25,
        bound=1.0,
        verdict=verdict,
        expected=expected,
        details={"outcome": verdict, "ci95": [-0.5, 0.75]},
        versions={"jax": "x"},
        **fields,
    )


@pytest.mark.parametrize("verdict, expected, ok, failed, inconclusive", STATES)
def test_each_verdict_round_trips_and_has_its_state(
    verdict, expected, ok, failed, inconclusive, tmp_path
):
    record = _record(verdict, expected)
    save_records([record], tmp_path / "records.json")
    (loaded,) = load_records(tmp_path / "records.json")
    assert loaded == record
    assert (loaded.ok, loaded.failed, loaded.inconclusive) == (ok, failed, inconclusive)


@pytest.mark.parametrize("verdict", ["supported", "contradicted", "inconclusive", "holds"])
def test_a_verdict_that_does_not_go_with_expected_is_refused(verdict, tmp_path):
    with pytest.raises(ValueError, match="does not go with expected 'fails'"):
        _record(verdict, "fails")
    raw = [{**json.loads(json.dumps(_record("detected", "fails").__dict__)), "verdict": verdict}]
    (tmp_path / "records.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=f"record 0: verdict {verdict!r} does not go with"):
        load_records(tmp_path / "records.json")


def test_records_of_the_previous_version_still_load(tmp_path):
    """As the previous version wrote them: no ``expected``/``versions`` where optional, an
    empirical claim as ``fails`` with its outcome in ``details``."""
    old = [
        dict(claim="C1", case="a", settings={}, seed=0, measured=0.5, bound=1.0, verdict="holds"),
        dict(
            claim="C6",
            case="b",
            settings={},
            seed=0,
            measured=1.2,
            bound=1.0,
            verdict="fails",
            expected="holds",
            details={"outcome": "inconclusive"},
        ),
        dict(
            claim="C4a", case="c", settings={}, seed=0, measured=2, bound=1, verdict="detected",
            expected="fails", details={}, versions={"jax": "0.4"},
        ),
    ]  # fmt: skip
    (tmp_path / "records.json").write_text(json.dumps(old))
    loaded = load_records(tmp_path / "records.json")
    assert [r.verdict for r in loaded] == ["holds", "fails", "detected"]
    assert [r.failed for r in loaded] == [False, True, False]


def test_save_refuses_what_is_not_a_record(tmp_path):
    with pytest.raises(ValueError, match="record 0 is dict, not a Record"):
        save_records([{"verdict": "holds"}], tmp_path / "records.json")
    assert not (tmp_path / "records.json").exists()
