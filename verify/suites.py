"""Regression suites as data: cells of env × algo × noise × seeds × steps, plus run options.

A **run** is one settings dict, the only thing a trainer sees and the only thing its result
is keyed by (no suite name, so the same settings in two suites share one result file). Its
keys are those of ``agents.training.TrainConfig``; ``options`` are the algorithm's
hyperparameter overrides:

    {"algo": "td3", "env": "pendulum", "noise": "none", "seed": 0, "steps": 300,
     "eval_every": 100, "eval_episodes": 2,
     "options": {"batch_size": 64, "hidden": [64, 64], "start_steps": 100, ...}}

A **cell** is the runs that differ only in ``seed``; a regression verdict is per cell. A
**suite** is cells, the evaluation schedule, options for every run and per-algo overrides; a
run's options are ``suite.options | suite.algo_options[algo] | cell.options`` (later wins).

Accepted values (checked when a cell is built; the built-in suites are built when
:data:`SUITES` first hands them out, so a typo fails on first use, and
tests/verify/test_suites_registry.py builds every one):

    algo    a name of ``agents.registry.AGENTS`` (:data:`ALGOS`)
    env     a Gymnasium MuJoCo id 'Name-vN' (e.g. 'Hopper-v5'), 'point-mass:N' (the 2-D toy
            with N >= 1 reward locations), or a JAX env of ``agents.registry.JAX_ENV_IDS``
    noise   'none', 'obs-mult:X' (0 <= X < 1), 'dyn-gauss:SIGMA', 'act-gauss:SIGMA' (SIGMA >= 0)
            in the canonical form of ``agents.noise.parse_noise(s).spec``; 'dyn-gauss'
            perturbs MuJoCo state, so it needs a MuJoCo env
    options keys are identifiers; values are JSON scalars or flat lists of them. The suites
            set ``batch_size``, ``start_steps``, ``buffer_size`` (the training loop reads them
            from every algorithm's hyperparameters) and ``hidden`` (network widths).

**Expected runtimes** come from :func:`estimate_minutes`, a cost model stated in
``STEP_MS``/``RUN_OVERHEAD_S`` (costs measured on one core of a 2-core machine, to be
recalibrated with measured run times) and the algorithms' default hyperparameters.

The algorithms, the JAX envs and the defaults are read from :mod:`agents.registry`, imported
on first use, so importing this module (and listing the suites' names) needs neither the
'agents' extra nor the second that import takes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

__all__ = [
    "ALGOS",  # noqa: F822 (read from agents.registry by the module's __getattr__)
    "SUITES",
    "Cell",
    "Suite",
    "cell_key",
    "cell_name",
    "estimate_minutes",
    "options",
    "run_key",
    "suite_tasks",
]

NOISE_FORMS = (
    "'none', 'obs-mult:X' (0 <= X < 1), 'dyn-gauss:SIGMA' or 'act-gauss:SIGMA' (SIGMA >= 0)"
)
SETTINGS_KEYS = ("algo", "env", "noise", "seed", "steps", "options")  # at least these

_MUJOCO_ID = re.compile(r"[A-Z][A-Za-z0-9]*-v[0-9]+")
_POINT_MASS = re.compile(r"point-mass:([1-9][0-9]*)")
_NOISE = re.compile(r"(obs-mult|dyn-gauss|act-gauss):([0-9.eE+-]+)")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@functools.cache
def _registry() -> ModuleType:
    """:mod:`agents.registry`, imported on first use (it needs the 'agents' extra)."""
    import agents.registry

    return agents.registry


def _algos() -> tuple[str, ...]:
    """The algorithm names, in the registry's order."""
    return tuple(_registry().AGENTS)


def _jax_envs() -> tuple[str, ...]:
    return tuple(_registry().JAX_ENV_IDS)


def _env_forms() -> str:
    return f"a Gymnasium MuJoCo id 'Name-vN', 'point-mass:N' (N >= 1) or one of {_jax_envs()}"


