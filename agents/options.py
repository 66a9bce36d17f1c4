"""Hyperparameter options: user values (``--option NAME=JSON``) into an agent's config, and the
range checks every config's ``check()`` shares.

:func:`hyperparameters` checks each option's **type** against the config's default for it:
an integer for an ``int``, a number for a ``float`` (finite), ``true``/``false`` for a
``bool``, a string for a ``str``, and a list whose entries have the default's entry types for
a ``tuple`` (``hidden=[64, 64]``; ``[64.5]`` or ``[64, "a"]`` is refused). Then it calls the
config's ``check()``, which calls :func:`check_fields` for the **ranges**.

:func:`check_fields` applies one rule per field name, the same in every agent since the
names mean the same there:

- a count (an ``int`` field) is ``>= 1``; ``start_steps`` (random steps before learning) is
  ``>= 0``;
- a layer-size list (a tuple of ints: ``hidden``, ``model_hidden``) is non-empty with sizes
  ``>= 1``;
- every float is finite; learning rates, ``init_alpha``, ``huber_delta`` and ``fd_eps`` are
  ``> 0``; noise scales and loss weights are ``>= 0``; ``gamma`` is in ``[0, 1)``, ``tau``
  in ``(0, 1]`` and ``truncate`` in ``[0, 1)``.

>>> import dataclasses
>>> @dataclasses.dataclass(frozen=True)
... class Config:
...     hidden: tuple[int, ...] = (8, 8)
...     gamma: float = 0.9
...     def check(self):
...         check_fields(self)
>>> hyperparameters(Config, {"hidden": [4], "gamma": 0})
Config(hidden=(4,), gamma=0.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from sobolev_core import check_gamma

__all__ = ["check_fields", "hyperparameters"]

_FROM_ZERO = frozenset({"start_steps"})
_POSITIVE = frozenset(
    {"actor_lr", "critic_lr", "model_lr", "alpha_lr", "init_alpha", "huber_delta", "fd_eps"}
)
_NON_NEGATIVE = frozenset(
    {
        "policy_noise",
        "noise_clip",
        "exploration_noise",
        "gradient_weight",
        "huber_weight",
        "lambda_s",
        "lambda_a",
    }
)
# name -> (low, high, low included, high included); gamma is sobolev_core.check_gamma's
_INTERVALS = {
    "tau": (0.0, 1.0, False, True),
    "truncate": (0.0, 1.0, True, False),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _convert(name: str, default: Any, value: Any, where: str = "") -> Any:
    """``value`` as the type of ``default``, else ``ValueError`` naming the option."""
    label = f"option {name!r}{where}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{label} must be true or false; got {value!r}")
        return value
    if isinstance(default, int):
        if not _is_int(value):
            raise ValueError(f"{label} must be an integer; got {value!r}")
        return value
    if isinstance(default, float):
        if not _is_number(value) or not math.isfinite(value):
            raise ValueError(f"{label} must be a finite number; got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f"{label} must be a string; got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{label} must be a list, like {list(default)}; got {value!r}")
        if not default:
            return tuple(value)
        kinds = {type(entry) for entry in default}
        if len(kinds) != 1:
            return tuple(value)
        return tuple(
            _convert(name, default[0], entry, f"{where} entry {index}")
            for index, entry in enumerate(value)
        )
    return value


def hyperparameters(cls: type, options: Mapping[str, Any]):
    """``cls()`` with ``options`` applied, checked by ``cls.check()`` when it has one.

    ``ValueError`` names an unknown option (listing the accepted ones), a value of the wrong
    type (module docstring) or out of range (``check()``).
    """
    if not isinstance(options, Mapping):
        raise ValueError(f"options must be a mapping of names to values; got {options!r}")
    names = {item.name for item in dataclasses.fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(
            f"option(s) {', '.join(map(repr, unknown))} unknown for {cls.__name__}; accepted: "
            f"{', '.join(sorted(names))}"
        )
    defaults = cls()
    values = {
        name: _convert(name, getattr(defaults, name), value) for name, value in options.items()
    }
    hyper = dataclasses.replace(defaults, **values)
    check = getattr(hyper, "check", None)
    if check is not None:
        check()
    return hyper


def _is_size_list(default: Any) -> bool:
    return isinstance(default, tuple) and bool(default) and all(map(_is_int, default))


def _check_interval(name: str, value: float) -> None:
    low, high, low_in, high_in = _INTERVALS[name]
    above = value >= low if low_in else value > low
    below = value <= high if high_in else value < high
    if not (above and below):
        shown = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
        raise ValueError(f"option {name!r} must be in {shown}; got {value!r}")


def check_fields(config: Any) -> None:
    """``ValueError`` naming the first field of the dataclass ``config`` out of its range
    (the rules of the module docstring); strings and booleans are left to the caller."""
    for item in dataclasses.fields(config):
        name, value = item.name, getattr(config, item.name)
        if isinstance(value, bool | str):
            continue
        if _is_int(value):
            low = 0 if name in _FROM_ZERO else 1
            if value < low:
                raise ValueError(f"option {name!r} must be an integer >= {low}; got {value!r}")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"option {name!r} must be a finite number; got {value!r}")
            if name in _POSITIVE and not value > 0:
                raise ValueError(f"option {name!r} must be > 0; got {value!r}")
            if name in _NON_NEGATIVE and not value >= 0:
                raise ValueError(f"option {name!r} must be >= 0; got {value!r}")
            if name == "gamma":
                check_gamma(value, f"option {name!r}")
            if name in _INTERVALS:
                _check_interval(name, value)
        elif isinstance(value, tuple) and _is_size_list(item.default):
            if not value or min(value) < 1:
                raise ValueError(
                    f"option {name!r} must be a non-empty list of sizes >= 1; got {list(value)!r}"
                )
