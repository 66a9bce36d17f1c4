"""World models (cVAE, conditional flow) against a linear-Gaussian system, closed forms and FD.

The system: ``s' = A s + B a + w``, ``w ~ N(0, Σ)``, ``r = c·s + d·a + σ_r η``, ``η ~ N(0, 1)``
(a little reward noise keeps ``x = (s' − s, r)`` non-degenerate, so the flow's density is
finite). Each model is fitted once per module on a fresh stream of transitions (no finite
data set to overfit, so the only error left is the fit's) and then must recover the
conditional mean, the noise covariance and the Jacobians ``A``, ``B``, ``c``, ``d``.
Derivatives through the models are checked against central finite differences in float64
under ``jax.enable_x64(True)``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agents.world_models import (
    CVAEConfig,
    FlowConfig,
    WorldModel,
    flow_init,
    flow_log_prob,
    flow_transform,
    gaussian_kl,
    make_world_model,
    set_normalisation,
)

OBS_DIM, ACTION_DIM = 2, 1
A = np.array([[0.9, 0.2], [-0.1, 0.8]])
B = np.array([[0.5], [-0.3]])
NOISE_CHOL = np.array([[0.3, 0.0], [0.15, 0.2]])
SIGMA = NOISE_CHOL @ NOISE_CHOL.T  # correlated: [[0.09, 0.045], [0.045, 0.0625]]
C = np.array([0.4, -0.2])
D = np.array([0.6])
REWARD_STD = 0.1
# Covariance of x = (s' − s, r) given (s, a), and its entropy = the best achievable NLL.
SIGMA_X = np.block([[SIGMA, np.zeros((2, 1))], [np.zeros((1, 2)), np.full((1, 1), REWARD_STD**2)]])
TRUE_NLL = 0.5 * math.log(np.linalg.det(2 * math.pi * math.e * SIGMA_X))

HIDDEN = (32, 32)
STEPS, BATCH, LEARNING_RATE = 600, 128, 1e-2
# Evaluation points inside the bulk of the training distribution s ~ N(0, I), a ~ U(−1, 1).
POINTS = [([0.5, -0.5], [0.3]), ([-1.0, 0.3], [-0.6]), ([0.0, 0.0], [0.0])]
N_SAMPLES = 8000  # model samples per point for the mean and the covariance
N_JACOBIANS = 1000  # noise draws over which the sample-path Jacobian is averaged
N_HELD_OUT = 16384  # fresh transitions for the held-out loss

FD_STEP = 1e-6
# Central differences in float64: truncation h²/6 |f'''| ~ 1e-12 for these smooth (swish,
# tanh, softplus) maps, rounding ~ 1e-16 |f| / h ~ 1e-10; autodiff is exact to rounding.
FD_ATOL = 1e-7

# These tiny graphs compile in more time than they run; LLVM at -O0 halves the compile time
# (a per-function option, so nothing leaks to other tests).
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})


def _points(dtype=jnp.float32):
    states = jnp.asarray([state for state, _ in POINTS], dtype)
    actions = jnp.asarray([action for _, action in POINTS], dtype)
    return states, actions


def _draw_transitions(key: jax.Array, n: int):
    """``n`` transitions of the linear-Gaussian system, float32 arrays."""
    a_mat, b_mat, chol, c_vec, d_vec = (
        jnp.asarray(value, jnp.float32) for value in (A, B, NOISE_CHOL, C, D)
    )
    state_key, action_key, noise_key, reward_key = jax.random.split(key, 4)
    states = jax.random.normal(state_key, (n, OBS_DIM))
    actions = jax.random.uniform(action_key, (n, ACTION_DIM), minval=-1.0, maxval=1.0)
    noise = jax.random.normal(noise_key, (n, OBS_DIM)) @ chol.T
    next_states = states @ a_mat.T + actions @ b_mat.T + noise
    rewards = states @ c_vec + actions @ d_vec + REWARD_STD * jax.random.normal(reward_key, (n,))
    return states, actions, next_states, rewards


def _mean_loss(model, params, transitions, key):
    keys = jax.random.split(key, transitions[0].shape[0])
    losses = jax.vmap(model.loss, in_axes=(None, 0, 0, 0, 0, 0))(params, *transitions, keys)
    return jnp.mean(losses)


def _fit(model, key):
    """Adam (cosine-decayed) on fresh batches: initial params, fitted params, loss trace."""
    init_key, stats_key, train_key = jax.random.split(key, 3)
    stats_data = _draw_transitions(stats_key, 4096)
    params = _jit(set_normalisation)(_jit(model.init)(init_key), *stats_data)
    # The statistics are those of the data (checked here, where the data are at hand).
    np.testing.assert_allclose(params["stats"]["input_mean"][:OBS_DIM], stats_data[0].mean(0))
    np.testing.assert_allclose(params["stats"]["target_std"][-1], stats_data[3].std(), rtol=1e-5)
    optimiser = optax.adam(optax.cosine_decay_schedule(LEARNING_RATE, STEPS, alpha=0.05))

    def step(carry, step_key):
        params, opt_state = carry
        data_key, loss_key = jax.random.split(step_key)
        transitions = _draw_transitions(data_key, BATCH)
        loss, grads = jax.value_and_grad(_mean_loss, argnums=1)(
            model, params, transitions, loss_key
        )
        updates, opt_state = optimiser.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @_jit
    def run(params):
        carry = (params, optimiser.init(params))
        return jax.lax.scan(step, carry, jax.random.split(train_key, STEPS))

    (fitted_params, _), losses = run(params)
    return params, fitted_params, np.asarray(losses)


def _x(model, params, state, action, key):
    """``x = (ŝ' − s, r̂)`` of one model sample, shape ``(obs_dim + 1,)``."""
    next_state, reward = model.sample(params, state, action, key)
    return jnp.concatenate([next_state - state, reward[None]])


class Fitted(NamedTuple):
    """A model fitted to the linear-Gaussian system and what it predicts at ``POINTS``."""

    model: WorldModel
    initial_params: dict  # after set_normalisation, before training
    params: dict
    losses: np.ndarray  # (STEPS,) training loss trace
    held_out_loss: float  # mean loss on N_HELD_OUT fresh transitions
    xs: np.ndarray  # (points, N_SAMPLES, D) samples of x = (ŝ' − s, r̂)
    jac_s: np.ndarray  # (points, obs_dim, obs_dim) ∂ŝ'/∂s averaged over N_JACOBIANS draws
    jac_a: np.ndarray  # (points, obs_dim, action_dim)
    dr_ds: np.ndarray  # (points, obs_dim)
    dr_da: np.ndarray  # (points, action_dim)


@functools.partial(_jit, static_argnums=0)
def _evaluate(model, params):
    """Held-out loss, and samples and mean sample-path Jacobians at every point, one compile."""
    held_out = _draw_transitions(jax.random.key(11), N_HELD_OUT)
    held_out_loss = _mean_loss(model, params, held_out, jax.random.key(12))
    keys = jax.random.split(jax.random.key(5), N_SAMPLES)

    def transition(state, action, key):
        return model.sample(params, state, action, key)

    def at_point(state, action):
        xs = jax.vmap(_x, in_axes=(None, None, None, None, 0))(model, params, state, action, keys)
        (jac_s, jac_a), (dr_ds, dr_da) = jax.vmap(
            jax.jacfwd(transition, argnums=(0, 1)), in_axes=(None, None, 0)
        )(state, action, keys[:N_JACOBIANS])
        return xs, *(jnp.mean(value, axis=0) for value in (jac_s, jac_a, dr_ds, dr_da))

    return held_out_loss, jax.vmap(at_point)(*_points())


@pytest.fixture(scope="module", params=["cvae", "flow"])
def fitted(request) -> Fitted:
    model = make_world_model(request.param, OBS_DIM, ACTION_DIM, hidden=HIDDEN)
    initial_params, params, losses = _fit(model, jax.random.key(0))
    held_out_loss, predictions = _evaluate(model, params)
    predictions = (np.asarray(value, np.float64) for value in predictions)
    return Fitted(model, initial_params, params, losses, float(held_out_loss), *predictions)


# ----------------------------------------------------------------------------- fits


def test_fit_loss_is_finite_and_decreases(fitted):
    losses = fitted.losses
    assert np.all(np.isfinite(losses))
    first, last = losses[:10].mean(), losses[-50:].mean()
    # From about the marginal entropy of x (seen: 1.3–1.5 nats over the first 10 steps) down
    # to about its conditional entropy (−0.86): far more than the batch noise (std of a
    # 128-example mean of log p ~ 0.1 nats).
    assert last < first - 1.0, (first, last)


def test_fit_leaves_the_normalisation_statistics_unchanged(fitted):
    # They enter through stop_gradient: a zero gradient, so Adam's update is exactly zero.
    for name, value in fitted.params["stats"].items():
        np.testing.assert_array_equal(value, fitted.initial_params["stats"][name], err_msg=name)
    changed = jax.tree_util.tree_map(
        lambda new, old: bool(jnp.any(new != old)),
        {k: v for k, v in fitted.params.items() if k != "stats"},
        {k: v for k, v in fitted.initial_params.items() if k != "stats"},
    )
    assert all(jax.tree_util.tree_leaves(changed))  # while every trained leaf moved


def test_fit_loss_reaches_the_true_conditional_entropy(fitted):
    # The best NLL is the entropy of N(·, Σ_x). Statistical error of the held-out mean:
    # std(log p) = sqrt(D/2) = 1.22 over 16384 samples → 0.01 nats, so the flow's NLL can
    # beat it by at most ~3σ; the cVAE's −ELBO bounds it above. Fit gap seen ≤ 0.01 nats.
    loss = fitted.held_out_loss
    assert TRUE_NLL - 0.04 < loss < TRUE_NLL + 0.05, (loss, TRUE_NLL)


@pytest.mark.parametrize("point", range(len(POINTS)))
def test_fit_recovers_mean_covariance_and_jacobians(fitted, point):
    state, action = (np.asarray(value, np.float64) for value in POINTS[point])
    xs = fitted.xs[point]
    # Mean of ŝ' and r̂: statistical error σ/√N ≤ 0.3/√8000 = 0.0034; fit error seen ≤ 0.02.
    mean_next_state = state + xs[:, :OBS_DIM].mean(axis=0)
    np.testing.assert_allclose(mean_next_state, A @ state + B @ action, atol=0.04)
    np.testing.assert_allclose(xs[:, OBS_DIM].mean(), C @ state + D @ action, atol=0.04)
    # Covariance of x = (ŝ' − s, r̂): sampling error of each entry ~ 1.2 % of Σ_11 for
    # N = 8000; fit error seen ≤ 5 % (relative Frobenius). Allowed: 12 %.
    covariance = np.cov(xs.T)
    relative = np.linalg.norm(covariance - SIGMA_X) / np.linalg.norm(SIGMA_X)
    assert relative < 0.12, (covariance, SIGMA_X)
    # The reward's own std (1 % of the covariance's norm, so checked apart); seen within 2 %.
    np.testing.assert_allclose(np.sqrt(covariance[-1, -1]), REWARD_STD, rtol=0.1)
    # Sample-path Jacobians averaged over 1000 noise draws (the true ones are constant);
    # fit error seen ≤ 0.015.
    np.testing.assert_allclose(fitted.jac_s[point], A, atol=0.04)
    np.testing.assert_allclose(fitted.jac_a[point], B, atol=0.04)
    np.testing.assert_allclose(fitted.dr_ds[point], C, atol=0.04)
    np.testing.assert_allclose(fitted.dr_da[point], D, atol=0.04)


def test_gradient_targets_equal_finite_differences(fitted):
    """``∂/∂s``, ``∂/∂a`` of a sample and of ``y = r̂ + γ V(ŝ')`` equal central FD (float64).

    One fixed key, so the sample is a deterministic function of ``(s, a)``.
    """
    model = fitted.model
    gamma = 0.99
    weights = np.array([[1.0, 0.3], [0.3, 0.5]])

    def value(next_state):  # a smooth stand-in for the target critic V(s') = Z(s', π(s'), ξ')
        return jnp.sum(jnp.sin(next_state)) + next_state @ jnp.asarray(weights) @ next_state

    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf, jnp.float64), fitted.params)
        key = jax.random.key(7)

        def outputs(state, action):  # (ŝ', r̂, y), shape (obs_dim + 2,)
            next_state, reward = model.sample(params, state, action, key)
            target = reward + gamma * value(next_state)
            return jnp.concatenate([next_state, reward[None], target[None]])

        @_jit
        def autodiff(states, actions):
            jacobians = jax.vmap(jax.jacfwd(outputs, argnums=(0, 1)))(states, actions)
            # Reverse mode, as the agent's ∇_a y uses it.
            grad_a = jax.vmap(jax.grad(lambda s, a: outputs(s, a)[-1], argnums=1))(states, actions)
            return jacobians, grad_a

        states, actions = _points(jnp.float64)
        (jac_s, jac_a), grad_a = autodiff(states, actions)
        fd_s, fd_a = _fd_jacobians(_jit(jax.vmap(outputs)), np.asarray(states), np.asarray(actions))
        assert jac_s.dtype == jnp.float64
        np.testing.assert_allclose(jac_s, fd_s, atol=FD_ATOL)
        np.testing.assert_allclose(jac_a, fd_a, atol=FD_ATOL)
        np.testing.assert_allclose(grad_a, jac_a[:, -1], atol=1e-12)


