"""Each agent's update against an independent reference of ONE update (issue 14, part 1).

For TD3, SAC, Sobolev-TD3, Sobolev-SAC and MAGE (DSDPG: ``test_reference_dsdpg.py``) the
reference in ``tests/agents/reference_updates.py`` recomputes, from the equations of the
papers and docs/agents.md, docs/claims.md#c6, the critic targets (twin minimum, ``1 − d`` on the value and on the
gradient targets, TD3's target smoothing inside its clip), the gradient targets, the loss
with unequal weights, Adam (first and second moments and the parameters), the delayed actor
update and the Polyak update of every target network; the agent's state after
``agent.update`` must match.

Everything runs in float64 (``jax.enable_x64``) so the comparison is not limited by float32
round-off: the agent and the reference evaluate the same float64 expressions in a different
order, which leaves relative differences of ~1e-12. Tolerances: ``rtol = 1e-7`` on values,
losses and moments; parameters after an Adam step additionally ``atol = 1e-9`` (a step is
``lr · m̂ / (sqrt(v̂) + 1e-8)``, which amplifies a round-off ``δ`` of a near-zero gradient by
up to ``lr / 1e-8``; ``δ ~ 1e-17`` gives ≤ 1e-12).

Randomness: the keys are split exactly as the agents split them (``reference_updates``'s
``*_keys`` functions name the code they mirror); nothing is zeroed unless a test says so.
The env is ``lq`` (``s' = A s + B a + 0.01 ε``, ``r = −(sᵀQs + aᵀRa)``, docs/claims.md#c5), whose
Jacobians ``F_s = A``, ``F_a = B``, ``∂_s r = −2Qs``, ``∂_a r = −2Ra`` the references use in
closed form.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from agents.agent import env_info
from agents.envs import lq_system, make_training_env
from agents.registry import make_agent
from tests.agents import reference_updates as ref

VALUE_RTOL = 1e-7  # float64 re-association (module docstring)
PARAM_ATOL = 1e-9  # Adam's amplification of near-zero gradients (module docstring)
GAMMA = 0.9
TAU = 0.1  # large, so that the Polyak step is far above the tolerance
ROWS, BATCH = 2, 6  # two scanned steps: critic-only, then critic + delayed actor

LQ = {name: np.asarray(value, np.float64) for name, value in lq_system().items()}
NOISE_FACTOR = 0.01  # Σ^½ of lq's Σ = 0.01² I


def lq_next_and_reward(obs, action, noise):
    """The lq env written out: ``s' = A s + B a + 0.01 ε``, ``r = −(sᵀQs + aᵀRa)``."""
    next_obs = LQ["A"] @ obs + LQ["B"] @ action + NOISE_FACTOR * noise
    return next_obs, -(obs @ LQ["Q"] @ obs + action @ LQ["R"] @ action)


def lq_reward_grads(obs, action):
    """``(∂_s r, ∂_a r) = (−2Qs, −2Ra)`` (Q, R symmetric)."""
    return -2 * LQ["Q"] @ obs, -2 * LQ["R"] @ action


@pytest.fixture(scope="module")
def lq_info():
    return env_info(make_training_env("lq", "none", 0))


def lq_batch(seed, *, consistent=True, noise=True):
    """``(ROWS, BATCH)`` transitions of lq; a third of them terminal.

    ``consistent=False`` shifts the stored next observation and reward away from the model's
    (as observation noise does) to exercise the value anchor of ``agents.sobolev_td``.
    """
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(ROWS, BATCH, 2))
    action = rng.uniform(-4.0, 4.0, size=(ROWS, BATCH, 1))
    eps = rng.normal(size=(ROWS, BATCH, 2))
    next_obs = np.einsum("ij,rbj->rbi", LQ["A"], obs) + np.einsum("ij,rbj->rbi", LQ["B"], action)
    next_obs = next_obs + NOISE_FACTOR * eps
    reward = -(
        np.einsum("rbi,ij,rbj->rb", obs, LQ["Q"], obs)
        + np.einsum("rbi,ij,rbj->rb", action, LQ["R"], action)
    )
    if not consistent:
        next_obs = next_obs + rng.normal(scale=0.3, size=next_obs.shape)
        reward = reward + rng.normal(scale=0.5, size=reward.shape)
    terminated = np.zeros((ROWS, BATCH))
    terminated[:, ::3] = 1.0
    batch = {
        "obs": obs,
        "action": action,
        "reward": reward,
        "next_obs": next_obs,
        "terminated": terminated,
    }
    if noise:
        batch["noise"] = eps
    return {name: jnp.asarray(value) for name, value in batch.items()}


def row(batch, index):
    return {name: value[index] for name, value in batch.items()}


def perturbed(tree, key, scale):
    """``tree`` plus independent Gaussian noise of ``scale`` (targets that differ from online)."""
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(
        treedef,
        [
            leaf + scale * jax.random.normal(k, leaf.shape)
            for leaf, k in zip(leaves, keys, strict=True)
        ],
    )


def saturated(actor_params, factor):
    """The actor with its last layer scaled by ``factor`` (tanh saturates: clips become active)."""
    last = dict(actor_params[-1])
    last["w"] = last["w"] * factor
    last["b"] = last["b"] * factor
    return [*actor_params[:-1], last]


def adam_moments(opt_state):
    """``(mu, nu, count)`` of an ``optax.adam`` state."""
    adam_state = opt_state[0]
    return adam_state.mu, adam_state.nu, int(adam_state.count)


def check_adam(opt_state, moments, what):
    mu, nu, count = adam_moments(opt_state)
    first, second, ref_count = moments
    assert count == ref_count, f"{what}: Adam count {count} != {ref_count}"
    ref.assert_trees_close(mu, first, rtol=VALUE_RTOL, atol=1e-14, what=f"{what} Adam m")
    ref.assert_trees_close(nu, second, rtol=VALUE_RTOL, atol=1e-20, what=f"{what} Adam v")


