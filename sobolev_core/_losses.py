"""Critic losses: values and derivatives in, a scalar out (one example; batch with vmap).

Written with operations NumPy, JAX and PyTorch share; ``msmmd_loss`` searches its
direction in JAX (``sobolev_core.torch.msmmd_loss`` is the PyTorch counterpart).
``gradient_weights`` and ``sobolev_critic_loss`` are the minibatch forms of the first-order
Sobolev TD loss (their weights are statistics of the minibatch's targets), in JAX.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from sobolev_core._arrays import array_module
from sobolev_core._kernels import as_kernel
from sobolev_core._metrics import max_sliced_direction, mmd2, sliced_mmd2

__all__ = [
    "GRAD_NORMALIZATIONS",
    "gradient_weights",
    "huber",
    "huber_sobolev_loss",
    "mmd_loss",
    "msmmd_loss",
    "sobolev_critic_loss",
    "sobolev_td_loss",
    "truncate_top",
]

GRAD_NORMALIZATIONS = ("none", "batch", "relative", "bounded")
_NORM_FLOOR = 1e-6


def _same_shape(pairs) -> None:
    for name_a, a, name_b, b in pairs:
        shape_a, shape_b = tuple(a.shape), tuple(b.shape)
        if shape_a != shape_b:
            raise ValueError(
                f"{name_a} and {name_b} must have the same shape; got {shape_a} and {shape_b}"
            )


def _squared_norm(vector):
    return (vector * vector).sum()


def sobolev_td_loss(
    q, dq_ds, dq_da, y, dy_ds, dy_da, *, lambda_s: float = 1.0, lambda_a: float = 1.0
):
    """First-order Sobolev TD loss ([FS]; docs/agents.md) for one example.

    ``(Q - y)² + λ_s |∇_s Q - g_s|² + λ_a |∇_a Q - g_a|²``

    Args: ``q, y`` scalars; ``dq_ds, dy_ds`` ``(n,)``; ``dq_da, dy_da`` ``(m,)``. Targets are
    used as given (stop their gradient in the caller).
    """
    _same_shape(
        [("q", q, "y", y), ("dq_ds", dq_ds, "dy_ds", dy_ds), ("dq_da", dq_da, "dy_da", dy_da)]
    )
    return (
        (q - y) ** 2
        + lambda_s * _squared_norm(dq_ds - dy_ds)
        + lambda_a * _squared_norm(dq_da - dy_da)
    )


def _check_minibatch(y, blocks) -> int:
    """The batch size ``B`` of ``y (B,)``; ``ValueError`` unless each ``(name, array)`` of
    ``blocks`` has shape ``(B, d)``."""
    if len(tuple(y.shape)) != 1:
        raise ValueError(f"y must have shape (B,); got shape {tuple(y.shape)}")
    batch = y.shape[0]
    for name, array in blocks:
        shape = tuple(array.shape)
        if len(shape) != 2 or shape[0] != batch:
            raise ValueError(f"{name} must have shape (B, d) with B = {batch}; got shape {shape}")
    return batch


def gradient_weights(
    y,
    dy_ds,
    dy_da,
    *,
    lambda_s: float,
    lambda_a: float,
    normalization: str = "relative",
    inputs=None,
):
    """The weights ``(w_s, w_a)`` of the Sobolev TD loss from a minibatch of targets.

    With ``|g_s|² = mean_b |dy_ds_b|²``, ``|g_a|² = mean_b |dy_da_b|²`` and ``ε = 1e-6``:

        none      w_s = λ_s,                         w_a = λ_a
        batch     w_s = λ_s / (|g_s|² + ε),          w_a = λ_a / (|g_a|² + ε)
        relative  w = λ c,  c = (var_b y + ε) / (|g_s|² + |g_a|² + ε), one factor for both
        bounded   w = λ min(c, tr var_b s + tr var_b a): ``relative`` capped by the spread
                  of the minibatch's inputs ``inputs = (s (B, n), a (B, m))``

    (docs/agents.md; ``agents.sobolev_td`` says why ``bounded`` is the default). The cap is
    the factor at which a gradient error of the targets' natural size ``std y / std (s, a)``
    weighs as much as a value error of ``std y``; it has the units of ``c`` (``[s]²``), so
    ``bounded`` keeps ``relative``'s invariance to rescaling and shifting the reward. Without
    it ``c`` grows without bound when the targets' gradients vanish, which they do once
    bootstrapped critics flatten (InvertedPendulum: ``c`` from 2.4 to 6.6e4 in 8k steps).
    The statistics are gradient-stopped. Args: ``y (B,)``, ``dy_ds (B, n)``, ``dy_da (B, m)``;
    ``none`` returns ``lambda_s, lambda_a`` as given.

    >>> import jax.numpy as jnp
    >>> y, g_s, g_a = jnp.array([0.0, 2.0]), jnp.ones((2, 1)), jnp.ones((2, 1))
    >>> [round(float(w), 4) for w in gradient_weights(y, g_s, g_a, lambda_s=1.0, lambda_a=2.0)]
    [0.5, 1.0]
    """
    if normalization not in GRAD_NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {', '.join(GRAD_NORMALIZATIONS)}; got {normalization!r}"
        )
    _check_minibatch(y, [("dy_ds", dy_ds), ("dy_da", dy_da)])
    if normalization == "none":
        return lambda_s, lambda_a
    y, dy_ds, dy_da = jax.lax.stop_gradient((y, dy_ds, dy_da))
    size_s = jnp.mean(jnp.sum(dy_ds**2, axis=-1))
    size_a = jnp.mean(jnp.sum(dy_da**2, axis=-1))
    if normalization == "batch":
        return lambda_s / (size_s + _NORM_FLOOR), lambda_a / (size_a + _NORM_FLOOR)
    scale = (jnp.var(y) + _NORM_FLOOR) / (size_s + size_a + _NORM_FLOOR)
    if normalization == "bounded":
        if inputs is None:
            raise ValueError("normalization 'bounded' needs inputs=(s, a), the minibatch's inputs")
        states, actions = jax.lax.stop_gradient(tuple(inputs))
        _check_minibatch(y, [("inputs[0]", states), ("inputs[1]", actions)])
        spread = jnp.sum(jnp.var(states, axis=0)) + jnp.sum(jnp.var(actions, axis=0))
        scale = jnp.minimum(scale, spread)
    return lambda_s * scale, lambda_a * scale


def sobolev_critic_loss(
    q,
    dq_ds,
    dq_da,
    y,
    dy_ds,
    dy_da,
    *,
    lambda_s: float,
    lambda_a: float,
    normalization: str = "relative",
    inputs=None,
):
    """One critic's first-order Sobolev TD loss on a minibatch ([FS]; docs/agents.md).

        L = mean_b [ (Q_b − y_b)² + w_s |∇_s Q_b − g_s,b|² + w_a |∇_a Q_b − g_a,b|² ]

    with ``(w_s, w_a) = gradient_weights(y, dy_ds, dy_da, ...)`` (each term is
    :func:`sobolev_td_loss`). Args: the critic's values ``q (B,)`` and input gradients
    ``dq_ds (B, n)``, ``dq_da (B, m)``; the targets ``y (B,)``, ``dy_ds (B, n)``,
    ``dy_da (B, m)``, used as given (stop their gradient in the caller); ``inputs = (s, a)``
    for the ``bounded`` normalisation.

    >>> import jax.numpy as jnp
    >>> zeros = jnp.zeros((2, 1))
    >>> float(sobolev_critic_loss(jnp.ones(2), zeros, zeros, jnp.zeros(2), zeros, zeros,
    ...                           lambda_s=1.0, lambda_a=1.0, normalization="none"))
    1.0
    """
    weight_s, weight_a = gradient_weights(
        y,
        dy_ds,
        dy_da,
        lambda_s=lambda_s,
        lambda_a=lambda_a,
        normalization=normalization,
        inputs=inputs,
    )
    batch = _check_minibatch(y, [("dq_ds", dq_ds), ("dq_da", dq_da)])
    if tuple(q.shape) != (batch,):
        raise ValueError(f"q must have shape (B,) with B = {batch}; got shape {tuple(q.shape)}")
    losses = jax.vmap(lambda *args: sobolev_td_loss(*args, lambda_s=weight_s, lambda_a=weight_a))(
        q, dq_ds, dq_da, y, dy_ds, dy_da
    )
    return jnp.mean(losses)


def huber(error, delta: float = 1.0):
    """Huber function: ``e²/2`` for ``|e| <= δ``, else ``δ(|e| - δ/2)``."""
    xp = array_module(error)
    magnitude = xp.abs(error)
    return xp.where(magnitude <= delta, 0.5 * error * error, delta * (magnitude - 0.5 * delta))


def _safe_norm(vector):
    xp = array_module(vector)
    squared = _squared_norm(vector)
    positive = squared > 0
    return xp.where(positive, xp.where(positive, squared, 1.0) ** 0.5, 0.0 * squared)


def huber_sobolev_loss(q, dq_da, y, dy_da, *, weight: float = 5.0, delta: float = 1.0):
    """MAGE-style critic loss: ``Huber(Q - y) + w · Huber(|∇_a Q - ∇_a y|)`` (weight 5 in MAGE).

    The norm has a zero (not NaN) gradient where the action gradients agree.
    """
    _same_shape([("q", q, "y", y), ("dq_da", dq_da, "dy_da", dy_da)])
    return huber(q - y, delta) + weight * huber(_safe_norm(dq_da - dy_da), delta)


def mmd_loss(pred, target, kernel, pred_weights=None, target_weights=None):
    """Full-vector MMD² between predicted samples ``(N, D)`` and target samples ``(M, D)``."""
    return mmd2(pred, target, kernel, pred_weights, target_weights)


def msmmd_loss(
    pred,
    target,
    kernel,
    key,
    *,
    n_candidates: int = 32,
    n_restarts: int = 2,
    n_steps: int = 20,
    step_size: float = 0.5,
    final_step: float = 1e-2,
):
    """Max-sliced MMD² loss: ``MMD²_k(θ*#pred, θ*#target)`` at the searched direction ``θ*``.

    The direction is searched on gradient-stopped samples (``max_sliced_direction``) and
    held fixed, so the gradient is that of the sliced MMD² at the maximiser (Danskin).
    JAX arrays; jit-compatible (the search budget is static).
    """
    kernel = as_kernel(kernel)
    theta, _ = max_sliced_direction(
        pred,
        target,
        kernel,
        key,
        n_candidates=n_candidates,
        n_restarts=n_restarts,
        n_steps=n_steps,
        step_size=step_size,
        final_step=final_step,
    )
    return sliced_mmd2(pred, target, kernel, jax.lax.stop_gradient(theta))


def truncate_top(samples, fraction: float):
    """Drop the top ``fraction`` of samples by return (TQC-style truncation, [DS] §5).

    ``samples`` has shape ``(N,)`` or ``(N, D)`` with the return in column 0. Keeps the
    ``N - floor(fraction · N)`` samples with the lowest returns, sorted by return.
    ``fraction`` is a Python float in [0, 1) (it sets a static output size).
    """
    if not isinstance(fraction, int | float) or not (0.0 <= fraction < 1.0):
        raise ValueError(f"fraction must be a number in [0, 1); got {fraction!r}")
    returns = samples if samples.ndim == 1 else samples[:, 0]
    keep = samples.shape[0] - math.floor(fraction * samples.shape[0])
    xp = array_module(samples)
    if xp is jnp:
        order = jnp.argsort(returns)
    elif xp.__name__ == "torch":
        order = xp.argsort(returns, stable=True)
    else:
        order = xp.argsort(returns, kind="stable")
    return samples[order[:keep]]
