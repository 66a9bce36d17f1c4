"""Sobolev core: kernels, metrics and Sobolev Bellman operators as pure array functions."""
from sobolev_core._kernels import *  # noqa: F403
from sobolev_core._metrics import *  # noqa: F403
