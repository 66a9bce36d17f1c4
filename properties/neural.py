"""The neural case on a finite evaluation set: small MLP critics ``Z(s, a, ξ)``, a tanh
policy and a stochastic tanh transition, with parameters as explicit pytrees so one
jitted function serves every drawn network of a given shape."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import sobolev_core as sc

__all__ = ["NeuralCase", "critic_apply", "neural_backup", "random_neural_case"]


def critic_apply(params, state, action, xi):
    """``Z(s, a, ξ) = v · tanh(W [s; a; ξ] + c)``: a scalar, smooth in ``(s, a)``."""
    hidden = jnp.tanh(params["W"] @ jnp.concatenate([state, action, xi]) + params["c"])
    return params["v"] @ hidden


def policy_apply(params, state):
    return jnp.tanh(params["K"] @ state)


def transition_apply(params, state, action, eps):
    """``s' = tanh(A s + B a) + σ ε``, ``r = -|s|² + u · a + ε₀ a₀``."""
    next_state = jnp.tanh(params["A"] @ state + params["B"] @ action) + params["sigma"] * eps
    reward = -jnp.sum(state**2) + params["u"] @ action + eps[0] * action[0]
    return next_state, reward


@dataclass(frozen=True, eq=False)
class NeuralCase:
    """Two critics (``η₁``, ``η₂``), one policy and one transition, as parameter pytrees."""

    critic_a: dict
    critic_b: dict
    policy: dict
    transition: dict
    gamma: float

    @property
    def state_dim(self) -> int:
        return self.transition["A"].shape[0]

    @property
    def action_dim(self) -> int:
        return self.transition["B"].shape[1]


def random_neural_case(
    rng: np.random.Generator, *, state_dim=2, action_dim=1, width=8, xi_dim=1, gamma=0.9, scale=0.5
) -> NeuralCase:
    n, m = state_dim, action_dim

    def critic():
        return dict(
            W=rng.normal(scale=scale, size=(width, n + m + xi_dim)),
            c=rng.normal(size=width),
            v=rng.normal(scale=scale, size=width),
        )

    return NeuralCase(
        critic_a=critic(),
        critic_b=critic(),
        policy=dict(K=rng.normal(scale=scale, size=(m, n))),
        transition=dict(
            A=rng.normal(scale=scale, size=(n, n)),
            B=rng.normal(scale=scale, size=(n, m)),
            u=rng.normal(size=m),
            sigma=np.asarray(0.2),
        ),
        gamma=gamma,
    )


@functools.partial(jax.jit, static_argnames=())
def _backup_arrays(
    critic_a, critic_b, policy, transition, points, transition_noises, critic_noises
):
    n = transition["A"].shape[0]

    def one(point, eps):
        s, a = point[:n], point[n:]
        offset, linear = sc.neural_affine_map(
            lambda x: policy_apply(policy, x),
            lambda x, u, e: transition_apply(transition, x, u, e),
            s,
            a,
            eps,
        )
        next_state, _ = transition_apply(transition, s, a, eps)
        next_action = policy_apply(policy, next_state)

        def sobolev_sample(params, xi):
            value, (ds, da) = jax.value_and_grad(critic_apply, argnums=(1, 2))(
                params, next_state, next_action, xi
            )
            return jnp.concatenate([value[None], ds, da])

        law_a = jax.vmap(lambda xi: sobolev_sample(critic_a, xi))(critic_noises)
        law_b = jax.vmap(lambda xi: sobolev_sample(critic_b, xi))(critic_noises)
        return offset, linear, law_a, law_b

    per_noise = jax.vmap(one, in_axes=(None, 0))
    return jax.vmap(per_noise, in_axes=(0, None))(points, transition_noises)


def neural_backup(case: NeuralCase, points, transition_noises, critic_noises):
    """The neural operator on an evaluation set, as ``(transitions, next_a, next_b)``.

    Each evaluation point ``(s, a)`` (rows of ``points``, ``[s; a]``) and each transition noise
    ``ε_k`` gives a branch ``(1/K, j, b, L)`` (``neural_affine_map``) reading the law at
    ``(s'_k, π(s'_k))``: the complete Sobolev samples ``(Z, ∇_s Z, ∇_a Z)`` of each critic over
    ``critic_noises``. float64 under ``jax.enable_x64``, else float32 (laws are converted to
    float64 NumPy).
    """
    offsets, linears, laws_a, laws_b = _backup_arrays(
        case.critic_a,
        case.critic_b,
        case.policy,
        case.transition,
        jnp.asarray(points),
        jnp.asarray(transition_noises),
        jnp.asarray(critic_noises),
    )
    offsets, linears = np.asarray(offsets, dtype=float), np.asarray(linears, dtype=float)
    laws_a, laws_b = np.asarray(laws_a, dtype=float), np.asarray(laws_b, dtype=float)
    n_points, n_noises = offsets.shape[:2]
    transitions, next_a, next_b = [], [], []
    for e in range(n_points):
        row = []
        for k in range(n_noises):
            row.append((1.0 / n_noises, len(next_a), offsets[e, k], linears[e, k]))
            next_a.append(sc.ParticleLaw(laws_a[e, k]))
            next_b.append(sc.ParticleLaw(laws_b[e, k]))
        transitions.append(row)
    return transitions, next_a, next_b
