"""PyTorch versions of the losses and metrics, for users of PyTorch stacks.

Import it explicitly (``import sobolev_core.torch as sct``); ``sobolev_core`` never imports
it. The names mirror the JAX/NumPy ones in ``sobolev_core``:

- ``mmd2``, ``mmd``, ``sliced_mmd2``, ``mmd_loss``, ``sobolev_td_loss``,
  ``huber_sobolev_loss``, ``truncate_top`` and ``wasserstein`` are thin wrappers: they check
  that the inputs are ``torch.Tensor`` and call the shared array-module-generic code, so the
  mathematics lives in one place and gradients come from torch autograd.
- ``max_sliced_direction`` is torch-native: the same search as the JAX one (random
  screening with the mean gap first, then batched normalised projected gradient ascents on
  the sphere with geometric step decay), with gradients from ``torch.autograd`` and the
  randomness given as a ``torch.Generator`` or a ``seed``.
- ``msmmd_loss`` is the sliced MMD² at the searched direction, held fixed (Danskin), so the
  gradient flows to ``pred`` and ``target`` only.

The kernel factories are re-exported for convenience; they work on tensors as they are.

>>> import torch
>>> x = torch.tensor([[0.0, 1.0], [2.0, 0.5]], dtype=torch.float64)
>>> float(mmd2(x, x, multiquadric(100.0)))  # MMD²(x, x) == 0
0.0
"""

from __future__ import annotations

from typing import Any

import torch

from sobolev_core import _losses, _metrics
from sobolev_core._kernels import (
    KERNEL_NAMES,
    Kernel,
    as_kernel,
    energy,
    gaussian,
    inverse_multiquadric,
    kernel_from_spec,
    laplacian,
    multiquadric,
)

__all__ = [
    "KERNEL_NAMES",
    "Kernel",
    "as_kernel",
    "energy",
    "gaussian",
    "huber_sobolev_loss",
    "inverse_multiquadric",
    "kernel_from_spec",
    "laplacian",
    "max_sliced_direction",
    "mmd",
    "mmd2",
    "mmd_loss",
    "msmmd_loss",
    "multiquadric",
    "sliced_mmd2",
    "sobolev_td_loss",
    "truncate_top",
    "wasserstein",
]


# ----------------------------------------------------------------------------------------
# Boundary checks.


def _describe(value: Any) -> str:
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    shape = getattr(value, "shape", None)
    return f"{kind} of shape {tuple(shape)}" if shape is not None else f"{kind} {value!r}"


def _check_tensors(function: str, *, optional: tuple[str, ...] = (), **arrays: Any) -> None:
    """Raise ``ValueError`` naming the first argument that is not a floating torch tensor,
    or whose dtype or device differs from the first tensor argument's (torch would not mix
    float32 with float64 silently either, but its error names no argument).

    Arguments listed in ``optional`` may also be ``None``.
    """
    first: tuple[str, torch.Tensor] | None = None
    for name, value in arrays.items():
        if value is None and name in optional:
            continue
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"sobolev_core.torch.{function}: {name} must be a torch.Tensor; got "
                f"{_describe(value)}. Convert it with torch.as_tensor, or call "
                f"sobolev_core.{function} for NumPy/JAX arrays"
            )
        if not value.is_floating_point():
            raise ValueError(
                f"sobolev_core.torch.{function}: {name} must be a floating-point tensor; got "
                f"dtype {value.dtype} (shape {tuple(value.shape)})"
            )
        if first is None:
            first = (name, value)
            continue
        first_name, first_value = first
        if value.dtype != first_value.dtype:
            raise ValueError(
                f"sobolev_core.torch.{function}: {name} has dtype {value.dtype} but "
                f"{first_name} has {first_value.dtype}; give every tensor one dtype, e.g. "
                f"{name}.to({first_name}.dtype)"
            )
        if value.device != first_value.device:
            raise ValueError(
                f"sobolev_core.torch.{function}: {name} is on device {value.device} but "
                f"{first_name} is on {first_value.device}; move them to one device"
            )


# ----------------------------------------------------------------------------------------
# Thin wrappers over the shared array-module-generic code.


