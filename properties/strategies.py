"""Hypothesis strategies for Sobolev problems: keyword-only, validated, plural-named.

Each strategy draws its arrays from Hypothesis primitives (so counterexamples shrink to
small, readable numbers) and assembles them with the builders in ``properties.generators``.
"""

from __future__ import annotations

from dataclasses import dataclass

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import assume, reject
from hypothesis import strategies as st

import sobolev_core as sc
from properties.generators import TabularParts, build_tabular_mdp, parts_with_kappa
from properties.systems import TanhSystem

__all__ = [
    "MODULUS_REGIMES",
    "TabularCase",
    "chain_rule_cases",
    "kernels",
    "law_pairs",
    "linear_gaussian_systems",
    "neural_cases",
    "particle_laws",
    "tabular_cases",
]

MODULUS_REGIMES = ("below", "at", "above")


def _check_range(name: str, value, low: int, high: int) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    if not (
        isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value)
    ):
        raise ValueError(f"{name} must be an int or a (min, max) tuple of ints; got {value!r}")
    if not (low <= value[0] <= value[1] <= high):
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}; got {value!r}")
    return value


def _floats(low: float, high: float):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _arrays(shape, low=-2.0, high=2.0):
    return hnp.arrays(np.float64, shape, elements=_floats(low, high))


@dataclass(frozen=True)
class TabularCase:
    """A drawn tabular problem: the MDP, its raw (rescaled) parts, and ``γκ``."""

    mdp: sc.TabularSobolevMDP
    parts: TabularParts
    modulus: float

    @property
    def jacobians(self) -> list[dict]:
        return [b for row in self.parts.branches for b in row]


@st.composite
def tabular_cases(
    draw,
    *,
    n_state_actions=(1, 3),
    n_branches=(1, 3),
    state_dim=(1, 2),
    action_dim=(1, 2),
    gamma=(0.1, 0.95),
    modulus: str = "below",
    complete: bool | None = True,
    terminal: bool = True,
):
    """Tabular Sobolev MDPs whose modulus ``γκ`` is ``"below"`` 1, ``"at"`` 1 or ``"above"`` 1.

    Jacobians, policy Jacobians and reward gradients are drawn in [-2, 2], then ``F_s, F_a``
    are rescaled to set ``κ = max ‖L‖_op`` (``κ >= 1`` always: gradient awareness cannot
    beat plain distributional RL). ``complete=None`` draws either operator; ``terminal``
    allows terminal branches (``L = 0``).
    """
    n_state_actions = _check_range("n_state_actions", n_state_actions, 1, 50)
    n_branches = _check_range("n_branches", n_branches, 1, 20)
    state_dim = _check_range("state_dim", state_dim, 1, 10)
    action_dim = _check_range("action_dim", action_dim, 1, 10)
    if modulus not in MODULUS_REGIMES:
        raise ValueError(f"modulus must be one of {MODULUS_REGIMES}; got {modulus!r}")
    if not (isinstance(gamma, tuple) and 0 < gamma[0] <= gamma[1] < 1):
        raise ValueError(f"gamma must be a (low, high) tuple inside (0, 1); got {gamma!r}")
    size = draw(st.integers(*n_state_actions))
    n, m = draw(st.integers(*state_dim)), draw(st.integers(*action_dim))
    is_complete = draw(st.booleans()) if complete is None else complete
    discount = draw(_floats(*gamma))
    probs, next_index, branches = [], [], []
    for _ in range(size):
        count = draw(st.integers(*n_branches))
        raw = draw(_arrays(count, 0.05, 1.0))
        probs.append(raw / raw.sum())
        next_index.append(
            np.asarray(draw(st.lists(st.integers(0, size - 1), min_size=count, max_size=count)))
        )
        row = []
        for _ in range(count):
            branch = dict(
                reward=draw(_floats(-2, 2)),
                dr_ds=draw(_arrays(n)),
                dr_da=draw(_arrays(m)),
                jac_s=draw(_arrays((n, n))),
                jac_a=draw(_arrays((n, m))),
                policy_jac=draw(_arrays((m, n))),
                done=float(draw(st.booleans())) if terminal else 0.0,
            )
            if not is_complete:
                branch["coupling"] = draw(_arrays((n, 1 + m), -1.0, 1.0))
            row.append(branch)
        branches.append(row)
    parts = TabularParts(probs, next_index, branches, is_complete)
    if modulus == "below":
        target = draw(_floats(discount, 0.999)) if discount < 0.999 else discount
    elif modulus == "at":
        target = 1.0
    else:
        target = draw(_floats(max(1.001, discount), 2.0))
    kappa = target / discount
    try:
        parts = parts_with_kappa(parts, max(kappa, 1.0))
    except ValueError:
        reject()  # zero Jacobians or all-terminal: κ cannot be set
    mdp = build_tabular_mdp(parts, discount)
    return TabularCase(mdp, parts, sc.contraction_modulus(mdp))


@st.composite
def particle_laws(
    draw,
    *,
    dimension: int,
    n_particles=(1, 5),
    weighted: bool = True,
    ties: bool = True,
    outliers: bool = True,
    scale: float = 2.0,
):
    """Weighted particle laws on ``R^dimension``; may repeat particles (ties) and push one
    particle far out (an outlier up to 50 times the scale)."""
    if not (isinstance(dimension, int) and dimension >= 1):
        raise ValueError(f"dimension must be a positive int; got {dimension!r}")
    n_particles = _check_range("n_particles", n_particles, 1, 1000)
    count = draw(st.integers(*n_particles))
    points = draw(_arrays((count, dimension), -scale, scale))
    if ties and count > 1 and draw(st.booleans()):
        points[-1] = points[0]
    if outliers and draw(st.booleans()):
        points[0] = points[0] * draw(_floats(1.0, 50.0))
    weights = draw(_arrays(count, 0.05, 1.0)) if weighted else None
    return sc.ParticleLaw(points, weights)


