"""Typed claim records: what every claim runner writes and every report reads.

A verdict is one of three kinds: a theorem check ``holds`` or ``fails``; a negative control
(``expected="fails"``) is ``detected`` or ``missed``; an empirical claim is ``supported``,
``contradicted`` or ``inconclusive`` (its own state: not a pass, not a failure). Records
written before the empirical verdicts existed carry only the first two kinds and still load.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from agents.files import write_json

__all__ = [
    "EMPIRICAL_VERDICTS",
    "FAILING",
    "PASSING",
    "VERDICTS",
    "VERDICTS_FOR",
    "Record",
    "library_versions",
    "load_records",
    "save_records",
]

EMPIRICAL_VERDICTS = ("supported", "contradicted", "inconclusive")
VERDICTS = ("holds", "fails", "detected", "missed", *EMPIRICAL_VERDICTS)
# expected outcome -> the verdicts a record with that expectation may carry
VERDICTS_FOR = {"holds": ("holds", "fails", *EMPIRICAL_VERDICTS), "fails": ("detected", "missed")}
PASSING = ("holds", "detected", "supported")
FAILING = ("fails", "missed", "contradicted")
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
    negative control; ``verdict`` is ``holds``/``fails`` for theorem checks,
    ``detected``/``missed`` for negative controls and ``supported``/``contradicted``/
    ``inconclusive`` for empirical claims. A report fails when any verdict is ``fails``,
    ``missed`` or ``contradicted`` (``failed``); otherwise it is inconclusive when any is
    ``inconclusive``; otherwise it passes (every record ``ok``).
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
        if self.expected not in VERDICTS_FOR:
            raise ValueError(f"expected must be holds or fails; got {self.expected!r}")
        if self.verdict not in VERDICTS_FOR[self.expected]:
            raise ValueError(
                f"verdict {self.verdict!r} does not go with expected {self.expected!r} "
                f"(accepted: {', '.join(VERDICTS_FOR[self.expected])})"
            )

    @property
    def ok(self) -> bool:
        """Holds, detected or supported."""
        return self.verdict in PASSING

    @property
    def failed(self) -> bool:
        """Fails, missed or contradicted."""
        return self.verdict in FAILING

    @property
    def inconclusive(self) -> bool:
        return self.verdict == "inconclusive"


def save_records(records: list[Record], path: Path) -> None:
    """Write records as JSON atomically (temporary file, then rename); each must be a
    :class:`Record` (whose construction checked its verdict)."""
    for index, record in enumerate(records):
        if not isinstance(record, Record):
            raise ValueError(f"record {index} is {type(record).__name__}, not a Record")
    write_json(path, [asdict(r) for r in records], indent=2, sort_keys=True)


# What a record in records.json must hold: field -> (accepted JSON types, their name).
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "claim": ((str,), "a string"),
    "case": ((str,), "a string"),
    "settings": ((dict,), "an object"),
    "seed": ((int,), "an integer"),
    "measured": ((int, float), "a number"),
    "bound": ((int, float), "a number"),
    "verdict": ((str,), f"one of {', '.join(VERDICTS)}"),
    "expected": ((str,), "holds or fails"),
    "details": ((dict,), "an object"),
    "versions": ((dict,), "an object"),
}
_OPTIONAL = ("expected", "details", "versions")
EXPECTED_SHAPE = (
    "expected a JSON list of records (what `sobolev-verify report` writes to records.json), "
    "each an object with claim, case, settings, seed, measured, bound and verdict"
)


def _check_record(item: Any, index: int) -> None:
    where = f"record {index}"
    if not isinstance(item, dict):
        raise ValueError(f"{where} is {type(item).__name__} {item!r:.60}, not an object")
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)}")
    missing = [name for name in _FIELDS if name not in item and name not in _OPTIONAL]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    for name, value in item.items():
        types, text = _FIELDS[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(f"{where}: {name} must be {text}; got {value!r:.60}")
    if item["verdict"] not in VERDICTS:
        raise ValueError(f"{where}: verdict must be one of {VERDICTS}; got {item['verdict']!r}")
    expected = item.get("expected", "holds")
    if expected not in VERDICTS_FOR:
        raise ValueError(f"{where}: expected must be holds or fails; got {expected!r}")
    if item["verdict"] not in VERDICTS_FOR[expected]:
        raise ValueError(
            f"{where}: verdict {item['verdict']!r} does not go with expected {expected!r} "
            f"(accepted: {', '.join(VERDICTS_FOR[expected])})"
        )


def load_records(path: Path) -> list[Record]:
    """Read records written by ``save_records``; a malformed file is a ``ValueError`` naming
    the file, the first bad record and field, and the expected shape."""
    source = f"cannot read records from {str(path)!r}"
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as error:
        raise ValueError(f"{source}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{source}: not JSON ({error}); {EXPECTED_SHAPE}") from None
    if not isinstance(raw, list):
        kind = {dict: "an object", str: "a string"}.get(type(raw), f"a {type(raw).__name__}")
        raise ValueError(f"{source}: it holds {kind}, not a list; {EXPECTED_SHAPE}")
    if not raw:
        raise ValueError(f"{source}: it holds no records (an empty list); {EXPECTED_SHAPE}")
    try:
        for index, item in enumerate(raw):
            _check_record(item, index)
    except ValueError as error:
        raise ValueError(f"{source}: {error}; {EXPECTED_SHAPE}") from None
    return [Record(**item) for item in raw]