def mmd2(x, y, kernel, x_weights=None, y_weights=None):
    """Squared MMD (V-statistic) between weighted particle laws; see ``sobolev_core.mmd2``.

    ``MMD² = Σ_ij p_i p_j k(x_i, x_j) + Σ_ij q_i q_j k(y_i, y_j) - 2 Σ_ij p_i q_j k(x_i, y_j)``

    Args: ``x (n,)/(n, D)``, ``y (m,)/(m, D)`` tensors; optional weight tensors ``(n,)``,
    ``(m,)`` (uniform if None). Returns a 0-d tensor, differentiable in all tensor inputs.
    """
    _check_tensors(
        "mmd2",
        optional=("x_weights", "y_weights"),
        x=x,
        y=y,
        x_weights=x_weights,
        y_weights=y_weights,
    )
    return _metrics.mmd2(x, y, kernel, x_weights, y_weights)


def mmd(x, y, kernel, x_weights=None, y_weights=None):
    """``sqrt(max(MMD², 0))``; see ``sobolev_core.mmd``. Its gradient is infinite at 0."""
    _check_tensors(
        "mmd",
        optional=("x_weights", "y_weights"),
        x=x,
        y=y,
        x_weights=x_weights,
        y_weights=y_weights,
    )
    return _metrics.mmd(x, y, kernel, x_weights, y_weights)


def sliced_mmd2(x, y, kernel, theta, x_weights=None, y_weights=None):
    """MMD² between the projections ``<theta, x>`` and ``<theta, y>``; ``theta (D,)`` is normalised.

    See ``sobolev_core.sliced_mmd2``. The gradient flows to ``theta`` too unless detached.
    """
    _check_tensors(
        "sliced_mmd2",
        optional=("x_weights", "y_weights"),
        x=x,
        y=y,
        theta=theta,
        x_weights=x_weights,
        y_weights=y_weights,
    )
    return _metrics.sliced_mmd2(x, y, kernel, theta, x_weights, y_weights)


def mmd_loss(pred, target, kernel, pred_weights=None, target_weights=None):
    """Full-vector MMD² between predicted ``(N, D)`` and target ``(M, D)`` samples."""
    _check_tensors(
        "mmd_loss",
        optional=("pred_weights", "target_weights"),
        pred=pred,
        target=target,
        pred_weights=pred_weights,
        target_weights=target_weights,
    )
    return _losses.mmd_loss(pred, target, kernel, pred_weights, target_weights)


def sobolev_td_loss(
    q, dq_ds, dq_da, y, dy_ds, dy_da, *, lambda_s: float = 1.0, lambda_a: float = 1.0
):
    """First-order Sobolev TD loss ([FS]) for one example; see ``sobolev_core.sobolev_td_loss``.

    ``(Q - y)² + λ_s |∇_s Q - g_s|² + λ_a |∇_a Q - g_a|²``; ``q, y`` 0-d tensors, ``dq_ds,
    dy_ds (n,)``, ``dq_da, dy_da (m,)``. Detach the targets in the caller.
    """
    _check_tensors("sobolev_td_loss", q=q, dq_ds=dq_ds, dq_da=dq_da, y=y, dy_ds=dy_ds, dy_da=dy_da)
    return _losses.sobolev_td_loss(
        q, dq_ds, dq_da, y, dy_ds, dy_da, lambda_s=lambda_s, lambda_a=lambda_a
    )


def huber_sobolev_loss(q, dq_da, y, dy_da, *, weight: float = 5.0, delta: float = 1.0):
    """MAGE-style ``Huber(Q - y) + w · Huber(|∇_a Q - ∇_a y|)``; see ``sobolev_core``'s.

    The norm has a zero (not NaN) gradient where the action gradients agree.
    """
    _check_tensors("huber_sobolev_loss", q=q, dq_da=dq_da, y=y, dy_da=dy_da)
    return _losses.huber_sobolev_loss(q, dq_da, y, dy_da, weight=weight, delta=delta)


def truncate_top(samples, fraction: float):
    """Drop the top ``fraction`` of samples by return (column 0); see ``sobolev_core``'s.

    Keeps the ``N - floor(fraction · N)`` lowest-return samples, sorted by return (stable).
    """
    _check_tensors("truncate_top", samples=samples)
    return _losses.truncate_top(samples, fraction)


