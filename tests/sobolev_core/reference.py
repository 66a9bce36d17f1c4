"""Independent float64 NumPy oracles for the kernel and metric tests.

Written from the formulas in docs/math.md#metrics, not from ``sobolev_core``: explicit loops or
broadcast differences instead of the library's Gram/``where`` machinery, so a shared bug
cannot hide in both.
"""

from __future__ import annotations

import itertools

import numpy as np

# Radial profiles as functions of the signed or unsigned difference ``d`` (float64).
KERNEL_FORMULAS = {
    "multiquadric": lambda d, h: -np.sqrt(1.0 + h**2 * d**2),
    "inverse_multiquadric": lambda d, h: 1.0 / np.sqrt(1.0 + h**2 * d**2),
    "gaussian": lambda d, bandwidth: np.exp(-(d**2) / (2.0 * bandwidth**2)),
    "laplacian": lambda d, bandwidth: np.exp(-np.abs(d) / bandwidth),
    "energy": lambda d, beta: -(np.abs(d) ** beta),
}

# d k(x, y) / d x with d = x - y, by hand (valid for d != 0).
KERNEL_DERIVATIVES = {
    "multiquadric": lambda d, h: -(h**2) * d / np.sqrt(1.0 + h**2 * d**2),
    "inverse_multiquadric": lambda d, h: -(h**2) * d * (1.0 + h**2 * d**2) ** -1.5,
    "gaussian": lambda d, bandwidth: -d / bandwidth**2 * np.exp(-(d**2) / (2.0 * bandwidth**2)),
    "laplacian": lambda d, bandwidth: -np.sign(d) / bandwidth * np.exp(-np.abs(d) / bandwidth),
    "energy": lambda d, beta: -beta * np.abs(d) ** (beta - 1.0) * np.sign(d),
}


def formula(name: str, param: float):
    """``phi(d)``: the hand-written kernel of family ``name`` with its one parameter."""
    function = KERNEL_FORMULAS[name]
    return lambda d: function(np.asarray(d, dtype=np.float64), param)


def _points(values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[:, None] if values.ndim == 1 else values


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    weights = np.asarray(weights, dtype=np.float64)
    return weights / weights.sum()


def mmd2_double_loop(x, y, phi, x_weights=None, y_weights=None) -> float:
    """V-statistic MMD² by an explicit double loop, ``k(u, v) = phi(|u - v|)`` (Euclidean)."""
    x, y = _points(x), _points(y)
    p, q = _weights(x_weights, len(x)), _weights(y_weights, len(y))

    def mean_kernel(u, a, v, b):
        total = 0.0
        for i in range(len(u)):
            for j in range(len(v)):
                distance = np.sqrt(np.sum((u[i] - v[j]) ** 2))
                total += a[i] * b[j] * float(phi(distance))
        return total

    return mean_kernel(x, p, x, p) + mean_kernel(y, q, y, q) - 2.0 * mean_kernel(x, p, y, q)


def kernel_scale(x, y, phi) -> float:
    """``max |k|`` over all pairs: the size of the terms that cancel inside MMD²."""
    points = np.concatenate([_points(x), _points(y)])
    distances = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    return float(np.max(np.abs(phi(distances))))


def sliced_mmd2_many(x, y, thetas, phi, x_weights=None, y_weights=None) -> np.ndarray:
    """MMD² of the projections on each unit row of ``thetas`` (A, D), all directions at once."""
    x, y = _points(x), _points(y)
    p, q = _weights(x_weights, len(x)), _weights(y_weights, len(y))
    px, py = x @ thetas.T, y @ thetas.T  # (n, A), (m, A)

    def mean_kernel(u, a, v, b):
        differences = u[:, None, :] - v[None, :, :]  # (n, m, A)
        return np.einsum("i,ija,j->a", a, phi(differences), b)

    return mean_kernel(px, p, px, p) + mean_kernel(py, q, py, q) - 2.0 * mean_kernel(px, p, py, q)


def wasserstein_1d_quantiles(x, y, p: float, x_weights=None, y_weights=None) -> float:
    """``W_p = (∫_0^1 |F⁻¹(t) - G⁻¹(t)|^p dt)^(1/p)``, exactly for step quantile functions."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    a, b = _weights(x_weights, len(x)), _weights(y_weights, len(y))
    ix, iy = np.argsort(x), np.argsort(y)
    x, a, y, b = x[ix], a[ix], y[iy], b[iy]
    cum_a, cum_b = np.cumsum(a), np.cumsum(b)
    cum_a[-1] = cum_b[-1] = 1.0
    levels = np.unique(np.concatenate([[0.0], cum_a, cum_b]))
    total = 0.0
    for lo, hi in itertools.pairwise(levels):
        t = 0.5 * (lo + hi)  # the quantile functions are constant on (lo, hi]
        qx = x[min(np.searchsorted(cum_a, t), len(x) - 1)]
        qy = y[min(np.searchsorted(cum_b, t), len(y) - 1)]
        total += (hi - lo) * abs(qx - qy) ** p
    return total ** (1.0 / p)
