"""``fd_jacobian_cost``: the row's numbers are the documented ratios of its own timings."""

from __future__ import annotations

import math

import pytest

from verify.bench_fd import fd_jacobian_cost


@pytest.fixture(autouse=True)
def _mujoco_log_outside_the_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_rows_hold_positive_times_and_their_ratios():
    rows = fd_jacobian_cost(("InvertedPendulum-v5", "Hopper-v5"), calls=3)
    assert set(rows) == {"InvertedPendulum-v5", "Hopper-v5"}
    for row in rows.values():
        assert row["calls"] == 3
        for name in ("env_step_ms", "rollout_ms", "sequential_ms"):
            assert math.isfinite(row[name]) and row[name] > 0, name
        for method in ("rollout", "sequential"):
            assert row[f"{method}_ratio"] == row[f"{method}_ms"] / row["env_step_ms"]
        assert row["speedup"] == row["sequential_ms"] / row["rollout_ms"]
    # 2 (state coordinates + actions) + 1: IP 2 (4 + 1) + 1, Hopper 2 (11 + 3) + 1.
    assert rows["InvertedPendulum-v5"]["whole_steps"] == 11
    assert rows["Hopper-v5"]["whole_steps"] == 29


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="Pendulum-v1"):
        fd_jacobian_cost(("Pendulum-v1",), calls=1)
    with pytest.raises(ValueError, match="calls"):
        fd_jacobian_cost(("Hopper-v5",), calls=0)
