"""Health checks of registered services, as the upstream directory's ``healthCheck.go``.

A Cogment service (gRPC, not SSL, a Cogment service type) is healthy when its ``Status`` answers
(its ``overall_load`` becomes the entry's machine load), or failing that its ``Version``; any
other network service when a TCP connection opens. Permanent entries and non-network endpoints
(``cogment://client``) are always healthy. Each check retries a few rounds with doubling timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc

from cogment_jupyter.directory.records import Record
from cogment_jupyter.proto import common_pb2, directory_pb2

log = logging.getLogger(__name__)

#: a check younger than this is reused (upstream ``tickPeriod``)
REUSE_NS = 100_000_000
DEFAULT_ROUNDS = 3
TCP_TIMEOUT = 5.0
COGMENT_TIMEOUT = 2.0
#: what an unreachable service's load counts as (never chosen by load balancing)
UNSERVICEABLE_LOAD = 255

SERVICE_PATHS = {
    directory_pb2.ACTOR_SERVICE: "/cogmentAPI.ServiceActorSP",
    directory_pb2.ENVIRONMENT_SERVICE: "/cogmentAPI.EnvironmentSP",
    directory_pb2.PRE_HOOK_SERVICE: "/cogmentAPI.TrialHooksSP",
    directory_pb2.DATALOG_SERVICE: "/cogmentAPI.DatalogSP",
    directory_pb2.TRIAL_LIFE_CYCLE_SERVICE: "/cogmentAPI.TrialLifecycleSP",
    directory_pb2.CLIENT_ACTOR_CONNECTION_SERVICE: "/cogmentAPI.ClientActorSP",
    directory_pb2.DATASTORE_SERVICE: "/cogmentAPI.TrialDatastoreSP",
    directory_pb2.MODEL_REGISTRY_SERVICE: "/cogmentAPI.ModelRegistrySP",
    directory_pb2.DIRECTORY_SERVICE: "/cogmentAPI.DirectorySP",
}


async def check(record: Record, now: int, rounds: int = DEFAULT_ROUNDS, scale: float = 1.0) -> bool:
    """Check ``record`` (updating its failure count and load); ``scale`` shortens the timeouts."""
    if now - record.last_health_check_timestamp < REUSE_NS:
        return record.nb_failed_health_checks == 0
    record.last_health_check_timestamp = now
    protocol = record.endpoint.protocol
    if record.permanent or protocol not in (directory_pb2.ServiceEndpoint.GRPC, directory_pb2.ServiceEndpoint.GRPC_SSL):
        record.nb_failed_health_checks = 0
        return True
    path = SERVICE_PATHS.get(record.details.type)
    address = f"{record.endpoint.host}:{record.endpoint.port}"
    cogment = path is not None and protocol == directory_pb2.ServiceEndpoint.GRPC
    timeout = (COGMENT_TIMEOUT if cogment else TCP_TIMEOUT) * scale
    error: str | None = "not checked"
    for _ in range(max(1, rounds)):
        if cogment:
            load, error = await _cogment_status(address, path, timeout)  # type: ignore[arg-type]
            record.machine_load = UNSERVICEABLE_LOAD if error else load
        else:
            error = await _tcp(record.endpoint.host, record.endpoint.port, timeout)
        if error is None:
            break
        log.debug("Failed transient health check for ID [%d] at %s: %s", record.sid, address, error)
        timeout *= 2
    if error is not None:
        record.nb_failed_health_checks += 1
        log.debug("Failed health check [%d] for ID [%d]", record.nb_failed_health_checks, record.sid)
        return False
    record.nb_failed_health_checks = 0
    return True


async def _cogment_status(address: str, path: str, timeout: float) -> tuple[int, str | None]:
    """The service's ``overall_load`` (0 when it only answers ``Version``), or why it did not answer."""
    async with grpc.aio.insecure_channel(address) as channel:
        status = channel.unary_unary(
            f"{path}/Status",
            request_serializer=common_pb2.StatusRequest.SerializeToString,
            response_deserializer=common_pb2.StatusReply.FromString,
        )
        try:
            reply = await status(common_pb2.StatusRequest(names=["overall_load"]), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            version = channel.unary_unary(
                f"{path}/Version",
                request_serializer=common_pb2.VersionRequest.SerializeToString,
                response_deserializer=common_pb2.VersionInfo.FromString,
            )
            try:  # services older than the Status method
                await version(common_pb2.VersionRequest(), timeout=timeout / 2)
            except grpc.aio.AioRpcError:
                return UNSERVICEABLE_LOAD, f"{error.code().name}: {error.details()}"
            return 0, None
    load = 0
    with contextlib.suppress(KeyError, ValueError):
        load = min(255, max(0, int(reply.statuses["overall_load"])))
    return load, None


async def _tcp(host: str, port: int, timeout: float) -> str | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as error:
        return str(error) or type(error).__name__
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None
