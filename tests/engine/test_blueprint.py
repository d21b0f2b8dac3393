"""A batch's blueprint (``Orchestrator.blueprint``): what it works out once for every trial.

The connections a blueprint's makers give each trial are those the factory gives a trial
of the same endpoints (in-process where this process serves the implementation, gRPC
otherwise, a client slot for a client), asked each trial (an implementation served or
withdrawn meanwhile counts); each trial of an unnamed environment gets the default name.
"""

from __future__ import annotations

import asyncio

from cogment_jupyter.adapters.actors import Random
from cogment_jupyter.adapters.gymnasium_env import Gymnasium
from cogment_jupyter.engine.orchestrator import DEFAULT_ENV_NAME, Orchestrator
from cogment_jupyter.proto.common_pb2 import TrialParams
from cogment_jupyter.transport.client_actor import ClientActorSlot
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.grpc_components import GrpcEnvironment, GrpcServiceActor
from cogment_jupyter.transport.inprocess import InProcessActor, InProcessEnvironment, InProcessServices
from tests.engine.test_inprocess import LOCAL, cartpole_params


async def test_makers_make_what_the_factory_makes_for_each_trial():
    services = InProcessServices(environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Random()})
    factory = GrpcComponentFactory({LOCAL: services})
    here, elsewhere = f"grpc://{LOCAL}", "grpc://127.0.0.1:2"
    cases = [
        (("cartpole", "random", here, here), (InProcessEnvironment, InProcessActor)),
        (("other", "other", here, here), (GrpcEnvironment, GrpcServiceActor)),  # not served here
        (("cartpole", "random", elsewhere, elsewhere), (GrpcEnvironment, GrpcServiceActor)),
        (("cartpole", "", here, "cogment://client"), (InProcessEnvironment, ClientActorSlot)),
    ]
    for (env_impl, actor_impl, env_endpoint, actor_endpoint), expected in cases:
        make_environment, make_actor, _ = factory.makers((env_endpoint, env_impl), (actor_endpoint, actor_impl), "")
        made = (make_environment("t1"), make_actor("t1"))
        by_trial = (factory.environment("t1", env_endpoint, env_impl), factory.actor("t1", actor_endpoint, actor_impl))
        assert tuple(map(type, made)) == tuple(map(type, by_trial)) == expected
    make_environment, make_actor, _ = factory.makers((here, "cartpole"), (here, "random"), "")
    services.actors.clear()  # (withdrawn after the batch started: its next trials reach it over gRPC)
    assert type(make_environment("t2")) is InProcessEnvironment and type(make_actor("t2")) is GrpcServiceActor


async def test_a_blueprint_names_the_trials_of_an_unnamed_environment_and_keeps_a_given_name():
    services = InProcessServices(environments={"cartpole": Gymnasium("CartPole-v1")}, actors={"random": Random()})
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}))
    for name, expected in (("", DEFAULT_ENV_NAME), ("world", "world")):
        template = cartpole_params(1)
        template.environment.name = name
        blueprint = await orchestrator.blueprint(template)
        params = TrialParams()
        params.CopyFrom(template)
        trial = blueprint.open("", "", params)
        assert trial is not None and trial.params.environment.name == expected
        trial.start()
        await asyncio.wait_for(trial.wait_ended(), 10)
        assert trial.errors == []
    await orchestrator.shutdown()
