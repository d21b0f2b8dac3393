"""The orchestrator as a command (status FIFO, params file, hooks) and its answers to bad input."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import cogment
import grpc
import pytest
from cogment.api import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

from cogment_jupyter.adapters.gymnasium_env import Gymnasium
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.server import OrchestratorServer
from tests import sdk_cog_settings
from tests.engine.test_inprocess import LOCAL, cartpole_params
from tests.sdk_components import Log, acting_actor, counting_environment, serve_basic, wait_state


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def read_exactly(fifo: str, count: int, timeout: float = 20.0) -> str:
    def read() -> str:
        with open(fifo) as stream:
            return stream.read(count)

    return await asyncio.wait_for(asyncio.to_thread(read), timeout)


async def test_cli_with_status_fifo_params_file_and_pre_trial_hook(tmp_path, sdk):
    log = Log()
    services = sdk()
    services.context.register_environment(counting_environment(log, end_after=2), "env")
    services.context.register_actor(acting_actor(log), "actor", ["player"])

    async def hook(session):  # the new-style API: rewrite the params we are given
        params = session.trial_parameters
        params.actors[0].implementation = "actor"
        params.properties = {"hooked": "yes"}
        session.trial_parameters = params

    services.context.register_pre_trial_hook(hook)
    endpoint = await services.serve()
    params_file = tmp_path / "params.yaml"
    params_file.write_text(
        "trial_params:\n"
        f"  environment: {{endpoint: {endpoint}, implementation: env}}\n"
        "  actors:\n"
        f"    - {{name: p1, actor_class: player, endpoint: {endpoint}, implementation: wrong}}\n"
    )
    fifo = str(tmp_path / "status")
    os.mkfifo(fifo)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cogment_jupyter.cli",
            "services",
            "orchestrator",
            f"--lifecycle_port={port}",
            f"--actor_port={port}",
            f"--params={params_file}",
            f"--pre_trial_hooks={endpoint}",
            f"--status_file={fifo}",
            "--log_level=warning",
        ],
    )
    try:
        reader = asyncio.create_task(read_exactly(fifo, 3, timeout=30))
        context = cogment.Context(user_id="cli", cog_settings=sdk_cog_settings, prometheus_registry=None)
        controller = context.get_controller(cogment.Endpoint(f"grpc://127.0.0.1:{port}"))
        for _ in range(200):
            try:
                versions = await controller.get_remote_versions()
                break
            except Exception:
                await asyncio.sleep(0.05)
        assert versions["cogment"] == "2.22.0"
        trial_id = await controller.start_trial(trial_config=sdk_cog_settings.trial.config_type(value="go"))
        info = await wait_state(controller, trial_id, cogment.TrialState.ENDED)
        assert info.properties == {"hooked": "yes"}
        assert [e[0] for e in log.of("p1")][:2] == [cogment.EventType.ACTIVE, cogment.EventType.ACTIVE]
        process.send_signal(signal.SIGTERM)
        assert await reader == "IRT"
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.fixture
async def lifecycle(orchestrator):
    channel = grpc.aio.insecure_channel(orchestrator.endpoint.removeprefix("grpc://"))
    yield orchestrator_pb2_grpc.TrialLifecycleSPStub(channel), orchestrator
    await channel.close()


async def expect_error(call, text: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.UNKNOWN
    assert text in caught.value.details(), caught.value.details()


async def test_bad_requests_get_clear_errors_and_the_server_stays_healthy(lifecycle, sdk):
    stub, running = lifecycle
    await expect_error(stub.TerminateTrial(orchestrator_pb2.TerminateTrialRequest()), "No 'trial-id' key in metadata")
    reply = await stub.GetTrialInfo(orchestrator_pb2.TrialInfoRequest(), metadata=(("trial-id", "nope"),))
    assert list(reply.trial) == []
    await stub.TerminateTrial(orchestrator_pb2.TerminateTrialRequest(), metadata=(("trial-id", "nope"),))

    empty = orchestrator_pb2.TrialStartRequest(params=common_pb2.TrialParams())
    await expect_error(stub.StartTrial(empty), "No Actor defined in parameters")

    bad_endpoint = common_pb2.TrialParams()
    bad_endpoint.environment.endpoint = "http://nowhere:1"
    bad_endpoint.actors.add(name="a", actor_class="player", endpoint="grpc://127.0.0.1:1")
    await expect_error(
        stub.StartTrial(orchestrator_pb2.TrialStartRequest(params=bad_endpoint)), "Unknown endpoint scheme"
    )

    duplicate = common_pb2.TrialParams()
    duplicate.environment.endpoint = "grpc://127.0.0.1:1"
    duplicate.actors.add(name="a", actor_class="player", endpoint="grpc://127.0.0.1:1")
    duplicate.actors.add(name="a", actor_class="player", endpoint="grpc://127.0.0.1:1")
    await expect_error(
        stub.StartTrial(orchestrator_pb2.TrialStartRequest(params=duplicate)), "Duplicate actor name [a]"
    )

    discover = common_pb2.TrialParams()
    discover.actors.add(name="a", actor_class="player", endpoint="grpc://127.0.0.1:1")
    await expect_error(stub.StartTrial(orchestrator_pb2.TrialStartRequest(params=discover)), "No directory service")

    # garbage bytes as an action: the environment cannot decode them, the trial ends saying why
    running.orchestrator.factory.local[LOCAL] = InProcessServices(environments={"cartpole": Gymnasium("CartPole-v1")})
    garbage = cartpole_params(1)
    garbage.actors[0].endpoint = "cogment://client"
    trial_id = (await stub.StartTrial(orchestrator_pb2.TrialStartRequest(params=garbage))).trial_id
    actor_stub = orchestrator_pb2_grpc.ClientActorSPStub(
        grpc.aio.insecure_channel(running.endpoint.removeprefix("grpc://"))
    )
    call = actor_stub.RunTrial(metadata=(("trial-id", trial_id),))
    await call.write(
        common_pb2.ActorRunTrialOutput(
            state=common_pb2.NORMAL, init_output=common_pb2.ActorInitialOutput(actor_name="gym")
        )
    )
    init = await call.read()
    assert init.init_input.actor_name == "gym"
    observation = await call.read()
    assert observation.HasField("observation")
    await call.write(
        common_pb2.ActorRunTrialOutput(
            state=common_pb2.NORMAL, action=common_pb2.Action(tick_id=-1, content=b"\xff\xfe garbage")
        )
    )
    while (message := await asyncio.wait_for(call.read(), 10)) is not grpc.aio.EOF:
        if message.state == common_pb2.END:
            break
    assert message.details.startswith("Environment failed: bad action from [gym]")
    trial = running.orchestrator.trials[trial_id]
    await asyncio.wait_for(trial.wait_ended(), 10)
    assert trial.errors and "bad action from [gym]" in trial.errors[0]

    # unknown trial for a client actor
    bad_join = actor_stub.RunTrial(metadata=(("trial-id", "nope"),))
    await bad_join.write(
        common_pb2.ActorRunTrialOutput(
            state=common_pb2.NORMAL, init_output=common_pb2.ActorInitialOutput(actor_name="c")
        )
    )
    await expect_error(bad_join.read(), "Unknown trial [nope] for actor to join")

    # and the server still runs trials
    log2 = Log()
    endpoint2 = await serve_basic(sdk, log2, end_after=1)
    ok = common_pb2.TrialParams()
    ok.environment.endpoint = endpoint2
    ok.environment.implementation = "env"
    ok.actors.add(name="p1", actor_class="player", endpoint=endpoint2, implementation="actor")
    trial_id = (await stub.StartTrial(orchestrator_pb2.TrialStartRequest(params=ok))).trial_id
    await asyncio.wait_for(running.orchestrator.trials[trial_id].wait_ended(), 10)
    assert running.orchestrator.trials[trial_id].end_details is None


async def test_duplicate_trial_id_answers_empty(lifecycle, sdk):
    stub, _ = lifecycle
    log = Log()
    endpoint = await serve_basic(sdk, log)
    params = common_pb2.TrialParams()
    params.environment.endpoint = endpoint
    params.actors.add(name="p1", actor_class="player", endpoint=endpoint, implementation="actor")
    first = await stub.StartTrial(orchestrator_pb2.TrialStartRequest(params=params, trial_id_requested="same"))
    second = await stub.StartTrial(orchestrator_pb2.TrialStartRequest(params=params, trial_id_requested="same"))
    assert (first.trial_id, second.trial_id) == ("same", "")
    await stub.TerminateTrial(
        orchestrator_pb2.TerminateTrialRequest(hard_termination=True), metadata=(("trial-id", "same"),)
    )


async def test_hooked_orchestrator_in_process_and_versions(sdk):
    log = Log()
    services = sdk()
    services.context.register_environment(counting_environment(log, end_after=1), "env")
    services.context.register_actor(acting_actor(log), "actor", ["player"])

    async def failing_hook(session):
        raise RuntimeError("no trials today")

    services.context.register_pre_trial_hook(failing_hook)
    endpoint = await services.serve()
    engine = Orchestrator(GrpcComponentFactory(), pre_trial_hooks=[endpoint])
    server = OrchestratorServer(engine)
    await server.start("127.0.0.1", 0)
    try:
        stub = orchestrator_pb2_grpc.TrialLifecycleSPStub(
            grpc.aio.insecure_channel(f"127.0.0.1:{server.lifecycle_port}")
        )
        await expect_error(stub.StartTrial(orchestrator_pb2.TrialStartRequest()), "Pre-trial hook failure")
        status = await stub.Status(common_pb2.StatusRequest(names=["overall_load"]))
        assert dict(status.statuses) == {"overall_load": "0"}
    finally:
        await server.stop(0.1)