def _fd_jacobians(batched, states, actions, step=FD_STEP):
    """Central-difference Jacobians of ``batched(states, actions) -> (n, k)`` in s and in a.

    ``states`` ``(n, ds)``, ``actions`` ``(n, da)``; returns ``(n, k, ds)`` and ``(n, k, da)``.
    All ``2 (ds + da)`` perturbed evaluations of every point run as one batched call.
    """
    n, ds = states.shape
    da = actions.shape[1]
    offsets = step * np.eye(ds + da)
    offsets = np.stack([offsets, -offsets])  # (2, ds + da, ds + da): ± step along each input
    inputs = np.concatenate([states, actions], axis=1)[:, None, None, :] + offsets[None]
    inputs = inputs.reshape(-1, ds + da)
    values = np.asarray(batched(inputs[:, :ds], inputs[:, ds:]), np.float64)
    values = values.reshape(n, 2, ds + da, -1)
    jacobian = np.swapaxes((values[:, 0] - values[:, 1]) / (2 * step), 1, 2)  # (n, k, ds + da)
    return jacobian[..., :ds], jacobian[..., ds:]


# ----------------------------------------------------------------------------- closed forms


def test_gaussian_kl_equals_the_matrix_formula():
    rng = np.random.default_rng(0)
    mean_q, mean_p = rng.normal(size=4), rng.normal(size=4)
    log_std_q, log_std_p = rng.normal(size=4) * 0.5, rng.normal(size=4) * 0.5
    cov_q, cov_p = np.diag(np.exp(2 * log_std_q)), np.diag(np.exp(2 * log_std_p))
    inv_p = np.linalg.inv(cov_p)
    diff = mean_p - mean_q
    # KL(N_q ‖ N_p) = ½ [tr(Σ_p⁻¹ Σ_q) + Δᵀ Σ_p⁻¹ Δ − k + ln det Σ_p − ln det Σ_q]
    expected = 0.5 * (
        np.trace(inv_p @ cov_q)
        + diff @ inv_p @ diff
        - 4
        + np.log(np.linalg.det(cov_p))
        - np.log(np.linalg.det(cov_q))
    )
    with jax.enable_x64(True):
        kl = gaussian_kl(*(jnp.asarray(v) for v in (mean_q, log_std_q, mean_p, log_std_p)))
        np.testing.assert_allclose(float(kl), expected, rtol=1e-12)
        same = gaussian_kl(*(jnp.asarray(v) for v in (mean_q, log_std_q, mean_q, log_std_q)))
        assert float(same) == 0.0


