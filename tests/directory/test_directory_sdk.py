"""The official SDK's directory client against our directory, over real gRPC on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import cogment
import grpc
import pytest
from cogment.api import common_pb2, directory_pb2, directory_pb2_grpc
from cogment.directory import ServiceType

from cogment_jupyter.directory.service import DirectoryOptions
from tests.directory.conftest import eventually, sdk_directory
from tests.sdk_components import Log, acting_actor, counting_environment


async def serve_registered(sdk, directory_endpoint: str, log: Log, **context):
    """SDK services registering themselves (``serve_all_registered``) to the directory."""
    services = sdk(directory_endpoint=cogment.Endpoint(directory_endpoint), **context)
    services.context.register_environment(counting_environment(log, end_after=2), "cartpole", {"level": "easy"})
    services.context.register_actor(acting_actor(log), "greedy", ["player"], {"team": "blue"})
    endpoint = await services.serve(directory_registration_host="127.0.0.1")
    return services, endpoint


def urls(found: list[tuple[str, bool]]) -> list[str]:
    return [url for url, _ssl in found]


async def test_sdk_services_register_and_the_sdk_inquires(directory, sdk) -> None:
    services, endpoint = await serve_registered(sdk, directory.endpoint, Log())
    client = sdk_directory(directory.endpoint)

    actors = await eventually(
        lambda: client.inquire_by_type(ServiceType.ACTOR, {"__implementation": "greedy"}), lambda found: found
    )
    assert urls(actors) == [endpoint]
    assert urls(await client.inquire_by_type(ServiceType.ACTOR, {"__actor_class": "player", "team": "blue"})) == [
        endpoint
    ]
    assert await client.inquire_by_type(ServiceType.ACTOR, {"team": "red"}) == []
    assert await client.inquire_by_type(ServiceType.ACTOR, {"__implementation": "cartpole"}) == []
    environments = await client.inquire_by_type(ServiceType.ENVIRONMENT, {"level": "easy"})
    assert urls(environments) == [endpoint]
    # the SDK's own discovery endpoints resolve through it too
    found = await client.get_inquired_endpoint(cogment.Endpoint("cogment://discover/environment?level=easy"))
    assert found.url == endpoint
    # what the SDK registered: its implicit properties are kept
    stub = directory_pb2_grpc.DirectorySPStub(grpc.aio.insecure_channel(directory.endpoint.removeprefix("grpc://")))
    replies = [
        r
        async for r in stub.Inquire(
            directory_pb2.InquireRequest(details=directory_pb2.ServiceDetails(type=directory_pb2.ACTOR_SERVICE))
        )
    ]
    assert len(replies) == 1
    properties = dict(replies[0].data.details.properties)
    assert properties["__registration_source"] == "PythonSDK-Implicit" and properties["__actor_class"] == "player"
    by_id = await client.inquire_by_id(replies[0].data.service_id)
    assert urls(by_id) == [endpoint]
    status = await stub.Status(common_pb2.StatusRequest(names=["*"]))
    assert status.statuses["nb_entries"] == "2" and status.statuses["load_balancing"] == "disabled"

    # when its server stops, the SDK deregisters what it registered
    await services.context._grpc_server.stop(None)
    await asyncio.wait_for(services.task, 10)
    await eventually(lambda: client.inquire_by_type(ServiceType.ACTOR, {}), lambda found: found == [])
    assert (await stub.Status(common_pb2.StatusRequest(names=["nb_entries"]))).statuses["nb_entries"] == "0"


async def test_register_deregister_tokens_and_permanent_entries(directory) -> None:
    client = sdk_directory(directory.endpoint)
    alice = sdk_directory(directory.endpoint, token="alice")
    # permanent: no health check (nothing listens there), and a second registration updates the first
    first = await client.register_host(ServiceType.OTHER, "models.example", 7000, properties={"kind": "db"})
    # (the SDK registers non-permanent entries only: permanent ones go through the stub)
    stub = directory_pb2_grpc.DirectorySPStub(grpc.aio.insecure_channel(directory.endpoint.removeprefix("grpc://")))

    async def register(port: int, permanent: bool, token: str = "") -> directory_pb2.RegisterReply:
        request = directory_pb2.RegisterRequest(
            endpoint=directory_pb2.ServiceEndpoint(
                protocol=directory_pb2.ServiceEndpoint.GRPC, host="db.local", port=port
            ),
            details=directory_pb2.ServiceDetails(type=directory_pb2.DATASTORE_SERVICE, properties={"site": "a"}),
            permanent=permanent,
        )
        metadata = (("authentication-token", token),) if token else ()
        return await anext(aiter(stub.Register(iter([request]), metadata=metadata)))

    one = await register(9003, permanent=True)
    two = await register(9004, permanent=True)
    assert one.status == directory_pb2.RegisterReply.OK and (two.service_id, two.secret) == (one.service_id, one.secret)
    assert urls(await client.inquire_by_type(ServiceType.DATASTORE, {"site": "a"})) == ["grpc://db.local:9004"]
    # another token is another owner: a new entry, invisible without that token
    theirs = await register(9005, permanent=True, token="alice")
    assert theirs.service_id != one.service_id
    assert urls(await client.inquire_by_type(ServiceType.DATASTORE, {})) == ["grpc://db.local:9004"]
    assert urls(await alice.inquire_by_type(ServiceType.DATASTORE, {})) == ["grpc://db.local:9005"]
    # deregistration needs the secret (and token); the SDK's call reports nothing, the entry stays
    await client.deregister_service(one.service_id, "wrong")
    assert urls(await client.inquire_by_type(ServiceType.DATASTORE, {})) == ["grpc://db.local:9004"]
    await alice.deregister_service(one.service_id, one.secret)
    assert urls(await client.inquire_by_type(ServiceType.DATASTORE, {})) == ["grpc://db.local:9004"]
    await client.deregister_service(one.service_id, one.secret)
    assert await client.inquire_by_type(ServiceType.DATASTORE, {}) == []
    # a non-permanent entry where nothing answers fails its first check: registered, never found
    await client.register_host(ServiceType.ACTOR, "127.0.0.1", 1, properties={"dead": "yes"})
    assert await client.inquire_by_type(ServiceType.ACTOR, {"dead": "yes"}) == []
    assert first[0] and first[1]
    # bad registrations are refused with the upstream reasons
    for request, reason in [
        (directory_pb2.RegisterRequest(details=directory_pb2.ServiceDetails(type=3)), "Empty host"),
        (
            directory_pb2.RegisterRequest(
                endpoint=directory_pb2.ServiceEndpoint(protocol=0, host="h", port=1),
                details=directory_pb2.ServiceDetails(type=3),
            ),
            "Invalid protocol [0]",
        ),
        (
            directory_pb2.RegisterRequest(
                endpoint=directory_pb2.ServiceEndpoint(protocol=1, host="h", port=1),
                details=directory_pb2.ServiceDetails(type=42),
            ),
            "Invalid service type [42]",
        ),
    ]:
        reply = await anext(aiter(stub.Register(iter([request]))))
        assert (reply.status, reply.error_msg) == (directory_pb2.RegisterReply.FAILED, reason)
    with pytest.raises(cogment.CogmentError, match="Failed to register"):
        await client.register_host(ServiceType.ACTOR, "", 1)


async def test_health_checks_hide_then_remove_a_service_that_stopped(directory, sdk) -> None:
    log = Log()
    services, endpoint = await serve_registered(sdk, directory.endpoint, log)
    client = sdk_directory(directory.endpoint)
    await eventually(lambda: client.inquire_by_type(ServiceType.ACTOR, {}), lambda found: urls(found) == [endpoint])
    # the server goes away without deregistering (a crash)

    async def crashed(registered) -> None:
        return None

    services.context._directory_deregistration = crashed
    await services.context._grpc_server.stop(0)
    await asyncio.wait_for(services.task, 10)
    await eventually(lambda: client.inquire_by_type(ServiceType.ACTOR, {}), lambda found: found == [])
    # then, after three failed checks in a row, the entries are gone
    assert await eventually(lambda: _entries(directory), lambda count: count == 0) == 0


async def _entries(directory) -> int:
    return len(directory.table)


async def test_persistence_across_a_restart(make_directory, sdk, tmp_path) -> None:
    file = tmp_path / "directory.json"
    first = await make_directory(file)
    live, endpoint = await serve_registered(sdk, first.endpoint, Log())
    client = sdk_directory(first.endpoint)
    await eventually(lambda: client.inquire_by_type(ServiceType.ACTOR, {}), lambda found: found)
    stub = directory_pb2_grpc.DirectorySPStub(grpc.aio.insecure_channel(first.endpoint.removeprefix("grpc://")))
    permanent = directory_pb2.RegisterRequest(
        endpoint=directory_pb2.ServiceEndpoint(protocol=directory_pb2.ServiceEndpoint.GRPC, host="db.local", port=9003),
        details=directory_pb2.ServiceDetails(type=directory_pb2.DATASTORE_SERVICE),
        permanent=True,
    )
    kept = await anext(aiter(stub.Register(iter([permanent]))))
    gone = sdk(directory_endpoint=cogment.Endpoint(first.endpoint))
    gone.context.register_actor(acting_actor(Log()), "gone", ["player"])
    await gone.serve(directory_registration_host="127.0.0.1")
    await eventually(lambda: client.inquire_by_type(ServiceType.ACTOR, {"__implementation": "gone"}), bool)
    await first.stop()
    # the file is upstream's format: a JSON object of DbRecords keyed by service id
    document = json.loads(file.read_text())
    assert document[str(kept.service_id)]["Endpoint"] == {"protocol": 1, "host": "db.local", "port": 9003}
    assert document[str(kept.service_id)]["Permanent"] is True
    await gone.stop()  # dies while the directory is down: it cannot deregister

    second = await make_directory(file)
    client = sdk_directory(second.endpoint)
    assert urls(await client.inquire_by_type(ServiceType.DATASTORE, {})) == ["grpc://db.local:9003"]
    assert urls(await client.inquire_by_type(ServiceType.ACTOR, {"__implementation": "greedy"})) == [endpoint]
    assert await client.inquire_by_type(ServiceType.ACTOR, {"__implementation": "gone"}) == []
    assert len(second.table) == 3  # greedy, cartpole, the datastore; 'gone' failed its check after the restart
    # ids and secrets survive: the old secret still deregisters
    await client.deregister_service(kept.service_id, kept.secret)
    assert await client.inquire_by_type(ServiceType.DATASTORE, {}) == []
    await live.stop()


async def test_an_upstream_persistence_file_loads(make_directory, tmp_path) -> None:
    """What the Go directory writes (``json.Marshal`` of its ``DbRecord`` map)."""
    file = tmp_path / ".cogment-directory-data"
    file.write_text(
        '{"6129484611666145821":{"Sid":6129484611666145821,"RegisterTimestamp":1700000000000000000,'
        '"LastHealthCheckTimestamp":1700000000000000000,"NbFailedHealthChecks":0,"MachineLoad":0,"Permanent":true,'
        '"AuthenticationToken":"","Secret":"Ab3-_","Endpoint":{"protocol":1,"host":"10.0.0.7","port":9001},'
        '"Details":{"type":4,"properties":{"__implementation":"pong"}}}}'
    )
    directory = await make_directory(file)
    client = sdk_directory(directory.endpoint)
    found = await client.get_inquired_endpoint(cogment.Endpoint("cogment://discover/environment?__implementation=pong"))
    assert found.url == "grpc://10.0.0.7:9001"
    assert urls(await client.inquire_by_id(6129484611666145821)) == ["grpc://10.0.0.7:9001"]


async def test_load_balancing_and_registration_lag(make_directory, sdk) -> None:
    directory = await make_directory(options=DirectoryOptions(load_balancing=True, registration_lag=3))
    client = sdk_directory(directory.endpoint)
    log = Log()
    services, endpoint = await serve_registered(sdk, directory.endpoint, log)
    # an inquiry made before the registration lands waits for it (up to the lag)
    found = await client.inquire_by_type(ServiceType.ENVIRONMENT, {"__implementation": "cartpole"})
    assert urls(found) == [endpoint]
    stub = directory_pb2_grpc.DirectorySPStub(grpc.aio.insecure_channel(directory.endpoint.removeprefix("grpc://")))
    status = await stub.Status(common_pb2.StatusRequest(names=["load_balancing"]))
    assert dict(status.statuses) == {"load_balancing": "enabled"}
    await services.stop()


def test_the_command_line_serves_persists_and_restarts(tmp_path) -> None:
    """``cogment-jupyter services directory`` with upstream flags: SIGTERM, restart, entries back."""
    file = tmp_path / "entries"

    def start() -> tuple[subprocess.Popen[str], str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "cogment_jupyter.cli", "services", "directory", "--port=0"],
            env={**os.environ, "COGMENT_DIRECTORY_PERSISTENCE_FILE": str(file), "COGMENT_LOG_LEVEL": "warning"},
            stdout=subprocess.PIPE,
            text=True,
        )
        line = process.stdout.readline()
        assert line.startswith("directory ready: grpc://127.0.0.1:"), line
        return process, line.split()[2]

    async def register(endpoint: str) -> int:
        service_id, _ = await sdk_directory(endpoint).register_host(ServiceType.DATALOG, "127.0.0.1", 1)
        return service_id

    async def inquire(endpoint: str) -> list[str]:
        return urls(await sdk_directory(endpoint).inquire_by_type(ServiceType.DATALOG, {}))

    process, endpoint = start()
    try:
        asyncio.run(register(endpoint))  # nothing listens on port 1: kept, but never found
        request = directory_pb2.RegisterRequest(
            endpoint=directory_pb2.ServiceEndpoint(protocol=directory_pb2.ServiceEndpoint.GRPC, host="logs", port=9009),
            details=directory_pb2.ServiceDetails(type=directory_pb2.DATALOG_SERVICE),
            permanent=True,
        )
        with grpc.insecure_channel(endpoint.removeprefix("grpc://")) as channel:
            reply = next(directory_pb2_grpc.DirectorySPStub(channel).Register(iter([request])))
        assert reply.status == directory_pb2.RegisterReply.OK
        assert asyncio.run(inquire(endpoint)) == ["grpc://logs:9009"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    process, endpoint = start()
    try:
        assert asyncio.run(inquire(endpoint)) == ["grpc://logs:9009"]
        assert len(json.loads(file.read_text())) == 1  # the dead entry was dropped at the restart's check
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
