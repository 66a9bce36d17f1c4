"""SB3 TD3 rate: skips cleanly without the compare extra, else a short run's rate is sane."""

from __future__ import annotations

import importlib.util
import math

import pytest

from verify.bench_sb3 import SB3_SKIP_MESSAGE, sb3_missing_message, sb3_td3_rates


@pytest.fixture(autouse=True)
def _mujoco_log_outside_the_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_the_skip_message_names_the_extra_and_appears_exactly_when_sb3_is_missing():
    installed = importlib.util.find_spec("stable_baselines3") is not None
    assert (sb3_missing_message() is None) == installed
    assert "compare" in SB3_SKIP_MESSAGE and "pip install" in SB3_SKIP_MESSAGE


def test_fifty_timed_steps_give_a_positive_finite_rate():
    pytest.importorskip("stable_baselines3")
    from verify.bench_sb3 import sb3_td3_steps_per_second

    # 20 warm-up steps, updates from step 10: the 50 timed steps all update (about 5 s).
    rate = sb3_td3_steps_per_second("InvertedPendulum-v5", 50, 0, warmup_steps=20)
    assert math.isfinite(rate) and rate > 0
    with pytest.raises(ValueError, match="steps"):
        sb3_td3_steps_per_second("InvertedPendulum-v5", 0, 0)
    with pytest.raises(ValueError, match="Pendulum-v1"):
        sb3_td3_steps_per_second("Pendulum-v1", 10, 0)


def test_rates_report_the_skip_when_sb3_is_missing(monkeypatch):
    monkeypatch.setattr("verify.bench_sb3.sb3_missing_message", lambda: SB3_SKIP_MESSAGE)
    assert sb3_td3_rates(("Hopper-v5",), steps=10) == {"skipped": SB3_SKIP_MESSAGE}