@pytest.mark.parametrize(("obs_dim", "n_layers"), [(1, 2), (2, 5), (3, 0)])
def test_flow_log_prob_equals_change_of_variables(obs_dim, n_layers):
    """``log p(F(u)) = log N(u; 0, I) − log |det ∂F/∂u|``, ``∂F/∂u`` by autodiff (float64).

    ``D = obs_dim + 1`` even and odd, more layers than one mask cycle, and no couplings. The
    parameters are perturbed so that every coupling is far from the identity, and the
    normalisation is not the identity, so its Jacobian term counts too.
    """
    action_dim, n = 2, 64
    config = FlowConfig(obs_dim, action_dim, hidden=(16,), n_layers=n_layers)
    rng = np.random.default_rng(3)
    # Random float64 parameters of the flow's shapes (NumPy: nothing to compile).
    shapes = jax.eval_shape(lambda key: flow_init(key, config), jax.random.key(0))
    params = jax.tree_util.tree_map(lambda leaf: rng.normal(0.0, 0.5, leaf.shape), shapes)
    data = (
        rng.normal(size=(n, obs_dim)),
        rng.normal(size=(n, action_dim)),
        3.0 * rng.normal(size=(n, obs_dim)) + 1.0,
        rng.normal(size=n),
    )
    states, actions = rng.normal(size=(3, obs_dim)), rng.normal(size=(3, action_dim))
    base_noises = rng.normal(size=(3, obs_dim + 1))

    @_jit
    @functools.partial(jax.vmap, in_axes=(None, 0, 0, 0))
    def both_sides(params, state, action, base_noise):
        def transition(u):  # x = F(u) = (ŝ' − s, r̂)
            next_state, reward = flow_transform(params, config, state, action, u)
            return jnp.concatenate([next_state - state, reward[None]])

        x = transition(base_noise)
        _, log_det = jnp.linalg.slogdet(jax.jacfwd(transition)(base_noise))
        base_log_prob = -0.5 * base_noise @ base_noise - 0.5 * x.size * jnp.log(2 * jnp.pi)
        log_prob = flow_log_prob(params, config, state, action, state + x[:-1], x[-1])
        return log_prob, base_log_prob - log_det

    with jax.enable_x64(True):
        params = set_normalisation(params, *data)
        log_prob, expected = both_sides(params, states, actions, base_noises)
        assert log_prob.dtype == jnp.float64
        np.testing.assert_allclose(log_prob, expected, atol=1e-9)


