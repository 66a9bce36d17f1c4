"""Array-module dispatch and boundary validation shared by the core.

The metric and kernel code is written once against the small set of operations that
NumPy, JAX and PyTorch share (elementwise maths, ``@``, ``.sum(-1)``, ``where``), and
``array_module`` picks the module from the inputs. Validation raises ``ValueError``
messages that name the argument, show the value received and say what is accepted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "array_module",
    "as_points",
    "check_finite",
    "check_gamma",
    "check_weights",
    "is_traced",
]


def _module_of(value: Any) -> str:
    return type(value).__module__.split(".", 1)[0]


def array_module(*arrays: Any):
    """Return ``numpy``, ``jax.numpy`` or ``torch`` according to the inputs.

    Torch wins over JAX, JAX over NumPy; Python scalars and NumPy arrays give NumPy.
    """
    modules = {_module_of(a) for a in arrays if a is not None}
    if "torch" in modules:
        import torch

        return torch
    if "jax" in modules or "jaxlib" in modules:
        import jax.numpy as jnp

        return jnp
    return np


def is_traced(value: Any) -> bool:
    """True for JAX tracers (values inside ``jit``/``grad``) whose contents are unknown."""
    if _module_of(value) != "jax":
        return False
    import jax

    return isinstance(value, jax.core.Tracer)


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"array of shape {tuple(shape)}"
    return repr(value)


def check_finite(name: str, value: Any) -> None:
    """Raise ``ValueError`` if a concrete array holds NaN or inf (tracers are skipped)."""
    if value is None or is_traced(value):
        return
    if _module_of(value) == "torch":
        finite = bool(value.detach().isfinite().all())
    else:
        finite = bool(np.all(np.isfinite(np.asarray(value))))
    if not finite:
        raise ValueError(f"{name} must be finite; got {_describe(value)} containing NaN or inf")


def check_gamma(gamma: Any, name: str = "gamma") -> float:
    """Return ``gamma`` as a float after checking ``0 <= gamma < 1``."""
    try:
        value = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1); got {gamma!r}") from None
    if not (0.0 <= value < 1.0):
        raise ValueError(f"{name} must be in [0, 1); got {gamma!r}")
    return value


def as_points(name: str, value: Any):
    """Return samples as a 2-D ``(n, D)`` array of the same module; ``(n,)`` becomes ``(n, 1)``."""
    shape = getattr(value, "shape", None)
    if shape is None:
        value = np.asarray(value, dtype=float)
        shape = value.shape
    if len(shape) == 1:
        value = value[:, None]
    elif len(shape) != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, D); got shape {tuple(shape)}")
    if value.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample; got shape {tuple(shape)}")
    check_finite(name, value)
    return value


def check_weights(name: str, weights: Any, n: int, xp):
    """Return normalised weights of length ``n`` (uniform when ``weights`` is None).

    Weights must be finite, non-negative and have a positive sum; they are divided by
    their sum so that the particles describe a probability measure.
    """
    if weights is None:
        if xp is np:
            return np.full(n, 1.0 / n)
        if xp.__name__ == "torch":  # float64 so the cast to the samples' dtype loses nothing
            return xp.full((n,), 1.0 / n, dtype=xp.float64)
        return xp.ones(n) / n
    shape = tuple(getattr(weights, "shape", np.shape(weights)))
    if shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the samples; got shape {shape}")
    if not is_traced(weights):
        check_finite(name, weights)
        concrete = np.asarray(
            weights.detach().cpu() if _module_of(weights) == "torch" else weights, dtype=float
        )
        if np.any(concrete < 0):
            raise ValueError(
                f"{name} must be non-negative; got minimum {concrete.min():.6g} (weights of a "
                "probability measure)"
            )
        if concrete.sum() <= 0:
            raise ValueError(f"{name} must have a positive sum; got sum {concrete.sum():.6g}")
    if xp is np:
        weights = np.asarray(weights, dtype=float)
    return weights / weights.sum()