def check_params(actual, expected, what):
    ref.assert_trees_close(actual, expected, rtol=VALUE_RTOL, atol=PARAM_ATOL, what=what)


# ----------------------------------------------------------------------------- TD3 family


class Deterministic:
    """The float64 reference state of a TD3-style agent and its two-row update.

    ``critic_loss(critic, minibatch, critic_key) -> (loss, reported)`` is the algorithm's
    critic loss as a function of the critic parameters (``reported``: the values the agent
    reports, e.g. ``q_mean``); the rest (Adam, the delayed actor step on ``Q_1(s, π(s))``,
    Polyak) is TD3's and written here once.
    """

    def __init__(
        self,
        state,
        low,
        high,
        *,
        actor_lr,
        critic_lr,
        delay,
        extra_step=None,
        actor_objective=None,
    ):
        self.actor = ref.to64(state.actor)
        self.actor_target = ref.to64(state.actor_target)
        self.critic = ref.to64(state.critic)
        self.critic_target = ref.to64(state.critic_target)
        self.actor_moments = None
        self.critic_moments = None
        self.step = int(state.step)
        self.low, self.high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        self.actor_lr, self.critic_lr, self.delay = actor_lr, critic_lr, delay
        self.actor_updates = 0
        self.extra_step = extra_step  # (extra, moments, minibatch, key) -> (extra, moments)
        if actor_objective is not None:  # (actor, critic, obs, actor_key) -> loss
            self.actor_objective = actor_objective
        self.extra = None if state.extra is None else ref.to64(state.extra[0])
        self.extra_moments = None

    def policy(self, params, obs):
        return ref.actor(params, obs, self.low, self.high)

    def actor_objective(self, actor_params, critic, obs, actor_key):
        """``−mean_s Q_1(s, π(s))`` (TD3's actor loss; ``actor_key`` unused)."""
        del actor_key
        actions = jax.vmap(lambda s: self.policy(actor_params, s))(obs)
        return -jnp.mean(jax.vmap(lambda s, a: ref.q_value(critic[0], s, a))(obs, actions))

    def update(self, batch, key, critic_loss, *, tau):
        """Every row: the ``extra_step`` (a model step) if any, a critic step on
        ``critic_loss(critic, context, minibatch, critic_key)`` (``context``: the actor, the
        targets and the extra state before this row's critic step), then every ``delay``
        steps the actor step and Polyak. Returns the mean reported losses over the rows."""
        critic_step = jax.jit(jax.value_and_grad(critic_loss, has_aux=True))
        actor_step = jax.jit(jax.value_and_grad(self.actor_objective))
        reported = {"critic": [], "actor": []}
        for index, row_key in enumerate(ref.scan_keys(key, batch["obs"].shape[0])):
            minibatch = row(batch, index)
            model_key, critic_key, actor_key = ref.td3_step_keys(row_key)
            if self.extra_step is not None:
                self.extra, self.extra_moments = self.extra_step(
                    self.extra, self.extra_moments, minibatch, model_key
                )
            context = {
                "actor": self.actor,
                "actor_target": self.actor_target,
                "critic_target": self.critic_target,
                "extra": self.extra,
            }
            (loss, aux), grads = critic_step(self.critic, context, minibatch, critic_key)
            self.critic, self.critic_moments = ref.adam(
                self.critic, grads, self.critic_moments, lr=self.critic_lr
            )
            self.step += 1
            objective, grads = actor_step(self.actor, self.critic, minibatch["obs"], actor_key)
            if self.step % self.delay == 0:
                self.actor, self.actor_moments = ref.adam(
                    self.actor, grads, self.actor_moments, lr=self.actor_lr
                )
                self.actor_target = ref.averaged(self.actor_target, self.actor, tau)
                self.critic_target = ref.averaged(self.critic_target, self.critic, tau)
                self.actor_updates += 1
            reported["critic"].append(float(loss))
            reported["actor"].append(float(objective))
            for name, value in aux.items():
                reported.setdefault(name, []).append(float(value))
        return {name: float(np.mean(values)) for name, values in reported.items()}

    def check(self, state, what):
        check_params(state.critic, self.critic, f"{what}: critics")
        check_params(state.critic_target, self.critic_target, f"{what}: target critics")
        check_params(state.actor, self.actor, f"{what}: actor")
        check_params(state.actor_target, self.actor_target, f"{what}: target actor")
        check_adam(state.critic_opt, self.critic_moments, f"{what}: critic")
        if self.actor_moments is not None:
            check_adam(state.actor_opt, self.actor_moments, f"{what}: actor")
        if self.extra_step is not None:
            check_params(state.extra[0], self.extra, f"{what}: model")
            check_adam(state.extra[1], self.extra_moments, f"{what}: model")
        assert int(state.step) == self.step


def smoothed_action(reference, actor_target, next_obs, key, *, sigma, clip):
    """TD3's target action ``clip(π̄(s') + clip(σε, −c, c)·(high − low)/2, low, high)``
    (also returns the unclipped action)."""
    scale = (reference.high - reference.low) / 2
    epsilon = jnp.clip(sigma * jax.random.normal(key, reference.low.shape), -clip, clip)
    raw = reference.policy(actor_target, next_obs) + epsilon * scale
    return jnp.clip(raw, reference.low, reference.high), raw


def twin_min(critics, obs, action):
    return jnp.minimum(ref.q_value(critics[0], obs, action), ref.q_value(critics[1], obs, action))


TD3_OPTIONS = {
    "hidden": [8, 8],
    "batch_size": BATCH,
    "updates_per_step": ROWS,
    "gamma": GAMMA,
    "tau": TAU,
    "policy_delay": 2,
    "policy_noise": 0.6,  # σ ε beyond the clip c for |ε| > 0.5: the noise clip is active
    "noise_clip": 0.3,
    "actor_lr": 1e-3,
    "critic_lr": 2e-3,
}