# ----------------------------------------------------------------------------- interface


@pytest.mark.parametrize("kind", ["cvae", "flow"])
def test_shapes_and_defaults(kind):
    obs_dim, action_dim = 5, 3
    model = make_world_model(kind, obs_dim, action_dim, hidden=(8,))

    @_jit
    def run(key):
        params = model.init(key)
        state, action = jnp.zeros(obs_dim), jnp.zeros(action_dim)
        one = model.sample(params, state, action, key)
        loss = model.loss(params, state, action, state, jnp.zeros(()), key)
        batch = jax.vmap(model.sample, in_axes=(None, 0, 0, 0))(
            params, jnp.zeros((4, obs_dim)), jnp.zeros((4, action_dim)), jax.random.split(key, 4)
        )
        return one, loss, batch

    (next_state, reward), loss, (next_states, rewards) = run(jax.random.key(0))
    assert next_state.shape == (obs_dim,) and reward.shape == ()
    assert loss.shape == () and np.isfinite(float(loss))
    assert next_states.shape == (4, obs_dim) and rewards.shape == (4,)
    default = make_world_model(kind, obs_dim, action_dim)
    assert default.kind == kind
    assert default.config.hidden == (200, 200) and default.config.act == "swish"
    if kind == "cvae":
        assert isinstance(default.config, CVAEConfig) and default.config.latent_dim == obs_dim + 1
        assert default.config.sample_noise
        assert make_world_model(kind, 100, action_dim).config.latent_dim == 32
    else:
        assert isinstance(default.config, FlowConfig) and default.config.n_layers == 4


