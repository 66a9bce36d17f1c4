"""Independent references for one agent update, written from the equations (docs/agents.md, the papers).

Nothing here calls the agents' helpers (``critic_value``, ``smoothed_target_action``,
``polyak``, ``sobolev_target``, ``gradient_weights``, ...): the networks' forward passes, the
targets, the chain rule of docs/claims.md#c6, the losses, Adam and Polyak averaging are written out
again in plain JAX / NumPy (float64), so a wrong shared helper cannot pass on both sides.

Two things are taken from the code on purpose, because they are conventions, not mathematics:

- the parameter layout (a list of ``{"w": (in, out), "b": (out,)}`` layers, twin critics as a
  pair, the world models' dictionaries);
- the order in which ``jax.random`` keys are split and consumed (``*_keys`` functions below,
  each naming the code it mirrors). A faster implementation that draws its noise
  differently must update those functions, and only those.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# ----------------------------------------------------------------------------- networks


def relu(x):
    return jnp.maximum(x, 0.0)


def swish(x):
    return x / (1.0 + jnp.exp(-x))


def mlp(params, x, act=relu):
    """``W_L σ(… σ(x W_1 + b_1) …) + b_L`` (row-vector convention of the layout)."""
    for layer in params[:-1]:
        x = act(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def actor(params, obs, low, high):
    """``π(s) = (high + low)/2 + (high − low)/2 · tanh(MLP(s))``."""
    return (high + low) / 2 + (high - low) / 2 * jnp.tanh(mlp(params, obs))


def q_value(params, obs, action):
    """``Q(s, a)``: the MLP on the concatenation ``(s, a)``."""
    return mlp(params, jnp.concatenate([obs, action]))[0]


# ----------------------------------------------------------------------------- optimiser


def adam(params, grads, moments=None, *, lr, b1=0.9, b2=0.999, eps=1e-8):
    """One Adam step (Kingma and Ba 2015, Algorithm 1) in float64 NumPy, leaf by leaf.

        m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²,  t ← t + 1,
        θ ← θ − lr · (m / (1 − β₁ᵗ)) / (sqrt(v / (1 − β₂ᵗ)) + ε)

    ``moments = (m, v, t)`` from the previous step (``None``: zeros and ``t = 0``).
    Returns ``(new_params, moments)``.
    """
    leaves, treedef = jax.tree.flatten(params)
    grad_leaves = [np.asarray(g, dtype=np.float64) for g in jax.tree.leaves(grads)]
    if moments is None:
        moments = (
            [np.zeros_like(g) for g in grad_leaves],
            [np.zeros_like(g) for g in grad_leaves],
            0,
        )
    first, second, count = moments
    count = count + 1
    first = [b1 * m + (1 - b1) * g for m, g in zip(first, grad_leaves, strict=True)]
    second = [b2 * v + (1 - b2) * g * g for v, g in zip(second, grad_leaves, strict=True)]
    new = [
        np.asarray(p, dtype=np.float64)
        - lr * (m / (1 - b1**count)) / (np.sqrt(v / (1 - b2**count)) + eps)
        for p, m, v in zip(leaves, first, second, strict=True)
    ]
    return jax.tree.unflatten(treedef, new), (first, second, count)


def averaged(target, online, tau):
    """Polyak averaging ``θ̄ ← (1 − τ) θ̄ + τ θ``, float64 NumPy, leaf by leaf."""
    return jax.tree.map(
        lambda old, new: (
            (1 - tau) * np.asarray(old, np.float64) + tau * np.asarray(new, np.float64)
        ),
        target,
        online,
    )


# ----------------------------------------------------------------------------- losses


def huber(error, delta):
    """``e²/2`` for ``|e| <= δ``, else ``δ (|e| − δ/2)``."""
    magnitude = jnp.abs(error)
    return jnp.where(magnitude <= delta, 0.5 * error**2, delta * (magnitude - 0.5 * delta))


def norm(vector):
    """Euclidean norm with a zero (not NaN) derivative at 0."""
    squared = jnp.sum(vector**2)
    safe = jnp.where(squared > 0, squared, 1.0)
    return jnp.where(squared > 0, jnp.sqrt(safe), 0.0)


def multiquadric_mmd2(x, y, h):
    """V-statistic MMD² with ``k(x, y) = −sqrt(1 + h² |x − y|²)`` on vectors (docs/math.md#metrics)."""

    def mean_kernel(a, b):
        squared = jnp.sum((a[:, None, :] - b[None, :, :]) ** 2, -1)
        return jnp.mean(-jnp.sqrt(1.0 + h**2 * squared))

    return mean_kernel(x, x) + mean_kernel(y, y) - 2 * mean_kernel(x, y)


def chain_rule_target(transition, bootstrap, policy, obs, action, done, gamma):
    """docs/math.md#operator, docs/claims.md#c6 from Jacobians: ``(y, g_s, g_a)`` of one transition.

        s', r = transition(s, a),  a' = policy(s'),  y = r + γ (1 − d) V̄(s', a'),
        c = ∂_s' V̄ + Π'ᵀ ∂_a' V̄,  g_s = ∂_s r + γ (1 − d) F_sᵀ c,  g_a = ∂_a r + γ (1 − d) F_aᵀ c

    with ``F_s, F_a, ∂r`` the Jacobians of ``transition`` at ``(s, a)`` and ``Π' = ∂a'/∂s'``,
    each taken separately and multiplied out (not one gradient of the composition).
    """
    next_obs, reward = transition(obs, action)
    jac_s, jac_a = jax.jacobian(lambda s, a: transition(s, a)[0], argnums=(0, 1))(obs, action)
    dr_ds, dr_da = jax.grad(lambda s, a: transition(s, a)[1], argnums=(0, 1))(obs, action)
    next_action = policy(next_obs)
    u_next, v_next = jax.grad(bootstrap, argnums=(0, 1))(next_obs, next_action)
    total = u_next + jax.jacobian(policy)(next_obs).T @ v_next
    discount = gamma * (1 - done)
    value = reward + discount * bootstrap(next_obs, next_action)
    return value, dr_ds + discount * jac_s.T @ total, dr_da + discount * jac_a.T @ total


# ----------------------------------------------------------------------------- key splitting


def scan_keys(key, rows):
    """``agents.common.make_update``: one key per leading batch row."""
    return jax.random.split(key, rows)


def td3_step_keys(key):
    """``make_update``'s ``one_step``: ``(model_key, critic_key, actor_key)``."""
    model_key, critic_key, actor_key = jax.random.split(key, 3)
    return model_key, critic_key, actor_key


def sac_step_keys(key):
    """``agents.sobolev_td._make_sac``'s ``one_step``: ``(critic_key, actor_key)``."""
    critic_key, actor_key = jax.random.split(key)
    return critic_key, actor_key


def to64(tree):
    """A pytree of float64 NumPy arrays (the references run in float64)."""
    return jax.tree.map(lambda leaf: np.asarray(leaf, dtype=np.float64), tree)


def assert_trees_close(actual, expected, *, rtol, atol, what):
    actual_leaves = jax.tree.leaves(actual)
    expected_leaves = jax.tree.leaves(expected)
    assert len(actual_leaves) == len(expected_leaves), what
    for index, (got, want) in enumerate(zip(actual_leaves, expected_leaves, strict=True)):
        np.testing.assert_allclose(
            np.asarray(got), np.asarray(want), rtol=rtol, atol=atol, err_msg=f"{what}, leaf {index}"
        )
