"""A nonlinear stochastic test system with analytic Jacobians (NumPy float64).

    s' = tanh(A s + B a) + σ ε ⊙ (1 + ½ sin s),     π(s) = tanh(K s),
    r  = -|s - c|² - ρ |a|² + sin(s₀ a₀) ε₀,

with a fixed noise sequence ``ε_t`` and terminal flags ``done_t``. The pathwise return
``G(s, a) = Σ_t γ^t r_t`` (summed up to and including the first terminal step) is a smooth
function of ``(s, a)``; its derivatives are the ground truth the operator's chain rule
must reproduce (checked by finite differences in the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import sobolev_core as sc

__all__ = ["TanhSystem", "operator_sobolev_return", "pathwise_return", "random_tanh_system"]


@dataclass(frozen=True, eq=False)
class TanhSystem:
    """Parameters of the system above; ``A (n, n)``, ``B (n, m)``, ``K (m, n)``, ``c (n,)``."""

    A: np.ndarray
    B: np.ndarray
    K: np.ndarray
    c: np.ndarray
    noise_scale: float = 0.3
    action_cost: float = 0.1

    @property
    def state_dim(self) -> int:
        return self.A.shape[0]

    @property
    def action_dim(self) -> int:
        return self.B.shape[1]

    def policy(self, state):
        return np.tanh(self.K @ state)

    def policy_jac(self, state):
        return (1.0 - np.tanh(self.K @ state) ** 2)[:, None] * self.K

    def step(self, state, action, noise):
        """``(s', r)`` for one transition."""
        drift = np.tanh(self.A @ state + self.B @ action)
        next_state = drift + self.noise_scale * noise * (1.0 + 0.5 * np.sin(state))
        reward = (
            -np.sum((state - self.c) ** 2)
            - self.action_cost * np.sum(action**2)
            + np.sin(state[0] * action[0]) * noise[0]
        )
        return next_state, float(reward)

    def jacobians(self, state, action, noise) -> dict:
        """Reward, its gradients and ``F_s, F_a`` at ``(s, a, ε)`` (analytic)."""
        slope = 1.0 - np.tanh(self.A @ state + self.B @ action) ** 2
        jac_s = slope[:, None] * self.A + np.diag(self.noise_scale * noise * 0.5 * np.cos(state))
        jac_a = slope[:, None] * self.B
        dr_ds = -2.0 * (state - self.c)
        dr_da = -2.0 * self.action_cost * action
        dr_ds[0] += np.cos(state[0] * action[0]) * action[0] * noise[0]
        dr_da[0] += np.cos(state[0] * action[0]) * state[0] * noise[0]
        _, reward = self.step(state, action, noise)
        return dict(reward=reward, dr_ds=dr_ds, dr_da=dr_da, jac_s=jac_s, jac_a=jac_a)


def random_tanh_system(
    rng: np.random.Generator, state_dim: int = 3, action_dim: int = 2, scale: float = 0.6
) -> TanhSystem:
    n, m = state_dim, action_dim
    return TanhSystem(
        A=rng.normal(scale=scale, size=(n, n)),
        B=rng.normal(scale=scale, size=(n, m)),
        K=rng.normal(scale=scale, size=(m, n)),
        c=rng.normal(size=n),
    )


def pathwise_return(system: TanhSystem, state, action, noises, dones, gamma: float) -> float:
    """``Σ_t γ^t r_t`` along the fixed noise, stopping after the first ``done_t = 1``."""
    total, discount = 0.0, 1.0
    for noise, done in zip(noises, dones, strict=True):
        state, reward = system.step(state, action, noise)
        total += discount * reward
        if done:
            break
        discount *= gamma
        action = system.policy(state)
    return total


def operator_sobolev_return(
    system: TanhSystem,
    state,
    action,
    noises,
    dones,
    gamma: float,
    affine_map: Callable = sc.sobolev_affine_map,
) -> np.ndarray:
    """``X_0`` from the backward recursion ``X_t = b_t + γ L_t X_{t+1}``, ``X_T = 0``.

    ``affine_map`` has the signature of ``sobolev_core.sobolev_affine_map`` (pass a broken
    one to see the chain-rule property fail).
    """
    maps = []
    for noise, done in zip(noises, dones, strict=True):
        parts = system.jacobians(state, action, noise)
        next_state, _ = system.step(state, action, noise)
        maps.append(affine_map(**parts, policy_jac=system.policy_jac(next_state), done=float(done)))
        state, action = next_state, system.policy(next_state)
    sobolev_return = np.zeros(1 + system.state_dim + system.action_dim)
    for offset, linear in reversed(maps):
        sobolev_return = offset + gamma * linear @ sobolev_return
    return sobolev_return