def prepared_state(agent, key):
    """``agent.init`` with targets moved off the online networks (so the twin minimum, the
    target networks and Polyak all matter) and a saturated target actor (so the action-box
    clip of the smoothed target is active)."""
    state = agent.init(jax.random.key(key))
    return state._replace(
        actor_target=saturated(perturbed(state.actor, jax.random.key(key + 1), 0.05), 30.0),
        critic_target=perturbed(state.critic, jax.random.key(key + 2), 0.2),
    )


def test_td3_update_matches_the_reference(lq_info):
    """TD3: ``y = r + γ(1 − d) min_j Q̄_j(s', ã')``, ``L = Σ_i mean (Q_i − y)²``, delayed actor."""
    with jax.enable_x64(True):
        agent = make_agent("td3", lq_info, TD3_OPTIONS)
        state = prepared_state(agent, 10)
        batch = lq_batch(0, noise=False)
        key = jax.random.key(3)
        reference = Deterministic(
            state, lq_info.action_low, lq_info.action_high, actor_lr=1e-3, critic_lr=2e-3, delay=2
        )

        def td_target(context, item, smoothing_key):
            actor_target, critic_target = context["actor_target"], context["critic_target"]
            action, _ = smoothed_action(
                reference, actor_target, item["next_obs"], smoothing_key, sigma=0.6, clip=0.3
            )
            bootstrap = twin_min(critic_target, item["next_obs"], action)
            return item["reward"] + GAMMA * (1 - item["terminated"]) * bootstrap

        def critic_loss(critic, context, minibatch, critic_key):
            keys = jax.random.split(critic_key, BATCH)
            values = jax.vmap(td_target, in_axes=(None, 0, 0))(context, minibatch, keys)
            loss = 0.0
            for params in critic:
                q = jax.vmap(lambda s, a, p=params: ref.q_value(p, s, a))(
                    minibatch["obs"], minibatch["action"]
                )
                loss = loss + jnp.mean((q - values) ** 2)
            return loss, {"q_mean": jnp.mean(values)}

        # Both clips of the smoothed target action are active on this batch (first row).
        keys = jax.random.split(ref.td3_step_keys(ref.scan_keys(key, ROWS)[0])[1], BATCH)
        epsilon = 0.6 * jax.vmap(lambda k: jax.random.normal(k, (1,)))(keys)
        _, raw = jax.vmap(
            lambda s, k: smoothed_action(
                reference, reference.actor_target, s, k, sigma=0.6, clip=0.3
            )
        )(batch["next_obs"][0], keys)
        clip_counts = {
            "noise": int(np.sum(np.abs(epsilon) > 0.3)),
            "box": int(np.sum(np.abs(raw) > 5)),
        }

        expected = reference.update(batch, key, critic_loss, tau=TAU)
        new_state, losses = agent.update(state, batch, key)
        assert clip_counts["noise"] > 0 and clip_counts["box"] > 0, clip_counts
        assert reference.actor_updates == 1  # step 1 critic only, step 2 with the actor
        for name, value in expected.items():
            assert float(losses[name]) == pytest.approx(value, rel=VALUE_RTOL), name
        reference.check(new_state, "td3")


def test_td3_first_step_leaves_actor_and_targets_bitwise_unchanged(lq_info):
    """The delayed actor: after one step (``step = 1``, delay 2) actor and targets are untouched."""
    with jax.enable_x64(True):
        options = {**TD3_OPTIONS, "updates_per_step": 1}
        agent = make_agent("td3", lq_info, options)
        state = prepared_state(agent, 20)
        batch = {name: value[:1] for name, value in lq_batch(1, noise=False).items()}
        new_state, _ = agent.update(state, batch, jax.random.key(4))
        for name in ("actor", "actor_target", "critic_target", "actor_opt"):
            for got, want in zip(
                jax.tree.leaves(getattr(new_state, name)),
                jax.tree.leaves(getattr(state, name)),
                strict=True,
            ):
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=name)
        assert not np.allclose(np.asarray(new_state.critic[0][0]["w"]), state.critic[0][0]["w"])


# ----------------------------------------------------------------------------- Sobolev-TD3

LAMBDA_S, LAMBDA_A = 0.3, 2.0  # unequal, so a swapped weight is caught
NORM_FLOOR = 1e-6  # agents.sobolev_td's floor in the normalisations (its docstring)


def gradient_weights_formula(values, grad_s, grad_a, normalization):
    """``(w_s, w_a)`` of ``agents.sobolev_td``'s docstring, from the targets' statistics."""
    size_s = jnp.mean(jnp.sum(grad_s**2, -1))
    size_a = jnp.mean(jnp.sum(grad_a**2, -1))
    if normalization == "none":
        return LAMBDA_S, LAMBDA_A
    if normalization == "batch":
        return LAMBDA_S / (size_s + NORM_FLOOR), LAMBDA_A / (size_a + NORM_FLOOR)
    scale = (jnp.var(values) + NORM_FLOOR) / (size_s + size_a + NORM_FLOOR)
    return LAMBDA_S * scale, LAMBDA_A * scale


def sobolev_critic_loss_formula(critic, obs, action, values, grad_s, grad_a, normalization):
    """``Σ_i mean [(Q_i − y)² + w_s ‖∇_s Q_i − g_s‖² + w_a ‖∇_a Q_i − g_a‖²]`` ([FS])."""
    weight_s, weight_a = gradient_weights_formula(values, grad_s, grad_a, normalization)
    loss = 0.0
    for params in critic:
        q, (dq_ds, dq_da) = jax.vmap(
            jax.value_and_grad(lambda s, a, p=params: ref.q_value(p, s, a), argnums=(0, 1))
        )(obs, action)
        loss = loss + jnp.mean(
            (q - values) ** 2
            + weight_s * jnp.sum((dq_ds - grad_s) ** 2, -1)
            + weight_a * jnp.sum((dq_da - grad_a) ** 2, -1)
        )
    return loss, {"weight_s": weight_s, "weight_a": weight_a}


