"""Typed claim records: what every claim runner writes and every report reads."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Record", "library_versions", "load_records", "save_records"]

VERDICTS = ("holds", "fails", "detected", "missed")
_LIBRARIES = (
    "sobolev-verify",
    "numpy",
    "scipy",
    "jax",
    "pot",
    "torch",
    "hypothesis",
    "gymnasium",
    "mujoco",
)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a result depends on, plus Python and the machine."""
    versions = {"python": platform.python_version(), "machine": platform.machine()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class Record:
    """One measured check of one claim on one case.

    ``measured`` is compared with ``bound`` (for contraction: the worst ratio found and the
    theorem's modulus). ``expected`` is ``"holds"`` for a claim and ``"fails"`` for a
    negative control; ``verdict`` is ``holds``/``fails`` for claims and ``detected``/``missed``
    for negative controls, so a report passes when no verdict is ``fails`` or ``missed``.
    """

    claim: str
    case: str
    settings: dict[str, Any]
    seed: int
    measured: float
    bound: float
    verdict: str
    expected: str = "holds"
    details: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")

    @property
    def ok(self) -> bool:
        return self.verdict in ("holds", "detected")


def save_records(records: list[Record], path: Path) -> None:
    """Write records as JSON atomically (temporary file, then rename)."""
    path = Path(path)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps([asdict(r) for r in records], indent=2, sort_keys=True))
    temporary.replace(path)


def load_records(path: Path) -> list[Record]:
    """Read records written by ``save_records``; a malformed file is a ``ValueError``."""
    try:
        raw = json.loads(Path(path).read_text())
        return [Record(**item) for item in raw]
    except (OSError, json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"cannot read records from {str(path)!r}: {error}") from None
