"""``sobolev-verify bench``: cost ratios measured in one process, printed and saved as JSON.

Benchmarks, not tests: nothing here asserts a speed. Every ratio divides two timings taken in
this process on the same inputs, so machine load affects both sides alike (the absolute
milliseconds are printed too, for context).

- **Gradient steps**: one update of every agent (DSDPG with each critic loss, MAGE, Sobolev-TD3
  and -SAC where installed) against one TD3 update, on the same replay batch: medians of
  ``repeats`` calls after a compile call, each variant timed in alternation with TD3 so that
  both sides of a ratio see the same load; wall time, CPU time (less sensitive to other
  processes on a shared machine) and XLA's FLOP count of the compiled update. DSDPG's time
  is split into its pieces (world-model step, target law, critic fit, direction search,
  actor step; ``_dsdpg_parts``).
- **Steps per second**: short training runs of every algorithm (env steps per second of
  wall time, compile excluded by a warm-up run).
- **max_sliced_mmd**: against a dense angle grid in 2-D (relative gap and time) and against
  the best of many random directions in higher dimension (the search should be no worse).
- **Report**: the wall time of the default (quick) report; **tests**: the default test run's
  wall time (``--with-tests``, several minutes).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from verify.usage import UsageError, writable_out

_PREFIX = "sobolev-verify bench: error:"
SECTIONS = ("steps", "loops", "sb3", "fd", "c7", "rates", "msmmd", "report", "tests")


def add_bench_parser(commands) -> None:
    bench = commands.add_parser("bench", help="benchmarks: cost ratios measured in one process")
    bench.add_argument(
        "--only",
        default="steps,loops,sb3,fd,rates,msmmd,report",
        help=f"comma-separated sections of {', '.join(SECTIONS)} (default: all but c7 and "
        "tests; c7, the measured C7-sweep time, takes several minutes)",
    )
    bench.add_argument("--env", default="Hopper-v5", help="env of the gradient-step batch")
    bench.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    bench.add_argument("--repeats", type=int, default=10, help="timed calls (default 10)")
    bench.add_argument("--out", default="sobolev-bench.json", help="JSON file to write")
    bench.add_argument("--with-tests", action="store_true", help="also time the default tests")


def _median_seconds(function, repeats: int) -> float:
    function()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batch(info, size: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    low, high = info.action_low, info.action_high
    return {
        "obs": rng.normal(size=(1, size, info.obs_dim)).astype(np.float32),
        "action": rng.uniform(low, high, size=(1, size, info.action_dim)).astype(np.float32),
        "reward": rng.normal(size=(1, size)).astype(np.float32),
        "next_obs": rng.normal(size=(1, size, info.obs_dim)).astype(np.float32),
        "terminated": (rng.uniform(size=(1, size)) < 0.05).astype(np.float32),
    }


_STEP_VARIANTS = (
    ("td3", {}),
    ("dsdpg", {"critic_loss": "msmmd"}),
    ("dsdpg", {"critic_loss": "mmd"}),
    ("dsdpg", {"critic_loss": "huber-sobolev"}),
    ("dsdpg", {"critic_loss": "mmd-nograd"}),
    ("dsdpg", {"critic_loss": "msmmd", "n_target_samples": 4, "n_critic_samples": 4}),
    # a cheaper direction search (changes the values: fewer candidates and ascent steps)
    ("dsdpg", {"critic_loss": "msmmd", "search_candidates": 4, "search_steps": 5}),
    ("mage", {}),
    ("sobolev-td3", {}),
    ("sobolev-sac", {}),
    ("sac", {}),
)


def _paired_seconds(function, base, repeats: int) -> dict:
    """Medians of wall and CPU (process) seconds of ``function`` and of ``base``, called in
    alternation so that both see the same machine load (one compile call each first)."""
    function()
    base()
    times: dict[str, list[float]] = {"wall": [], "cpu": [], "base_wall": [], "base_cpu": []}
    for _ in range(repeats):
        for prefix, call in (("", function), ("base_", base)):
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            times[prefix + "cpu"].append(time.process_time() - cpu)
            times[prefix + "wall"].append(time.perf_counter() - wall)
    return {name: statistics.median(values) for name, values in times.items()}


def _gflop(update, *args) -> float | None:
    """XLA's count of floating-point operations of one compiled update, in GFLOP (loop
    bodies counted once; ``None`` where the backend gives no cost analysis)."""
    try:
        analysis = update.lower(*args).compile().cost_analysis()
    except Exception:  # a backend without cost analysis: the count is optional
        return None
    if isinstance(analysis, list):
        analysis = analysis[0] if analysis else None
    if not analysis or "flops" not in analysis:
        return None
    return float(analysis["flops"]) / 1e9


def bench_steps(env_id: str, batch_size: int, repeats: int, variants=_STEP_VARIANTS) -> list[dict]:
    """One update of each variant against one TD3 update on the same batch (the first
    variant must be TD3): wall and CPU time, timed in alternation with TD3, and XLA's FLOP
    count; DSDPG rows add the time of each piece (:func:`_dsdpg_parts`)."""
    import jax

    from agents.agent import env_info
    from agents.envs import make_training_env
    from agents.registry import AGENTS as ALGORITHMS
    from agents.registry import make_agent

    training_env = make_training_env(env_id, "none", 0)
    info = env_info(training_env)
    rows, base, base_gflop = [], None, None
    for algo, options in variants:
        if algo not in ALGORITHMS:
            continue
        options = {**options, "updates_per_step": 1, "batch_size": batch_size}
        try:
            agent = make_agent(algo, info, options)
        except (ImportError, ValueError) as error:
            rows.append({"algo": algo, "options": options, "skipped": str(error)})
            continue
        batch = _batch(info, batch_size)
        if agent.extra_fields:
            import numpy as np

            rng = np.random.default_rng(1)
            for name, shape in agent.extra_fields.items():
                batch[name] = rng.normal(size=(1, batch_size, *shape)).astype(np.float32) * 0.1
        state = agent.init(jax.random.PRNGKey(0))
        key = jax.random.PRNGKey(1)

        def step(agent=agent, state=state, batch=batch, key=key):
            _, losses = agent.update(state, batch, key)
            jax.block_until_ready(losses)

        gflop = _gflop(agent.update, state, batch, key)
        if base is None:
            base, base_gflop = step, gflop
        times = _paired_seconds(step, base, repeats)
        row = {
            "algo": algo,
            "options": {k: v for k, v in options.items() if k not in ("batch_size",)},
            "ms": times["wall"] * 1e3,
            "cpu_ms": times["cpu"] * 1e3,
            "td3_ms": times["base_wall"] * 1e3,
            "td3_cpu_ms": times["base_cpu"] * 1e3,
            "ratio_to_td3": times["wall"] / times["base_wall"],
            "cpu_ratio_to_td3": times["cpu"] / times["base_cpu"],
            "gflop": gflop,
            "flop_ratio_to_td3": gflop / base_gflop if gflop and base_gflop else None,
        }
        if algo == "dsdpg":
            row.update(_dsdpg_parts(agent, info, state, batch, repeats, options))
        rows.append(row)
        print(_step_line(row), flush=True)
    return rows


def _dsdpg_parts(agent, info, state, batch, repeats, options) -> dict:
    """Time DSDPG's pieces alone (each jitted by itself, on the same batch and state).

    ``model_step_ms``: the world model's step; ``target_law_ms``: the pooled, truncated
    targets of the batch; ``critic_fit_ms``: the value and gradient of both critics' fit
    loss given the targets (``msmmd``: direction search included); ``search_ms``
    (``msmmd`` only): both critics' direction searches alone, on precomputed samples;
    ``actor_step_ms``: the actor objective's value and gradient. Their sum exceeds the
    update's time by what XLA fuses or overlaps inside one program.
    """
    import jax
    import jax.numpy as jnp

    from agents.dsdpg import make_parts
    from sobolev_core import max_sliced_direction

    parts = make_parts(info, options)
    hyper = parts.hyper
    minibatch = jax.tree.map(lambda leaf: jnp.asarray(leaf[0]), batch)
    size = minibatch["obs"].shape[0]
    keys = jax.random.split(jax.random.PRNGKey(2), 4)

    def timed(function, *args) -> float:
        compiled = jax.jit(function)
        return 1e3 * _median_seconds(lambda: jax.block_until_ready(compiled(*args)), repeats)

    law = jax.jit(parts.targets)(state, minibatch, keys[0])
    row = {
        "model_step_ms": timed(parts.model_update, state, minibatch, keys[0]),
        "target_law_ms": timed(parts.targets, state, minibatch, keys[0]),
        "critic_fit_ms": timed(
            jax.value_and_grad(parts.fit), state.critic, minibatch, law, keys[1], keys[2]
        ),
    }
    if hyper.critic_loss == "msmmd":
        xis = jax.random.normal(keys[1], (size, hyper.n_critic_samples, hyper.xi_dim))
        per_transition = jax.vmap(parts.predicted, in_axes=(None, 0, 0, 0))
        pred = jax.jit(
            lambda critic: jnp.stack(
                [
                    per_transition(params, minibatch["obs"], minibatch["action"], xis)
                    for params in critic
                ]
            )
        )(state.critic)

        def search(pred, key):
            def one(pred, target, key):
                return max_sliced_direction(
                    pred,
                    target,
                    parts.kernel,
                    key,
                    n_candidates=hyper.search_candidates,
                    n_restarts=hyper.search_restarts,
                    n_steps=hyper.search_steps,
                )[0]

            search_keys = jax.random.split(key, (2, size))
            return jax.vmap(jax.vmap(one), in_axes=(0, None, 0))(pred, law, search_keys)

        row["search_ms"] = timed(search, pred, keys[2])

    def actor_objective(actor_params, key):
        actions = jax.vmap(lambda obs: parts.actor.apply(actor_params, obs))(minibatch["obs"])
        sample_keys = jax.random.split(key, size)
        return -jnp.mean(
            jax.vmap(parts.actor_value, in_axes=(None, 0, 0, 0))(
                state.critic, minibatch["obs"], actions, sample_keys
            )
        )

    row["actor_step_ms"] = timed(jax.value_and_grad(actor_objective), state.actor, keys[3])
    return row


def _step_line(row: dict) -> str:
    variant = ",".join(f"{k}={v}" for k, v in row["options"].items() if k != "updates_per_step")
    line = (
        f"  {row['algo']:12s} {variant:55s} {row['ms']:9.2f} ms  ×{row['ratio_to_td3']:.2f} TD3"
        f" (CPU time ×{row['cpu_ratio_to_td3']:.2f}"
    )
    if row.get("flop_ratio_to_td3"):
        line += f", FLOPs ×{row['flop_ratio_to_td3']:.1f}: {row['gflop']:.2f} GFLOP"
    line += ")"
    if "target_law_ms" in row:
        pieces = [
            ("model step", "model_step_ms"),
            ("target law", "target_law_ms"),
            ("critic fit", "critic_fit_ms"),
            ("of which search", "search_ms"),
            ("actor", "actor_step_ms"),
        ]
        line += (
            "\n"
            + " " * 16
            + ", ".join(f"{label} {row[name]:.1f} ms" for label, name in pieces if name in row)
        )
    return line


def bench_rates(steps: int = 400) -> list[dict]:
    """Env steps per second of short training runs (a first run of each warms the compiler)."""
    from agents.registry import AGENTS as ALGORITHMS
    from agents.training import TrainConfig, run_training

    rows = []
    small = {"hidden": [64, 64], "batch_size": 64, "start_steps": 100}
    extra = {
        "mage": {"model_hidden": [64, 64], "ensemble_size": 4, "updates_per_step": 1},
        "dsdpg": {"model_hidden": [64, 64], "updates_per_step": 1},
    }
    for algo in ALGORITHMS:
        for env_id in ("point-mass:4", "Hopper-v5"):
            config = TrainConfig(
                algo=algo,
                env=env_id,
                steps=steps,
                eval_every=steps,
                eval_episodes=1,
                options={**small, **extra.get(algo, {})},
            )
            with tempfile.TemporaryDirectory() as folder:
                try:
                    run_training(config, Path(folder) / "warm", progress=False)
                    start = time.perf_counter()
                    run_training(config, Path(folder) / "timed", progress=False)
                except (ImportError, ValueError) as error:
                    rows.append({"algo": algo, "env": env_id, "skipped": str(error)})
                    continue
                seconds = time.perf_counter() - start
            rows.append({"algo": algo, "env": env_id, "steps_per_second": steps / seconds})
            print(f"  {algo:12s} {env_id:14s} {steps / seconds:8.1f} env steps/s", flush=True)
    return rows


def bench_msmmd(seed: int = 0) -> dict:
    """max_sliced_mmd against a 2-D angle grid and against many random directions."""
    import numpy as np

    from sobolev_core import max_sliced_mmd, multiquadric, sliced_mmd2

    rng = np.random.default_rng(seed)
    kernel = multiquadric(h=1.0)
    x = rng.normal(size=(64, 2)) * [1.0, 0.3]
    y = rng.normal(size=(64, 2)) * [0.4, 1.0] + [0.2, 0.0]
    max_sliced_mmd(x, y, kernel, seed=seed)  # compile
    start = time.perf_counter()
    searched = max_sliced_mmd(x, y, kernel, seed=seed)
    search_s = time.perf_counter() - start
    angles = np.linspace(0.0, np.pi, 20_000, endpoint=False)
    start = time.perf_counter()
    grid = max(float(sliced_mmd2(x, y, kernel, np.array([np.cos(t), np.sin(t)]))) for t in angles)
    grid_s = time.perf_counter() - start
    grid_row = {
        "dim": 2,
        "search_squared": float(searched.squared),
        "grid_squared": grid,
        "relative_gap": (grid - float(searched.squared)) / grid,
        "search_seconds": search_s,
        "grid_seconds": grid_s,
        "time_ratio_grid_to_search": grid_s / search_s,
    }
    print(
        f"  2-D: search {grid_row['search_squared']:.6g} vs 20000-angle grid {grid:.6g} "
        f"(gap {grid_row['relative_gap']:.2e}); grid takes ×{grid_row['time_ratio_grid_to_search']:.1f}"
        " the search's time",
        flush=True,
    )
    dim = 7
    x = rng.normal(size=(64, dim))
    y = rng.normal(size=(64, dim)) * np.linspace(0.5, 1.5, dim)
    searched = max_sliced_mmd(x, y, kernel, seed=seed)
    directions = rng.normal(size=(4000, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    best = max(float(sliced_mmd2(x, y, kernel, theta)) for theta in directions)
    random_row = {
        "dim": dim,
        "search_squared": float(searched.squared),
        "best_of_4000_random": best,
        "search_over_random": float(searched.squared) / best,
    }
    print(
        f"  {dim}-D: search {random_row['search_squared']:.6g} vs best of 4000 random directions "
        f"{best:.6g} (×{random_row['search_over_random']:.3f})",
        flush=True,
    )
    return {"grid": grid_row, "random": random_row}


def _timed_command(argv: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if completed.returncode not in (0, 1):
        raise RuntimeError(
            f"{' '.join(argv)} exited {completed.returncode}: {completed.stderr[-500:]}"
        )
    return seconds


def run_bench(args) -> int:
    sections = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = [part for part in sections if part not in SECTIONS]
    if unknown:
        raise UsageError(f"{_PREFIX} --only {args.only!r}: unknown {unknown}; accepted: {SECTIONS}")
    if args.with_tests and "tests" not in sections:
        sections.append("tests")
    if args.batch < 1 or args.repeats < 1:
        raise UsageError(f"{_PREFIX} --batch and --repeats must be >= 1")
    from agents.envs import check_env_id
    from agents.files import write_json
    from verify.records import library_versions

    try:
        check_env_id(args.env)
    except ValueError as error:
        raise UsageError(f"{_PREFIX} {error}") from None
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"{_PREFIX} --out {args.out!r} is a folder; give the JSON file to write")
    writable_out(out.parent, _PREFIX)  # before minutes of benchmarks, not after
    result: dict = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "versions": library_versions(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if "steps" in sections:
        print(f"gradient steps on {args.env}, batch {args.batch} (median of {args.repeats}):")
        load_before = os.getloadavg()
        result["steps"] = bench_steps(args.env, args.batch, args.repeats)
        result["steps_load_average"] = {"before": load_before, "after": os.getloadavg()}
        print(
            "  load average (1, 5, 15 min) before "
            + " ".join(f"{v:.2f}" for v in load_before)
            + ", after "
            + " ".join(f"{v:.2f}" for v in os.getloadavg())
        )
    if "loops" in sections:
        from verify.bench_loops import loop_figures

        print("training loops on point-mass:4 (64-64, batch 32, 1 update per step):")
        result["loops"] = loops = loop_figures()
        for algo in ("td3", "dsdpg"):
            row = loops[algo]
            print(
                f"  {algo}: device 8 seeds {row['device_8_seeds_env_steps_per_s']:.0f} env steps/s "
                f"= {row['device_over_update_bound']:.2f} x the vmapped update alone "
                f"({row['update_bound_seed_updates_per_s']:.0f} seed-updates/s); "
                f"{row['device_8_over_host_1']:.1f} x the host loop's 1 seed "
                f"({row['host_1_seed_env_steps_per_s']:.0f}); device 1 seed "
                f"{row['device_1_over_host_1']:.1f} x host"
            )
    if "sb3" in sections:
        from verify.bench_loops import host_against_sb3

        print("TD3 host loop against stable-baselines3 TD3 (256-256, batch 256, 1 update/step):")
        result["sb3"] = figures = host_against_sb3()
        for env_id, row in figures.items():
            if env_id == "options":
                continue
            line = f"  {env_id}: toolkit {row['toolkit_env_steps_per_s']:.0f} env steps/s"
            if "toolkit_over_sb3" in row:
                line += (
                    f", SB3 {row['sb3_env_steps_per_s']:.0f}: {row['toolkit_over_sb3']:.2f} x SB3"
                )
            else:
                line += f"; SB3 {row['sb3']}"
            print(line)
    if "fd" in sections:
        from verify.bench_fd import fd_jacobian_cost

        print("finite-difference MuJoCo Jacobian per collect step, in env steps:")
        result["fd"] = rows = fd_jacobian_cost(("InvertedPendulum-v5", "Hopper-v5"), 200)
        for env_id, row in rows.items():
            print(
                f"  {env_id}: one step at a time {row['sequential_ratio']:.1f}, batched rollout "
                f"{row['rollout_ratio']:.1f} ({row['speedup']:.2f} x faster; floor "
                f"{row['whole_steps']} whole steps)"
            )
    if "c7" in sections:
        from verify.bench_loops import c7_sweep_projection

        print("C7 sweep (td3 + 4 DSDPG losses, N in 1,2,4,8, 10 seeds, 30k steps), measured rates:")
        result["c7"] = c7 = c7_sweep_projection()
        for name, rate in c7["env_steps_per_s"].items():
            print(
                f"  {name}: {rate:.0f} env steps/s, {c7['minutes_per_cell'][name]:.1f} min a cell"
            )
        print(
            f"  sweep: {c7['sweep_minutes']:.0f} min "
            f"({'fits' if c7['fits_in_90_minutes'] else 'does not fit'} in 90 min)"
        )
    if "rates" in sections:
        print("training throughput (400 env steps, 64-64 networks, 1 update per step):")
        result["rates"] = bench_rates()
    if "msmmd" in sections:
        print("max_sliced_mmd direction search:")
        result["msmmd"] = bench_msmmd()
    if "report" in sections:
        with tempfile.TemporaryDirectory() as folder:
            seconds = _timed_command(
                [sys.executable, "-m", "verify", "report", "--out", str(Path(folder) / "r")]
            )
        result["report_seconds"] = seconds
        print(f"default report: {seconds:.1f} s")
    if "tests" in sections:
        seconds = _timed_command([sys.executable, "-m", "pytest", "-q", "-x"])
        result["tests_seconds"] = seconds
        print(f"default test run: {seconds:.1f} s")
    write_json(out, result, sort_keys=False)
    print(f"saved {args.out}")
    return 0
