"""Trials on in-process components: Python objects, no gRPC between them."""

from __future__ import annotations

import asyncio

import gymnasium as gym
import numpy as np
from cogment.api import common_pb2

from cogment_jupyter.adapters.actors import Policy, Random
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.gymnasium_env import Gymnasium
from cogment_jupyter.adapters.payloads import decode_action, decode_observation
from cogment_jupyter.adapters.spaces import space_to_str
from cogment_jupyter.engine.components import DatalogConnection
from cogment_jupyter.engine.lean import RecordingPort
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.engine.records import EnvInit, TrialActor, TrialState
from cogment_jupyter.lab.servers import fused_ticks_default
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.inprocess import InProcessEnvironment, InProcessServices
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig, space_from_text
from tests.sdk_components import recording_datalog

LOCAL = "127.0.0.1:1"  # an address nobody listens on: only the in-process path can serve it


def cartpole_params(seed: int, datalog: str | None = None, max_steps: int = 0) -> common_pb2.TrialParams:
    env = Gymnasium("CartPole-v1")
    spec = env.agent_specs["gym"]
    params = common_pb2.TrialParams(max_steps=max_steps)
    params.environment.endpoint = f"grpc://{LOCAL}"
    params.environment.implementation = "cartpole"
    params.environment.config.content = EnvConfig(seed=seed).to_bytes()
    actor = params.actors.add(name="gym", actor_class="player", endpoint=f"grpc://{LOCAL}", implementation="random")
    actor.config.content = ActorConfig(spec=AgentSpec(spec.observation_space, spec.action_space), seed=seed).to_bytes()
    if datalog:
        params.datalog.endpoint = datalog
    return params


async def test_inprocess_trial_logs_to_an_sdk_datalog_over_grpc(sdk):
    services = InProcessServices(environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Random()})
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), fused_ticks=fused_ticks_default())
    samples: list = []
    done = asyncio.Event()
    datalog = sdk()
    datalog.context.register_datalog(recording_datalog(samples, done))
    endpoint = await datalog.serve()
    trial_id = await orchestrator.start_trial(params=cartpole_params(7, endpoint))
    trial = orchestrator.trials[trial_id]
    await asyncio.wait_for(trial.wait_ended(), 10)
    await asyncio.wait_for(done.wait(), 10)
    assert trial.errors == []
    assert [s.info.tick_id for s in samples] == list(range(len(samples)))
    assert samples[-1].info.state == common_pb2.ENDED
    assert list(samples[-1].info.special_events) == ["Evironment ended trial"]
    spec = Gymnasium("CartPole-v1").agent_specs["gym"]
    obs_codec, act_codec = codec_for(spec.observation_space), codec_for(spec.action_space)
    first = decode_observation(samples[0].observations.observations[0], obs_codec)
    assert first.value.shape == (4,) and first.info["seed"] == 7
    actions = [decode_action(s.actions[0].content, act_codec).value for s in samples[:-1]]
    assert set(actions) <= {0, 1}
    rewards = [sum(r.value for r in s.rewards) for s in samples]
    assert rewards[:-1] == [1.0] * (len(samples) - 1)
    last = decode_observation(samples[-1].observations.observations[0], obs_codec)
    assert last.terminated or last.truncated
    await orchestrator.shutdown()


async def test_same_seed_same_trajectory_and_max_steps():
    services = InProcessServices(environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Random()})
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), fused_ticks=fused_ticks_default())
    ids = [await orchestrator.start_trial(params=cartpole_params(3, max_steps=5)) for _ in range(2)]
    for trial_id in ids:
        await asyncio.wait_for(orchestrator.trials[trial_id].wait_ended(), 10)
    first, second = (orchestrator.trials[i] for i in ids)
    assert first.tick_id == second.tick_id == 6  # max_steps=5: final observations are tick 6 (§7.1.3)
    assert np.array_equal(
        first.latest_observations.observations[0].value, second.latest_observations.observations[0].value
    )
    assert first.state == TrialState.ENDED
    await orchestrator.shutdown()


