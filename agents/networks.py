"""Small MLPs as pure JAX functions: parameters are pytrees, networks are ``apply`` functions.

Every agent builds its actors, critics and models from :func:`mlp_init` / :func:`mlp_apply`,
so there is one initialisation and one forward pass to test. Parameters are a list of
``{"w": (in, out), "b": (out,)}`` layers; ``mlp_apply`` works on one example ``(in,)`` or a
batch ``(..., in)``, since it only uses ``x @ w + b``.

Initialisation: weights ``U(−1/√fan_in, 1/√fan_in)`` and biases likewise (PyTorch's
``nn.Linear`` default, which TD3's reference implementation uses); the last layer can be
scaled by ``final_scale`` (small for outputs that start near zero, such as flow scales).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

__all__ = [
    "Params",
    "activation",
    "actor_apply",
    "mlp_apply",
    "mlp_init",
]

Params = list[dict[str, jax.Array]]

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "swish": jax.nn.swish,
    "tanh": jnp.tanh,
    "elu": jax.nn.elu,
}


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation function called ``name`` (relu, swish, tanh, elu)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation {name!r} is unknown; accepted: {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def mlp_init(key: jax.Array, sizes: Sequence[int], *, final_scale: float = 1.0) -> Params:
    """Parameters of an MLP with layer sizes ``sizes = (in, hidden..., out)``.

    >>> params = mlp_init(jax.random.key(0), (3, 8, 1))
    >>> [layer["w"].shape for layer in params]
    [(3, 8), (8, 1)]
    """
    sizes = tuple(int(size) for size in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least (in, out) with every size >= 1; got {sizes}")
    keys = jax.random.split(key, len(sizes) - 1)
    params: Params = []
    for index, (layer_key, fan_in, fan_out) in enumerate(
        zip(keys, sizes[:-1], sizes[1:], strict=True)
    ):
        bound = 1.0 / jnp.sqrt(fan_in)
        if index == len(sizes) - 2:
            bound = bound * final_scale
        w_key, b_key = jax.random.split(layer_key)
        params.append(
            {
                "w": jax.random.uniform(w_key, (fan_in, fan_out), minval=-bound, maxval=bound),
                "b": jax.random.uniform(b_key, (fan_out,), minval=-bound, maxval=bound),
            }
        )
    return params


def mlp_apply(params: Params, inputs: jax.Array, *, act: str = "relu") -> jax.Array:
    """``W_L σ(… σ(W_1 x + b_1) …) + b_L``: hidden layers activated, the last one linear."""
    hidden = activation(act)
    out = inputs
    for layer in params[:-1]:
        out = hidden(out @ layer["w"] + layer["b"])
    return out @ params[-1]["w"] + params[-1]["b"]


def actor_apply(
    params: Params,
    obs: jax.Array,
    action_scale: jax.Array,
    action_offset: jax.Array,
    *,
    act: str = "relu",
) -> jax.Array:
    """Deterministic policy ``π(s) = offset + scale · tanh(MLP(s))`` inside the action box."""
    return action_offset + action_scale * jnp.tanh(mlp_apply(params, obs, act=act))
