"""Deliberately broken Sobolev operators: negative controls for the property suites (C4d).

Each mutant has the signature of ``sobolev_core.sobolev_affine_map`` (some need ``gamma``
bound first) and gets one thing wrong. A suite that checks operators should catch every
one of them; ``tests/properties`` shows which property does.
"""

from __future__ import annotations

import numpy as np

import sobolev_core as sc

__all__ = [
    "MUTANTS",
    "done_mask_dropped",
    "gamma_dropped",
    "missing_transpose",
    "policy_jac_ignored",
]


def missing_transpose(reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, *, coupling=None, done=0.0):
    """Uses ``F_s`` where the chain rule needs ``F_sᵀ``."""
    return sc.sobolev_affine_map(
        reward, dr_ds, dr_da, np.asarray(jac_s).T, jac_a, policy_jac, coupling=coupling, done=done
    )


def policy_jac_ignored(reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, *, coupling=None, done=0.0):
    """Treats the next action as fixed: ``Π' = 0``."""
    return sc.sobolev_affine_map(
        reward, dr_ds, dr_da, jac_s, jac_a, np.zeros_like(policy_jac), coupling=coupling, done=done
    )


def done_mask_dropped(reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, *, coupling=None, done=0.0):
    """Bootstraps through terminal transitions."""
    return sc.sobolev_affine_map(
        reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, coupling=coupling, done=0.0
    )


def gamma_dropped(gamma: float):
    """Returns a map whose gradient block is ``∂r + Fᵀ c`` instead of ``∂r + γ Fᵀ c``
    (the caller multiplies ``L`` by ``gamma``, so the block is divided by it here)."""

    def affine_map(reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, *, coupling=None, done=0.0):
        offset, linear = sc.sobolev_affine_map(
            reward, dr_ds, dr_da, jac_s, jac_a, policy_jac, coupling=coupling, done=done
        )
        unscaled = linear / gamma
        unscaled[0, :] = linear[0, :]  # the value block keeps its γ
        return offset, unscaled

    return affine_map


MUTANTS = {
    "missing_transpose": lambda gamma: missing_transpose,
    "policy_jac_ignored": lambda gamma: policy_jac_ignored,
    "done_mask_dropped": lambda gamma: done_mask_dropped,
    "gamma_dropped": gamma_dropped,
}
