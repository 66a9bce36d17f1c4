"""DSDPG's updates compute what they computed before the speed-ups (issue 11, item 3).

``data/dsdpg_golden.json`` was written by ``make_dsdpg_golden.py`` with the code before any
optimisation: two updates per (shape, critic loss, world model) case on fixed batches and
keys. Here the current code recomputes them; losses, parameters, targets and Adam's first
moments (the gradients) must agree within float32 rounding. Each case compiles an update
(~10 s here), so the default run checks two cases (with the default reference tests, every
critic loss and both world models are pinned); ``-m heavy`` checks the other fourteen.

Tolerances (float32, eps = 1.2e-7): a reordered reduction, a batched instead of a separate
matmul, or a fused ``value_and_grad`` changes each value by a few eps relative, and these
go through two updates of networks, nested derivatives and sums over the batch, so 1e-5
relative (on losses) is about 100 eps. Checksums are sums with cancellation, so their error
is bounded relative to the sum of the magnitudes ``Σ |x|`` (``|w| <= 1``); 1e-5 of that.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.agents.make_dsdpg_golden import FIXTURE, RUNNING_FIXTURE, compute

GOLDEN = json.loads(FIXTURE.read_text())["cases"]
RUNNING_GOLDEN = json.loads(RUNNING_FIXTURE.read_text())["cases"]
LOSS_RTOL = 1e-5  # ~100 float32 eps, see the module docstring
LOSS_ATOL = 1e-6  # for losses near zero (e.g. an MMD² of nearly equal laws)
CHECKSUM_RTOL = 1e-5  # relative to Σ |x|, see the module docstring


# In the default run: the two loss/model pairs the default reference tests
# (test_update_references.py: msmmd/cvae, mmd-nograd/flow) leave out, so that the default run
# pins every critic loss and both world models; the other fourteen with -m heavy (runtime).
DEFAULT = (
    "point-mass:4/mmd/flow",
    "point-mass:4/huber-sobolev/cvae",
)


def _params(name: str):
    marks = [] if name in DEFAULT else [pytest.mark.heavy]
    return pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", [_params(name) for name in GOLDEN])
def test_update_matches_the_golden_fixture(name):
    _check(GOLDEN[name])


# The new defaults (running normalisation; the complete operator): one case by default, the
# Hopper-shaped running cases with -m heavy. What they compute is checked against
# references from the equations in test_dsdpg_options.py; this pins it against drift.
RUNNING_DEFAULT = ("point-mass:4/msmmd/cvae/running/complete",)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, id=name, marks=[] if name in RUNNING_DEFAULT else [pytest.mark.heavy])
        for name in RUNNING_GOLDEN
    ],
)
def test_running_normalisation_update_matches_its_golden_fixture(name):
    _check(RUNNING_GOLDEN[name])


def _check(golden: dict) -> None:
    updates = compute(golden)
    assert len(updates) == len(golden["updates"])
    for index, (got, want) in enumerate(zip(updates, golden["updates"], strict=True)):
        assert set(got["losses"]) == set(want["losses"]), index
        for loss, value in want["losses"].items():
            np.testing.assert_allclose(
                got["losses"][loss],
                value,
                rtol=LOSS_RTOL,
                atol=LOSS_ATOL,
                err_msg=f"update {index}, loss {loss}",
            )
        for group, sums in want.items():
            if group == "losses":
                continue
            bound = CHECKSUM_RTOL * sums["abs_sum"] + 1e-12
            for field in ("sum", "abs_sum", "weighted"):
                assert abs(got[group][field] - sums[field]) <= bound, (
                    f"update {index}, {group}.{field}: {got[group][field]!r} != {sums[field]!r} "
                    f"(tolerance {bound:.3g})"
                )
