"""Sobolev targets for the neural case by automatic differentiation (docs/math.md#operator, docs/agents.md).

Given a critic ``Z(s, a, ξ)``, a policy ``π(s)`` and a reparameterised transition
``(s', r) = g(s, a, ε)`` — true dynamics or a learned world model, all JAX callables —
the target sample and its derivatives are those of

    y(s, a) = r(s, a, ε) + γ (1 - done) Z(s', π(s'), ξ'),   s' = g_s(s, a, ε),

differentiated through the transition, the policy and the critic with the noise
``(ε, ξ')`` held fixed (the pathwise derivative). The gradient blocks equal the chain
rule of docs/math.md#operator, ``∂_s r + γ F_sᵀ (u' + Π'ᵀ v')`` and ``∂_a r + γ F_aᵀ (u' + Π'ᵀ v')``.
Functions act on one example; batch with ``jax.vmap``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from sobolev_core._operator import sobolev_affine_map

__all__ = ["SobolevTarget", "neural_affine_map", "sobolev_target"]

Critic = Callable[[Any, Any, Any], Any]
Policy = Callable[[Any], Any]
TransitionFn = Callable[[Any, Any, Any], tuple[Any, Any]]


class SobolevTarget(NamedTuple):
    """One target sample: ``value`` (scalar), ``grad_state`` ``(n,)`` or None, ``grad_action`` ``(m,)``."""

    value: Any
    grad_state: Any
    grad_action: Any

    def as_vector(self):
        """``(y, ∇_s y, ∇_a y)`` (complete) or ``(y, ∇_a y)`` (incomplete) as one vector."""
        parts = [jnp.reshape(self.value, (1,))]
        if self.grad_state is not None:
            parts.append(self.grad_state)
        parts.append(self.grad_action)
        return jnp.concatenate(parts)


def _check_example(state, action) -> None:
    if jnp.ndim(state) != 1 or jnp.ndim(action) != 1:
        raise ValueError(
            f"state and action must be single examples of shape (n,) and (m,) (batch with "
            f"jax.vmap); got shapes {jnp.shape(state)} and {jnp.shape(action)}"
        )


def sobolev_target(
    critic: Critic,
    policy: Policy,
    transition: TransitionFn,
    state,
    action,
    transition_noise,
    critic_noise,
    done,
    gamma: float,
    *,
    complete: bool = True,
) -> SobolevTarget:
    """Target sample ``y`` and its pathwise derivatives for one transition.

    Args:
      critic: ``Z(s, a, ξ) -> scalar`` (a frozen target critic; close over its parameters).
      policy: ``π(s) -> (m,)`` (the target policy).
      transition: ``g(s, a, ε) -> (s', r)``; ``r`` a scalar.
      state, action: ``(n,)`` and ``(m,)``.
      transition_noise: ``ε``, any pytree the transition accepts.
      critic_noise: ``ξ'``, any pytree the critic accepts.
      done: 1 for terminal transitions (no bootstrap), else 0.
      gamma: discount in [0, 1).
      complete: ``True`` for ``(y, ∇_s y, ∇_a y)``, ``False`` for ``(y, ∇_a y)``.
    """
    _check_example(state, action)

    def target(state_in, action_in):
        next_state, reward = transition(state_in, action_in, transition_noise)
        next_value = critic(next_state, policy(next_state), critic_noise)
        value = reward + gamma * (1.0 - done) * next_value
        if jnp.shape(value) != ():
            raise ValueError(
                f"reward and critic must be scalars; the target has shape {jnp.shape(value)}"
            )
        return value

    if complete:
        value, (grad_state, grad_action) = jax.value_and_grad(target, argnums=(0, 1))(state, action)
        return SobolevTarget(value, grad_state, grad_action)
    value, grad_action = jax.value_and_grad(target, argnums=1)(state, action)
    return SobolevTarget(value, None, grad_action)


def neural_affine_map(
    policy: Policy,
    transition: TransitionFn,
    state,
    action,
    transition_noise,
    done=0.0,
    *,
    coupling=None,
):
    """``(b, L)`` of the Sobolev backup at ``(s, a, ε)`` from the Jacobians of ``g`` and ``π``.

    ``F_s, F_a`` and the reward gradients come from ``jax.jacobian`` of the transition,
    ``Π'`` from the policy at ``s'``; then ``sobolev_affine_map`` assembles ``(b, L)``.
    """
    _check_example(state, action)

    def step(state_in, action_in):
        return transition(state_in, action_in, transition_noise)

    (next_state, reward) = step(state, action)
    (jac_s, jac_a), (dr_ds, dr_da) = (
        jax.jacobian(lambda s, a: step(s, a)[0], argnums=(0, 1))(state, action),
        jax.grad(lambda s, a: step(s, a)[1], argnums=(0, 1))(state, action),
    )
    policy_jac = jax.jacobian(policy)(next_state)
    return sobolev_affine_map(
        jnp.asarray(reward), dr_ds, dr_da, jac_s, jac_a, policy_jac, coupling=coupling, done=done
    )