def chain_rule_targets(item, bootstrap, policy):
    """docs/claims.md#c6 on lq: ``y = r + γ(1−d) V̄(s')``, ``g = ∂r + γ(1−d) Fᵀ c``, ``c = u' + Π'ᵀ v'``.

    ``bootstrap(s', a') -> V̄`` and ``policy(s') -> a'`` are the frozen next-state value and
    target policy; ``u' = ∂_s' V̄``, ``v' = ∂_a' V̄`` and ``Π' = ∂a'/∂s'`` are evaluated at
    the STORED next observation (the value anchor), ``F_s = A``, ``F_a = B``.
    """
    obs, action, next_obs = item["obs"], item["action"], item["next_obs"]
    done = item["terminated"]
    next_action = policy(next_obs)
    u_next, v_next = jax.grad(bootstrap, argnums=(0, 1))(next_obs, next_action)
    policy_jac = jax.jacobian(policy)(next_obs)  # (m, n)
    total = u_next + policy_jac.T @ v_next
    dr_ds, dr_da = lq_reward_grads(obs, action)
    discount = GAMMA * (1 - done)
    value = item["reward"] + discount * bootstrap(next_obs, next_action)
    return value, dr_ds + discount * LQ["A"].T @ total, dr_da + discount * LQ["B"].T @ total


@pytest.mark.parametrize(
    "normalization", ["none", "relative", pytest.param("batch", marks=pytest.mark.heavy)]
)
def test_sobolev_td3_update_matches_the_reference(lq_info, normalization):
    """Sobolev-TD3 ([FS]): TD3 with the Sobolev loss on docs/claims.md#c6 gradient targets.

    The stored next observation and reward are moved off the model (``consistent=False``):
    the value target is the stored transition's, the derivatives the model's.
    """
    options = {
        **TD3_OPTIONS,
        "lambda_s": LAMBDA_S,
        "lambda_a": LAMBDA_A,
        "grad_normalization": normalization,
    }
    with jax.enable_x64(True):
        agent = make_agent("sobolev-td3", lq_info, options)
        state = prepared_state(agent, 30)
        batch = lq_batch(2, consistent=False)
        key = jax.random.key(5)
        reference = Deterministic(
            state, lq_info.action_low, lq_info.action_high, actor_lr=1e-3, critic_lr=2e-3, delay=2
        )

        def sobolev_targets(context, item, smoothing_key):
            actor_target, critic_target = context["actor_target"], context["critic_target"]

            def policy(next_obs):
                return smoothed_action(
                    reference, actor_target, next_obs, smoothing_key, sigma=0.6, clip=0.3
                )[0]

            def bootstrap(next_obs, next_action):
                return twin_min(critic_target, next_obs, next_action)

            return chain_rule_targets(item, bootstrap, policy)

        def critic_loss(critic, context, minibatch, critic_key):
            keys = jax.random.split(critic_key, BATCH)
            values, grads_s, grads_a = jax.vmap(sobolev_targets, in_axes=(None, 0, 0))(
                context, minibatch, keys
            )
            loss, weights = sobolev_critic_loss_formula(
                critic,
                minibatch["obs"],
                minibatch["action"],
                values,
                grads_s,
                grads_a,
                normalization,
            )
            return loss, {"q_mean": jnp.mean(values), **weights}

        expected = reference.update(batch, key, critic_loss, tau=TAU)
        new_state, losses = agent.update(state, batch, key)
        for name, value in expected.items():
            assert float(losses[name]) == pytest.approx(value, rel=VALUE_RTOL), name
        reference.check(new_state, f"sobolev-td3 ({normalization})")


# ----------------------------------------------------------------------------- SAC

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # Haarnoja et al.'s reference code (SACConfig docstring)


def tanh_gaussian(params, obs, noise, low, high):
    """Reparameterised ``a = c + h tanh(μ + σ ξ)`` and ``log π(a|s)`` by change of variables.

    ``log π = log N(u; μ, σ²) − Σ log(h (1 − tanh² u))``, ``u = μ + σξ``, ``log σ`` clipped to
    ``[−20, 2]``; ``c, h`` the box's centre and half-width. ``1 − tanh² u = sech² u`` is
    evaluated as ``−2 log cosh u = −2 (|u| + log1p(e^{−2|u|}) − log 2)`` (no cancellation).
    """
    out = ref.mlp(params, obs)
    m = out.shape[0] // 2
    mean, log_std = out[:m], jnp.clip(out[m:], LOG_STD_MIN, LOG_STD_MAX)
    pre_tanh = mean + jnp.exp(log_std) * noise
    centre, half = (high + low) / 2, (high - low) / 2
    gaussian = (
        -0.5 * ((pre_tanh - mean) / jnp.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi)
    )
    magnitude = jnp.abs(pre_tanh)
    log_sech2 = -2 * (magnitude + jnp.log1p(jnp.exp(-2 * magnitude)) - np.log(2))
    # The agents' action box is float32 (``actor_from_info``), so their ``log h`` is a float32
    # constant (1e-8 off for h = 5); the reference uses the same rounded constant.
    log_half = jnp.log(jnp.asarray(half, jnp.float32))
    log_prob = jnp.sum(gaussian - log_half - log_sech2)
    return centre + half * jnp.tanh(pre_tanh), log_prob


SAC_OPTIONS = {
    "hidden": [8, 8],
    "batch_size": BATCH,
    "updates_per_step": ROWS,
    "gamma": GAMMA,
    "tau": TAU,
    "actor_lr": 1e-3,
    "critic_lr": 2e-3,
    "alpha_lr": 5e-3,
    "init_alpha": 0.7,
}


