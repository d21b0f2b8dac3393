"""A trial's seeds added to configs made without one (what ``run_trials`` does per trial): the
bytes the config messages themselves would make, read back as the seed, for any int64 seed."""

from __future__ import annotations

import gymnasium as gym
import pytest

from cogment_jupyter.adapters import wire
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig, with_seed

SEEDS = [0, 1, 127, 128, 300, 2**31 - 1, 2**31, 2**32 + 5, 2**63 - 1, -1, -(2**31), -(2**63)]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seed_added_to_a_config_is_the_field_its_message_would_write(seed: int) -> None:
    for role, message in (("environment", wire.EnvironmentConfig), ("actor", wire.ActorConfig)):
        assert with_seed(b"", seed, role) == message(seed=seed).SerializeToString()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_config_with_a_seed_added_reads_as_made_with_it(seed: int) -> None:
    spec = AgentSpec(gym.spaces.Box(-1.0, 1.0, (3,)), gym.spaces.Discrete(4))
    environment = EnvConfig(render=True, options={"a": 1}, config={"k": [1, 2]}, format="")
    actor = ActorConfig(spec, config={"x": "y"}, render=True)
    assert EnvConfig.from_bytes(with_seed(environment.to_bytes(), seed, "environment")) == EnvConfig(
        seed, True, {"a": 1}, {"k": [1, 2]}
    )
    seeded = ActorConfig.from_bytes(with_seed(actor.to_bytes(), seed, "actor"))
    assert seeded.seed == seed and seeded.config == {"x": "y"} and seeded.render
