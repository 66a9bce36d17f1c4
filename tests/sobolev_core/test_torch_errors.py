"""The torch functions name the argument whose dtype differs, instead of torch's own error."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
sct = pytest.importorskip("sobolev_core.torch")

KERNEL = sct.multiquadric(1.0)


def _pair():
    x = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64).reshape(3, 2)
    return x, x.flip(0) * 0.5


@pytest.mark.parametrize(
    "call, named",
    [
        (lambda x, y: sct.mmd2(x, y.float(), KERNEL), "y has dtype torch.float32 but x has"),
        (lambda x, y: sct.mmd(x.float(), y, KERNEL), "y has dtype torch.float64 but x has"),
        (lambda x, y: sct.mmd_loss(x, y.float(), KERNEL), "target has dtype torch.float32"),
        (
            lambda x, y: sct.mmd2(x, y, KERNEL, x_weights=torch.full((3,), 1 / 3)),
            "x_weights has dtype torch.float32 but x has torch.float64",
        ),
        (
            lambda x, y: sct.sliced_mmd2(x, y, KERNEL, torch.tensor([1.0, 0.0])),
            "theta has dtype torch.float32",
        ),
        (lambda x, y: sct.msmmd_loss(x, y.float(), KERNEL, seed=0), "target has dtype"),
        (lambda x, y: sct.wasserstein(x, y.float()), "y has dtype torch.float32"),
        (
            lambda x, y: sct.sobolev_td_loss(x[0, 0], x[0], x[1], y[0, 0].float(), y[0], y[1]),
            "y has dtype torch.float32 but q has torch.float64",
        ),
    ],
)
def test_mixed_float32_float64_is_a_value_error_naming_the_argument(call, named):
    x, y = _pair()
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        call(x, y)


def test_one_dtype_still_works_in_float32_and_float64():
    x, y = _pair()
    for dtype in (torch.float32, torch.float64):
        value = sct.mmd2(x.to(dtype), y.to(dtype), KERNEL)
        assert value.dtype == dtype and float(value) > 0
