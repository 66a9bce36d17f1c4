"""Test-session set-up: cheaper XLA compiles and one persistent compilation cache.

The default run is dominated by compiling small programs that then run for milliseconds, so
the tests compile with XLA's backend optimisation level 0 (``--xla_backend_optimization_level
=0``, appended to ``XLA_FLAGS``; measured here: the device-loop tests 140 s → 80 s). It
changes how the same operations are fused and scheduled, not what they compute: values agree
to float32 rounding, which every tolerance in the tests allows; runs outside the tests keep
XLA's default optimisation.

Many tests build the same small agents again (a new agent is new Python closures, so the
in-process ``jit`` cache misses), and spawned workers and CLI subprocesses compile them again
too. XLA's persistent cache keys on the compiled program itself, so those rebuilds load the
executable instead of compiling it; the results are those of the same compiled code. The
cache lives in a fresh temporary folder per run (``SOBOLEV_TEST_JAX_CACHE`` names another),
so no run depends on an earlier one, and subprocesses find it through the environment.
"""

from __future__ import annotations

import os
import tempfile

os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]
).strip()

import jax  # after XLA_FLAGS: the backend reads them when it starts

_folder = os.environ.get("SOBOLEV_TEST_JAX_CACHE") or tempfile.mkdtemp(prefix="jax-cache-")
os.environ["SOBOLEV_TEST_JAX_CACHE"] = _folder
os.environ["JAX_COMPILATION_CACHE_DIR"] = _folder  # read by subprocesses' JAX at start-up
jax.config.update("jax_compilation_cache_dir", _folder)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
