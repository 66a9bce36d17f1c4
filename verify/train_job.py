"""``sobolev-verify train``: one training run of an agent (files described in agents.training).

Bad settings (algo, env, noise, options) print one line and exit 2; a diverging run prints
why and exits 1, keeping its last good checkpoint.
"""

from __future__ import annotations

import json
import sys

from verify.usage import UsageError, writable_out

_PREFIX = "sobolev-verify train: error:"


def add_train_parser(commands) -> None:
    train = commands.add_parser(
        "train",
        help="train an agent (td3, sac, mage, dsdpg, sobolev-td3, sobolev-sac)",
        description=(
            "Train an agent. On a JAX env (point-mass:N, pendulum, toy-1d, lq) without noise the "
            "whole run is one jitted program (--loop device, the default there) and --seeds "
            "trains several seeds in it at once; MuJoCo and noisy envs use the host loop. "
            "Random actions fill the first start_steps env steps (the algorithm's default, e.g. "
            "25000 for td3): a shorter run is warned about; set --option start_steps=N."
        ),
    )
    train.add_argument(
        "--algo", required=True, help="td3, sac, mage, dsdpg, sobolev-td3, sobolev-sac"
    )
    train.add_argument(
        "--env", required=True, help="a MuJoCo v5 id, point-mass:N, pendulum, toy-1d or lq"
    )
    train.add_argument("--noise", default="none", help="none, obs-mult:X, dyn-gauss:S, act-gauss:S")
    train.add_argument("--steps", type=int, default=100_000, help="env steps (default 100000)")
    train.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    train.add_argument(
        "--seeds",
        default=None,
        help="several seeds, e.g. 0-9 or 0,3,7: one program on the device loop, one run after "
        "another on the host loop; files go to OUT/seed-S/",
    )
    train.add_argument(
        "--loop",
        choices=("host", "device"),
        default=None,
        help="device: env, buffer and updates in one jitted program (JAX envs, noise none; the "
        "default there); host: the Python loop (every env; the default elsewhere)",
    )
    train.add_argument("--out", required=True, help="run folder")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--eval-every", type=int, default=5_000, help="default 5000 env steps")
    train.add_argument("--eval-episodes", type=int, default=5, help="default 5")
    train.add_argument("--checkpoint-every", type=int, default=10_000, help="default 10000")
    train.add_argument(
        "--critic-loss", default=None, help="dsdpg: msmmd, mmd, huber-sobolev, mmd-nograd"
    )
    train.add_argument("--world-model", default=None, help="dsdpg: cvae or flow")
    train.add_argument("--truncate", type=float, default=None, help="dsdpg: fraction dropped")
    train.add_argument(
        "--updates-per-step", type=int, default=None, help="critic updates per env step"
    )
    train.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="any hyperparameter, e.g. --option hidden=[64,64] --option start_steps=1000",
    )
    train.add_argument("--no-progress", action="store_true", help="plain lines even on a terminal")
    train.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def _options(args) -> dict:
    options: dict = {}
    for item in args.option:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{_PREFIX} --option {item!r} must be NAME=VALUE")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # a bare word is a string
        options[name.strip()] = value
    for flag, name in (
        ("critic_loss", "critic_loss"),
        ("world_model", "world_model"),
        ("truncate", "truncate"),
        ("updates_per_step", "updates_per_step"),
    ):
        value = getattr(args, flag)
        if value is not None:
            options[name] = value
    return options


def _seeds(args) -> list[int]:
    """``--seeds`` (``A-B`` or ``A,B,C``) or the single ``--seed``, as a list."""
    if args.seeds is None:
        if args.seed < 0:
            raise UsageError(f"{_PREFIX} --seed must be >= 0; got {args.seed}")
        return [args.seed]
    text = args.seeds.strip()
    try:
        if "-" in text:
            first, _, last = text.partition("-")
            seeds = list(range(int(first), int(last) + 1))
        else:
            seeds = [int(item) for item in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise UsageError(
            f"{_PREFIX} --seeds {args.seeds!r} is invalid; accepted: A-B (A <= B) or distinct "
            "non-negative integers separated by commas, e.g. 0-9 or 0,3,7"
        )
    return seeds


def _choose_loop(args, config) -> str:
    from agents.device_loop import device_loop_problem

    problem = device_loop_problem(config)
    if args.loop == "device" and problem is not None:
        raise UsageError(f"{_PREFIX} --loop device: {problem}")
    if args.loop is not None:
        return args.loop
    return "device" if problem is None else "host"


def run_train(args) -> int:
    from pathlib import Path

    from agents.registry import check_options
    from agents.training import TrainConfig, TrainingDiverged, run_training

    seeds = _seeds(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{_PREFIX} --out {args.out!r} is a file; give a folder for the run")
    try:
        configs = [
            TrainConfig(
                algo=args.algo,
                env=args.env,
                noise=args.noise,
                steps=args.steps,
                seed=seed,
                eval_every=args.eval_every,
                eval_episodes=args.eval_episodes,
                checkpoint_every=args.checkpoint_every,
                options=_options(args),
            ).validate()
            for seed in seeds
        ]
        hyper = check_options(configs[0].algo, configs[0].options)
    except ValueError as error:
        raise UsageError(f"{_PREFIX} {error}") from None
    if hyper is not None and args.steps <= hyper.start_steps:
        print(
            f"sobolev-verify train: warning: --steps {args.steps} <= start_steps "
            f"{hyper.start_steps} of {args.algo}: every action is random and no update runs; "
            "pass --option start_steps=N to learn in a short run",
            file=sys.stderr,
        )
    loop = _choose_loop(args, configs[0])
    writable_out(out, _PREFIX)
    out_dirs = [out] if args.seeds is None else [out / f"seed-{seed}" for seed in seeds]
    progress = False if args.no_progress else None
    try:
        if loop == "device":
            from agents.device_loop import run_device_training

            results = run_device_training(configs, out_dirs, resume=args.resume, progress=progress)
        else:
            results = []
            for config, folder in zip(configs, out_dirs, strict=True):
                try:
                    results.append(
                        run_training(config, folder, resume=args.resume, progress=progress)
                    )
                except TrainingDiverged as error:
                    results.append({"status": "diverged", "reason": str(error)})
    except ValueError as error:  # a settings clash with the run already in --out
        if "--resume" in str(error) or "already holds a run" in str(error):
            raise UsageError(f"{_PREFIX} {error}") from None
        raise
    diverged = 0
    for config, folder, result in zip(configs, out_dirs, results, strict=True):
        if result.get("status") == "diverged":
            diverged += 1
            reason = result["reason"].removeprefix("training stopped: ")
            print(
                f"sobolev-verify train: seed {config.seed}: training stopped: {reason}",
                file=sys.stderr,
            )
            continue
        line = (
            f"{config.algo} on {config.env} ({config.noise}), seed {config.seed}, {loop} loop: "
            f"final evaluation return {result['final_eval_return']:.2f} after {config.steps} "
            f"steps; files in {folder}"
        )
        print(line, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(results if args.seeds is not None else results[0]))
    return 1 if diverged else 0