def __getattr__(name: str):
    """``ALGOS``, ``JAX_ENVS``, ``ENV_FORMS``: read from agents.registry on first use."""
    readers = {"ALGOS": _algos, "JAX_ENVS": _jax_envs, "ENV_FORMS": _env_forms}
    if name in readers:
        return readers[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Cost model behind the expected runtimes (assumptions, not measurements): milliseconds of
# one core per environment step, training update and evaluation included, with the default
# 256×256 networks; plus a fixed cost per run (process start, JAX import, compilation).
# Measured (2026-11-21, this 2-core machine, one run per core beside 2–4 other jobs, so upper
# bounds): wall milliseconds per env step with 64-wide networks and one update per step,
# random-action phase and evaluations included (td3 on the point mass, pendulum and
# InvertedPendulum: 15–18 ms; dsdpg msmmd on the point mass: 69 ms, other critic losses
# 36–41 ms; mage with 4 × 128-128 models on IDP: 22 ms; sobolev-td3 with MuJoCo finite
# differences: 27 ms). 256-wide networks cost about 3× (td3 on InvertedPendulum: 44 ms).
STEP_MS = {
    "td3": 18.0,
    "sobolev-td3": 30.0,
    "sobolev-sac": 36.0,
    "sac": 30.0,
    "mage": 25.0,
    "dsdpg": 60.0,
}
LARGE_NETWORK_FACTOR = 3.0  # runs whose hidden layers are wider than 64 (defaults included)
RUN_OVERHEAD_S = 40.0  # start-up and jit compilation per run

Options = tuple[tuple[str, Any], ...]


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def _thawed(value: Any) -> Any:
    return [_thawed(v) for v in value] if isinstance(value, list | tuple) else value


def options(**values: Any) -> Options:
    """Run options as a hashable, sorted tuple of ``(name, value)`` pairs (lists as tuples).

    >>> options(hidden=[64, 64], batch_size=64)
    (('batch_size', 64), ('hidden', (64, 64)))
    """
    return tuple(sorted((name, _frozen(value)) for name, value in values.items()))


def _check_options(pairs: Options, where: str) -> None:
    if not isinstance(pairs, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        raise ValueError(f"{where}: options must be built with options(...); got {pairs!r}")
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: repeated option names in {names}")
    for name, value in pairs:
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"{where}: option name {name!r} is not a lower-case identifier")
        leaves = value if isinstance(value, tuple) else (value,)
        for leaf in leaves:
            if not isinstance(leaf, str | int | float | bool) or (
                isinstance(leaf, float) and not math.isfinite(leaf)
            ):
                raise ValueError(
                    f"{where}: option {name!r} = {value!r}; values must be finite JSON scalars "
                    "(str, int, float, bool) or flat lists of them"
                )


def _check_env(env: str, where: str) -> None:
    if not isinstance(env, str) or not (
        env in _jax_envs() or _POINT_MASS.fullmatch(env) or _MUJOCO_ID.fullmatch(env)
    ):
        raise ValueError(f"{where}: env {env!r} is not {_env_forms()}")


def _check_noise(noise: str, env: str, where: str) -> None:
    if noise == "none":
        return
    match = _NOISE.fullmatch(noise) if isinstance(noise, str) else None
    try:
        scale = float(match.group(2)) if match else math.nan
    except ValueError:
        scale = math.nan
    kind = match.group(1) if match else None
    if (
        kind is None
        or not math.isfinite(scale)
        or scale < 0
        or (kind == "obs-mult" and scale >= 1)
        or f"{kind}:{scale!r}" != noise  # the canonical spelling of agents.noise.parse_noise
    ):
        raise ValueError(
            f"{where}: noise {noise!r} is not one of {NOISE_FORMS}, written canonically"
        )
    if kind == "dyn-gauss" and not _MUJOCO_ID.fullmatch(env):
        raise ValueError(
            f"{where}: noise {noise!r} perturbs MuJoCo state; env {env!r} is not MuJoCo"
        )


@dataclass(frozen=True)
class Cell:
    """Runs of one algo on one env under one noise for ``steps`` env steps, one per seed."""

    env: str
    algo: str
    noise: str = "none"
    seeds: tuple[int, ...] = (0, 1)
    steps: int = 1000
    options: Options = ()  # overrides for this cell only

    def __post_init__(self):
        where = f"cell {self.algo} {self.env} {self.noise}"
        if self.algo not in _algos():
            raise ValueError(f"{where}: algo {self.algo!r} is not one of {_algos()}")
        _check_env(self.env, where)
        _check_noise(self.noise, self.env, where)
        if (
            not isinstance(self.seeds, tuple)
            or not self.seeds
            or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in self.seeds
            )
            or len(set(self.seeds)) != len(self.seeds)
        ):
            raise ValueError(
                f"{where}: seeds must be a non-empty tuple of distinct ints >= 0; "
                f"got {self.seeds!r}"
            )
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"{where}: steps must be an int >= 1; got {self.steps!r}")
        _check_options(self.options, where)


