"""Every option of every agent is checked for its type and range (``agents.options``).

The expected rules are written out here field by field, from what each hyperparameter
means (a count of steps may be 0 only for ``start_steps``; rates are positive; the
discount is in [0, 1); ...), not read from ``agents.options``; a test fails when a config
gains a field this table does not cover, so every new option gets a stated rule.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from agents.registry import AGENTS, check_options

NAN, INF = float("nan"), float("inf")

# field -> (values that must be refused, values that must be accepted)
COUNT = ([0, -1, 2.0, 2.5, True, "3"], [1, 7])
RATE = ([0.0, -1e-4, NAN, INF, "fast", None], [1e-4, 1])  # an int is a number too
SCALE = ([-0.1, NAN, INF], [0.0, 0.3])  # noise scales and loss weights
SIZES = ([[], [0], [64.5], [64, "a"], [True], 64, "64"], [[3], [16, 8, 4]])
RULES: dict[str, tuple[list, list]] = {
    "hidden": SIZES,
    "model_hidden": SIZES,
    "actor_lr": RATE,
    "critic_lr": RATE,
    "model_lr": RATE,
    "alpha_lr": RATE,
    "init_alpha": RATE,
    "huber_delta": RATE,
    "fd_eps": RATE,
    "gamma": ([1.0, -0.01, 1.5, NAN], [0.0, 0.99]),
    "tau": ([0.0, 1.01, -0.1, NAN], [1.0, 0.005]),
    "truncate": ([1.0, -0.1, NAN], [0.0, 0.2]),
    "batch_size": COUNT,
    "buffer_size": COUNT,
    "updates_per_step": COUNT,
    "policy_delay": COUNT,
    "ensemble_size": COUNT,
    "n_target_samples": COUNT,
    "n_critic_samples": COUNT,
    "xi_dim": COUNT,
    "search_candidates": COUNT,
    "search_restarts": COUNT,
    "search_steps": COUNT,
    "start_steps": ([-3, -1, 2.5, False], [0, 100]),
    "policy_noise": SCALE,
    "noise_clip": SCALE,
    "exploration_noise": SCALE,
    "gradient_weight": SCALE,
    "huber_weight": SCALE,
    "lambda_s": SCALE,
    "lambda_a": SCALE,
    "critic_loss": ([3, "nope"], ["mmd"]),
    "world_model": ([None, "nope"], ["flow"]),
    "kernel": ([1.0, "nope"], ["energy:beta=1.5"]),
    "grad_normalization": ([1, "max"], ["batch"]),
    "model_normalisation": ([1, "nope"], ["none"]),
    "operator": ([1, "nope"], ["complete"]),
}


def _config_type(algo: str) -> type:
    return AGENTS[algo].config


CASES = [
    (algo, item.name)
    for algo in AGENTS
    for item in dataclasses.fields(_config_type(algo))
    if item.name in RULES
]


@pytest.mark.parametrize("algo", list(AGENTS))
def test_every_option_has_a_stated_rule(algo):
    names = {item.name for item in dataclasses.fields(_config_type(algo))}
    assert names - set(RULES) == set(), "give the new option a rule in RULES"


@pytest.mark.parametrize("algo, name", CASES)
def test_bad_values_are_refused_naming_the_option(algo, name):
    refused, _ = RULES[name]
    for value in refused:
        with pytest.raises(ValueError, match=name):
            check_options(algo, {name: value})


@pytest.mark.parametrize("algo, name", CASES)
def test_good_values_are_accepted_with_the_default_type(algo, name):
    _, accepted = RULES[name]
    default = getattr(_config_type(algo)(), name)
    if name == "truncate":
        accepted = [v for v in accepted if int(2 * 10 * (1 - v)) >= 1]
    for value in accepted:
        hyper = check_options(algo, {name: value})
        got = getattr(hyper, name)
        assert type(got) is type(default), (name, value, got)
        if isinstance(default, tuple):
            assert got == tuple(value) and all(type(v) is int for v in got)
        elif isinstance(default, float):
            assert got == float(value) and math.isfinite(got)
        else:
            assert got == value


def test_options_as_the_command_line_parses_them():
    """``--option NAME=JSON`` values go through ``json.loads``: the cases of issue 13."""
    for text, name in (('hidden=[64,"a"]', "hidden"), ("hidden=[64.5]", "hidden")):
        value = json.loads(text.partition("=")[2])
        with pytest.raises(ValueError, match=rf"option '{name}' entry \d+ must be an integer"):
            check_options("td3", {name: value})
    with pytest.raises(ValueError, match=r"option 'start_steps' must be an integer >= 0; got -3"):
        check_options("td3", {"start_steps": json.loads("-3")})
    with pytest.raises(ValueError, match="unknown for TD3Config; accepted: actor_lr"):
        check_options("td3", {"hiden": [64]})


def test_directly_built_configs_are_checked_too():
    from agents.sac import SACConfig
    from agents.td3 import TD3Config

    with pytest.raises(ValueError, match="start_steps"):
        TD3Config(start_steps=-1).check()
    with pytest.raises(ValueError, match="alpha_lr"):
        SACConfig(alpha_lr=0.0).check()
    TD3Config(start_steps=0).check()  # learning from the first step is allowed
