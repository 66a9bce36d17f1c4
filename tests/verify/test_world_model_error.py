"""verify/world_model_error.py: its intervals, and the testing budget end to end."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from verify.world_model_error import SETTINGS, _interval, run, summarise


def test_interval_is_the_student_t_interval():
    values = np.array([0.3, 0.1, 0.45, 0.2, 0.25])
    low, high = stats.t.interval(0.95, len(values) - 1, values.mean(), stats.sem(values))
    got = _interval(values)
    # the same float64 formula, mean ± t·s/√n versus scipy's: rounding only
    np.testing.assert_allclose(got["ci"], [low, high], rtol=1e-12)
    assert got["mean"] == pytest.approx(values.mean(), rel=1e-15)


def test_summary_pairs_the_settings_seed_by_seed():
    figures = {
        "running": {"state_mse": np.array([1.0, 2.0, 3.0])},
        "none": {"state_mse": np.array([2.0, 4.0, 6.0])},
    }
    summary = summarise(figures)
    assert summary["none_minus_running"]["state_mse"]["mean"] == pytest.approx(2.0)
    assert summary["running"]["state_mse"]["mean"] == pytest.approx(2.0)


@pytest.mark.heavy  # about 75 s on two cores (Hopper collection, two compiled trainings)
def test_testing_budget_runs_and_reports_both_settings():
    result = run(SETTINGS["testing"], seed=0)
    for setting in ("running", "none"):
        for name, values in result["per_seed"][setting].items():
            assert len(values) == SETTINGS["testing"]["seeds"] and np.all(np.isfinite(values)), name
    assert set(result["summary"]["none_minus_running"]) >= {"state_mse", "reward_mse", "nll"}