@dataclass(frozen=True)
class Suite:
    """A named list of cells; ``options`` apply to every run, ``algo_options`` per algo.

    Every run is evaluated every ``eval_every`` env steps (and at its last step) with
    ``eval_episodes`` deterministic episodes; its score is the last evaluation's mean return.
    """

    name: str
    summary: str
    cells: tuple[Cell, ...]
    eval_every: int
    eval_episodes: int
    options: Options = ()
    algo_options: tuple[tuple[str, Options], ...] = field(default=())

    def __post_init__(self):
        where = f"suite {self.name!r}"
        if not self.cells or not all(isinstance(c, Cell) for c in self.cells):
            raise ValueError(f"{where}: cells must be a non-empty tuple of Cell")
        for name in ("eval_every", "eval_episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{where}: {name} must be an int >= 1; got {value!r}")
        _check_options(self.options, where)
        for algo, overrides in self.algo_options:
            if algo not in _algos():
                raise ValueError(f"{where}: algo_options names {algo!r}, not one of {_algos()}")
            _check_options(overrides, f"{where}, algo_options[{algo!r}]")
        keys = [cell_key(suite_cell_settings(self, cell)) for cell in self.cells]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{where}: two cells have the same settings")
        names = [cell_name(suite_cell_settings(self, cell)) for cell in self.cells]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: two cells have the same name (algo env noise steps)")


def suite_cell_settings(suite: Suite, cell: Cell) -> dict[str, Any]:
    """The settings shared by a cell's runs (every key but ``seed``), options merged."""
    merged = dict(suite.options)
    merged.update(dict(dict(suite.algo_options).get(cell.algo, ())))
    merged.update(dict(cell.options))
    return {
        "algo": cell.algo,
        "env": cell.env,
        "noise": cell.noise,
        "steps": cell.steps,
        "eval_every": suite.eval_every,
        "eval_episodes": suite.eval_episodes,
        "options": {name: _thawed(value) for name, value in sorted(merged.items())},
    }


def suite_tasks(suite: Suite) -> list[dict[str, Any]]:
    """Every run of ``suite`` as a settings dict (cells in order, seeds in order)."""
    tasks = []
    for cell in suite.cells:
        shared = suite_cell_settings(suite, cell)
        tasks += [{**shared, "seed": seed} for seed in cell.seeds]
    return tasks