@pytest.mark.parametrize("algo", ["sac", "sobolev-sac"])
def test_sac_update_matches_the_reference(lq_info, algo):
    """SAC (Haarnoja et al. 2018) and Sobolev-SAC, two steps, every network and α.

    ``y = r + γ(1−d)[min_j Q̄_j(s', a') − α log π(a'|s')]``, ``a' ~ π(·|s')`` (current actor,
    noise from the critic key); critic ``Σ_i mean (Q_i − y)²`` (Sobolev: plus the gradient
    terms of docs/claims.md#c6 through ``a'(s')`` and ``log π(a'(s')|s')``, relative weights); actor
    ``mean [α log π(a|s) − min_j Q_j(s, a)]`` with the updated critics; temperature loss
    ``−log α · (mean log π + H̄)``, ``H̄ = −dim A``; Polyak on the critics every step.
    """
    sobolev = algo == "sobolev-sac"
    options = {**SAC_OPTIONS}
    if sobolev:
        options.update(lambda_s=LAMBDA_S, lambda_a=LAMBDA_A, grad_normalization="relative")
    low = np.asarray(lq_info.action_low, np.float64)
    high = np.asarray(lq_info.action_high, np.float64)
    with jax.enable_x64(True):
        agent = make_agent(algo, lq_info, options)
        state = agent.init(jax.random.key(40))
        state = state._replace(critic_target=perturbed(state.critic, jax.random.key(41), 0.2))
        batch = lq_batch(3, consistent=not sobolev, noise=sobolev)
        key = jax.random.key(6)

        # α in float64 too (the agent stores log α as float32; the scan keeps its dtype).
        log_alpha = jnp.asarray(state.log_alpha, jnp.float64)
        state = state._replace(log_alpha=log_alpha, alpha_opt=optax.adam(5e-3).init(log_alpha))

        def soft_targets(actor, critic_target, alpha, item, policy_key):
            xi = jax.random.normal(policy_key, (1,))

            def policy(next_obs):
                return tanh_gaussian(actor, next_obs, xi, low, high)[0]

            def bootstrap(next_obs, next_action):
                log_prob = tanh_gaussian(actor, next_obs, xi, low, high)[1]
                return twin_min(critic_target, next_obs, next_action) - alpha * log_prob

            return chain_rule_targets(item, bootstrap, policy)

        @jax.jit
        @functools.partial(jax.value_and_grad, has_aux=True)
        def critic_loss(critic, actor, critic_target, alpha, minibatch, critic_key):
            keys = jax.random.split(critic_key, BATCH)
            values, grads_s, grads_a = jax.vmap(soft_targets, in_axes=(None, None, None, 0, 0))(
                actor, critic_target, alpha, minibatch, keys
            )
            if sobolev:
                loss, _ = sobolev_critic_loss_formula(
                    critic,
                    minibatch["obs"],
                    minibatch["action"],
                    values,
                    grads_s,
                    grads_a,
                    "relative",
                )
                return loss, jnp.mean(values)
            loss = 0.0
            for params in critic:
                q = jax.vmap(lambda s, a, p=params: ref.q_value(p, s, a))(
                    minibatch["obs"], minibatch["action"]
                )
                loss = loss + jnp.mean((q - values) ** 2)
            return loss, jnp.mean(values)

        @jax.jit
        @functools.partial(jax.value_and_grad, has_aux=True)
        def actor_loss(actor, critic, alpha, obs, actor_key):
            noise = jax.random.normal(actor_key, (BATCH, 1))
            actions, log_probs = jax.vmap(lambda s, xi: tanh_gaussian(actor, s, xi, low, high))(
                obs, noise
            )
            q = jax.vmap(lambda s, a: twin_min(critic, s, a))(obs, actions)
            return jnp.mean(alpha * log_probs - q), log_probs

        actor, critic = ref.to64(state.actor), ref.to64(state.critic)
        critic_target, log_alpha = ref.to64(state.critic_target), np.float64(log_alpha)
        moments = {"actor": None, "critic": None, "alpha": None}
        reported = {"critic": [], "actor": [], "alpha": [], "q_mean": []}
        for index, row_key in enumerate(ref.scan_keys(key, ROWS)):
            minibatch = row(batch, index)
            critic_key, actor_key = ref.sac_step_keys(row_key)
            alpha = np.exp(log_alpha)
            (loss, q_mean), grads = critic_loss(
                critic, actor, critic_target, alpha, minibatch, critic_key
            )
            critic, moments["critic"] = ref.adam(critic, grads, moments["critic"], lr=2e-3)
            (actor_value, log_probs), grads = actor_loss(
                actor, critic, alpha, minibatch["obs"], actor_key
            )
            actor, moments["actor"] = ref.adam(actor, grads, moments["actor"], lr=1e-3)
            # d/d log α of −log α · (mean log π + H̄), H̄ = −dim A = −1
            alpha_grad = -(np.mean(np.asarray(log_probs)) - 1.0)
            log_alpha, moments["alpha"] = ref.adam(
                log_alpha, np.float64(alpha_grad), moments["alpha"], lr=5e-3
            )
            critic_target = ref.averaged(critic_target, critic, TAU)
            for name, value in (
                ("critic", loss),
                ("actor", actor_value),
                ("alpha", alpha),
                ("q_mean", q_mean),
            ):
                reported[name].append(float(value))

        new_state, losses = agent.update(state, batch, key)
        for name, values in reported.items():
            assert float(losses[name]) == pytest.approx(np.mean(values), rel=VALUE_RTOL), name
        check_params(new_state.critic, critic, f"{algo}: critics")
        check_params(new_state.critic_target, critic_target, f"{algo}: target critics")
        check_params(new_state.actor, actor, f"{algo}: actor")
        assert float(new_state.log_alpha) == pytest.approx(log_alpha, rel=VALUE_RTOL, abs=1e-12)
        check_adam(new_state.critic_opt, moments["critic"], f"{algo}: critic")
        check_adam(new_state.actor_opt, moments["actor"], f"{algo}: actor")
        check_adam(new_state.alpha_opt, moments["alpha"], f"{algo}: alpha")
        assert int(new_state.step) == ROWS