def wasserstein(x, y, p: float = 1, x_weights=None, y_weights=None):
    """Wasserstein-p with Euclidean ground cost by POT's exact solvers (torch backend).

    Returns a 0-d tensor, differentiable in the samples (and weights) through POT's torch
    backend. See ``sobolev_core.wasserstein``.
    """
    _check_tensors(
        "wasserstein",
        optional=("x_weights", "y_weights"),
        x=x,
        y=y,
        x_weights=x_weights,
        y_weights=y_weights,
    )
    return _metrics.wasserstein(x, y, p, x_weights, y_weights)


# ----------------------------------------------------------------------------------------
# Max-sliced MMD: the direction search, torch-native.


def _sliced_values(thetas, x, y, x_weights, y_weights, kernel):
    """Sliced MMD² at each row of ``thetas (R, D)`` (rows normalised first); shape ``(R,)``."""
    units = thetas / torch.linalg.vector_norm(thetas, dim=1, keepdim=True)
    projected_x, projected_y = x @ units.T, y @ units.T  # (n, R), (m, R)

    def one(px, py):
        return _metrics._mmd2_prepared(px[:, None], py[:, None], x_weights, y_weights, kernel)

    values = torch.func.vmap(one, in_dims=(1, 1))(projected_x, projected_y)
    assert values.shape == (thetas.shape[0],), values.shape
    return values


def _ascend(starts, x, y, x_weights, y_weights, kernel, n_steps, step_size, final_step):
    """Batched normalised Riemannian gradient ascent on the sphere, geometric step decay.

    Mirrors ``sobolev_core._metrics._ascend`` for ``R`` restarts at once: returns the best
    direction each restart visited ``(R, D)`` and its sliced MMD² ``(R,)``.
    """
    decay = (final_step / step_size) ** (1.0 / max(n_steps - 1, 1))
    theta = starts / torch.linalg.vector_norm(starts, dim=1, keepdim=True)
    best_theta = theta
    best_value = torch.full((theta.shape[0],), -torch.inf, dtype=x.dtype, device=x.device)
    for i in range(n_steps):
        variable = theta.detach().requires_grad_(True)
        with torch.enable_grad():
            values = _sliced_values(variable, x, y, x_weights, y_weights, kernel)
            (grad,) = torch.autograd.grad(values.sum(), variable)
        values = values.detach()
        better = values > best_value
        best_theta = torch.where(better[:, None], theta, best_theta)
        best_value = torch.where(better, values, best_value)
        tangent = grad - (grad * theta).sum(1, keepdim=True) * theta
        norm = torch.linalg.vector_norm(tangent, dim=1, keepdim=True)
        step = step_size * decay**i
        moved = theta + step * tangent / torch.where(norm > 0, norm, torch.ones_like(norm))
        theta = moved / torch.linalg.vector_norm(moved, dim=1, keepdim=True)
    last = _sliced_values(theta, x, y, x_weights, y_weights, kernel)
    better = last > best_value
    return torch.where(better[:, None], theta, best_theta), torch.where(better, last, best_value)


def _generator_for(samples: torch.Tensor, generator, seed) -> torch.Generator:
    if (generator is None) == (seed is None):
        raise ValueError(
            "give exactly one source of randomness: generator (a torch.Generator) or seed "
            f"(an int); got generator={generator!r}, seed={seed!r}"
        )
    if seed is not None:
        if not (isinstance(seed, int) and not isinstance(seed, bool)):
            raise ValueError(f"seed must be an int; got {seed!r}")
        return torch.Generator(device=samples.device).manual_seed(seed)
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator; got {_describe(generator)}")
    if generator.device.type != samples.device.type:
        raise ValueError(
            f"generator is on device {generator.device} but the samples are on "
            f"{samples.device}; create it with torch.Generator(device=...) on the samples' device"
        )
    return generator


