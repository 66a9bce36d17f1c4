"""pytest plugin (entry point ``pytest11``): the kernel battery and Hypothesis profiles.

    pytest --sobolev-kernel "mypkg.kernels:my_kernel" --pyargs properties.battery
    pytest --sobolev-kernel "energy:beta=1.5" --pyargs properties.battery
    pytest --sobolev-profile thorough ...      # or SOBOLEV_PROFILE=thorough

Without ``--sobolev-kernel`` the battery runs on the [DS] default ``multiquadric:h=100``.
"""

from __future__ import annotations

import pytest

DEFAULT_KERNEL = "multiquadric:h=100"


def pytest_addoption(parser):
    group = parser.getgroup("sobolev-verify")
    group.addoption(
        "--sobolev-kernel",
        action="store",
        default=None,
        metavar="SPEC",
        help=f"kernel for the battery in properties.battery (default {DEFAULT_KERNEL}): "
        "'multiquadric:h=100', 'energy:beta=1.5', or 'package.module:function'",
    )
    group.addoption(
        "--sobolev-profile",
        action="store",
        default=None,
        metavar="NAME",
        help="Hypothesis profile: default, ci (derandomised; the default when CI is set), thorough",
    )


def pytest_configure(config):
    from properties.profiles import load_profile

    spec = config.getoption("sobolev_kernel")
    if spec is not None:  # a bad spec stops the run at once (exit 4), not at each test
        from sobolev_core import kernel_from_spec

        try:
            kernel_from_spec(spec)
        except ValueError as error:
            raise pytest.UsageError(f"--sobolev-kernel: {error}") from None
    if config.getoption("hypothesis_profile", default=None):
        return  # Hypothesis's own --hypothesis-profile wins
    try:
        load_profile(config.getoption("sobolev_profile"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.fixture(scope="session")
def sobolev_kernel(request):
    """The kernel named by ``--sobolev-kernel`` (a ``sobolev_core.Kernel``)."""
    from sobolev_core import kernel_from_spec

    return kernel_from_spec(request.config.getoption("sobolev_kernel") or DEFAULT_KERNEL)