def test_cvae_without_sample_noise_returns_the_decoder_mean():
    noisy = make_world_model("cvae", 2, 1, hidden=(8,))
    quiet = make_world_model("cvae", 2, 1, hidden=(8,), sample_noise=False)

    @_jit
    def run(key):
        params = noisy.init(key)
        # A large likelihood std: any noise added would show as a large difference.
        params = {**params, "log_std": jnp.full_like(params["log_std"], 1.5)}
        state, action = jnp.ones(2), jnp.ones(1)
        return noisy.sample(params, state, action, key), quiet.sample(params, state, action, key)

    (noisy_state, noisy_reward), (quiet_state, quiet_reward) = run(jax.random.key(0))
    # Same latent, so the noise-free sample is the decoder mean and differs by σ_x ε_x only.
    assert float(jnp.max(jnp.abs(noisy_state - quiet_state))) > 0.1
    assert float(jnp.abs(noisy_reward - quiet_reward)) > 0.0


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"kind": "gan"}, ["kind", "'gan'", "cvae", "flow"]),
        ({"obs_dim": 0}, ["obs_dim", "0", ">= 1"]),
        ({"action_dim": 1.5}, ["action_dim", "1.5"]),
        ({"hidden": ()}, ["hidden", "()"]),
        ({"hidden": (8, 0)}, ["hidden", "(8, 0)"]),
        ({"latent_dim": 0}, ["latent_dim", "0"]),
        ({"kind": "flow", "n_layers": -1}, ["n_layers", "-1", ">= 0"]),
        ({"act": "sigmoid"}, ["act", "'sigmoid'", "swish"]),
        ({"sample_noise": "yes"}, ["sample_noise", "'yes'"]),
    ],
)
def test_bad_settings_name_the_argument(kwargs, names):
    settings = {"kind": "cvae", "obs_dim": 2, "action_dim": 1} | kwargs
    kind, obs_dim, action_dim = (settings.pop(k) for k in ("kind", "obs_dim", "action_dim"))
    with pytest.raises(ValueError) as error:
        make_world_model(kind, obs_dim, action_dim, **settings)
    for name in names:
        assert name in str(error.value)