async def test_an_action_outside_the_space_ends_the_trial_with_the_error():
    services = InProcessServices(
        environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Policy(lambda observation: 5)}
    )
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), fused_ticks=fused_ticks_default())
    trial_id = await orchestrator.start_trial(params=cartpole_params(1))
    trial = orchestrator.trials[trial_id]
    await asyncio.wait_for(trial.wait_ended(), 10)
    assert trial.end_details.startswith("Actor [gym] acted outside its action space at tick [0]: action 5")
    assert trial.errors == [trial.end_details[0].lower() + trial.end_details[1:]]
    await orchestrator.shutdown()


class CommitsLater(DatalogConnection):
    """A datalog that closes at once (``close_now``); its commit then fails with ``error``, or
    leaves the trial's record incomplete (``check_closed`` raises ``incomplete``)."""

    accepts_rows = True

    def __init__(self, error: Exception | None = None, incomplete: Exception | None = None) -> None:
        self.error, self.incomplete = error, incomplete
        self.rows = 0

    async def start(self, trial_id, user_id, params) -> None:
        self.start_now(trial_id, user_id, params)

    def start_now(self, trial_id, user_id, params) -> bool:
        return True

    def add(self, samples) -> None:
        self.rows += len(samples)

    def add_rows(self, rows) -> None:
        self.rows += len(rows)

    async def close(self) -> None:
        raise AssertionError("a datalog that closes at once is not awaited")

    def close_now(self) -> asyncio.Future[None]:
        committed = asyncio.get_running_loop().create_future()
        if self.error is not None:
            committed.get_loop().call_soon(committed.set_exception, self.error)
        else:
            committed.get_loop().call_soon(committed.set_result, None)
        return committed

    def check_closed(self) -> None:
        if self.incomplete is not None:
            raise self.incomplete


async def test_a_datalog_closed_at_once_reports_a_failed_or_incomplete_record_on_the_trial():
    datalogs = iter(
        [CommitsLater(), CommitsLater(error=OSError("the disk went away")), CommitsLater(None, OSError("lost rows"))]
    )
    services = InProcessServices(
        environments={"cartpole": Gymnasium("CartPole-v1")},
        actors={"random": Random()},
        datalog_factory=lambda trial_id: next(datalogs),
    )
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), fused_ticks=fused_ticks_default())
    errors = []
    for seed in range(3):
        trial_id = await orchestrator.start_trial(params=cartpole_params(seed, f"grpc://{LOCAL}"))
        trial = orchestrator.trials[trial_id]
        await asyncio.wait_for(trial.wait_recorded(), 10)  # (never raises: the trial says what went wrong)
        assert trial.state == TrialState.ENDED and trial.datalog is None
        errors.append(trial.errors)
    assert errors == [
        [],
        ["datalog: the trial is not recorded completely: the disk went away"],
        ["datalog: the trial is not recorded completely: lost rows"],
    ]
    await orchestrator.shutdown()


async def test_the_plain_step_port_is_offered_only_to_an_actor_that_checks_as_the_environment():
    """The environment's plain port skips its own check of an answer: it is offered only for
    answers checked against a space holding the same values (another one: ``step`` checks)."""
    template = Gymnasium("CartPole-v1")
    environment = InProcessEnvironment({"cartpole": template}, "t")
    config = EnvConfig(seed=1).to_bytes()
    await environment.init(EnvInit("env", "cartpole", 0, [TrialActor("gym", "player")], config, 0.0), RecordingPort())
    action_space = template.agent_specs["gym"].action_space
    as_sent = codec_for(space_from_text(space_to_str(action_space)))  # (an actor's: from its config)
    assert as_sent is not codec_for(action_space)
    port = environment.plain_stepper(as_sent)
    assert port is not None and port.__func__ is Gymnasium.plain_step
    assert environment.plain_stepper(codec_for(gym.spaces.Discrete(3))) is None
    assert environment.plain_stepper(None) is None
    environment.end(None)
