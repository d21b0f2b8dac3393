"""The official SDK's Model Registry client (``model_registry_v2``) against our registry, over gRPC."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os

import cogment
import grpc
import pytest
from cogment.api import model_registry_pb2, model_registry_pb2_grpc

from tests.model_registry.conftest import sdk_registry, start_registry_process


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


async def test_publish_store_retrieve_and_list(registry) -> None:
    models = await sdk_registry(registry.endpoint)
    stored = await models.store_model("teacher", b"weights v1", {"epoch": "1"})
    assert (stored.model_name, stored.iteration, stored.stored) == ("teacher", 1, True)
    assert (stored.size, stored.hash, dict(stored.properties)) == (10, sha(b"weights v1"), {"epoch": "1"})
    assert stored.timestamp > 0
    published = await models.publish_model("teacher", b"weights v2")
    assert (published.iteration, published.stored) == (2, False)

    assert await models.retrieve_model("teacher") == b"weights v2"  # latest
    assert await models.retrieve_model("teacher", 1) == b"weights v1"
    assert await models.retrieve_model("teacher", -2) == b"weights v1"  # second to last
    assert await models.retrieve_model("teacher", 7) is None  # the model exists, not that iteration
    with pytest.raises(cogment.CogmentError, match=r"Unknown model \[nobody\]"):
        await models.retrieve_model("nobody")

    info = await models.get_iteration_info("teacher", 1)
    assert (info.iteration, info.stored, info.hash) == (1, True, sha(b"weights v1"))
    assert (await models.get_iteration_info("teacher", -1)).iteration == 2
    assert await models.get_iteration_info("teacher", 9) is None
    assert [i.iteration for i in await models.list_iterations("teacher")] == [1, 2]

    await models.update_model_info("teacher", {"owner": "ms. lee"})
    assert dict((await models.get_model_info("teacher")).properties) == {"owner": "ms. lee"}
    assert await models.get_model_info("nobody") is None
    await models.remove_model("teacher")
    assert await models.get_model_info("teacher") is None
    with pytest.raises(cogment.CogmentError, match="Model is empty"):
        await models.publish_model("teacher", b"")


async def test_lists_page_through_many_models_and_iterations(registry) -> None:
    """The SDK asks 10 at a time and follows the handles: 23 models, 25 iterations."""
    models = await sdk_registry(registry.endpoint)
    for index in range(23):
        await models.store_model(f"model-{index:02d}", b"x")
    assert [m.name for m in await models.list_models()] == [f"model-{i:02d}" for i in range(23)]
    for index in range(24):
        await models.publish_model("model-00", bytes([index]) * 3)
    iterations = await models.list_iterations("model-00")
    assert [i.iteration for i in iterations] == list(range(1, 26))
    assert iterations[-1].hash == sha(bytes([23]) * 3)


async def test_track_latest_follows_new_iterations(registry) -> None:
    models = await sdk_registry(registry.endpoint)
    await models.store_model("live", b"1")
    latest = await models.track_latest_model("live", deserialize_func=lambda data: int(data))
    value, info = await asyncio.wait_for(latest.get(), 10)
    assert (value, info.iteration) == (1, 1)
    waiting = asyncio.create_task(latest.wait_for_newer(1))  # (returns at once if 2 is already in)
    await models.publish_model("live", b"2")
    await asyncio.wait_for(waiting, 10)
    assert latest.get_no_wait()[0] == 2
    # the raw stream: the current latest on subscription, then each new one
    updates = models.iteration_updates("live")
    assert (await anext(updates)).iteration == 2
    await models.store_model("live", b"3")
    assert (await asyncio.wait_for(anext(updates), 10)).iteration == 3
    await updates.aclose()


async def test_upstream_server_semantics(registry) -> None:
    """Cases of the upstream ``modelRegistryServer_test.go`` and backend test suite, through the raw API."""
    channel = grpc.aio.insecure_channel(registry.endpoint.removeprefix("grpc://"))
    stub = model_registry_pb2_grpc.ModelRegistrySPStub(channel)
    data = b"Lorem ipsum dolor sit amet, consectetuer adipiscing elit."
    await stub.CreateOrUpdateModel(
        model_registry_pb2.CreateOrUpdateModelRequest(model_info=model_registry_pb2.ModelInfo(model_id="bar"))
    )

    async def create(archived: bool, payload: bytes = data, **header) -> model_registry_pb2.CreateVersionReply:
        info = model_registry_pb2.ModelVersionInfo(
            model_id="bar", archived=archived, data_size=header.pop("size", len(payload)), **header
        )
        chunks = [
            model_registry_pb2.CreateVersionRequestChunk(
                header=model_registry_pb2.CreateVersionRequestChunk.Header(version_info=info)
            ),
            model_registry_pb2.CreateVersionRequestChunk(
                body=model_registry_pb2.CreateVersionRequestChunk.Body(data_chunk=payload)
            ),
        ]
        return await stub.CreateVersion(iter(chunks))

    for index in range(1, 11):
        reply = await create(index % 5 == 0, data_hash=sha(data), creation_timestamp=1_700_000_000_000_000_000 + index)
        assert reply.version_info.version_number == index
        assert reply.version_info.creation_timestamp == 1_700_000_000_000_000_000 + index
    first = await stub.RetrieveVersionInfos(
        model_registry_pb2.RetrieveVersionInfosRequest(model_id="bar", versions_count=5)
    )
    assert first.next_version_handle == "6" and [v.version_number for v in first.version_infos] == [1, 2, 3, 4, 5]
    assert [v.archived for v in first.version_infos] == [False, False, False, False, True]
    later = await stub.RetrieveVersionInfos(
        model_registry_pb2.RetrieveVersionInfosRequest(model_id="bar", versions_count=5, version_handle="7")
    )
    assert later.next_version_handle == "11" and [v.version_number for v in later.version_infos] == [7, 8, 9, 10]
    done = await stub.RetrieveVersionInfos(
        model_registry_pb2.RetrieveVersionInfosRequest(model_id="bar", versions_count=5, version_handle="11")
    )
    assert done.next_version_handle == "11" and not done.version_infos
    some = await stub.RetrieveVersionInfos(
        model_registry_pb2.RetrieveVersionInfosRequest(model_id="bar", version_numbers=[1, -1, 5])
    )
    assert [v.version_number for v in some.version_infos] == [1, 10, 5] and some.next_version_handle == "6"

    async def refused(call, code: grpc.StatusCode, text: str) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == code and text in caught.value.details(), caught.value.details()

    await refused(
        stub.RetrieveVersionInfos(model_registry_pb2.RetrieveVersionInfosRequest(model_id="bar", version_numbers=[42])),
        grpc.StatusCode.NOT_FOUND,
        'no version "42" for model "bar" found',
    )
    await refused(
        stub.RetrieveVersionInfos(model_registry_pb2.RetrieveVersionInfosRequest(model_id="bar", version_handle="x")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Invalid value for `version_handle`",
    )
    await refused(
        stub.DeleteModel(model_registry_pb2.DeleteModelRequest(model_id="foo")),
        grpc.StatusCode.NOT_FOUND,
        'no model "foo" found',
    )
    await refused(create(True, data_hash="nope"), grpc.StatusCode.INVALID_ARGUMENT, "did not match the expected hash")
    await refused(create(True, size=3), grpc.StatusCode.INVALID_ARGUMENT, "received more data than expected")
    await refused(create(True, size=500), grpc.StatusCode.INVALID_ARGUMENT, "stream ended while having not received")
    await refused(
        stub.CreateOrUpdateModel(
            model_registry_pb2.CreateOrUpdateModelRequest(model_info=model_registry_pb2.ModelInfo(model_id="../x"))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "invalid model_id",
    )
    # the refused uploads left nothing behind: still 10 iterations, no temporary file
    assert (
        await stub.RetrieveVersionInfos(model_registry_pb2.RetrieveVersionInfosRequest(model_id="bar"))
    ).next_version_handle == "11"
    assert not [p for p in (registry.store.root / "bar").iterdir() if p.name.startswith(".incoming")]
    # a model with no iteration: latest is n-1, not found
    await stub.CreateOrUpdateModel(
        model_registry_pb2.CreateOrUpdateModelRequest(model_info=model_registry_pb2.ModelInfo(model_id="empty"))
    )
    await refused(
        stub.RetrieveVersionData(
            model_registry_pb2.RetrieveVersionDataRequest(model_id="empty", version_number=-1)
        ).read(),
        grpc.StatusCode.NOT_FOUND,
        'no version "n-1" for model "empty" found',
    )
    await refused(
        anext(aiter(stub.VersionUpdate(model_registry_pb2.VersionUpdateRequest(model_id="ghost")))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "unknown model id [ghost]",
    )
    await channel.close()


async def test_data_is_sent_in_chunks_of_the_configured_size(tmp_path) -> None:
    from cogment_jupyter.model_registry.service import ModelRegistryServer

    server = ModelRegistryServer(tmp_path / "m", chunk_size=16)
    await server.start()
    try:
        models = await sdk_registry(server.endpoint)
        data = os.urandom(100)
        await models.store_model("m", data)
        channel = grpc.aio.insecure_channel(server.endpoint.removeprefix("grpc://"))
        stub = model_registry_pb2_grpc.ModelRegistrySPStub(channel)
        chunks = [
            c.data_chunk
            async for c in stub.RetrieveVersionData(
                model_registry_pb2.RetrieveVersionDataRequest(model_id="m", version_number=1)
            )
        ]
        assert [len(c) for c in chunks] == [16] * 6 + [4] and b"".join(chunks) == data
        await channel.close()
    finally:
        await server.stop(0)


async def test_a_100_mb_model_streams_in_chunks_and_is_never_held_in_memory(registry_process) -> None:
    """Through the SDK to the registry process and back; the process's peak memory stays far below 100 MB."""
    models = await sdk_registry(registry_process.endpoint)
    baseline = registry_process.peak_rss_mb()
    data = os.urandom(100 * 1024 * 1024)
    info = await models.store_model("big", data)
    assert (info.size, info.hash) == (len(data), sha(data))
    retrieved = await models.retrieve_model("big")
    assert retrieved == data
    del retrieved
    growth = registry_process.peak_rss_mb() - baseline
    # gRPC buffers some chunks (more for a slow reader such as the SDK's): well under one copy
    assert growth < 60, f"the registry's peak memory grew {growth:.0f} MiB for a 100 MiB model"


async def test_stored_iterations_survive_a_restart_and_published_ones_do_not(tmp_path) -> None:
    archive = tmp_path / "archive"
    first = start_registry_process(archive)
    try:
        models = await sdk_registry(first.endpoint)
        await models.store_model("kept", b"stored")
        await models.publish_model("kept", b"published")
        assert [i.iteration for i in await models.list_iterations("kept")] == [1, 2]
    finally:
        assert first.stop() == 0
    second = start_registry_process(archive)
    try:
        models = await sdk_registry(second.endpoint)
        assert [i.iteration for i in await models.list_iterations("kept")] == [1]
        assert await models.retrieve_model("kept") == b"stored"
        assert (await models.publish_model("kept", b"again")).iteration == 2
    finally:
        assert second.stop() == 0
