"""The claim package's shape (``verify/claims/``): one module per claim, each with frozen
``SETTINGS`` for the ``testing``, ``quick`` and ``full`` budgets, ``run`` and ``score``; the
``CLAIMS`` table built from them; the budgets that were the report's and ``fs-claims``'s
before the package existed, pinned by value."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

import verify.claims as claims

MODULES = ("c1", "c1_sweep", "c2", "c3", "c4", "c5", "c6", "kernels", "kappa")


@pytest.mark.parametrize("name", MODULES)
def test_each_claim_module_has_settings_run_and_score(name):
    module = importlib.import_module(f"verify.claims.{name}")
    assert set(module.SETTINGS) == {"testing", "quick", "full"} == set(claims.BUDGETS)
    for settings in module.SETTINGS.values():
        assert dataclasses.is_dataclass(settings) and type(settings).__dataclass_params__.frozen
        field = dataclasses.fields(settings)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(settings, field, None)
    assert list(inspect.signature(module.run).parameters)[:2] == ["settings", "seed"]
    assert callable(module.score) and isinstance(module.NAME, str) and module.TITLE


def test_claims_table_is_built_from_the_modules():
    by_name = {claim.name: claim for claim in claims.CLAIMS}
    for name in MODULES:
        module = importlib.import_module(f"verify.claims.{name}")
        claim = by_name[module.NAME]
        assert claim.title == module.TITLE and claim.settings == module.SETTINGS
    # the default report is what it was before C6 joined the table
    assert [c.name for c in claims.select(None)] == [
        "C1", "C2", "C1-sweep", "C5", "C3", "C4", "kernels", "kappa-mujoco",
    ]  # fmt: skip
    assert [c.name for c in claims.select("C6,C1")] == ["C1", "C6"]  # table order
    with pytest.raises(ValueError, match="accepted: C1, C2, C1-sweep"):
        claims.select("C8")


# The report's budgets before the package (verify/claims.py BUDGETS), by value.
OLD_REPORT = {
    "quick": dict(
        n_mdps=6, n_pairs=3, n_systems=3, sweep_gammas=8, n_controls=60, kernel_mdps=4,
        mujoco_envs=(),
    ),
    "full": dict(
        n_mdps=30, n_pairs=6, n_systems=10, sweep_gammas=19, n_controls=400, kernel_mdps=20,
        mujoco_steps=50,
        mujoco_envs=(
            "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "HalfCheetah-v5", "Hopper-v5",
            "Walker2d-v5", "Ant-v5", "Humanoid-v5",
        ),
    ),
}  # fmt: skip


@pytest.mark.parametrize("budget", ["quick", "full"])
@pytest.mark.parametrize("name", ["c1", "c1_sweep", "c2", "c3", "c4", "c5", "kernels", "kappa"])
def test_quick_and_full_settings_equal_the_old_report_budgets(name, budget):
    settings = importlib.import_module(f"verify.claims.{name}").SETTINGS[budget]
    for field in dataclasses.fields(settings):
        if field.name in OLD_REPORT[budget]:
            assert getattr(settings, field.name) == OLD_REPORT[budget][field.name], field.name
        else:  # only the quick budget's kappa has no rollout length: it runs nothing
            assert (name, field.name, budget) == ("kappa", "mujoco_steps", "quick")


def test_c6_settings_equal_the_old_fs_claims_budgets():
    from verify.claims import c6

    quick, full = c6.SETTINGS["quick"], c6.SETTINGS["full"]
    assert (quick.lq_seeds, quick.lq_updates, quick.curve_seeds, quick.cost_repeats) == (
        6, 1000, 2, 30,
    )  # fmt: skip
    assert (full.lq_seeds, full.lq_updates, full.curve_seeds, full.cost_repeats) == (
        8, 2000, 3, 100,
    )  # fmt: skip
    assert full.lq_datasets == (128, 8192) and len(full.consistency_cases) == 6
    assert c6.SETTINGS["testing"].cost_envs == () and quick.n_boot == full.n_boot == 2000
