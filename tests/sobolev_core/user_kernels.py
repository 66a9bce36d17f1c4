"""A user kernel for ``kernel_from_spec("tests.sobolev_core.user_kernels:my_kernel")``.

Written with arithmetic operators only, so it runs unchanged on NumPy and JAX arrays.
"""


def my_kernel(x, y):
    """Cauchy kernel ``k(x, y) = 1 / (1 + (x - y)²)``: shift invariant, symmetric, positive definite."""
    diff = x - y
    return 1.0 / (1.0 + diff * diff)


def energy_like(x, y):
    """``k(x, y) = -|x - y|**1.2``: conditionally positive definite, scale sensitive of order
    1.2 (the battery must estimate that order, since a user function declares none)."""
    return -(abs(x - y) ** 1.2)
