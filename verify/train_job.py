"""``sobolev-verify train``: one training run of an agent (files described in agents.training).

Bad settings (algo, env, noise, options) print one line and exit 2; a diverging run prints
why and exits 1, keeping its last good checkpoint.
"""

from __future__ import annotations

import json
import sys

from verify.cli import UsageError

_PREFIX = "sobolev-verify train: error:"


def add_train_parser(commands) -> None:
    train = commands.add_parser("train", help="train an agent (td3, mage, dsdpg, sobolev-td3/sac)")
    train.add_argument("--algo", required=True, help="td3, mage, dsdpg, sobolev-td3, sobolev-sac")
    train.add_argument(
        "--env", required=True, help="a MuJoCo v5 id, point-mass:N, pendulum, toy-1d or lq"
    )
    train.add_argument("--noise", default="none", help="none, obs-mult:X, dyn-gauss:S, act-gauss:S")
    train.add_argument("--steps", type=int, default=100_000, help="env steps (default 100000)")
    train.add_argument("--seed", type=int, default=0, help="seed (default 0)")
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


def run_train(args) -> int:
    from agents.training import TrainConfig, TrainingDiverged, check_options, run_training

    try:
        config = TrainConfig(
            algo=args.algo,
            env=args.env,
            noise=args.noise,
            steps=args.steps,
            seed=args.seed,
            eval_every=args.eval_every,
            eval_episodes=args.eval_episodes,
            checkpoint_every=args.checkpoint_every,
            options=_options(args),
        ).validate()
        check_options(config.algo, config.options)
    except ValueError as error:
        raise UsageError(f"{_PREFIX} {error}") from None
    try:
        result = run_training(
            config, args.out, resume=args.resume, progress=False if args.no_progress else None
        )
    except TrainingDiverged as error:
        print(f"sobolev-verify train: {error}", file=sys.stderr)
        return 1
    except ValueError as error:  # a settings clash with the run already in --out
        if "--resume" in str(error) or "already holds a run" in str(error):
            raise UsageError(f"{_PREFIX} {error}") from None
        raise
    line = (
        f"{config.algo} on {config.env} ({config.noise}), seed {config.seed}: final evaluation "
        f"return {result['final_eval_return']:.2f} after {config.steps} steps; files in {args.out}"
    )
    print(line, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(result))
    return 0