@pytest.mark.parametrize("kind", ["cvae", "flow"])
def test_bad_shapes_name_the_argument(kind):
    model = make_world_model(kind, 2, 1, hidden=(8,))
    params = jax.eval_shape(model.init, jax.random.key(0))  # shapes suffice: checks come first
    key = jax.random.key(1)
    with pytest.raises(ValueError, match=r"state must have shape \(2,\).*got shape \(3,\)"):
        model.sample(params, jnp.zeros(3), jnp.zeros(1), key)
    with pytest.raises(ValueError, match=r"action must have shape \(1,\).*\(4, 1\)"):
        model.sample(params, jnp.zeros(2), jnp.zeros((4, 1)), key)
    with pytest.raises(ValueError, match=r"reward must have shape \(\)"):
        model.loss(params, jnp.zeros(2), jnp.zeros(1), jnp.zeros(2), jnp.zeros(1), key)
    stats_params = {"stats": {k: jnp.zeros(n) for k, n in _STATS_SIZES.items()}}
    with pytest.raises(ValueError, match=r"next_states must have shape \(5, 2\)"):
        set_normalisation(
            stats_params, jnp.zeros((5, 2)), jnp.zeros((5, 1)), jnp.zeros((4, 2)), jnp.zeros(5)
        )


_STATS_SIZES = {"input_mean": 3, "input_std": 3, "target_mean": 3, "target_std": 3}


# ----------------------------------------------------------------------------- running moments


