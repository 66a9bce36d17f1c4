"""Hypothesis settings profiles: ``default`` (fast), ``ci`` (derandomised), ``thorough``.

Select with ``--sobolev-profile thorough`` or ``SOBOLEV_PROFILE=thorough`` (the pytest
plugin in ``properties.plugin`` loads it; Hypothesis's ``--hypothesis-profile`` also works);
when ``CI`` is set and no profile is named, ``ci`` is loaded.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = {
    "default": dict(max_examples=25, deadline=None),
    "ci": dict(max_examples=25, deadline=None, derandomize=True, print_blob=True),
    "thorough": dict(max_examples=400, deadline=None),
}
_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]

for _name, _options in PROFILES.items():
    settings.register_profile(_name, suppress_health_check=_SUPPRESS, **_options)


def load_profile(name: str | None = None) -> str:
    """Load ``name``, else ``$SOBOLEV_PROFILE``, else ``ci`` under CI, else ``default``."""
    chosen = (
        name or os.environ.get("SOBOLEV_PROFILE") or ("ci" if os.environ.get("CI") else "default")
    )
    if chosen not in PROFILES:
        raise ValueError(
            f"the Hypothesis profile must be one of {sorted(PROFILES)}; got {chosen!r}"
        )
    settings.load_profile(chosen)
    return chosen