def _digest(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def _check_settings(settings: Mapping[str, Any], needed: tuple[str, ...]) -> None:
    missing = [k for k in needed if k not in settings]
    if not isinstance(settings, Mapping) or missing:
        raise ValueError(f"settings lack {missing}; a run's settings have {list(SETTINGS_KEYS)}")


def run_key(settings: Mapping[str, Any]) -> str:
    """Stable file-name key of one run: readable prefix + SHA-256 of the canonical settings.

    ``algo-env-noise-s<seed>-n<steps>-<12 hex>``; the hash covers every key of ``settings``
    (options included) as sorted compact JSON, so equal settings give equal keys in any suite
    or process, and settings differing in anything differ in the hash.

    >>> run_key({"algo": "td3", "env": "point-mass:4", "noise": "none", "seed": 1,
    ...          "steps": 300, "options": {}})[:30]
    'td3-point-mass-4-none-s1-n300-'
    """
    _check_settings(settings, SETTINGS_KEYS)
    prefix = _slug(
        f"{settings['algo']}-{settings['env']}-{settings['noise']}"
        f"-s{settings['seed']}-n{settings['steps']}"
    )
    return f"{prefix}-{_digest(settings)}"


def cell_key(settings: Mapping[str, Any]) -> str:
    """Key of the cell a run belongs to: :func:`run_key` of the settings without ``seed``."""
    _check_settings(settings, tuple(k for k in SETTINGS_KEYS if k != "seed"))
    prefix = _slug(f"{settings['algo']}-{settings['env']}-{settings['noise']}-n{settings['steps']}")
    return f"{prefix}-{_digest({k: v for k, v in settings.items() if k != 'seed'})}"


_NAMED_OPTIONS = (
    "critic_loss",
    "world_model",
    "truncate",
    "operator",
    "model_normalisation",
    "grad_normalization",
    "lambda_s",
    "lambda_a",
    "gamma",
)


def cell_name(settings: Mapping[str, Any]) -> str:
    """Display name of a cell: ``'algo env noise steps'`` plus DSDPG's variant options."""
    name = f"{settings['algo']} {settings['env']} {settings['noise']} {settings['steps']}"
    variant = [
        f"{key}={settings['options'][key]}"
        for key in _NAMED_OPTIONS
        if key in settings.get("options", {})
    ]
    return " ".join([name, *variant])


def estimate_minutes(suite: Suite, *, cores: int = 2) -> float:
    """Wall-clock minutes of ``suite`` on ``cores`` cores under the module's measured costs.

    ``Σ_runs (RUN_OVERHEAD_S + steps · STEP_MS[algo] · f · u / 1000) / cores / 60`` with
    ``f = LARGE_NETWORK_FACTOR`` unless every ``hidden`` layer is at most 64 wide, and ``u``
    the run's updates per env step (perfect packing of runs onto cores assumed); what a run
    does not set is its algorithm's default (``agents.registry``).
    """
    total = 0.0
    for task in suite_tasks(suite):
        defaults = _registry().AGENTS[task["algo"]].config()
        hidden = list(task["options"].get("hidden", defaults.hidden))
        small = bool(hidden) and max(hidden) <= 64
        factor = 1.0 if small else LARGE_NETWORK_FACTOR
        updates = task["options"].get("updates_per_step", defaults.updates_per_step)
        total += RUN_OVERHEAD_S + task["steps"] * STEP_MS[task["algo"]] * factor * updates / 1000
    return total / cores / 60


# -- the suites -------------------------------------------------------------------------------

_MUJOCO_NOISES = ("none", "obs-mult:0.2", "dyn-gauss:0.05")


def _smoke() -> Suite:
    return Suite(
        name="smoke",
        summary="CI check that every algo trains and scores as before: 5 cells × 2 seeds × 300 steps",
        cells=(
            Cell("pendulum", "td3", steps=300),
            Cell("pendulum", "sobolev-td3", steps=300),
            Cell("point-mass:4", "mage", steps=300),
            Cell("InvertedPendulum-v5", "dsdpg", "obs-mult:0.2", steps=300),
            Cell("InvertedPendulum-v5", "sobolev-sac", "dyn-gauss:0.05", steps=300),
        ),
        eval_every=100,
        eval_episodes=2,
        options=options(hidden=[64, 64], batch_size=64, start_steps=100, buffer_size=10_000),
        # the model-based updates differentiate through a model per sample, the costliest
        algo_options=(
            (
                "mage",
                options(batch_size=32, model_hidden=[64, 64], ensemble_size=4, updates_per_step=1),
            ),
            ("dsdpg", options(batch_size=32, model_hidden=[64, 64], updates_per_step=1)),
        ),
    )


_STANDARD_SEEDS = (0, 1, 2, 3, 4)


def _standard() -> Suite:
    return Suite(
        name="standard",
        summary="about an hour on 2 cores (cost model calibrated on measured runs): value-only and "
        "Sobolev TD3/SAC on pendulum, TD3 and DSDPG on the point mass, TD3 with and without "
        "observation noise and MAGE on InvertedPendulum, 5 seeds, 64-64 networks",
        cells=(
            *(
                Cell("pendulum", algo, seeds=_STANDARD_SEEDS, steps=5000)
                for algo in ("td3", "sobolev-td3", "sac", "sobolev-sac")
            ),
            *(
                Cell("point-mass:4", algo, seeds=_STANDARD_SEEDS, steps=3000)
                for algo in ("td3", "dsdpg")
            ),
            *(
                Cell("InvertedPendulum-v5", "td3", noise, seeds=_STANDARD_SEEDS, steps=5000)
                for noise in ("none", "obs-mult:0.2")
            ),
            Cell("InvertedPendulum-v5", "mage", seeds=_STANDARD_SEEDS, steps=5000),
        ),
        eval_every=1000,
        eval_episodes=5,
        options=options(hidden=[64, 64], batch_size=64, start_steps=1000, buffer_size=50_000),
        algo_options=(
            ("mage", options(updates_per_step=1, ensemble_size=4, model_hidden=[64, 64])),
            ("dsdpg", options(updates_per_step=1, model_hidden=[64, 64])),
        ),
    )


_FULL_SEEDS = (0, 1, 2, 3, 4)
_FULL_MUJOCO_STEPS = {
    "InvertedPendulum-v5": 50_000,
    "InvertedDoublePendulum-v5": 100_000,
    "Hopper-v5": 300_000,
}


def _full() -> Suite:
    return Suite(
        name="full",
        summary="the paper-scale sweep for a cluster: every algo × 3 MuJoCo envs × 3 noises, the "
        "point mass with and without observation noise, pendulum, 5 seeds",
        cells=(
            *(
                Cell(env, algo, noise, seeds=_FULL_SEEDS, steps=steps)
                for env, steps in _FULL_MUJOCO_STEPS.items()
                for algo in _algos()
                for noise in _MUJOCO_NOISES
            ),
            *(
                Cell("point-mass:4", algo, noise, seeds=_FULL_SEEDS, steps=50_000)
                for algo in _algos()
                for noise in ("none", "obs-mult:0.2")
            ),
            *(Cell("pendulum", algo, seeds=_FULL_SEEDS, steps=30_000) for algo in _algos()),
        ),
        eval_every=5000,
        eval_episodes=10,
        options=options(start_steps=5000),
    )


# -- evidence suites: the papers' comparisons at budgets this machine affords -------------------

_C7_VARIANTS = (
    ("dsdpg", options(critic_loss="msmmd")),
    ("dsdpg", options(critic_loss="mmd")),
    ("dsdpg", options(critic_loss="huber-sobolev")),
    ("dsdpg", options(critic_loss="mmd-nograd")),
    ("td3", ()),
)


def _c7_suite(name: str, steps: int, summary: str) -> Suite:
    return Suite(
        name=name,
        summary=summary,
        cells=tuple(
            Cell(f"point-mass:{n}", algo, seeds=(0, 1, 2, 3, 4), steps=steps, options=variant)
            for n in (1, 2, 4)
            for algo, variant in _C7_VARIANTS
        ),
        eval_every=steps // 5,
        eval_episodes=5,
        options=options(hidden=[64, 64], batch_size=32, start_steps=300, buffer_size=50_000),
        algo_options=(("dsdpg", options(updates_per_step=1, model_hidden=[64, 64])),),
    )


def _c7_toy() -> Suite:
    return _c7_suite(
        "c7-toy",
        1500,
        "docs/claims.md#c7 on the 2-D point mass at a 2-core budget (about 50 min with -j 2): N in {1, 2, 4} "
        "reward locations, DSDPG with MSMMD, MMD, Huber-Sobolev and no-gradient MMD critics "
        "against TD3, 5 seeds, 1500 env steps",
    )


def _c7_toy_long() -> Suite:
    return _c7_suite(
        "c7-toy-long",
        30_000,
        "docs/claims.md#c7 on the 2-D point mass at a budget for a cluster: the c7-toy cells, 30k steps",
    )


def _td3_pendulum() -> Suite:
    return Suite(
        name="td3-ip",
        summary="TD3 on InvertedPendulum-v5, 30k steps, 5 seeds (the baseline's sanity check), with "
        "the TD3 paper's hyperparameters (Fujimoto et al. 2018, appendix: 400-300 networks, Adam "
        "1e-3, batch 100) and 1000 random steps",
        cells=(Cell("InvertedPendulum-v5", "td3", seeds=(0, 1, 2, 3, 4), steps=30_000),),
        eval_every=2000,
        eval_episodes=10,
        options=options(
            start_steps=1000, hidden=[400, 300], actor_lr=1e-3, critic_lr=1e-3, batch_size=100
        ),
    )


def _noisy_idp() -> Suite:
    return Suite(
        name="noisy-idp",
        summary="InvertedDoublePendulum-v5 under obs-mult:0.2: td3, mage, dsdpg, 3 seeds, 5000 steps",
        cells=tuple(
            Cell("InvertedDoublePendulum-v5", algo, "obs-mult:0.2", seeds=(0, 1, 2), steps=5000)
            for algo in ("td3", "mage", "dsdpg")
        ),
        eval_every=1000,
        eval_episodes=5,
        options=options(hidden=[128, 128], batch_size=128, start_steps=1000),
        algo_options=(
            ("mage", options(updates_per_step=1, ensemble_size=4, model_hidden=[128, 128])),
            ("dsdpg", options(updates_per_step=1, model_hidden=[128, 128])),
        ),
    )


def _pendulum_td3() -> Suite:
    return Suite(
        name="pendulum-td3",
        summary="a learning check for one machine (a few minutes): TD3 on the JAX pendulum, "
        "3 seeds × 6000 steps; catches bugs that stop TD3 from learning to swing up",
        cells=(Cell("pendulum", "td3", seeds=(0, 1, 2), steps=6000),),
        eval_every=1000,
        eval_episodes=5,
        options=options(hidden=[64, 64], batch_size=128, start_steps=1000, buffer_size=10_000),
    )


def _fs_mujoco() -> Suite:
    return Suite(
        name="fs-mujoco",
        summary="[FS] on MuJoCo at a 2-core budget: Sobolev-TD3 with finite-difference derivatives "
        "of the whole env step against TD3 on InvertedPendulum-v5, 3 seeds, 8000 steps",
        cells=tuple(
            Cell("InvertedPendulum-v5", algo, seeds=(0, 1, 2), steps=8000)
            for algo in ("td3", "sobolev-td3")
        ),
        eval_every=1000,
        eval_episodes=5,
        options=options(hidden=[64, 64], batch_size=128, start_steps=1000, buffer_size=10_000),
    )


_C6_SEEDS = tuple(range(10))


def _c6_learning() -> Suite:
    return Suite(
        name="c6-learning",
        summary="docs/claims.md#c6 learning: Sobolev-TD3 against TD3 and Sobolev-SAC against SAC on "
        "pendulum (15k steps) and toy-1d (4k steps), 10 seeds, 64-64 networks; each cell's seeds "
        "train as one device-loop program (about 5 min on 2 cores with -j 2)",
        cells=tuple(
            Cell(env, algo, seeds=_C6_SEEDS, steps=steps, options=options(start_steps=start))
            for env, steps, start in (("pendulum", 15_000, 1000), ("toy-1d", 4000, 500))
            for algo in ("td3", "sobolev-td3", "sac", "sobolev-sac")
        ),
        eval_every=1000,
        eval_episodes=10,
        options=options(hidden=[64, 64], batch_size=64, buffer_size=100_000),
    )


# Suite name -> the function building it. The suites are built on first use: a cell's algo and
# env are checked against agents.registry, whose import (the agents and their JAX, Gymnasium
# and MuJoCo imports, about a second) needs the 'agents' extra; the names alone (the CLI's
# choices) need neither.
_NOISY_ENVS = ("InvertedDoublePendulum-v5", "Hopper-v5")
_NOISY_NOISES = ("obs-mult:0.2", "dyn-gauss:0.05")


def _noisy_mujoco() -> Suite:
    small = options(updates_per_step=1, model_hidden=[64, 64])
    return Suite(
        name="noisy-mujoco",
        summary="docs/claims.md#c7 on MuJoCo at a 2-core budget: InvertedDoublePendulum-v5 and "
        "Hopper-v5 under obs-mult:0.2 and dyn-gauss:0.05, td3, mage and dsdpg, 5 seeds × 3000 "
        "steps, 64-64 networks (about 90 min with -j 1 on 2 busy cores)",
        cells=tuple(
            Cell(env, algo, noise, seeds=(0, 1, 2, 3, 4), steps=3000)
            for env in _NOISY_ENVS
            for noise in _NOISY_NOISES
            for algo in ("td3", "mage", "dsdpg")
        ),
        eval_every=1000,
        eval_episodes=5,
        options=options(hidden=[64, 64], batch_size=64, start_steps=500, buffer_size=50_000),
        algo_options=(("mage", options(ensemble_size=4, **dict(small))), ("dsdpg", small)),
    )


def _noisy_mujoco_full() -> Suite:
    steps = {"InvertedDoublePendulum-v5": 100_000, "Hopper-v5": 300_000}
    return Suite(
        name="noisy-mujoco-full",
        summary="docs/claims.md#c7 on MuJoCo at paper scale, for --executor ray: the "
        "noisy-mujoco cells at 100k (InvertedDoublePendulum) and 300k (Hopper) steps with the "
        "algorithms' default hyperparameters",
        cells=tuple(
            Cell(env, algo, noise, seeds=(0, 1, 2, 3, 4), steps=steps[env])
            for env in _NOISY_ENVS
            for noise in _NOISY_NOISES
            for algo in ("td3", "mage", "dsdpg")
        ),
        eval_every=5000,
        eval_episodes=10,
        options=options(start_steps=5000),
    )


def _c6_learning_full() -> Suite:
    base = _c6_learning()
    ip_options = options(hidden=[64, 64], batch_size=128, start_steps=1000, buffer_size=10_000)
    variants = (
        ("td3", ()),
        ("sobolev-td3", ()),
        ("sobolev-td3", options(grad_normalization="relative")),
        ("sobolev-td3", options(grad_normalization="none")),
        ("sobolev-td3", options(lambda_s=0.0)),
    )
    return Suite(
        name="c6-learning-full",
        summary="docs/claims.md#c6: c6-learning plus InvertedPendulum-v5 (TD3 and Sobolev-TD3 "
        "with its default, relative and no gradient normalisation and with lambda_s = 0), "
        "10 seeds × 8000 steps",
        cells=(
            *base.cells,
            *(
                Cell(
                    "InvertedPendulum-v5",
                    algo,
                    seeds=tuple(range(10)),
                    steps=8000,
                    options=variant + ip_options,
                )
                for algo, variant in variants
            ),
        ),
        eval_every=base.eval_every,
        eval_episodes=base.eval_episodes,
        options=base.options,
    )


_BUILDERS: dict[str, Callable[[], Suite]] = {
    "smoke": _smoke,
    "standard": _standard,
    "full": _full,
    "pendulum-td3": _pendulum_td3,
    "c7-toy": _c7_toy,
    "c7-toy-long": _c7_toy_long,
    "td3-ip": _td3_pendulum,
    "noisy-idp": _noisy_idp,
    "fs-mujoco": _fs_mujoco,
    "c6-learning": _c6_learning,
    "c6-learning-full": _c6_learning_full,
    "noisy-mujoco": _noisy_mujoco,
    "noisy-mujoco-full": _noisy_mujoco_full,
}


class _Suites(Mapping):
    """The suites by name, each built (and so checked) when first looked up."""

    def __init__(self, builders: Mapping[str, Callable[[], Suite]]):
        self._builders, self._built = dict(builders), {}

    def __getitem__(self, name: str) -> Suite:
        if name not in self._built:
            suite = self._builders[name]()
            assert suite.name == name, (suite.name, name)
            self._built[name] = suite
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def __iter__(self):
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)


SUITES: Mapping[str, Suite] = _Suites(_BUILDERS)