# ----------------------------------------------------------------------------- MAGE

MAGE_LOG_STD = (-10.0, 0.5)  # agents.mage's soft bounds on the models' log-std
MAGE_OPTIONS = {
    "hidden": [8, 8],
    "batch_size": BATCH,
    "updates_per_step": ROWS,
    "gamma": GAMMA,
    "tau": TAU,
    "policy_delay": 2,
    "policy_noise": 0.9,  # σ ε beyond MAGE's fixed smoothing clip 0.5 for |ε| > 0.56
    "exploration_noise": 0.3,
    "actor_lr": 1e-3,
    "critic_lr": 2e-3,
    "model_lr": 1e-2,
    "ensemble_size": 3,
    "model_hidden": [8],
    "gradient_weight": 3.0,  # not the paper's 5, so a hard-coded weight is caught
    "huber_delta": 0.7,
}


def softplus(x):
    return jnp.logaddexp(x, 0.0)


def gaussian_member(params, obs, action, out_dim):
    """One ensemble member: mean and soft-clamped log-std of ``(Δs[, r])`` (swish MLP)."""
    out = ref.mlp(params, jnp.concatenate([obs, action]), act=ref.swish)
    low, high = MAGE_LOG_STD
    log_std = high - softplus(high - out[out_dim:])
    return out[:out_dim], low + softplus(log_std - low)


@pytest.mark.parametrize("known_reward", [True, pytest.param(False, marks=pytest.mark.heavy)])
def test_mage_update_matches_the_reference(lq_info, known_reward):
    """MAGE (D'Oro and Jaśkowski 2020): Gaussian-ensemble NLL step, then TD3 on imagined
    one-step targets with ``L = Huber_δ(Q − y) + w Huber_δ(‖∇_a Q − ∇_a y‖)``.

    ``known_reward=False`` hides the env's model (``diff_model=None``), so the ensemble also
    predicts the reward, as on MuJoCo.
    """
    info = lq_info if known_reward else lq_info._replace(diff_model=None)
    n = info.obs_dim
    out_dim = n + (0 if known_reward else 1)
    with jax.enable_x64(True):
        agent = make_agent("mage", info, MAGE_OPTIONS)
        state = prepared_state(agent, 50)
        batch = lq_batch(4, noise=False)
        key = jax.random.key(7)

        def model_step(models, moments, minibatch, model_key):
            del model_key  # MAGE's model step draws no noise
            delta = minibatch["next_obs"] - minibatch["obs"]
            target = (
                delta if known_reward else jnp.concatenate([delta, minibatch["reward"][:, None]], 1)
            )

            def nll(models):
                total = 0.0
                for e in range(MAGE_OPTIONS["ensemble_size"]):
                    params = jax.tree.map(lambda leaf, e=e: leaf[e], models)
                    mean, log_std = jax.vmap(
                        lambda s, a, p=params: gaussian_member(p, s, a, out_dim)
                    )(minibatch["obs"], minibatch["action"])
                    total = total + jnp.mean(
                        jnp.sum(0.5 * ((target - mean) / jnp.exp(log_std)) ** 2 + log_std, -1)
                    )
                return total

            return ref.adam(models, jax.grad(nll)(models), moments, lr=1e-2)

        reference = Deterministic(
            state,
            info.action_low,
            info.action_high,
            actor_lr=1e-3,
            critic_lr=2e-3,
            delay=2,
            extra_step=model_step,
        )
        scale = (reference.high - reference.low) / 2

        def imagined_target(context, obs, action, done, target_key):
            member_key, noise_key, smooth_key = jax.random.split(target_key, 3)
            index = jax.random.randint(member_key, (), 0, MAGE_OPTIONS["ensemble_size"])
            params = jax.tree.map(lambda leaf: leaf[index], context["extra"])
            epsilon = jax.random.normal(noise_key, (out_dim,))
            smoothing = jnp.clip(0.9 * jax.random.normal(smooth_key, (1,)), -0.5, 0.5)

            def transition(s, a):
                mean, log_std = gaussian_member(params, s, a, out_dim)
                sample = mean + jnp.exp(log_std) * epsilon
                reward = lq_next_and_reward(s, a, jnp.zeros(2))[1] if known_reward else sample[n]
                return s + sample[:n], reward

            def policy(next_obs):
                raw = reference.policy(context["actor_target"], next_obs) + smoothing * scale
                return jnp.clip(raw, reference.low, reference.high)

            def bootstrap(next_obs, next_action):
                return twin_min(context["critic_target"], next_obs, next_action)

            value, _, grad_a = ref.chain_rule_target(
                transition, bootstrap, policy, obs, action, done, GAMMA
            )
            return value, grad_a

        def critic_loss(critic, context, minibatch, critic_key):
            action_key, target_key = jax.random.split(critic_key)
            noise = jax.vmap(lambda k: jax.random.normal(k, (1,)))(
                jax.random.split(action_key, BATCH)
            )
            greedy = jax.vmap(lambda s: reference.policy(context["actor"], s))(minibatch["obs"])
            actions = jnp.clip(greedy + 0.3 * scale * noise, reference.low, reference.high)
            values, grads_a = jax.vmap(imagined_target, in_axes=(None, 0, 0, 0, 0))(
                context,
                minibatch["obs"],
                actions,
                minibatch["terminated"],
                jax.random.split(target_key, BATCH),
            )
            loss = 0.0
            for params in critic:
                q, dq_da = jax.vmap(
                    jax.value_and_grad(lambda s, a, p=params: ref.q_value(p, s, a), argnums=1)
                )(minibatch["obs"], actions)
                gap = jax.vmap(ref.norm)(dq_da - grads_a)
                loss = loss + jnp.mean(ref.huber(q - values, 0.7) + 3.0 * ref.huber(gap, 0.7))
            return loss, {"q_mean": jnp.mean(values)}

        expected = reference.update(batch, key, critic_loss, tau=TAU)
        new_state, losses = agent.update(state, batch, key)
        for name, value in expected.items():
            assert float(losses[name]) == pytest.approx(value, rel=VALUE_RTOL), name
        reference.check(new_state, f"mage (known reward: {known_reward})")