def max_sliced_direction(
    x,
    y,
    kernel,
    generator: torch.Generator | None = None,
    x_weights=None,
    y_weights=None,
    *,
    seed: int | None = None,
    n_candidates: int = 64,
    n_restarts: int = 4,
    n_steps: int = 50,
    step_size: float = 0.5,
    final_step: float = 1e-3,
):
    """Direction search for max-sliced MMD, ``argmax_{theta in S^(D-1)} MMD²_k(theta#x, theta#y)``.

    The algorithm of ``sobolev_core.max_sliced_direction``: screen ``n_candidates`` random
    unit directions (the first replaced by the mean gap ``E x - E y`` when non-zero), then run
    ``n_restarts`` normalised projected gradient ascents of ``n_steps`` from the best ones,
    batched, the step (radians) decaying geometrically from ``step_size`` to ``final_step``;
    each ascent keeps the best direction it visited. Gradients come from ``torch.autograd``
    on detached samples, so no gradient flows out of the search.

    Args:
      x, y: tensors ``(n,)``/``(n, D)`` and ``(m,)``/``(m, D)``.
      kernel: a 1-D ``Kernel`` (or function).
      generator: a ``torch.Generator`` on the samples' device; or give ``seed`` instead.
      x_weights, y_weights: optional weight tensors (uniform if None).
      seed: an int seeding a fresh generator; exactly one of ``generator``/``seed``.

    Returns ``(theta, restart_values)``: the best unit direction ``(D,)`` found (detached) and
    the sliced MMD² each ascent reached ``(min(n_restarts, n_candidates),)``. The value at
    ``theta`` is a lower bound on the supremum.
    """
    _check_tensors(
        "max_sliced_direction",
        optional=("x_weights", "y_weights"),
        x=x,
        y=y,
        x_weights=x_weights,
        y_weights=y_weights,
    )
    n_candidates, n_restarts, n_steps, step_size, final_step = _metrics.check_search_budget(
        n_candidates, n_restarts, n_steps, step_size, final_step
    )
    kernel = as_kernel(kernel)
    x, y, x_weights, y_weights = _metrics._prepare(x, y, x_weights, y_weights)
    x, y = x.detach(), y.detach()
    x_weights, y_weights = x_weights.detach(), y_weights.detach()
    generator = _generator_for(x, generator, seed)
    n_restarts = min(n_restarts, n_candidates)
    dimension = x.shape[1]

    with torch.no_grad():
        candidates = torch.randn(
            (n_candidates, dimension), generator=generator, dtype=x.dtype, device=x.device
        )
        mean_gap = x_weights @ x - y_weights @ y
        has_gap = torch.linalg.vector_norm(mean_gap) > 0
        candidates[0] = torch.where(has_gap, mean_gap, candidates[0])
        candidates = candidates / torch.linalg.vector_norm(candidates, dim=1, keepdim=True)
        values = _sliced_values(candidates, x, y, x_weights, y_weights, kernel)
        starts = candidates[torch.argsort(-values, stable=True)[:n_restarts]]
        thetas, finals = _ascend(
            starts, x, y, x_weights, y_weights, kernel, n_steps, step_size, final_step
        )
        theta = thetas[torch.argmax(finals)]
    assert theta.shape == (dimension,), theta.shape
    return theta, finals


def msmmd_loss(
    pred,
    target,
    kernel,
    generator: torch.Generator | None = None,
    *,
    seed: int | None = None,
    n_candidates: int = 32,
    n_restarts: int = 2,
    n_steps: int = 20,
    step_size: float = 0.5,
    final_step: float = 1e-2,
):
    """Max-sliced MMD² loss ``MMD²_k(θ*#pred, θ*#target)`` at the searched direction ``θ*``.

    ``θ*`` comes from ``max_sliced_direction`` on detached samples and is held fixed, so the
    gradient is that of the sliced MMD² at the maximiser (Danskin's theorem): it flows to
    ``pred`` (and ``target`` if it requires grad), never through the search. Give the
    randomness as ``generator`` or ``seed``. The search budget defaults match
    ``sobolev_core.msmmd_loss``. ``pred (N,)/(N, D)``, ``target (M,)/(M, D)``.
    """
    _check_tensors("msmmd_loss", pred=pred, target=target)
    kernel = as_kernel(kernel)
    theta, _ = max_sliced_direction(
        pred.detach(),
        target.detach(),
        kernel,
        generator,
        seed=seed,
        n_candidates=n_candidates,
        n_restarts=n_restarts,
        n_steps=n_steps,
        step_size=step_size,
        final_step=final_step,
    )
    return sliced_mmd2(pred, target, kernel, theta.detach())
