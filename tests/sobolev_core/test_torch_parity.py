"""``sobolev_core.torch`` against the JAX/NumPy core: same values, same gradients.

Tolerances. Both sides evaluate the same formulas in float64 (JAX under
``jax.enable_x64(True)``), differing only in summation order, so values and gradients agree
to a few ulps times the cancellation in MMD² (a difference of O(100) terms for h = 100):
``RTOL = 1e-10`` leaves a wide margin. Searches are compared by the maximum they reach
(``SEARCH_RTOL = 1e-4``), since their random candidates differ. Finite differences use
central differences; their tolerances are justified where used.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sobolev_core as sc  # noqa: E402
import sobolev_core.torch as sct  # noqa: E402

RTOL = 1e-10
ATOL = 1e-12
SEARCH_RTOL = 1e-4


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _t(array, requires_grad: bool = False):
    return torch.tensor(np.asarray(array, dtype=float), dtype=torch.float64).requires_grad_(
        requires_grad
    )


def _numpy(value):
    return value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(_numpy(actual), _numpy(expected), rtol=rtol, atol=atol)


def _samples(seed: int = 0, n: int = 10, m: int = 8, dimension: int = 3):
    rng = _rng(seed)
    pred = rng.normal(size=(n, dimension))
    target = rng.normal(size=(m, dimension)) * np.linspace(0.5, 1.5, dimension) + 0.3
    return pred, target


KERNELS = {
    "multiquadric-h100": sc.multiquadric(100.0),
    "energy-beta1": sc.energy(1.0),
    "gaussian": sc.gaussian(0.7),
}


# ----------------------------------------------------------------------------------------
# Values: torch == JAX (x64) == NumPy float64.


def _jax64(function, *arrays):
    """``function`` jitted and run in float64 (one compilation, not one per eager op)."""
    with jax.enable_x64(True):
        result = jax.jit(function)(*[jnp.asarray(a) for a in arrays])
        return jax.tree.map(np.asarray, result)


def _mmd_family(module, pred, target, weights, theta, kernel):
    return {
        "mmd2": module.mmd2(pred, target, kernel),
        "mmd2_weighted": module.mmd2(pred, target, kernel, weights),
        "mmd": module.mmd(pred, target, kernel),
        "sliced_mmd2": module.sliced_mmd2(pred, target, kernel, theta),
        "mmd_loss": module.mmd_loss(pred, target, kernel),
    }


@pytest.mark.parametrize("kernel", KERNELS.values(), ids=KERNELS.keys())
def test_mmd_values_match_jax_and_numpy(kernel):
    pred, target = _samples(1)
    weights = _rng(2).uniform(0.1, 1.0, size=pred.shape[0])
    theta = np.array([0.3, -1.2, 0.7])
    arrays = (pred, target, weights, theta)
    expected = _jax64(lambda *a: _mmd_family(sc, *a, kernel), *arrays)
    numpy = _mmd_family(sc, *arrays, kernel)
    actual = _mmd_family(sct, *map(_t, arrays), kernel)
    for name, value in actual.items():
        assert value.dtype == torch.float64 and value.shape == (), name
        _close(value, expected[name])
        _close(value, numpy[name])


def _td_and_huber(module, q, dq_ds, dq_da, y, dy_ds, dy_da):
    return (
        module.sobolev_td_loss(q, dq_ds, dq_da, y, dy_ds, dy_da, lambda_s=0.5, lambda_a=2.0),
        module.huber_sobolev_loss(q, dq_da, y, dy_da, weight=5.0),
    )


def test_td_and_huber_values_match_jax():
    rng = _rng(3)
    arrays = [rng.normal(), rng.normal(size=4), rng.normal(size=2)] * 2
    expected = _jax64(lambda *a: _td_and_huber(sc, *a), *arrays)
    actual = _td_and_huber(sct, *map(_t, arrays))
    for value, reference in zip(actual, expected, strict=True):
        _close(value, reference)


def test_truncate_top_keeps_the_same_set_with_ties():
    samples = _rng(4).normal(size=(12, 3))
    samples[[2, 5, 9], 0] = 0.25  # ties on the return: stable order on every backend
    with jax.enable_x64(True):
        expected = np.asarray(sc.truncate_top(jnp.asarray(samples), 0.3))
    actual = sct.truncate_top(_t(samples), 0.3).numpy()
    assert actual.shape == (12 - 3, 3)
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(actual, sc.truncate_top(samples, 0.3))
    one_dimensional = sct.truncate_top(_t(samples[:, 0]), 0.5).numpy()
    np.testing.assert_array_equal(one_dimensional, sc.truncate_top(samples[:, 0], 0.5))


@pytest.mark.parametrize(("dimension", "p"), [(1, 1), (1, 2), (3, 1), (3, 2)])
def test_wasserstein_matches_numpy_and_is_differentiable(dimension, p):
    pred, target = _samples(5, n=7, m=5, dimension=dimension)
    if dimension == 1:
        pred, target = pred[:, 0], target[:, 0]
    tp = _t(pred, requires_grad=True)
    value = sct.wasserstein(tp, _t(target), p=p)
    _close(value, sc.wasserstein(pred, target, p=p))
    (grad,) = torch.autograd.grad(value, tp)
    # Central differences of the NumPy oracle along a random direction. The optimal plan is
    # unique and locally constant for generic data, so W_p is smooth here; with eps = 1e-6
    # the truncation error is O(eps²) and the rounding error O(1e-16 / eps) = 1e-10.
    direction = _rng(6).normal(size=pred.shape)
    eps = 1e-6
    numeric = (
        sc.wasserstein(pred + eps * direction, target, p=p)
        - sc.wasserstein(pred - eps * direction, target, p=p)
    ) / (2 * eps)
    _close((grad * _t(direction)).sum(), numeric, rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------------------
# Gradients: torch.autograd == jax.grad (x64).


def _torch_grads(function, arrays, argnums):
    tensors = [_t(a, requires_grad=i in argnums) for i, a in enumerate(arrays)]
    grads = torch.autograd.grad(function(*tensors), [tensors[i] for i in argnums])
    return [g.numpy() for g in grads]


def _jax_grads(function, arrays, argnums):
    return _jax64(jax.grad(function, argnums=argnums), *arrays)


def _assert_same_grads(torch_function, jax_function, arrays, argnums):
    torch_grads = _torch_grads(torch_function, arrays, argnums)
    jax_grads = _jax_grads(jax_function, arrays, argnums)
    for torch_grad, jax_grad in zip(torch_grads, jax_grads, strict=True):
        assert np.all(np.isfinite(torch_grad))
        _close(torch_grad, jax_grad)


def test_sobolev_td_loss_gradients_match_jax():
    rng = _rng(7)
    arrays = [rng.normal(), rng.normal(size=4), rng.normal(size=2)] * 2
    _assert_same_grads(
        lambda *a: sct.sobolev_td_loss(*a, lambda_s=0.5, lambda_a=2.0),
        lambda *a: sc.sobolev_td_loss(*a, lambda_s=0.5, lambda_a=2.0),
        arrays,
        (0, 1, 2),
    )


@pytest.mark.parametrize(
    ("value_error", "gradient_error"),
    [
        (0.3, np.array([0.2, -0.3])),  # both inside the Huber threshold delta = 1
        (2.5, np.array([-2.0, 1.5])),  # both beyond it
        (-0.4, np.zeros(2)),  # equal action gradients: the norm is 0, its gradient finite
    ],
    ids=["inside", "beyond", "equal-gradients"],
)
def test_huber_sobolev_loss_gradients_match_jax(value_error, gradient_error):
    y, dy_da = 0.7, np.array([0.1, -1.1])
    arrays = [y + value_error, dy_da + gradient_error, y, dy_da]
    _assert_same_grads(sct.huber_sobolev_loss, sc.huber_sobolev_loss, arrays, (0, 1))
    if not gradient_error.any():
        (_, dq_da_grad) = _torch_grads(sct.huber_sobolev_loss, arrays, (0, 1))
        np.testing.assert_array_equal(dq_da_grad, 0.0)


@pytest.mark.parametrize(
    "kernel", [sc.multiquadric(100.0), sc.energy(1.0)], ids=["multiquadric-h100", "energy-beta1"]
)
def test_mmd_loss_gradients_match_jax(kernel):
    pred, target = _samples(8)
    _assert_same_grads(
        lambda p, t: sct.mmd_loss(p, t, kernel),
        lambda p, t: sc.mmd_loss(p, t, kernel),
        [pred, target],
        (0, 1),
    )


def test_sliced_mmd2_gradient_at_a_fixed_direction_matches_jax():
    pred, target = _samples(9)
    kernel = sc.multiquadric(100.0)
    theta = np.array([0.6, -0.2, 1.1])
    _assert_same_grads(
        lambda p, t, th: sct.sliced_mmd2(p, t, kernel, th),
        lambda p, t, th: sc.sliced_mmd2(p, t, kernel, th),
        [pred, target, theta],
        (0, 1),
    )


# ----------------------------------------------------------------------------------------
# The max-sliced direction search.


SEARCH = dict(n_candidates=64, n_restarts=4, n_steps=100, step_size=0.5, final_step=1e-4)


def _grid_max_2d(pred, target, h, n_angles=20_000):
    """Sliced MMD² (negated multiquadric) maximised over a dense grid of angles in [0, pi).

    An independent float64 NumPy oracle: ``theta`` and ``-theta`` give the same value. The
    grid spacing pi / 20000 costs at most ~1e-7 relative of the maximum (quadratic in the
    angle error), far below SEARCH_RTOL.
    """
    angles = np.linspace(0.0, np.pi, n_angles, endpoint=False)
    directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, A)
    px, py = pred @ directions, target @ directions  # (n, A), (m, A)

    def mean_kernel(a, b):
        return -np.sqrt(1.0 + h * h * (a[:, None, :] - b[None, :, :]) ** 2).mean(axis=(0, 1))

    values = mean_kernel(px, px) + mean_kernel(py, py) - 2.0 * mean_kernel(px, py)
    return float(values.max())


def _jax_search_value(pred, target, kernel, seed, **budget):
    with jax.enable_x64(True):
        theta, _ = sc.max_sliced_direction(
            jnp.asarray(pred), jnp.asarray(target), kernel, jax.random.key(seed), **budget
        )
        theta = np.asarray(theta)
    assert theta.dtype == np.float64
    return float(sc.sliced_mmd2(pred, target, kernel, theta))


def _torch_search_value(pred, target, kernel, seed, **budget):
    theta, finals = sct.max_sliced_direction(_t(pred), _t(target), kernel, seed=seed, **budget)
    assert theta.shape == (pred.shape[1],) and finals.shape == (budget["n_restarts"],)
    np.testing.assert_allclose(float(torch.linalg.vector_norm(theta)), 1.0, rtol=1e-12)
    value = float(sc.sliced_mmd2(pred, target, kernel, theta.numpy()))
    _close(value, finals.max())  # the reported best restart value is the value at theta
    return value


def test_search_reaches_the_grid_maximum_in_2d():
    pred, target = _samples(10, n=12, m=10, dimension=2)
    kernel = sc.multiquadric(100.0)
    grid = _grid_max_2d(pred, target, h=100.0)
    torch_value = _torch_search_value(pred, target, kernel, 0, **SEARCH)
    jax_value = _jax_search_value(pred, target, kernel, 0, **SEARCH)
    np.testing.assert_allclose(torch_value, grid, rtol=SEARCH_RTOL)
    np.testing.assert_allclose(jax_value, grid, rtol=SEARCH_RTOL)


def test_search_torch_and_jax_agree_in_5d():
    pred, target = _samples(11, n=12, m=10, dimension=5)
    kernel = sc.multiquadric(100.0)
    torch_value = _torch_search_value(pred, target, kernel, 0, **SEARCH)
    jax_value = _jax_search_value(pred, target, kernel, 0, **SEARCH)
    np.testing.assert_allclose(torch_value, jax_value, rtol=SEARCH_RTOL)
    # Both are searched values: a random direction must not beat them.
    for theta in _rng(12).normal(size=(20, 5)):
        assert float(sc.sliced_mmd2(pred, target, kernel, theta)) <= torch_value * (1 + 1e-12)


def test_search_randomness_is_an_argument():
    pred, target = map(_t, _samples(13))
    kernel = sc.multiquadric(100.0)
    by_seed, _ = sct.max_sliced_direction(pred, target, kernel, seed=5, **SEARCH)
    generator = torch.Generator().manual_seed(5)
    by_generator, _ = sct.max_sliced_direction(pred, target, kernel, generator, **SEARCH)
    assert torch.equal(by_seed, by_generator)
    with pytest.raises(ValueError, match="generator"):
        sct.max_sliced_direction(pred, target, kernel, **SEARCH)
    with pytest.raises(ValueError, match="seed"):
        sct.max_sliced_direction(pred, target, kernel, generator, seed=5, **SEARCH)


# ----------------------------------------------------------------------------------------
# msmmd_loss: Danskin gradient.

PRECISE = dict(n_candidates=64, n_restarts=4, n_steps=200, final_step=1e-8)


def test_msmmd_loss_gradient_is_the_sliced_gradient_at_the_found_direction():
    pred, target = map(_t, _samples(14))
    pred.requires_grad_(True)
    target.requires_grad_(True)
    kernel = sc.multiquadric(100.0)
    budget = dict(n_candidates=32, n_restarts=2, n_steps=20, step_size=0.5, final_step=1e-2)
    loss = sct.msmmd_loss(pred, target, kernel, seed=3, **budget)
    grads = torch.autograd.grad(loss, [pred, target])
    theta, _ = sct.max_sliced_direction(pred.detach(), target.detach(), kernel, seed=3, **budget)
    fixed = sct.sliced_mmd2(pred, target, kernel, theta)
    fixed_grads = torch.autograd.grad(fixed, [pred, target])
    _close(loss, fixed)
    for grad, fixed_grad in zip(grads, fixed_grads, strict=True):
        _close(grad, fixed_grad)
    # ... and equals jax.grad of the JAX sliced MMD² at that same direction.
    jax_grad = _jax64(
        jax.grad(lambda p, t, th: sc.sliced_mmd2(p, t, kernel, th)),
        *(a.detach().numpy() for a in (pred, target, theta)),
    )
    _close(grads[0], jax_grad)


def test_msmmd_loss_gradient_matches_finite_differences():
    """Danskin: d/dp max_theta S(p, theta) = dS/dp at the maximiser.

    Each finite-difference evaluation re-runs the search (same seed), which lands within
    delta ~ final_step = 1e-8 rad of the maximiser; the value error is then O(delta²) = 1e-16
    relative, so it adds O(1e-16 / eps) = 1e-11 to the central difference. With eps = 1e-5
    the truncation error is O(eps²) ~ 1e-10; rtol = 1e-6 leaves margin for the constants.
    """
    pred, target = _samples(3, n=10, m=8, dimension=2)
    kernel = sc.multiquadric(100.0)
    tp = _t(pred, requires_grad=True)
    (grad,) = torch.autograd.grad(sct.msmmd_loss(tp, _t(target), kernel, seed=1, **PRECISE), tp)
    direction = _rng(15).normal(size=pred.shape)
    eps = 1e-5
    with torch.no_grad():  # the search must still work without autograd enabled
        plus = sct.msmmd_loss(_t(pred + eps * direction), _t(target), kernel, seed=1, **PRECISE)
        minus = sct.msmmd_loss(_t(pred - eps * direction), _t(target), kernel, seed=1, **PRECISE)
    numeric = float(plus - minus) / (2 * eps)
    _close((grad * _t(direction)).sum(), numeric, rtol=1e-6, atol=0.0)


# ----------------------------------------------------------------------------------------
# Bad input.


def test_msmmd_loss_rejects_numpy_naming_the_argument():
    pred, target = _samples(16)
    kernel = sc.multiquadric(100.0)
    with pytest.raises(ValueError, match=r"pred must be a torch\.Tensor.*numpy\.ndarray"):
        sct.msmmd_loss(pred, _t(target), kernel, seed=0)
    with pytest.raises(ValueError, match=r"target must be a torch\.Tensor"):
        sct.msmmd_loss(_t(pred), target, kernel, seed=0)
    with pytest.raises(ValueError, match=r"pred must be a floating-point tensor"):
        sct.msmmd_loss(torch.ones(4, 2, dtype=torch.int64), _t(target[:, :2]), kernel, seed=0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda a: sct.mmd2(a, _t(a), sc.energy(1.0)), "x"),
        (
            lambda a: sct.mmd_loss(_t(a), _t(a), sc.energy(1.0), pred_weights=a[:, 0]),
            "pred_weights",
        ),
        (lambda a: sct.sliced_mmd2(_t(a), _t(a), sc.energy(1.0), a[0]), "theta"),
        (lambda a: sct.wasserstein(_t(a), a), "y"),
        (lambda a: sct.truncate_top(a, 0.2), "samples"),
        (lambda a: sct.huber_sobolev_loss(_t(a[0, 0]), a[0], _t(a[1, 0]), _t(a[1])), "dq_da"),
    ],
)
def test_wrappers_reject_non_tensors_naming_the_argument(call, name):
    array = _rng(17).normal(size=(5, 3))
    with pytest.raises(ValueError, match=rf"\b{name} must be a torch\.Tensor"):
        call(array)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_candidates", 0),
        ("n_steps", 2.5),
        ("step_size", 0.0),
        ("final_step", float("nan")),
        ("final_step", 0.9),
    ],
)
def test_torch_and_jax_searches_share_the_budget_check(name, value):
    """One validator serves both searches: the same bad budget is refused by each."""
    x, y = torch.zeros(4, 2, dtype=torch.float64), torch.ones(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=name):
        sct.max_sliced_direction(x, y, sc.energy(1.0), seed=0, **{name: value})
    with pytest.raises(ValueError, match=name):
        sc.max_sliced_direction(
            x.numpy(), y.numpy(), sc.energy(1.0), jax.random.key(0), **{name: value}
        )
    theta, _ = sct.max_sliced_direction(x, y, sc.energy(1.0), seed=0, n_candidates=np.int64(8))
    assert theta.shape == (2,)
