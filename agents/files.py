"""The one place that writes result files: atomic writes, JSON, and the writable-folder check.

Every file a run, a claim runner or the CLI leaves behind is written here, so a crash or a
signal mid-write never leaves half a file: the bytes go to a temporary file in the same folder,
are flushed to disk, and the temporary file is renamed over the target (``os.replace`` is atomic
on POSIX and Windows within one file system). The temporary name carries the process id, so two
processes writing the same target never share a temporary file.

``agents`` is the lowest layer that writes files; ``verify`` imports these functions from here.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FolderNotWritable", "json_default", "writable_folder", "write_atomic", "write_json"]


def write_atomic(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for NumPy scalars and arrays and dataclasses."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json(
    path: str | os.PathLike,
    payload: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = True,
    default: Callable[[Any], Any] = json_default,
) -> None:
    """Write ``payload`` as JSON (with a final newline) atomically."""
    text = json.dumps(payload, indent=indent, sort_keys=sort_keys, default=default) + "\n"
    write_atomic(path, text.encode())


class FolderNotWritable(ValueError):
    """The folder cannot be created or written; the message names it and the OS reason."""


def writable_folder(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and prove it writable by writing and removing a probe file.

    Raises :class:`FolderNotWritable` (a ``ValueError``) whose message reads
    ``cannot write to '<path>': <reason>``; the CLI prefixes the option's name.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test.{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise FolderNotWritable(f"cannot write to {str(folder)!r}: {reason}") from None
    return folder
