"""pytest plugin (entry point ``pytest11``): the kernel battery and Hypothesis profiles.

    pytest --sobolev-kernel "mypkg.kernels:my_kernel" --pyargs properties.battery
    pytest --sobolev-kernel "energy:beta=1.5" --pyargs properties.battery
    pytest --sobolev-profile thorough ...      # or SOBOLEV_PROFILE=thorough

Without ``--sobolev-kernel`` the battery runs on the [DS] default ``multiquadric:h=100``.
As in ``sobolev-verify kernel``, a ``package.module:function`` spec may name a module in the
current directory (it is put first on ``sys.path``, as ``python -m`` does). A spec that does
not load, or a function that fails on NumPy arrays or under JAX tracing (``np.abs`` instead
of ``jnp.abs``), stops the run at once with one line (exit 4), before any test.
"""

from __future__ import annotations

import os
import sys

import pytest

DEFAULT_KERNEL = "multiquadric:h=100"
# The sobolev_core.Kernel parsed from --sobolev-kernel, once, in pytest_configure.
_KERNEL = pytest.StashKey[object]()


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

        if os.getcwd() not in sys.path:  # as verify.cli.import_from_current_directory does
            sys.path.insert(0, os.getcwd())

        try:
            config.stash[_KERNEL] = kernel_from_spec(spec)
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
    """The kernel named by ``--sobolev-kernel`` (a ``sobolev_core.Kernel``), parsed at configure.

    Without the option, :data:`DEFAULT_KERNEL` (parsed here, so that a run that never uses the
    battery does not import ``sobolev_core``).
    """
    if _KERNEL in request.config.stash:
        return request.config.stash[_KERNEL]
    from sobolev_core import kernel_from_spec

    return kernel_from_spec(DEFAULT_KERNEL)
