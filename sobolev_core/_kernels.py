"""One-dimensional shift-invariant kernels, one documented convention each (docs/math.md#metrics).

Every kernel is radial: ``k(x, y) = phi(|x - y|**2)``. On vectors the same profile is
applied to the squared Euclidean distance, which is how the full-vector MMD uses them.
The profiles are written with operations NumPy, JAX and PyTorch share, so a kernel
works on any of the three and can be differentiated by JAX or torch autograd.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sobolev_core._arrays import array_module

__all__ = [
    "KERNEL_NAMES",
    "Kernel",
    "as_kernel",
    "energy",
    "gaussian",
    "inverse_multiquadric",
    "kernel_from_spec",
    "laplacian",
    "multiquadric",
]


def _safe_power(sq_dist, exponent: float):
    """``sq_dist ** exponent`` with value 0 and a zero (not NaN) gradient at 0."""
    xp = array_module(sq_dist)
    positive = sq_dist > 0
    safe = xp.where(positive, sq_dist, 1.0)
    return xp.where(positive, safe**exponent, 0.0)


@dataclass(frozen=True)
class Kernel:
    """A radial kernel ``k(x, y) = profile(|x - y|**2)``.

    Attributes:
      name: kernel family, e.g. ``"multiquadric"``.
      params: the family's parameters as ``((name, value), ...)``.
      profile: ``phi(squared_distance)``, elementwise, array-module agnostic.
      pointwise: for a user's function ``k(x, y)``, the function itself: it is used as given
        on scalars and 1-D samples (so the kernel checks see it unaltered), and radially,
        ``k(|x - y|, 0)``, on vectors. ``None`` for built-in kernels.
      scale_order: the order ``alpha`` with ``MMD²(cU, cV) <= c**alpha MMD²(U, V)`` for
        ``0 < c <= 1`` when it is known from theory (docs/claims.md#c2), else ``None``: the kernel is
        then not known to be scale sensitive and the MSMMD contraction theorem does not apply.

    >>> k = multiquadric(h=2.0)
    >>> float(k(0.0, 0.0)), float(k(1.0, 0.0))  # -sqrt(1 + h²d²)
    (-1.0, -2.23606797749979)
    >>> k.spec
    'multiquadric:h=2.0'
    """

    name: str
    params: tuple[tuple[str, float], ...]
    profile: Callable[[Any], Any] = field(compare=False)
    scale_order: float | None = None
    # compared (by identity), so distinct user functions never count as one kernel
    pointwise: Callable[[Any, Any], Any] | None = None

    def __call__(self, x, y):
        """Elementwise ``k(x, y)`` on broadcastable arrays (or scalars)."""
        xp = array_module(x, y)
        if xp is np:
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if self.pointwise is not None:
            return self.pointwise(x, y)
        diff = x - y
        return self.profile(diff * diff)

    @property
    def spec(self) -> str:
        """The string ``kernel_from_spec`` turns back into this kernel."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{key}={value!r}" for key, value in self.params)

    def __repr__(self) -> str:
        return f"Kernel({self.spec})"


def _positive(kernel: str, name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{kernel}: {name} must be a positive number; got {value!r}") from None
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{kernel}: {name} must be a positive finite number; got {value!r}")
    return number


def multiquadric(h: float = 1.0) -> Kernel:
    """Negated multiquadric ``k(x, y) = -sqrt(1 + h² (x - y)²)``.

    ``h`` is an *inverse* length scale ([DS] uses h = 100). Conditionally positive
    definite, so the V-statistic MMD² is >= 0; scale sensitive of order 1 (docs/claims.md#c2).
    """
    h = _positive("multiquadric", "h", h)

    def profile(sq_dist):
        xp = array_module(sq_dist)
        return -xp.sqrt(1.0 + h * h * sq_dist)

    return Kernel("multiquadric", (("h", h),), profile, scale_order=1.0)


def inverse_multiquadric(h: float = 1.0) -> Kernel:
    """Inverse multiquadric ``k(x, y) = 1 / sqrt(1 + h² (x - y)²)``; positive definite, bounded."""
    h = _positive("inverse_multiquadric", "h", h)

    def profile(sq_dist):
        xp = array_module(sq_dist)
        return 1.0 / xp.sqrt(1.0 + h * h * sq_dist)

    return Kernel("inverse_multiquadric", (("h", h),), profile, scale_order=None)


def gaussian(bandwidth: float = 1.0) -> Kernel:
    """Gaussian ``k(x, y) = exp(-(x - y)² / (2 bandwidth²))``; not scale sensitive (docs/claims.md#c4)."""
    bandwidth = _positive("gaussian", "bandwidth", bandwidth)

    def profile(sq_dist):
        xp = array_module(sq_dist)
        return xp.exp(-sq_dist / (2.0 * bandwidth * bandwidth))

    return Kernel("gaussian", (("bandwidth", bandwidth),), profile, scale_order=None)


def laplacian(bandwidth: float = 1.0) -> Kernel:
    """Laplacian ``k(x, y) = exp(-|x - y| / bandwidth)``; positive definite, bounded."""
    bandwidth = _positive("laplacian", "bandwidth", bandwidth)

    def profile(sq_dist):
        xp = array_module(sq_dist)
        return xp.exp(-_safe_power(sq_dist, 0.5) / bandwidth)

    return Kernel("laplacian", (("bandwidth", bandwidth),), profile, scale_order=None)


def energy(beta: float = 1.0) -> Kernel:
    """Energy (distance) kernel ``k(x, y) = -|x - y|**beta`` for ``beta`` in (0, 2).

    Conditionally positive definite; ``MMD²(cU, cV) = c**beta MMD²(U, V)`` exactly, so it is
    scale sensitive of order ``beta``.
    """
    beta = _positive("energy", "beta", beta)
    if not beta < 2.0:
        raise ValueError(f"energy: beta must be in (0, 2); got {beta!r}")

    def profile(sq_dist):
        return -_safe_power(sq_dist, beta / 2.0)

    return Kernel("energy", (("beta", beta),), profile, scale_order=beta)


_FACTORIES: dict[str, Callable[..., Kernel]] = {
    "multiquadric": multiquadric,
    "inverse_multiquadric": inverse_multiquadric,
    "gaussian": gaussian,
    "laplacian": laplacian,
    "energy": energy,
}
_PARAMETERS = {
    "multiquadric": ("h",),
    "inverse_multiquadric": ("h",),
    "gaussian": ("bandwidth",),
    "laplacian": ("bandwidth",),
    "energy": ("beta",),
}
KERNEL_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def _valid_specs() -> str:
    built_in = ", ".join(f"{name}:{_PARAMETERS[name][0]}=<value>" for name in KERNEL_NAMES)
    return f"valid kernels: {built_in}, or 'package.module:function' for your own"


def _user_kernel(spec: str, module_name: str, attribute: str) -> Kernel:
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"kernel spec {spec!r}: cannot import module {module_name!r} ({error}); {_valid_specs()}"
        ) from None
    function = getattr(module, attribute, None)
    if function is None or not callable(function):
        raise ValueError(
            f"kernel spec {spec!r}: module {module_name!r} has no callable {attribute!r}; "
            f"{_valid_specs()}"
        )
    if isinstance(function, Kernel):
        return function
    return as_kernel(function, name=spec)


