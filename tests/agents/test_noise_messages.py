"""``dyn-gauss`` noise on an env without a MuJoCo state: a message a person can act on."""

from __future__ import annotations

import pytest

from agents.envs import make_training_env
from agents.noise import check_noise_for_env


@pytest.mark.parametrize("env_id", ["pendulum", "toy-1d", "point-mass:2"])
def test_dyn_gauss_on_a_non_mujoco_env_names_the_env_not_an_object(env_id):
    with pytest.raises(ValueError) as raised:
        make_training_env(env_id, "dyn-gauss:0.1", seed=0)
    message = str(raised.value)
    assert " at 0x" not in message and "<" not in message  # no object repr
    assert "dyn-gauss:0.1" in message and "obs-mult:X" in message and "-v5" in message
    if env_id != "point-mass:2":  # the point mass is a Gymnasium env with its own spec id
        assert repr(env_id) in message


def test_the_check_needs_no_env_built():
    with pytest.raises(ValueError, match=r"env 'pendulum' is not a gymnasium MujocoEnv"):
        check_noise_for_env("dyn-gauss:0.1", "pendulum", is_mujoco=False)
    assert check_noise_for_env("dyn-gauss:0.1", "Hopper-v5", is_mujoco=True).scale == 0.1
    assert check_noise_for_env("obs-mult:0.2", "pendulum", is_mujoco=False).kind == "obs-mult"
