"""Trials whose components are named only by ``cogment://discover/…`` endpoints, resolved per trial."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import cogment
import grpc
import pytest

from cogment_jupyter.directory.client import DirectoryClient
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.server import OrchestratorServer
from tests import sdk_cog_settings
from tests.directory.conftest import eventually, sdk_directory
from tests.sdk_components import Log, acting_actor, counting_environment, recording_datalog, trial_params, wait_state
from tests.transport.test_cli_and_hooks import free_port


@pytest.fixture
async def discovering(directory):
    """Our orchestrator, resolving discovery endpoints through ``directory``."""
    engine = Orchestrator(GrpcComponentFactory(directory=DirectoryClient(directory.endpoint)), gc_interval=0.5)
    server = OrchestratorServer(engine)
    await server.start("127.0.0.1", 0)
    context = cogment.Context(user_id="tests", cog_settings=sdk_cog_settings, prometheus_registry=None)
    yield context.get_controller(cogment.Endpoint(f"grpc://127.0.0.1:{server.lifecycle_port}")), engine
    await server.stop(grace=0.2)


async def registered_services(sdk, directory_endpoint: str, log: Log, samples: list, logged: asyncio.Event):
    """An SDK process serving an environment, two actor implementations and a datalog, all registered."""
    services = sdk(directory_endpoint=cogment.Endpoint(directory_endpoint))
    services.context.register_environment(counting_environment(log, end_after=2), "env")
    services.context.register_actor(acting_actor(log, action=1), "ones", ["player"])
    services.context.register_actor(acting_actor(log, action=7), "sevens", ["player", "coach"], {"strength": "7"})
    services.context.register_datalog(recording_datalog(samples, logged))
    endpoint = await services.serve(directory_registration_host="127.0.0.1")
    client = sdk_directory(directory_endpoint)
    await eventually(lambda: client.inquire_by_type(cogment.directory.ServiceType.DATALOG, {}), bool)
    return services, endpoint


async def test_a_trial_named_only_by_discovery_endpoints(discovering, directory, sdk) -> None:
    controller, _ = discovering
    log, samples, logged = Log(), [], asyncio.Event()
    await registered_services(sdk, directory.endpoint, log, samples, logged)
    params = trial_params(
        "cogment://discover",  # context discovery: an environment with __implementation=env
        [
            ("p1", "player", "cogment://discover/actor?__implementation=ones", "ones"),
            ("p2", "player", "", "sevens"),  # empty: context discovery by class and implementation
            ("p3", "coach", "cogment://discover?strength=7", ""),  # context + query: class coach, strength 7
        ],
        datalog_endpoint="cogment://discover/datalog",
    )
    trial_id = await controller.start_trial(trial_params=params)
    assert trial_id
    await wait_state(controller, trial_id, cogment.TrialState.ENDED)
    await asyncio.wait_for(logged.wait(), 10)
    first = next(event for event in log.of("env") if event[0] == cogment.EventType.ACTIVE)
    active = cogment.ActorStatus.ACTIVE
    assert first[2] == [(active, 1), (active, 7), (active, 7)]  # ones, sevens, sevens as a coach
    assert samples, "the datalog found by discovery received the trial"
    # the trial keeps its parameters as written
    info = (await controller.get_trial_info(trial_id))[0]
    assert info.env_name == "env"


async def test_each_trial_asks_the_directory_again(discovering, directory, sdk) -> None:
    controller, _ = discovering
    log, samples, logged = Log(), [], asyncio.Event()
    first, _ = await registered_services(sdk, directory.endpoint, log, samples, logged)
    params = trial_params("cogment://discover/environment?__implementation=env", [("p1", "player", "", "ones")])
    await wait_state(controller, await controller.start_trial(trial_params=params), cogment.TrialState.ENDED)
    # the services move: the next trial goes where the directory now says
    await first.context._grpc_server.stop(None)
    await asyncio.wait_for(first.task, 10)
    moved_log = Log()
    await registered_services(sdk, directory.endpoint, moved_log, [], asyncio.Event())
    await wait_state(controller, await controller.start_trial(trial_params=params), cogment.TrialState.ENDED)
    assert moved_log.of("p1"), "the second trial's actor is the newly registered one"


async def test_nothing_matches_and_no_directory_give_the_upstream_errors(discovering, directory, orchestrator) -> None:
    controller, _ = discovering
    params = trial_params("cogment://discover/environment?__implementation=nowhere", [("p1", "player", "", "x")])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await controller.start_trial(trial_params=params)
    message = caught.value.details()
    assert "Environment [env] endpoint error: [No service found in directory" in message, message
    assert "cogment://discover/environment?__implementation=nowhere" in message
    for endpoint, reason in [
        ("cogment://discover/lifecycle", "The orchestrator does not connect to 'lifecycle' services"),
        ("cogment://discover/service", "Endpoint Service path must have an `__id` property"),
        ("cogment://discover/nowhere", "Unknown endpoint path"),
        ("cogment://elsewhere/actor", "Unknown endpoint host (must be 'discover' or 'client')"),
    ]:
        bad = trial_params("grpc://127.0.0.1:1", [("p1", "player", endpoint, "x")])
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await controller.start_trial(trial_params=bad)
        assert reason in caught.value.details(), caught.value.details()
    # an orchestrator without a directory says so
    plain = orchestrator.controller()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await plain.start_trial(trial_params=trial_params("cogment://discover", [("p1", "player", "", "x")]))
    assert "No directory service defined to inquire discovery endpoint" in caught.value.details()


async def test_the_command_line_discovers_and_registers_itself(directory, sdk, tmp_path) -> None:
    """``--directory_endpoint``/``--directory_authentication_token``, hooks by discovery, auto-registration."""
    log = Log()
    metadata = cogment.GrpcMetadata()
    metadata.add("authentication-token", "class-7")
    services = sdk(directory_endpoint=cogment.Endpoint(directory.endpoint), metadata=metadata)
    services.context.register_environment(counting_environment(log, end_after=1), "env")
    services.context.register_actor(acting_actor(log), "ones", ["player"])

    async def hook(session):
        params = session.trial_parameters
        params.environment_endpoint = "cogment://discover"
        params.environment_implementation = "env"
        params.properties = {"hooked": "by discovery"}
        session.trial_parameters = params

    services.context.register_pre_trial_hook(hook)
    await services.serve(directory_registration_host="127.0.0.1")
    tokened = sdk_directory(directory.endpoint, token="class-7")
    await eventually(lambda: tokened.inquire_by_type(cogment.directory.ServiceType.HOOK, {}), bool)
    port = free_port()
    params_file = tmp_path / "params.yaml"
    params_file.write_text(
        "trial_params:\n  actors:\n    - {name: p1, actor_class: player, endpoint: '', implementation: ones}\n"
    )
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
            "--pre_trial_hooks=cogment://discover/prehook",
            "--directory_authentication_token=class-7",
            "--log_level=warning",
        ],
        env={**os.environ, "COGMENT_DIRECTORY_ENDPOINT": directory.endpoint},
    )
    try:
        # it registered itself (with the token): the SDK finds its lifecycle service by discovery
        lifecycle = await eventually(
            lambda: tokened.inquire_by_type(cogment.directory.ServiceType.LIFE_CYCLE, {}), bool, timeout=30
        )
        assert lifecycle[0][0] == f"grpc://127.0.0.1:{port}"
        context = cogment.Context(
            user_id="cli",
            cog_settings=sdk_cog_settings,
            prometheus_registry=None,
            directory_endpoint=cogment.Endpoint(directory.endpoint),
            metadata=metadata,
        )
        controller = await context.get_controller(cogment.Endpoint("cogment://discover"))
        trial_id = await controller.start_trial(trial_config=sdk_cog_settings.trial.config_type(value="go"))
        info = await wait_state(controller, trial_id, cogment.TrialState.ENDED)
        assert info.properties == {"hooked": "by discovery"}
        assert log.of("p1")
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 20) == 0
    # and deregistered when it stopped
    assert await tokened.inquire_by_type(cogment.directory.ServiceType.LIFE_CYCLE, {}) == []


def start_service(*args: str) -> tuple[subprocess.Popen[str], str]:
    """``cogment-jupyter services …`` on a free port; its endpoint (from its ready line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cogment_jupyter.cli", "services", *args, "--port=0", "--log_level=warning"],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert " ready: grpc://" in line, line
    return process, line.split()[2]


async def test_the_datastore_and_registry_services_register_and_the_sdk_finds_them(directory, tmp_path) -> None:
    """A whole deployment found by name: the SDK reaches the model registry and the datastore by discovery."""
    env = {"COGMENT_DIRECTORY_ENDPOINT": directory.endpoint}
    os.environ.update(env)
    try:
        # (in threads: this loop serves the directory they register to while they start)
        datastore, datastore_endpoint = await asyncio.to_thread(
            start_service, "trial_datastore", f"--directory={tmp_path / 'trials'}"
        )
        registry, registry_endpoint = await asyncio.to_thread(
            start_service, "model_registry", f"--archive_dir={tmp_path / 'models'}"
        )
    finally:
        for name in env:
            os.environ.pop(name)
    try:
        client = sdk_directory(directory.endpoint)
        for service_type, endpoint in [
            (cogment.directory.ServiceType.DATASTORE, datastore_endpoint),
            (cogment.directory.ServiceType.DATALOG, datastore_endpoint),
            (cogment.directory.ServiceType.MODEL_REG, registry_endpoint),
        ]:
            found = await eventually(lambda t=service_type: client.inquire_by_type(t, {}), bool)
            assert [url for url, _ in found] == [endpoint]
        context = cogment.Context(
            user_id="tests",
            cog_settings=sdk_cog_settings,
            prometheus_registry=None,
            directory_endpoint=cogment.Endpoint(directory.endpoint),
        )
        models = await context.get_model_registry_v2(cogment.Endpoint("cogment://discover"))
        assert (await models.store_model("found", b"by name")).iteration == 1
        trials = await context.get_datastore(cogment.Endpoint("cogment://discover"))
        assert await trials.get_trials() == []  # an empty datastore, reached by name
    finally:
        for process in (datastore, registry):
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 20) == 0
    # stopping, they took their entries back
    assert await sdk_directory(directory.endpoint).inquire_by_type(cogment.directory.ServiceType.MODEL_REG, {}) == []
