"""A batch's in-process components set up once (``transport.batch_setup``): each trial's
environment and actor are called exactly as their own init would call them.

Each trial's components see the seeds its recorded params hold, the batch's config as a
copy of their own (what one trial changes of it, the next does not see), and an actor
whose ``fork`` keeps it (state across trials) is reset once a trial with that trial's
seed. Batches of other configs (the same environment, the same actor) get theirs, and a
setup is not used once another implementation is served under its name.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import pytest

from cogment_jupyter import Lab
from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult, TrialContext
from cogment_jupyter.lab.trial_options import TrialOptions
from cogment_jupyter.transport.batch_setup import BatchSetup
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig

SEED = 321


class Witness(Environment):
    """One agent, one step; what each trial's reset was given, kept by the template and its
    forks alike (``seen``); it changes what it is given, as a careless environment may."""

    def __init__(self, seen: list[tuple[str, Any, dict[str, Any], Any]] | None = None) -> None:
        self.seen = [] if seen is None else seen

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return {"agent": AgentSpec(gym.spaces.Discrete(3), gym.spaces.Discrete(2))}

    def fork(self) -> Witness:
        return Witness(self.seen)

    def reset(self, context: TrialContext, options: Any = None) -> StepResult:
        given = None if options is None else dict(options)
        self.seen.append((context.trial_id, context.seed, dict(context.config), given))
        context.config["changed"] = True  # type: ignore[index]
        if options is not None:
            options["changed"] = True
        return StepResult({"agent": 0})

    def step(self, actions: Any) -> StepResult:
        return StepResult({"agent": 1}, terminated={"agent": True}, done=True)


class Keeper(Actor):
    """One actor object for every trial (``fork`` keeps it): what each reset was given."""

    def __init__(self) -> None:
        self.resets: list[tuple[str, str, int | None, dict[str, Any], AgentSpec]] = []
        self.acts = 0

    def reset(self, agent: str, spec: AgentSpec, context: TrialContext) -> None:
        self.resets.append((context.trial_id, agent, context.seed, dict(context.config), spec))
        context.config["changed"] = True  # type: ignore[index]

    def act(self, observation: Any, frame: Any = None) -> int:
        self.acts += 1
        return 1


@pytest.fixture
def served(tmp_path):
    """A lab serving a :class:`Witness` and a :class:`Keeper`, and those two."""
    env, actor = Witness(), Keeper()
    with Lab(datastore=tmp_path / "store") as lab:
        lab.serve_env("witness", env)
        lab.serve_actor("keeper", actor)
        yield lab, env, actor


def recorded_seeds(lab: Lab, trial_id: str) -> tuple[int | None, int | None]:
    """The environment's and the actor's seeds in a trial's recorded params."""
    params = lab.datastore.params(trial_id)
    return (
        EnvConfig.from_bytes(params.environment.config.content).seed,
        ActorConfig.from_bytes(params.actors[0].config.content).seed,
    )


def test_each_trial_of_a_batch_sees_its_own_seeds_and_a_config_of_its_own(served):
    lab, env, actor = served
    handles = lab.run_trials(
        4, "witness", "keeper", seed=SEED, progress=False, config={"level": 2}, reset_options={"mode": "hard"}
    )
    assert [h.state for h in handles] == ["ENDED"] * 4 and not any(h.errors for h in handles)
    ids = [h.id for h in handles]
    assert [seen[0] for seen in env.seen] == ids
    assert [seen[0] for seen in actor.resets] == ids  # one actor object, reset once a trial
    assert actor.acts == 4
    for handle, seen, reset in zip(handles, env.seen, actor.resets, strict=True):
        env_seed, actor_seed = recorded_seeds(lab, handle.id)
        assert (seen[1], reset[2]) == (env_seed, actor_seed) == (handle.seed, handle.seed + 1)
        assert seen[2:] == ({"level": 2}, {"mode": "hard"})  # not what an earlier trial changed
        assert reset[1] == "agent" and reset[3] == {}
        assert reset[4] == AgentSpec(gym.spaces.Discrete(3), gym.spaces.Discrete(2))
    assert [h.seed for h in handles] == [SEED + 1000 * i for i in range(4)]


def test_batches_of_other_configs_get_theirs(served):
    lab, env, actor = served
    for level in (1, 2, 3):
        lab.run_trials(2, "witness", "keeper", seed=SEED, progress=False, config={"level": level})
    lab.run_trials(1, "witness", "keeper", seed=SEED, progress=False, actor_configs={"agent": {"eps": 0.5}})
    assert [seen[2] for seen in env.seen] == [{"level": 1}] * 2 + [{"level": 2}] * 2 + [{"level": 3}] * 2 + [{}]
    assert actor.resets[-1][3] == {"eps": 0.5}


def test_a_setup_is_not_used_once_another_implementation_is_served_under_its_name(served):
    lab = served[0]
    served = lab._servers.components.services  # (what the lab serves in this kernel)
    params = lab._params.make("witness", "keeper", None, TrialOptions.of({}))
    setup = BatchSetup.of(served, params)
    assert setup is not None and setup.current
    lab.serve_actor("keeper", Keeper())
    assert not setup.current
    setup = BatchSetup.of(served, params)
    assert setup is not None and setup.current
    lab.serve_env("witness", Witness())
    assert not setup.current


def test_a_batch_whose_init_would_fail_has_no_setup_and_fails_each_trial_as_before(served):
    lab = served[0]

    class Elsewhere(Witness):
        @property
        def agent_specs(self) -> dict[str, AgentSpec]:
            return {"other": AgentSpec(gym.spaces.Discrete(3), gym.spaces.Discrete(2))}

    lab.serve_env("elsewhere", Elsewhere())
    served = lab._servers.components.services
    params = lab._params.make("witness", "keeper", None, TrialOptions.of({}))
    params.environment.implementation = "elsewhere"  # (its agents are not the trial's actors)
    assert BatchSetup.of(served, params) is None
