"""Bad usage and missing extras: the one-line errors every command shares.

The CLI (:mod:`verify.cli`) and each command module (``*_job.py``) import from here, so no
command module imports the CLI back.
"""

from __future__ import annotations

import argparse

__all__ = ["EXTRAS", "UsageError", "missing_extra", "missing_extra_message", "seed_value"]


# Top-level module -> the install extra that provides it (pyproject.toml).
EXTRAS = {
    "gymnasium": "agents",
    "mujoco": "agents",
    "optax": "agents",
    "torch": "torch",
    "ray": "ray",
    "hypothesis": "test",
    "pytest": "test",
    "stable_baselines3": "compare",
}


class UsageError(Exception):
    """Bad command-line usage: reported as one line, exit status 2."""


def missing_extra(error: ImportError) -> str | None:
    """``"agents"`` (say) when ``error`` is a missing module of an install extra, else ``None``."""
    name = getattr(error, "name", None) or ""
    return EXTRAS.get(name.split(".")[0]) if isinstance(error, ModuleNotFoundError) else None


def missing_extra_message(error: ImportError) -> str | None:
    """One line naming the missing module and the extra to install, or ``None``."""
    extra = missing_extra(error)
    if extra is None:
        return None
    return (
        f"needs the Python package {error.name.split('.')[0]!r}, which is not installed; "
        f"install the {extra!r} extra: pip install 'sobolev-verify[{extra}]'"
    )


def seed_value(text: str) -> int:
    """``argparse`` type of a seed: an integer >= 0 (NumPy, JAX and Gymnasium need that)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {value}")
    return value


def writable_out(path, prefix: str = "", option: str = "--out"):
    """``agents.files.writable_folder(path)``, its failure a one-line :class:`UsageError`
    naming ``option``: ``"<prefix> cannot write to --out '<path>': <reason>"``."""
    from agents.files import FolderNotWritable, writable_folder

    try:
        return writable_folder(path)
    except FolderNotWritable as error:  # "cannot write to '<path>': <reason>"
        text = str(error).replace("to ", f"to {option} ", 1)
        raise UsageError(f"{prefix} {text}" if prefix else text) from None
