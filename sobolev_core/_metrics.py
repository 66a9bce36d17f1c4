"""Distances between particle laws: MMD, sliced and max-sliced MMD, Wasserstein (docs/math.md#metrics).

``mmd2`` and ``sliced_mmd2`` run on NumPy, JAX or PyTorch arrays (the module is taken
from the inputs); NumPy inputs are computed in float64. ``max_sliced_mmd`` searches the
direction with projected gradient ascent on the sphere (JAX) and evaluates the value at
the best direction in float64. ``wasserstein`` calls POT's exact solvers.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sobolev_core._arrays import array_module, as_points, check_weights, is_traced
from sobolev_core._kernels import Kernel, _safe_power, as_kernel

__all__ = [
    "MaxSlicedMMD",
    "gram",
    "max_sliced_direction",
    "max_sliced_mmd",
    "mmd",
    "mmd2",
    "sliced_mmd2",
    "wasserstein",
]


def _prepare(x, y, x_weights, y_weights):
    xp = array_module(x, y, x_weights, y_weights)
    if xp is np:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x, y = as_points("x", x), as_points("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must have the same sample dimension; got x of shape {tuple(x.shape)} "
            f"and y of shape {tuple(y.shape)}"
        )
    x_weights = check_weights("x_weights", x_weights, x.shape[0], xp)
    y_weights = check_weights("y_weights", y_weights, y.shape[0], xp)
    if xp is not np:
        x_weights = (
            x_weights.to(device=x.device, dtype=x.dtype)
            if xp.__name__ == "torch"
            else x_weights.astype(x.dtype)
        )
        y_weights = (
            y_weights.to(device=y.device, dtype=y.dtype)
            if xp.__name__ == "torch"
            else y_weights.astype(y.dtype)
        )
    return x, y, x_weights, y_weights


def gram(x, y, kernel: Kernel) -> Any:
    """Gram matrix ``K[i, j] = k(x_i, y_j)`` for ``x (n, D)``, ``y (m, D)`` (radial on vectors;
    a user's function is applied as given when ``D = 1``)."""
    kernel = as_kernel(kernel)
    if kernel.pointwise is not None and x.shape[1] == 1:
        return kernel.pointwise(x[:, None, 0], y[None, :, 0])
    diff = x[:, None, :] - y[None, :, :]
    return kernel.profile((diff * diff).sum(-1))


def _mmd2_prepared(x, y, x_weights, y_weights, kernel: Kernel):
    return (
        x_weights @ gram(x, x, kernel) @ x_weights
        + y_weights @ gram(y, y, kernel) @ y_weights
        - 2.0 * (x_weights @ gram(x, y, kernel) @ y_weights)
    )


def mmd2(x, y, kernel, x_weights=None, y_weights=None):
    """Squared maximum mean discrepancy, V-statistic, between two weighted particle laws.

    ``MMD²(x, y) = Σ_ij p_i p_j k(x_i, x_j) + Σ_ij q_i q_j k(y_i, y_j) - 2 Σ_ij p_i q_j k(x_i, y_j)``

    Args:
      x: samples of shape ``(n,)`` or ``(n, D)``.
      y: samples of shape ``(m,)`` or ``(m, D)``.
      kernel: a ``Kernel`` (or a function ``k(x, y)``), applied radially on vectors.
      x_weights, y_weights: non-negative weights (normalised to sum 1); uniform if None.

    Returns a scalar of the input's array module. For (conditionally) positive definite
    kernels it is >= 0 up to rounding and 0 for equal measures. No clipping is applied.

    >>> from sobolev_core import multiquadric
    >>> float(mmd2([0.0, 1.0], [0.0, 1.0], multiquadric(100.0)))
    0.0
    """
    kernel = as_kernel(kernel)
    x, y, x_weights, y_weights = _prepare(x, y, x_weights, y_weights)
    return _mmd2_prepared(x, y, x_weights, y_weights, kernel)


def mmd(x, y, kernel, x_weights=None, y_weights=None):
    """``sqrt(max(MMD², 0))``: the MMD itself (rounding below zero is clipped)."""
    value = mmd2(x, y, kernel, x_weights, y_weights)
    xp = array_module(value)
    if xp is np:
        return math.sqrt(max(float(value), 0.0))
    return xp.sqrt(xp.maximum(value, xp.zeros_like(value)))


def _unit(theta, dimension: int):
    xp = array_module(theta)
    if xp is np:
        theta = np.asarray(theta, dtype=float)
    if tuple(theta.shape) != (dimension,):
        raise ValueError(
            f"theta must have shape ({dimension},) to match the samples; got shape {tuple(theta.shape)}"
        )
    if not is_traced(theta):
        norm = float(
            np.linalg.norm(
                np.asarray(theta.detach().cpu() if xp.__name__ == "torch" else theta, dtype=float)
            )
        )
        if not (np.isfinite(norm) and norm > 0):
            raise ValueError(f"theta must be a finite non-zero direction; got norm {norm!r}")
    return theta / ((theta * theta).sum() ** 0.5)


def sliced_mmd2(x, y, kernel, theta, x_weights=None, y_weights=None):
    """MMD² between the projections ``<theta, x>`` and ``<theta, y>`` (1-D kernel).

    ``theta`` of shape ``(D,)`` is normalised to the unit sphere first.
    """
    kernel = as_kernel(kernel)
    x, y, x_weights, y_weights = _prepare(x, y, x_weights, y_weights)
    theta = _unit(theta, x.shape[1])
    if array_module(x) is not np and array_module(theta) is np:
        theta = array_module(x).asarray(theta, dtype=x.dtype)
    px, py = (x @ theta)[:, None], (y @ theta)[:, None]
    return _mmd2_prepared(px, py, x_weights, y_weights, kernel)


# ----------------------------------------------------------------------------------------
# Max-sliced MMD: a real direction search.


def _sliced_value(theta, x, y, x_weights, y_weights, kernel):
    theta = theta / jnp.linalg.norm(theta)
    return _mmd2_prepared((x @ theta)[:, None], (y @ theta)[:, None], x_weights, y_weights, kernel)


def _ascend(theta, x, y, x_weights, y_weights, kernel, n_steps, step_size, final_step):
    """Normalised Riemannian gradient ascent on the sphere, geometric step decay.

    Returns the best direction visited and its sliced MMD².
    """
    value_and_grad = jax.value_and_grad(_sliced_value)
    decay = (final_step / step_size) ** (1.0 / max(n_steps - 1, 1))

    def body(i, carry):
        theta, best_theta, best_value = carry
        value, grad = value_and_grad(theta, x, y, x_weights, y_weights, kernel)
        better = value > best_value
        best_theta = jnp.where(better, theta, best_theta)
        best_value = jnp.where(better, value, best_value)
        tangent = grad - jnp.dot(grad, theta) * theta
        norm = jnp.linalg.norm(tangent)
        step = step_size * decay**i
        moved = theta + step * tangent / jnp.where(norm > 0, norm, 1.0)
        return moved / jnp.linalg.norm(moved), best_theta, best_value

    theta = theta / jnp.linalg.norm(theta)
    start = (theta, theta, jnp.asarray(-jnp.inf, dtype=x.dtype))
    theta, best_theta, best_value = jax.lax.fori_loop(0, n_steps, body, start)
    last = _sliced_value(theta, x, y, x_weights, y_weights, kernel)
    better = last > best_value
    return jnp.where(better, theta, best_theta), jnp.where(better, last, best_value)


@functools.partial(
    jax.jit,
    static_argnames=("kernel", "n_candidates", "n_restarts", "n_steps", "step_size", "final_step"),
)
def _search(
    x,
    y,
    x_weights,
    y_weights,
    key,
    kernel,
    n_candidates,
    n_restarts,
    n_steps,
    step_size,
    final_step,
):
    dimension = x.shape[1]
    candidates = jax.random.normal(key, (n_candidates, dimension), dtype=x.dtype)
    mean_gap = x_weights @ x - y_weights @ y
    has_gap = jnp.linalg.norm(mean_gap) > 0
    candidates = candidates.at[0].set(jnp.where(has_gap, mean_gap, candidates[0]))
    candidates = candidates / jnp.linalg.norm(candidates, axis=1, keepdims=True)
    screen = jax.vmap(_sliced_value, in_axes=(0, None, None, None, None, None))
    values = screen(candidates, x, y, x_weights, y_weights, kernel)
    starts = candidates[jnp.argsort(-values)[:n_restarts]]
    ascend = jax.vmap(_ascend, in_axes=(0, None, None, None, None, None, None, None, None))
    thetas, finals = ascend(
        starts, x, y, x_weights, y_weights, kernel, n_steps, step_size, final_step
    )
    best = jnp.argmax(finals)
    return thetas[best], finals


def check_search_budget(n_candidates, n_restarts, n_steps, step_size, final_step):
    """Validate a max-sliced search budget; return it as ``(int, int, int, float, float)``.

    Counts are positive integers (NumPy integers accepted, booleans not); the steps are
    finite, positive, and ``final_step <= step_size``. Shared by the JAX and torch searches.
    """
    for name, value in (("step_size", step_size), ("final_step", final_step)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    if final_step > step_size:
        raise ValueError(f"final_step must be <= step_size ({step_size!r}); got {final_step!r}")
    for name, value in (
        ("n_candidates", n_candidates),
        ("n_restarts", n_restarts),
        ("n_steps", n_steps),
    ):
        if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1):
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(n_candidates), int(n_restarts), int(n_steps), float(step_size), float(final_step)


def max_sliced_direction(
    x,
    y,
    kernel,
    key,
    x_weights=None,
    y_weights=None,
    *,
    n_candidates=64,
    n_restarts=4,
    n_steps=50,
    step_size=0.5,
    final_step=1e-3,
):
    """JAX-traceable direction search for max-sliced MMD (used inside jitted losses).

    Screens ``n_candidates`` random unit directions (the first replaced by the mean gap
    ``E x - E y`` when non-zero), then runs ``n_restarts`` normalised projected gradient
    ascents of ``n_steps`` from the best ones. Returns ``(theta, restart_values)`` where
    ``theta`` is the best unit direction found and ``restart_values`` the sliced MMD² each
    ascent reached. The result is a lower bound on the supremum.
    """
    n_candidates, n_restarts, n_steps, step_size, final_step = check_search_budget(
        n_candidates, n_restarts, n_steps, step_size, final_step
    )
    kernel = as_kernel(kernel)
    x, y = jnp.asarray(x), jnp.asarray(y)
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    x_weights = jnp.full(x.shape[0], 1.0 / x.shape[0], x.dtype) if x_weights is None else x_weights
    y_weights = jnp.full(y.shape[0], 1.0 / y.shape[0], y.dtype) if y_weights is None else y_weights
    n_restarts = min(n_restarts, n_candidates)
    return _search(
        jax.lax.stop_gradient(x),
        jax.lax.stop_gradient(y),
        x_weights,
        y_weights,
        key,
        kernel,
        n_candidates,
        n_restarts,
        n_steps,
        step_size,
        final_step,
    )


@dataclass(frozen=True)
class MaxSlicedMMD:
    """Result of ``max_sliced_mmd``.

    Attributes:
      value: the MMD (not squared) at ``direction``, evaluated in float64.
      squared: ``value**2`` before clipping (the sliced MMD² itself).
      direction: unit vector of shape ``(D,)``.
      method: how the direction was obtained; ``"exact"`` only in one dimension.
      is_lower_bound: True when ``value`` comes from a search and so bounds the supremum
        from below; False when it is the exact supremum (D = 1).
      restart_values: sliced MMD² reached by each gradient-ascent restart.
    """

    value: float
    squared: float
    direction: np.ndarray
    method: str
    is_lower_bound: bool
    restart_values: tuple[float, ...]


def _bucket(n: int) -> int:
    return max(8, 1 << (n - 1).bit_length())


def _pad(points: np.ndarray, weights: np.ndarray, size: int):
    extra = size - points.shape[0]
    points = np.concatenate([points, np.repeat(points[:1], extra, axis=0)])
    return points, np.concatenate([weights, np.zeros(extra)])


def max_sliced_mmd(
    x,
    y,
    kernel,
    *,
    seed: int = 0,
    x_weights=None,
    y_weights=None,
    n_candidates: int = 256,
    n_restarts: int = 8,
    n_steps: int = 100,
    step_size: float = 0.5,
    final_step: float = 1e-4,
) -> MaxSlicedMMD:
    """Max-sliced MMD ``sup_{theta in S^(D-1)} MMD_k(theta#x, theta#y)`` by a real search.

    The direction is searched (random screening, then projected gradient ascent on the
    sphere with restarts; see ``max_sliced_direction``) in JAX's default precision, and
    the value at the best direction is evaluated in float64 NumPy. In one dimension the
    supremum is exact (both directions give the same value).

    Args:
      x, y: samples ``(n,)``/``(n, D)`` and ``(m,)``/``(m, D)``.
      kernel: a 1-D ``Kernel`` or function.
      seed: seeds the random candidate directions.
      n_candidates, n_restarts, n_steps, step_size, final_step: search budget; the step
        (radians, normalised gradient) decays geometrically from ``step_size`` to ``final_step``.
    """
    kernel = as_kernel(kernel)
    x_weights = None if x_weights is None else np.asarray(x_weights, dtype=float)
    y_weights = None if y_weights is None else np.asarray(y_weights, dtype=float)
    x, y, x_weights, y_weights = _prepare(
        np.asarray(x, dtype=float), np.asarray(y, dtype=float), x_weights, y_weights
    )
    n_candidates, n_restarts, n_steps, step_size, final_step = check_search_budget(
        n_candidates, n_restarts, n_steps, step_size, final_step
    )
    dimension = x.shape[1]
    if dimension == 1:
        theta = np.ones(1)
        squared = float(_mmd2_prepared(x, y, x_weights, y_weights, kernel))
        return MaxSlicedMMD(
            math.sqrt(max(squared, 0.0)), squared, theta, "exact (one dimension)", False, (squared,)
        )
    # Pad both to one power-of-two size with zero-weight copies so calls reuse compilations.
    size = _bucket(max(x.shape[0], y.shape[0]))
    px, pwx = _pad(x, x_weights, size)
    py, pwy = _pad(y, y_weights, size)
    theta, finals = max_sliced_direction(
        jnp.asarray(px),
        jnp.asarray(py),
        kernel,
        jax.random.key(seed),
        jnp.asarray(pwx),
        jnp.asarray(pwy),
        n_candidates=n_candidates,
        n_restarts=n_restarts,
        n_steps=n_steps,
        step_size=step_size,
        final_step=final_step,
    )
    theta = np.asarray(theta, dtype=float)
    theta = theta / np.linalg.norm(theta)
    squared = float(sliced_mmd2(x, y, kernel, theta, x_weights, y_weights))
    method = (
        f"searched: best of {n_candidates} random directions (mean gap first), refined by "
        f"{min(n_restarts, n_candidates)} projected gradient ascents of {n_steps} steps; "
        "a lower bound on the supremum"
    )
    return MaxSlicedMMD(
        math.sqrt(max(squared, 0.0)),
        squared,
        theta,
        method,
        True,
        tuple(float(v) for v in np.asarray(finals)),
    )


# ----------------------------------------------------------------------------------------
# Wasserstein via POT.


def wasserstein(x, y, p: float = 1, x_weights=None, y_weights=None):
    """Wasserstein-p distance with Euclidean ground cost, by POT's exact solvers.

    ``W_p(x, y) = (min_{pi in Pi(p, q)} Σ_ij pi_ij |x_i - y_j|^p)^(1/p)``; one dimension uses
    ``ot.wasserstein_1d``, more use ``ot.emd2`` on the cost ``|x_i - y_j|^p`` (computed from
    exact differences).
    NumPy and JAX inputs are computed in float64 NumPy and return a float; torch tensors
    stay torch (POT's torch backend, differentiable).
    """
    import ot  # imported here: POT loads torch and JAX backends at import time

    try:
        p = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"p must be a finite number >= 1; got {p!r}") from None
    if not (math.isfinite(p) and p >= 1):
        raise ValueError(f"p must be a finite number >= 1; got {p!r}")
    xp = array_module(x, y, x_weights, y_weights)
    if xp.__name__ != "torch":
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        x_weights = None if x_weights is None else np.asarray(x_weights, dtype=float)
        y_weights = None if y_weights is None else np.asarray(y_weights, dtype=float)
    x, y, x_weights, y_weights = _prepare(x, y, x_weights, y_weights)
    if x.shape[1] == 1:
        cost = ot.wasserstein_1d(x[:, 0], y[:, 0], x_weights, y_weights, p=p)
    else:
        # Exact differences: ot.dist expands |x|² + |y|² - 2<x, y>, which leaves ~1e-8·|x|
        # between coinciding points after the square root.
        diff = x[:, None, :] - y[None, :, :]
        squared = (diff * diff).sum(-1)
        cost_matrix = squared if p == 2 else _safe_power(squared, p / 2)
        cost = ot.emd2(x_weights, y_weights, cost_matrix, numItermax=10_000_000)
    if xp.__name__ == "torch":
        return xp.clamp(cost, min=0.0) ** (1.0 / p)
    return max(float(cost), 0.0) ** (1.0 / p)