# ----------------------------------------------------------------------------- DSDPG

MODEL_LOG_STD = (-10.0, 2.0)  # agents.world_models' soft bounds (normalised units)
MAX_LOG_SCALE = 2.0  # the flow couplings' log-scale bound L
DSDPG_N, DSDPG_M, XI_DIM, TRUNCATE = 4, 3, 2, 0.25  # 2N = 8 pooled, floor(0.25 · 8) = 2 dropped
DSDPG_OPTIONS = {
    "model_normalisation": "none",  # the reference below standardises nothing
    "hidden": [8, 8],
    "batch_size": BATCH,
    "updates_per_step": ROWS,
    "gamma": GAMMA,
    "tau": TAU,
    "policy_delay": 2,
    "actor_lr": 1e-3,
    "critic_lr": 2e-3,
    "model_lr": 1e-2,
    "model_hidden": [8],
    "n_target_samples": DSDPG_N,
    "n_critic_samples": DSDPG_M,
    "xi_dim": XI_DIM,
    "truncate": TRUNCATE,
    "huber_weight": 3.0,
    "search_candidates": 4,
    "search_restarts": 1,
    "search_steps": 3,
}
KERNEL_H = 100.0  # DSDPG's default kernel multiquadric:h=100 ([DS])


def soft_clip(raw):
    low, high = MODEL_LOG_STD
    return low + softplus(high - softplus(high - raw) - low)


def normalised_condition(params, obs, action):
    stats = params["stats"]
    return (jnp.concatenate([obs, action]) - stats["input_mean"]) / stats["input_std"]


def denormalised(params, obs, x_normalised):
    """``(s + Δ, r)`` from the normalised ``x̃ = ((s' − s, r) − mean) / std``."""
    stats = params["stats"]
    x = stats["target_mean"] + stats["target_std"] * x_normalised
    return obs + x[:-1], x[-1]


def cvae_sample(params, obs, action, key):
    """``z = μ_p + σ_p ε_z``, ``x̂ = g(s, a, z) + σ_x ε_x`` (agents.world_models docstring)."""
    c = normalised_condition(params, obs, action)
    latent_key, likelihood_key = jax.random.split(key)
    prior = ref.mlp(params["prior"], c, act=ref.swish)
    k = prior.shape[0] // 2
    z = prior[:k] + jnp.exp(soft_clip(prior[k:])) * jax.random.normal(latent_key, (k,))
    x = ref.mlp(params["decoder"], jnp.concatenate([c, z]), act=ref.swish)
    x = x + jnp.exp(soft_clip(params["log_std"])) * jax.random.normal(likelihood_key, x.shape)
    return denormalised(params, obs, x)


def flow_sample(params, obs, action, key):
    """``x̃ = μ(c) + σ(c) f_K ∘ … ∘ f_1(u)``, RealNVP couplings with masks half/half/even/odd."""
    c = normalised_condition(params, obs, action)
    d = obs.shape[0] + 1
    y = jax.random.normal(key, (d,))
    index = np.arange(d)
    first_half, even = index < (d + 1) // 2, index % 2 == 0
    cycle = [first_half, ~first_half, even, ~even]
    for k, layer in enumerate(params["couplings"]):
        mask = cycle[k % 4].astype(np.float64)
        out = ref.mlp(layer, jnp.concatenate([mask * y, c]), act=ref.swish)
        shift, log_scale = out[:d], MAX_LOG_SCALE * jnp.tanh(out[d:] / MAX_LOG_SCALE)
        y = mask * y + (1 - mask) * (y * jnp.exp(log_scale) + shift)
    base = ref.mlp(params["base"], c, act=ref.swish)
    return denormalised(params, obs, base[:d] + jnp.exp(soft_clip(base[d:])) * y)


def z_value(params, obs, action, xi):
    """``Z(s, a, ξ)``: the MLP on ``(s, a, ξ)``."""
    return ref.mlp(params, jnp.concatenate([obs, action, xi]))[0]


def truncated_law(samples, fraction):
    """Keep the ``K − floor(fraction · K)`` samples with the lowest returns (column 0)."""
    keep = samples.shape[0] - int(np.floor(fraction * samples.shape[0]))
    return samples[jnp.argsort(samples[:, 0])[:keep]]


# In the default run: both world models, the searched (msmmd) and the value-only path (20-45 s
# each on two shared cores: the update compiles nested vmaps of Jacobians); the rest heavy.
DSDPG_CASES = [
    ("msmmd", "cvae"),
    ("mmd-nograd", "flow"),
    pytest.param("mmd", "flow", marks=pytest.mark.heavy),
    pytest.param("huber-sobolev", "cvae", marks=pytest.mark.heavy),
    pytest.param("msmmd", "flow", marks=pytest.mark.heavy),
    pytest.param("mmd", "cvae", marks=pytest.mark.heavy),
    pytest.param("huber-sobolev", "flow", marks=pytest.mark.heavy),
    pytest.param("mmd-nograd", "cvae", marks=pytest.mark.heavy),
]


