"""``verify.suites`` reads the algorithms, the JAX envs and the defaults from ``agents.registry``.

Guards against a second list drifting from the registry: every built-in suite names only
registered algorithms with options their configs accept, the cost model covers exactly the
registered algorithms, changing the registry changes what the suites accept and estimate
(the negative controls), and the module's source restates no list of algorithm names.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import verify.suites as suites
from agents import registry
from agents.registry import AGENTS, AgentEntry, check_options
from verify.suites import STEP_MS, SUITES, Cell, Suite, estimate_minutes, options, suite_tasks


def test_the_suites_names_are_the_registrys():
    assert suites.ALGOS == tuple(AGENTS)
    assert suites.JAX_ENVS == tuple(registry.JAX_ENV_IDS)
    assert set(STEP_MS) == set(AGENTS)  # a cost for every algorithm, none for a stale one


@pytest.mark.parametrize("name", list(SUITES))
def test_every_suite_cell_is_a_registered_algo_with_options_its_config_accepts(name):
    for task in suite_tasks(SUITES[name]):
        assert task["algo"] in AGENTS
        hyper = check_options(task["algo"], task["options"])  # ValueError names a bad option
        assert isinstance(hyper, AGENTS[task["algo"]].config)


def test_registry_entries_say_what_they_are():
    for name, entry in AGENTS.items():
        assert isinstance(entry, AgentEntry) and entry.name == name
        assert dataclasses.is_dataclass(entry.config)
        assert set(entry.loops) <= set(registry.LOOPS) and entry.loops
        assert entry.envs and entry.description and "\n" not in entry.description
        assert list(inspect.signature(entry.make_agent).parameters)[:2] == ["info", "options"]


def _fake(name: str, base: AgentEntry, **defaults) -> AgentEntry:
    config = dataclasses.make_dataclass(
        "FakeConfig",
        [(key, type(value), dataclasses.field(default=value)) for key, value in defaults.items()],
        bases=(base.config,),
        frozen=True,
    )
    return base._replace(name=name, config=config)


def test_negative_control_the_suites_follow_a_changed_registry(monkeypatch):
    """Take an algorithm out of the registry: a cell of it is refused; add one: it is accepted;
    change an algorithm's default updates per step: the cost estimate follows."""
    smoke = Suite("probe", "", (Cell("pendulum", "td3", steps=300),), 100, 1)
    before = estimate_minutes(smoke)
    assert estimate_minutes(smoke) == before  # deterministic, so a change below is the edit

    with monkeypatch.context() as patch:
        patch.delitem(registry.AGENTS, "sac")
        with pytest.raises(ValueError, match="algo 'sac' is not one of"):
            Cell("pendulum", "sac")
    Cell("pendulum", "sac")  # back in the registry, accepted again

    with monkeypatch.context() as patch:
        patch.setitem(registry.AGENTS, "td3-twin", _fake("td3-twin", AGENTS["td3"]))
        patch.setitem(STEP_MS, "td3-twin", STEP_MS["td3"])
        assert "td3-twin" in suites.ALGOS
        Cell("pendulum", "td3-twin")
    with pytest.raises(ValueError, match="algo 'td3-twin'"):
        Cell("pendulum", "td3-twin")

    with monkeypatch.context() as patch:
        patch.setitem(registry.AGENTS, "td3", _fake("td3", AGENTS["td3"], updates_per_step=4))
        assert estimate_minutes(smoke) > before  # the default is read, not restated
    assert estimate_minutes(smoke) == before


def test_negative_control_a_changed_jax_env_list_changes_what_cells_accept(monkeypatch):
    monkeypatch.setattr(registry, "JAX_ENV_IDS", ("pendulum", "toy-1d"))
    with pytest.raises(ValueError, match="env 'lq' is not"):
        Cell("lq", "td3")
    monkeypatch.undo()
    Cell("lq", "td3")


COST_MODEL = {"STEP_MS"}  # the one module-level table per algorithm: measured costs


def _restated_tables(source: str) -> list[str]:
    """Module-level names bound to a literal tuple, list, set or dict that holds two or more
    registered algorithm names (as items or keys), other than :data:`COST_MODEL`."""
    found = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        value = node.value
        items = value.keys if isinstance(value, ast.Dict) else getattr(value, "elts", [])
        names = [i.value for i in items if isinstance(i, ast.Constant) and i.value in AGENTS]
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        bound = [t.id for t in targets if isinstance(t, ast.Name)]
        if len(names) >= 2 and not set(bound) <= COST_MODEL:
            found += bound
    return found


def test_the_suites_source_restates_no_table_of_algorithms():
    """Cells name the algorithms they compare; no module-level table lists them but the cost
    model. The checker flags the tables this module had before the registry (negative
    control)."""
    assert _restated_tables(Path(suites.__file__).read_text()) == []
    old = textwrap.dedent(
        """
        ALGOS = ("td3", "mage", "dsdpg", "sobolev-td3", "sobolev-sac", "sac")
        STEP_MS = {"td3": 18.0, "mage": 25.0}
        DEFAULT_UPDATES_PER_STEP = {"mage": 10, "dsdpg": 10}
        """
    )
    assert _restated_tables(old) == ["ALGOS", "DEFAULT_UPDATES_PER_STEP"]


def test_importing_the_suites_and_listing_them_needs_no_agents():
    """The CLI builds its parser from the suite names: that must not import the agents (the
    'agents' extra, about a second); looking a suite up does."""
    probe = textwrap.dedent(
        """
        import sys
        import verify.suites as suites
        names = list(suites.SUITES)
        assert "smoke" in suites.SUITES and len(suites.SUITES) == len(names)
        assert "agents.registry" not in sys.modules and "jax" not in sys.modules
        suites.SUITES["smoke"]
        assert "agents.registry" in sys.modules
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(suites.__file__).parents[1],
    )
    assert done.returncode == 0, done.stderr


def test_options_of_every_suite_name_fields_of_their_algorithms():
    """A suite-wide option must be a field of every algorithm it reaches (else check_options
    would refuse the run); the probe suite with an unknown option shows the check bites."""
    cell = Cell("pendulum", "td3", seeds=(0,), steps=10)
    bad = Suite("probe", "", (cell,), 5, 1, options(hiden=[4]))
    (task,) = suite_tasks(bad)
    with pytest.raises(ValueError, match="'hiden' unknown for TD3Config"):
        check_options(task["algo"], task["options"])