def as_kernel(kernel: Kernel | Callable[[Any, Any], Any], name: str | None = None) -> Kernel:
    """Return ``kernel`` as a ``Kernel``; a plain function ``k(x, y)`` is wrapped.

    A user function should be shift invariant and symmetric (``sobolev-verify kernel`` checks
    it), accept NumPy and JAX arrays (use operators or ``jax.numpy`` calls) and broadcast
    elementwise; a ``ValueError`` says so at once when a 5x5 probe fails on NumPy arrays or
    under JAX tracing (``np.abs`` of a traced value, say). On scalars and 1-D samples it is used as given; on vectors it is
    applied radially, ``k(|x - y|, 0)``. Its scale order is unknown (``None``).
    """
    if isinstance(kernel, Kernel):
        return kernel
    if not callable(kernel):
        raise ValueError(f"kernel must be a Kernel or a callable k(x, y); got {kernel!r}")
    function = kernel

    def profile(sq_dist):
        distance = _safe_power(sq_dist, 0.5)
        return function(distance, distance * 0.0)

    label = name or f"{getattr(function, '__module__', '?')}:{getattr(function, '__name__', '?')}"
    probe = np.linspace(-1.0, 1.0, 5)
    try:
        value = np.asarray(function(probe[:, None], probe[None, :]), dtype=float)
    except Exception as error:  # a user function may fail in any way: report it plainly
        raise ValueError(f"kernel {label!r} failed on a 5x5 NumPy probe: {error!r}") from None
    if value.shape != (5, 5):
        raise ValueError(
            f"kernel {label!r} must broadcast elementwise: inputs of shapes (5, 1) and (1, 5) "
            f"gave shape {value.shape}, expected (5, 5)"
        )
    _check_traceable(function, label, probe)
    return Kernel(label, (), profile, scale_order=None, pointwise=function)


def _check_traceable(function: Callable, label: str, probe: np.ndarray) -> None:
    """``ValueError`` unless ``function`` and its gradient trace under JAX (``jit``/``grad``),
    where the critics and claims evaluate kernels; shapes only, nothing is computed."""
    import jax
    import jax.numpy as jnp

    x, y = jnp.asarray(probe[:, None]), jnp.asarray(probe[None, :])

    def total(x, y):
        return jnp.sum(function(x, y))

    try:
        jax.eval_shape(jax.grad(total, argnums=(0, 1)), x, y)
    except Exception as error:  # a user function may fail in any way: report it plainly
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"kernel {label!r} works on NumPy arrays but fails inside JAX tracing (jit/grad), "
            f"where the toolkit evaluates kernels: {type(error).__name__}: {reason[:200]}. "
            "Write it with jax.numpy functions (jnp.abs, jnp.exp, jnp.sqrt, jnp.where) or "
            "arithmetic operators (x - y, abs(x - y), **), not NumPy functions such as np.abs "
            "or float(), which need concrete values"
        ) from None


def kernel_from_spec(spec: str | Kernel) -> Kernel:
    """Parse ``"multiquadric:h=100"``, ``"energy:beta=1"`` or ``"package.module:function"``.

    A built-in name may omit its parameter (defaults: h=1, bandwidth=1, beta=1). A bad
    spec raises ``ValueError`` listing the valid names.

    >>> kernel_from_spec("energy:beta=1.5").scale_order
    1.5
    """
    if isinstance(spec, Kernel):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"kernel spec must be a non-empty string; got {spec!r}; {_valid_specs()}")
    head, _, tail = spec.strip().partition(":")
    if head in _FACTORIES:
        params: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in tail.split(","))):
            key, sep, value = item.partition("=")
            if not sep or key.strip() not in _PARAMETERS[head]:
                raise ValueError(
                    f"kernel spec {spec!r}: {head} takes {', '.join(_PARAMETERS[head])}=<value>; "
                    f"got {item!r}"
                )
            params[key.strip()] = value.strip()
        return _FACTORIES[head](**params)
    if tail and "=" not in tail:
        return _user_kernel(spec, head, tail)
    raise ValueError(f"unknown kernel spec {spec!r}; {_valid_specs()}")