@pytest.mark.parametrize(("loss_name", "world_model"), DSDPG_CASES)
def test_dsdpg_update_matches_the_reference(lq_info, loss_name, world_model):
    """DSDPG ([DS], docs/agents.md): model step, pooled-and-truncated target law, critic fit, actor.

    Per transition and target critic ``i``: ``y_ij = r̂_j + γ(1−d) Z̄_i(ŝ'_j, π̄(ŝ'_j), ξ'_j)``
    with ``(ŝ'_j, r̂_j)`` the updated model's sample for key ``j`` (written out here from the
    world models' equations) and ``g_ij = ∇_a y_ij`` by docs/claims.md#c6 chain rule; the ``2N``
    samples of both critics pooled, the top ``floor(p · 2N)`` returns dropped (the reported
    ``target_return_mean`` is the kept samples' mean). The fit: ``mmd`` the multiquadric MMD²
    written out, ``huber-sobolev`` Huber on the sample means, ``msmmd``
    ``sobolev_core.msmmd_loss`` (the loss under test; its formula is checked in
    ``tests/sobolev_core/test_loss_formulas.py``) with the agent's search keys. The model
    step uses the model's own loss (checked in ``tests/agents/test_world_models.py``).
    """
    from agents.world_models import make_world_model
    from sobolev_core import msmmd_loss, multiquadric

    with_gradients = loss_name != "mmd-nograd"
    options = {**DSDPG_OPTIONS, "critic_loss": loss_name, "world_model": world_model}
    with jax.enable_x64(True):
        agent = make_agent("dsdpg", lq_info, options)
        state = prepared_state(agent, 60)
        batch = lq_batch(5, noise=False)
        key = jax.random.key(8)
        model = make_world_model(world_model, lq_info.obs_dim, lq_info.action_dim, hidden=(8,))
        sample = cvae_sample if world_model == "cvae" else flow_sample

        def model_step(params, moments, minibatch, model_key):
            keys = jax.random.split(model_key, BATCH)

            def loss(params):
                return jnp.mean(
                    jax.vmap(model.loss, in_axes=(None, 0, 0, 0, 0, 0))(
                        params,
                        minibatch["obs"],
                        minibatch["action"],
                        minibatch["next_obs"],
                        minibatch["reward"],
                        keys,
                    )
                )

            return ref.adam(params, jax.grad(loss)(params), moments, lr=1e-2)

        def actor_objective(actor_params, critic, obs, actor_key):
            keys = jax.random.split(actor_key, BATCH)

            def value(s, k):
                xis = jax.random.normal(k, (DSDPG_M, XI_DIM))
                a = reference.policy(actor_params, s)
                return jnp.mean(jax.vmap(lambda xi: z_value(critic[0], s, a, xi))(xis))

            return -jnp.mean(jax.vmap(value)(obs, keys))

        reference = Deterministic(
            state,
            lq_info.action_low,
            lq_info.action_high,
            actor_lr=1e-3,
            critic_lr=2e-3,
            delay=2,
            extra_step=model_step,
            actor_objective=actor_objective,
        )

        def pooled(context, item, key):
            model_key, xi_key = jax.random.split(key)
            model_keys = jax.random.split(model_key, DSDPG_N)
            xis = jax.random.normal(xi_key, (DSDPG_N, XI_DIM))

            def one(critic_params, model_key, xi):
                def transition(s, a):
                    return sample(context["extra"], s, a, model_key)

                def policy(next_obs):
                    return reference.policy(context["actor_target"], next_obs)

                def bootstrap(next_obs, next_action):
                    return z_value(critic_params, next_obs, next_action, xi)

                value, _, grad_a = ref.chain_rule_target(
                    transition,
                    bootstrap,
                    policy,
                    item["obs"],
                    item["action"],
                    item["terminated"],
                    GAMMA,
                )
                return jnp.concatenate([value[None], grad_a]) if with_gradients else value[None]

            return jnp.concatenate(
                [
                    jax.vmap(one, in_axes=(None, 0, 0))(params, model_keys, xis)
                    for params in context["critic_target"]
                ]
            )

        def predicted(params, obs, action, xis):
            def one(xi):
                value, grad_a = jax.value_and_grad(z_value, argnums=2)(params, obs, action, xi)
                return jnp.concatenate([value[None], grad_a]) if with_gradients else value[None]

            return jax.vmap(one)(xis)

        def fit(pred, target, search_key):
            if loss_name == "msmmd":
                return msmmd_loss(
                    pred,
                    target,
                    multiquadric(KERNEL_H),
                    search_key,
                    n_candidates=4,
                    n_restarts=1,
                    n_steps=3,
                )
            if loss_name in ("mmd", "mmd-nograd"):
                return ref.multiquadric_mmd2(pred, target, KERNEL_H)
            gap = ref.norm(jnp.mean(pred[:, 1:], 0) - jnp.mean(target[:, 1:], 0))
            return ref.huber(jnp.mean(pred[:, 0]) - jnp.mean(target[:, 0]), 1.0) + 3.0 * ref.huber(
                gap, 1.0
            )

        def critic_loss(critic, context, minibatch, critic_key):
            target_key, xi_key, search_key = jax.random.split(critic_key, 3)
            laws = jax.vmap(pooled, in_axes=(None, 0, 0))(
                context, minibatch, jax.random.split(target_key, BATCH)
            )
            assert laws.shape == (BATCH, 2 * DSDPG_N, 1 + with_gradients)
            kept = jax.vmap(lambda law: truncated_law(law, TRUNCATE))(laws)
            assert kept.shape[1] == 2 * DSDPG_N - 2
            xis = jax.random.normal(xi_key, (BATCH, DSDPG_M, XI_DIM))
            search_keys = jax.random.split(search_key, (2, BATCH))
            loss = 0.0
            for params, keys in zip(critic, search_keys, strict=True):
                pred = jax.vmap(predicted, in_axes=(None, 0, 0, 0))(
                    params, minibatch["obs"], minibatch["action"], xis
                )
                loss = loss + jnp.mean(jax.vmap(fit)(pred, kept, keys))
            return loss, {"target_return_mean": jnp.mean(kept[:, :, 0])}

        expected = reference.update(batch, key, critic_loss, tau=TAU)
        new_state, losses = agent.update(state, batch, key)
        for name, value in expected.items():
            assert float(losses[name]) == pytest.approx(value, rel=VALUE_RTOL), name
        reference.check(new_state, f"dsdpg ({loss_name}, {world_model})")