def test_running_normalisation_equals_the_moments_of_every_batch_seen():
    """After batches B_1..B_t (sizes differ, scales differ per coordinate) the stats are the
    float64 NumPy mean and population std of their union; after one batch they equal
    ``set_normalisation`` of it. A constant coordinate keeps std 1 (the 1e-6 floor rule)."""
    from agents.world_models import init_moments, update_normalisation

    rng = np.random.default_rng(3)
    scales = np.array([1e-3, 1.0, 50.0])  # raw scales as different as Hopper's
    batches = []
    for size in (5, 17, 64, 3):
        states = rng.normal(2.0, scales[:2], size=(size, OBS_DIM))
        actions = rng.uniform(-1, 1, size=(size, ACTION_DIM))
        actions[:, 0] = 0.25  # a constant input coordinate
        next_states = states + rng.normal(-1.0, scales[1:], size=(size, OBS_DIM))
        rewards = rng.normal(0.5, 3.0, size=size)
        batches.append((states, actions, next_states, rewards))
    with jax.enable_x64(True):
        model = make_world_model("cvae", OBS_DIM, ACTION_DIM, hidden=(4,))
        params = model.init(jax.random.key(0))
        moments = init_moments(params)
        step = jax.jit(update_normalisation)
        for index, batch in enumerate(batches):
            params, moments = step(params, moments, *batch)
            union = [np.concatenate(parts) for parts in zip(*batches[: index + 1], strict=True)]
            inputs = np.concatenate([union[0], union[1]], axis=1)
            targets = np.concatenate([union[2] - union[0], union[3][:, None]], axis=1)
            input_std = inputs.std(axis=0)
            input_std[input_std < 1e-6] = 1.0
            want = {
                "input_mean": inputs.mean(axis=0),
                "input_std": input_std,
                "target_mean": targets.mean(axis=0),
                "target_std": targets.std(axis=0),
            }
            assert float(moments.count) == len(inputs)
            for name, value in want.items():
                # float64 merges: rounding ~1e-16 relative per merge, 4 merges
                np.testing.assert_allclose(params["stats"][name], value, rtol=1e-12, err_msg=name)
            if index == 0:
                direct = set_normalisation(model.init(jax.random.key(0)), *batch)["stats"]
                for name in want:
                    np.testing.assert_allclose(params["stats"][name], direct[name], rtol=1e-12)
        assert float(params["stats"]["input_std"][OBS_DIM]) == 1.0  # the constant action


def test_running_normalisation_keeps_float32_precision_over_many_merges():
    """10⁴ merges of 256 float32 samples: the merged mean/std stay within 1e-4 relative of
    float64 NumPy on the same data. The merge updates the mean and variance by weighted
    steps, so each merge rounds at ~eps (1.2e-7) relative to the running value; 10⁴ merges
    of unbiased rounding drift by ~sqrt(10⁴)·eps ≈ 1e-5, and 1e-4 leaves a factor 10."""
    from agents.world_models import init_moments, update_normalisation

    rng = np.random.default_rng(4)
    n_batches, size = 10_000, 256
    states = rng.normal(3.0, 10.0, size=(n_batches, size, OBS_DIM)).astype(np.float32)
    actions = rng.uniform(-1, 1, size=(n_batches, size, ACTION_DIM)).astype(np.float32)
    rewards = rng.normal(1.0, 0.1, size=(n_batches, size)).astype(np.float32)
    model = make_world_model("cvae", OBS_DIM, ACTION_DIM, hidden=(4,))
    params = model.init(jax.random.key(0))

    def body(carry, batch):
        return update_normalisation(*carry, batch[0], batch[1], batch[0], batch[2]), None

    (params, _), _ = jax.jit(lambda c, b: jax.lax.scan(body, c, b))(
        (params, init_moments(params)), (states, actions, rewards)
    )
    flat = states.reshape(-1, OBS_DIM).astype(np.float64)
    np.testing.assert_allclose(params["stats"]["input_mean"][:OBS_DIM], flat.mean(0), rtol=1e-4)
    np.testing.assert_allclose(params["stats"]["input_std"][:OBS_DIM], flat.std(0), rtol=1e-4)
    flat_rewards = rewards.astype(np.float64).ravel()
    np.testing.assert_allclose(params["stats"]["target_std"][-1], flat_rewards.std(), rtol=1e-4)
