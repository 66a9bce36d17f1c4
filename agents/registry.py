"""The algorithms, by name: each one's ``make_agent``, hyperparameter dataclass and scope.

:data:`AGENTS` is the one list of the algorithms (``--algo``) the loops train; every other
list of them (the CLI's choices, :mod:`verify.suites`) reads it. An entry holds the imported
``make_agent(env_info, options) -> Agent`` (:class:`agents.agent.Agent`), the hyperparameter
dataclass its options fill, the loops it runs in, the envs it needs and a one-line
description.

Envs: an entry says which envs it needs; :data:`JAX_ENV_IDS` (from :mod:`agents.envs`) are the
JAX envs every loop accepts besides ``point-mass:N`` and the Gymnasium MuJoCo ids.

Loops: every algorithm runs in the host loop (:func:`agents.training.run_training`) and in
the device loop (:func:`agents.device_loop.run_device_training`); which loop a run takes
depends only on its env and noise (:func:`agents.device_loop.device_loop_problem`).

>>> AGENTS["td3"].config.__name__
'TD3Config'
>>> check_options("td3", {"hidden": [64]}).hidden
(64,)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from agents import dsdpg, mage, sac, sobolev_td, td3
from agents.agent import Agent, EnvInfo
from agents.envs import JAX_ENV_IDS
from agents.options import hyperparameters

__all__ = [
    "AGENTS",
    "JAX_ENV_IDS",
    "LOOPS",
    "AgentEntry",
    "agent_entry",
    "check_options",
    "make_agent",
]

LOOPS = ("host", "device")
_ANY_ENV = "any training env (agents.envs.ENV_FORMS)"
_DERIVATIVES = (
    "an env with derivatives: a JAX env or point-mass:N (its model), or a MuJoCo env of "
    "agents.mujoco_rewards.REWARD_ENV_IDS (finite differences of the env step)"
)


class AgentEntry(NamedTuple):
    """One algorithm.

    Attributes:
      name: its ``--algo`` name.
      make_agent: ``(env_info, options) -> Agent``; ``options`` are field values of ``config``.
      config: the hyperparameter dataclass (defaults are the algorithm's).
      loops: the training loops it runs in (:data:`LOOPS`).
      envs: the envs it can train on, in words.
      description: one line.
    """

    name: str
    make_agent: Callable[[EnvInfo, Mapping[str, Any]], Agent]
    config: type
    loops: tuple[str, ...]
    envs: str
    description: str


AGENTS: dict[str, AgentEntry] = {
    entry.name: entry
    for entry in (
        AgentEntry(
            "td3",
            td3.make_agent,
            td3.TD3Config,
            LOOPS,
            _ANY_ENV,
            "TD3 (Fujimoto et al. 2018): twin critics, target smoothing, delayed actor",
        ),
        AgentEntry(
            "mage",
            mage.make_agent,
            mage.MAGEConfig,
            LOOPS,
            _ANY_ENV,
            "MAGE (D'Oro and Jaśkowski 2020): TD3 whose critic fits a model's action-gradients",
        ),
        AgentEntry(
            "dsdpg",
            dsdpg.make_agent,
            dsdpg.DSDPGConfig,
            LOOPS,
            _ANY_ENV,
            "DSDPG ([DS]): distributional Sobolev critics fitted to world-model target laws",
        ),
        AgentEntry(
            "sobolev-td3",
            sobolev_td.make_agent,
            sobolev_td.SobolevTD3Config,
            LOOPS,
            _DERIVATIVES,
            "Sobolev-TD3 ([FS]): TD3 with the first-order Sobolev critic loss",
        ),
        AgentEntry(
            "sobolev-sac",
            sac.make_sobolev_sac_agent,
            sac.SobolevSACConfig,
            LOOPS,
            _DERIVATIVES,
            "Sobolev-SAC ([FS]): SAC with the first-order Sobolev critic loss",
        ),
        AgentEntry(
            "sac",
            sac.make_sac_agent,
            sac.SACConfig,
            LOOPS,
            _ANY_ENV,
            "SAC (Haarnoja et al. 2018), value-only: the baseline of sobolev-sac",
        ),
    )
}


def agent_entry(algo: str) -> AgentEntry:
    """The :class:`AgentEntry` of ``algo``; ``ValueError`` listing the accepted names."""
    if algo not in AGENTS:
        raise ValueError(f"algo {algo!r} is unknown; accepted: {', '.join(AGENTS)}")
    return AGENTS[algo]


def check_options(algo: str, options: Mapping[str, Any]):
    """``algo``'s hyperparameters with ``options`` applied; ``ValueError`` if they are invalid
    (:func:`agents.options.hyperparameters`)."""
    return hyperparameters(agent_entry(algo).config, dict(options))


def make_agent(algo: str, env_info: EnvInfo, options: Mapping[str, Any]) -> Agent:
    """The :class:`~agents.agent.Agent` of ``algo`` for ``env_info`` with ``options`` applied."""
    return agent_entry(algo).make_agent(env_info, dict(options))
