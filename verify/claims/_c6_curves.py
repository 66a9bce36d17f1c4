"""C6 in training: learning curves of a Sobolev agent against its value-only baseline, and
the policy-gradient variance from the same runs' checkpoints (c6.py's docstring, items 3
and 4)."""

from __future__ import annotations

import math
import pickle
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from agents import sac
from agents.agent import env_info
from agents.common import actor_from_info, critic_value
from agents.envs import make_training_env
from agents.registry import make_agent
from agents.training import TrainConfig, run_training
from verify.claims._c6_lq import iqm_band
from verify.claims._c6_settings import CLAIM, PAIR_TD3, START_STEPS, Settings
from verify.claims._common import Finding, finding, outcome_of
from verify.stats import compare


def _run_settings(env_id, algo, steps, seed, budget) -> dict[str, Any]:
    options = dict(budget.curve_options)
    options.setdefault("start_steps", min(START_STEPS.get(env_id, 1000), steps // 3))
    evals = budget.curve_evals
    return {
        "algo": algo,
        "env": env_id,
        "steps": steps,
        "seed": seed,
        "eval_every": max(steps // evals, 1),
        "eval_episodes": budget.eval_episodes,
        "checkpoint_every": steps,
        "options": options,
    }


def _policy_gradient_spread(settings: dict[str, Any], run_dir: Path, minibatches: int, seed: int):
    """``tr Cov`` and ``‖ḡ‖²`` of ``∇_θ J`` over ``minibatches`` replay minibatches."""
    checkpoint = pickle.loads((run_dir / "checkpoint.pkl").read_bytes())
    state = jax.tree.map(jnp.asarray, checkpoint["agent"])
    buffer = checkpoint["buffer"]
    info = env_info(make_training_env(settings["env"], "none", settings["seed"]))
    agent = make_agent(settings["algo"], info, settings["options"])
    spec = actor_from_info(info.action_low, info.action_high)
    rng = np.random.default_rng([seed, settings["seed"], settings["steps"]])
    batches = buffer.sample(rng, (minibatches, agent.hyper.batch_size))["obs"]

    if settings["algo"] in PAIR_TD3:

        def objective(actor_params, obs, key):
            del key
            actions = jax.vmap(lambda o: spec.apply(actor_params, o))(obs)
            return jnp.mean(jax.vmap(critic_value, (None, 0, 0))(state.critic[0], obs, actions))

    else:

        def objective(actor_params, obs, key):
            loss, _ = sac.sac_actor_loss(
                actor_params, state.critic, jnp.exp(state.log_alpha), obs, key, spec=spec
            )
            return -loss

    def flat_gradient(obs, key):
        grads = jax.grad(objective)(state.actor, obs, key)
        return jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree.leaves(grads)])

    keys = jax.random.split(jax.random.key(seed), minibatches)
    grads = np.asarray(jax.jit(jax.vmap(flat_gradient))(jnp.asarray(batches), keys), np.float64)
    mean = grads.mean(axis=0)
    trace = float(np.sum((grads - mean) ** 2) / (minibatches - 1))
    return {"trace_cov": trace, "mean_norm2": float(mean @ mean)}


def _compare_groups(baseline, candidate, n_boot, seed, *, better_below):
    """``verify.stats.compare`` with zero tolerance; one seed a side is always inconclusive."""
    verdict = compare(baseline, candidate, seed=seed, n_boot=n_boot, tolerance=0.0, atol=0.0)
    if min(len(baseline), len(candidate)) < 2:
        return verdict, "inconclusive"
    low, high = verdict.difference_ci
    return verdict, outcome_of(low, high, better_below=better_below)


def _train_pair(budget: Settings, out: Path, env_id, pair, steps, checkpoints, seeds, seed):
    """Train both algorithms of ``pair`` for every seed and checkpoint fraction; return the
    evaluation curves of the full-length runs and the policy-gradient spread of every run."""
    curves: dict[str, list] = {algo: [] for algo in pair}
    spread: dict[tuple[str, float], list[dict]] = {}
    for run_seed in seeds:
        for algo in pair:
            for fraction in sorted(checkpoints):
                run_steps = max(round(fraction * steps), 1)
                settings = _run_settings(env_id, algo, run_steps, run_seed, budget)
                run_dir = out / "runs" / f"{env_id}_{algo}_s{run_seed}_{run_steps}"
                # The host loop: the spread below reads its checkpoint's replay buffer.
                config = TrainConfig(**settings).validate()
                result = run_training(config, run_dir, resume=True, progress=False)
                if fraction == 1.0:
                    curves[algo].append(result["eval_curve"])
                spread.setdefault((algo, fraction), []).append(
                    _policy_gradient_spread(settings, run_dir, budget.pg_minibatches, seed)
                )
    return curves, spread


def _curve_finding(curves, pair, env_id, common, n_boot, seed, wall) -> Finding:
    """The learning-curve comparison: IQM difference of the mean return over the curve."""
    baseline, candidate = pair
    area = {
        algo: np.array([np.mean([point[1] for point in curve]) for curve in curves[algo]])
        for algo in pair
    }
    final = {algo: np.array([curve[-1][1] for curve in curves[algo]]) for algo in pair}
    verdict, outcome = _compare_groups(
        area[baseline], area[candidate], n_boot, seed, better_below=False
    )
    final_verdict, final_outcome = _compare_groups(
        final[baseline], final[candidate], n_boot, seed, better_below=False
    )
    return finding(
        CLAIM,
        f"learning-curve/{env_id}/{candidate}-vs-{baseline}",
        {**common, "algos": list(pair)},
        seed,
        verdict.difference,
        0.0,
        outcome == "supported",
        outcome=outcome,
        statistic="IQM over seeds of the mean evaluation return over the curve, "
        f"{candidate} minus {baseline}",
        difference_ci95=list(verdict.difference_ci),
        area_iqm={baseline: verdict.reference_iqm, candidate: verdict.new_iqm},
        final_iqm={baseline: final_verdict.reference_iqm, candidate: final_verdict.new_iqm},
        final_ci95={
            baseline: list(final_verdict.reference_ci),
            candidate: list(final_verdict.new_ci),
        },
        final_difference_ci95=list(final_verdict.difference_ci),
        final_outcome=final_outcome,
        finals={algo: final[algo].tolist() for algo in pair},
        curves={
            algo: iqm_band(
                np.array([[point[1] for point in curve] for curve in curves[algo]]),
                [point[0] for point in curves[algo][0]],
                n_boot,
                seed,
            )
            for algo in pair
        },
        wall_seconds=wall,
    )


def _variance_finding(spread, pair, env_id, common, steps, fraction, budget, seed) -> Finding:
    """The policy-gradient variance comparison at one checkpoint fraction (log tr Cov)."""
    baseline, candidate = pair
    n_boot = budget.n_boot
    traces = {a: np.array([s["trace_cov"] for s in spread[(a, fraction)]]) for a in pair}
    relative = {
        a: np.array([s["trace_cov"] / max(s["mean_norm2"], 1e-30) for s in spread[(a, fraction)]])
        for a in pair
    }
    log_verdict, log_outcome = _compare_groups(
        np.log(traces[baseline]), np.log(traces[candidate]), n_boot, seed, better_below=True
    )
    rel_verdict, rel_outcome = _compare_groups(
        np.log(relative[baseline]), np.log(relative[candidate]), n_boot, seed, better_below=True
    )
    return finding(
        CLAIM,
        f"policy-gradient-variance/{env_id}/{candidate}-vs-{baseline}/at-{round(fraction * steps)}",
        {**common, "algos": list(pair), "minibatches": budget.pg_minibatches, "fraction": fraction},
        seed,
        math.exp(log_verdict.difference),
        1.0,
        log_outcome == "supported",
        outcome=log_outcome,
        statistic=f"ratio {candidate} / {baseline} of the IQM over seeds of "
        "tr Cov_k[∇_θ J] (log scale)",
        ratio_ci95=[math.exp(v) for v in log_verdict.difference_ci],
        relative_ratio=math.exp(rel_verdict.difference),
        relative_ratio_ci95=[math.exp(v) for v in rel_verdict.difference_ci],
        relative_outcome=rel_outcome,
        trace_cov={a: traces[a].tolist() for a in pair},
        trace_over_mean_norm2={a: relative[a].tolist() for a in pair},
    )


def curve_records(budget: Settings, out_dir: str | Path, seed: int = 0) -> list[Finding]:
    """Learning curves and policy-gradient variance (c6.py's docstring, items 3 and 4)."""
    out = Path(out_dir)
    findings = []
    seeds = [seed + index for index in range(budget.curve_seeds)]
    for env_id, pair, steps, checkpoints in budget.curves:
        started = time.monotonic()
        curves, spread = _train_pair(budget, out, env_id, pair, steps, checkpoints, seeds, seed)
        wall = time.monotonic() - started
        options = _run_settings(env_id, pair[1], steps, seeds[0], budget)["options"]
        common = {"env": env_id, "steps": steps, "seeds": seeds, "options": options}
        findings.append(_curve_finding(curves, pair, env_id, common, budget.n_boot, seed, wall))
        for fraction in sorted(checkpoints):
            findings.append(
                _variance_finding(spread, pair, env_id, common, steps, fraction, budget, seed)
            )
    return findings