def law_pairs(*, size: int, dimension: int, **law_options):
    """Two families of ``size`` laws each (``η₁``, ``η₂``) on ``R^dimension``."""
    family = st.lists(
        particle_laws(dimension=dimension, **law_options), min_size=size, max_size=size
    )
    return st.tuples(family, family)


@st.composite
def linear_gaussian_systems(
    draw, *, state_dim=(1, 3), action_dim=(1, 2), gamma=(0.5, 0.95), stable: bool = True
):
    """Linear-Gaussian Sobolev systems. ``stable=True``: ``γ ρ(A+BK)² <= 0.9`` (a fixed point
    exists); ``stable=False``: ``γ ρ(A+BK)²`` in [1.1, 3] (no fixed point)."""
    n = draw(st.integers(*_check_range("state_dim", state_dim, 1, 8)))
    m = draw(st.integers(*_check_range("action_dim", action_dim, 1, 8)))
    discount = draw(_floats(*gamma))
    a_mat, b_mat, k_mat = draw(_arrays((n, n))), draw(_arrays((n, m))), draw(_arrays((m, n)))
    closed = a_mat + b_mat @ k_mat
    rho = max(abs(np.linalg.eigvals(closed)))
    assume(rho > 1e-3)
    target = draw(_floats(0.05, 0.9)) if stable else draw(_floats(1.1, 3.0))
    factor = np.sqrt(target / discount) / rho  # A + BK scales with (A, B)
    g_q, g_r, g_s = draw(_arrays((n, n))), draw(_arrays((m, m))), draw(_arrays((n, n), -1.0, 1.0))
    return sc.LinearGaussianSobolev(
        A=factor * a_mat,
        B=factor * b_mat,
        K=k_mat,
        Q=g_q @ g_q.T + 0.1 * np.eye(n),
        R=g_r @ g_r.T + 0.1 * np.eye(m),
        Sigma=g_s @ g_s.T + 0.01 * np.eye(n),
        gamma=discount,
    )


@st.composite
def chain_rule_cases(
    draw, *, state_dim=(1, 3), action_dim=(1, 2), horizon=(1, 6), terminal: bool = True
):
    """``(system, state, action, noises, dones, gamma)`` for the chain-rule property."""
    n = draw(st.integers(*_check_range("state_dim", state_dim, 1, 6)))
    m = draw(st.integers(*_check_range("action_dim", action_dim, 1, 6)))
    steps = draw(st.integers(*_check_range("horizon", horizon, 1, 30)))
    system = TanhSystem(
        A=draw(_arrays((n, n), -1, 1)),
        B=draw(_arrays((n, m), -1, 1)),
        K=draw(_arrays((m, n), -1, 1)),
        c=draw(_arrays(n, -1, 1)),
    )
    dones = [draw(st.booleans()) if terminal else False for _ in range(steps)]
    return (
        system,
        draw(_arrays(n, -1, 1)),
        draw(_arrays(m, -1, 1)),
        draw(_arrays((steps, n), -2, 2)),
        dones,
        draw(_floats(0.5, 0.99)),
    )


def kernels(*, families=("multiquadric", "energy")):
    """Built-in kernels with drawn parameters: multiquadric ``h`` in [0.1, 100], energy
    ``β`` in [0.1, 1.9], Gaussian/Laplacian bandwidth and inverse multiquadric ``h`` in [0.1, 10]."""
    unknown = set(families) - set(sc.KERNEL_NAMES)
    if unknown:
        raise ValueError(f"families must be among {sc.KERNEL_NAMES}; got {sorted(unknown)}")
    makers = {
        "multiquadric": _floats(0.1, 100.0).map(sc.multiquadric),
        "energy": _floats(0.1, 1.9).map(sc.energy),
        "gaussian": _floats(0.1, 10.0).map(sc.gaussian),
        "laplacian": _floats(0.1, 10.0).map(sc.laplacian),
        "inverse_multiquadric": _floats(0.1, 10.0).map(sc.inverse_multiquadric),
    }
    return st.one_of([makers[name] for name in families])


@st.composite
def neural_cases(draw, *, state_dim=(1, 2), action_dim=(1, 2), width=4, gamma=(0.5, 0.95)):
    """Small critic networks ``Z(s, a, ξ)`` (two of them, for ``η₁`` and ``η₂``), a tanh policy
    and a stochastic tanh transition, weights drawn in [-1, 1]."""
    from properties.neural import NeuralCase

    n = draw(st.integers(*_check_range("state_dim", state_dim, 1, 6)))
    m = draw(st.integers(*_check_range("action_dim", action_dim, 1, 6)))

    def critic():
        return dict(
            W=draw(_arrays((width, n + m + 1), -1, 1)),
            c=draw(_arrays(width, -1, 1)),
            v=draw(_arrays(width, -1, 1)),
        )

    return NeuralCase(
        critic_a=critic(),
        critic_b=critic(),
        policy=dict(K=draw(_arrays((m, n), -1, 1))),
        transition=dict(
            A=draw(_arrays((n, n), -1, 1)),
            B=draw(_arrays((n, m), -1, 1)),
            u=draw(_arrays(m, -1, 1)),
            sigma=np.asarray(0.2),
        ),
        gamma=draw(_floats(*gamma)),
    )
