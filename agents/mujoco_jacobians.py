"""Old import path of :mod:`agents.mujoco_fd` (FD step Jacobians) and :mod:`agents.mujoco_kappa`.

Kept only while other modules still import from here (``agents.envs``, ``agents.training``,
``verify.claims.kappa``, ``tests/agents/test_noise_and_toy.py`` and the ``agents.noise``
doctest); new code imports from the two modules directly. Nothing in the project imports
this module, so it closes no import cycle.
"""

from __future__ import annotations

from agents.mujoco_fd import (
    ENV_IDS,
    FD_METHODS,
    CentralSteps,
    StepJacobians,
    TransitionJacobians,
    central_steps,
    central_tangent_columns,
    env_step_jacobians,
    make_env,
    physics_state,
    state_tangent_map,
    step_jacobians,
    transition_fd_reference,
)
from agents.mujoco_kappa import (
    KappaRollout,
    Policy,
    RandomLinearPolicy,
    kappa_along_rollout,
    random_linear_policy,
)

__all__ = [
    "ENV_IDS",
    "FD_METHODS",
    "CentralSteps",
    "KappaRollout",
    "Policy",
    "RandomLinearPolicy",
    "StepJacobians",
    "TransitionJacobians",
    "central_steps",
    "central_tangent_columns",
    "env_step_jacobians",
    "kappa_along_rollout",
    "make_env",
    "physics_state",
    "random_linear_policy",
    "state_tangent_map",
    "step_jacobians",
    "transition_fd_reference",
]
