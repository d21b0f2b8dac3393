"""The latency cost of private endpoints: Unix sockets in a 0700 directory vs TCP on loopback.

Run: ``uv run python bench/access.py [--calls 2000] [--trials 10] [--steps 200] [--rounds 5]``

Three measures, each taken over both transports in the same run, interleaved in rounds so
that a noisy neighbour hurts both alike, and printed as a ratio to TCP loopback (the
transport every endpoint used before):

- a unary call (``TrialLifecycleSP.Version``) from a client in another process: round-trip
  latency, p50 and p95;
- one message each way on a bidirectional stream from another process (what every tick costs
  between an orchestrator and a remote environment or actor): round-trip latency, p50 and p95;
- whole trials of a lab whose environment runs in its own process (``process=True``): the
  engine's gRPC path end to end, ticks per second.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc

from cogment_jupyter.access import Reach, bind, target
from cogment_jupyter.proto import common_pb2, orchestrator_pb2_grpc

ECHO = "/bench.Echo/Stream"


def _client(endpoint: str, calls: int, pipe) -> None:
    """Times ``calls`` unary calls, then ``calls`` stream round trips; sends both lists back (us)."""

    async def run() -> tuple[list[float], list[float]]:
        async with grpc.aio.insecure_channel(target(endpoint)) as channel:
            stub = orchestrator_pb2_grpc.TrialLifecycleSPStub(channel)
            for _ in range(200):  # warm up
                await stub.Version(common_pb2.VersionRequest())
            unary = []
            for _ in range(calls):
                started = time.perf_counter()
                await stub.Version(common_pb2.VersionRequest())
                unary.append((time.perf_counter() - started) * 1e6)
            call = channel.stream_stream(ECHO, request_serializer=bytes, response_deserializer=bytes)()
            payload = b"x" * 64
            for _ in range(200):
                await call.write(payload)
                await call.read()
            stream = []
            for _ in range(calls):
                started = time.perf_counter()
                await call.write(payload)
                await call.read()
                stream.append((time.perf_counter() - started) * 1e6)
            await call.done_writing()
            return unary, stream

    pipe.send(asyncio.run(run()))


async def _echo(request_iterator, context):
    async for message in request_iterator:
        yield message


async def round_trips(reach: Reach, calls: int) -> tuple[list[float], list[float]]:
    from cogment_jupyter.engine.orchestrator import Orchestrator
    from cogment_jupyter.transport.factory import GrpcComponentFactory
    from cogment_jupyter.transport.servicers import TrialLifecycleServicer

    server = grpc.aio.server()
    orchestrator_pb2_grpc.add_TrialLifecycleSPServicer_to_server(
        TrialLifecycleServicer(Orchestrator(GrpcComponentFactory())), server
    )
    handler = grpc.stream_stream_rpc_method_handler(_echo, request_deserializer=bytes, response_serializer=bytes)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", {"Stream": handler}),))
    endpoint = bind(server, reach.address("bench"))
    await server.start()
    parent, child = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_client, args=(endpoint, calls, child))
    process.start()
    result = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    process.join()
    await server.stop(0)
    return result


def trial_rate(reach: Reach, trials: int, steps: int) -> float:
    """Ticks per second of trials whose environment is served by a process of its own."""
    import tempfile

    from cogment_jupyter import Lab, actors, envs

    with tempfile.TemporaryDirectory() as directory, Lab(datastore=directory, host=reach.host) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1", make_kwargs={"max_episode_steps": steps}), process=True)
        lab.serve_actor("constant", actors.Constant(0))
        lab.run_trials(2, "cartpole", "constant", progress=False, max_steps=steps, concurrency=1)  # warm up
        started = time.perf_counter()
        handles = lab.run_trials(trials, "cartpole", "constant", progress=False, max_steps=steps, concurrency=1)
        elapsed = time.perf_counter() - started
        assert all(not handle.errors for handle in handles), handles[0].errors
        return sum(handle.tick for handle in handles) / elapsed


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="round trips per transport and round")
    parser.add_argument("--trials", type=int, default=10, help="trials per transport and round")
    parser.add_argument("--steps", type=int, default=200, help="ticks per trial")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, each measuring both transports")
    args = parser.parse_args()
    transports = {"TCP loopback": Reach("127.0.0.1"), "Unix socket": Reach()}
    unary: dict[str, list[float]] = {name: [] for name in transports}
    stream: dict[str, list[float]] = {name: [] for name in transports}
    rates: dict[str, list[float]] = {name: [] for name in transports}
    for _ in range(args.rounds):
        for name, reach in transports.items():
            calls, messages = asyncio.run(round_trips(reach, args.calls))
            unary[name] += calls
            stream[name] += messages
            rates[name].append(trial_rate(reach, args.trials, args.steps))

    print(f"private endpoints vs TCP loopback ({args.rounds} rounds; ratio = Unix socket / TCP loopback)")
    for what, samples in (("unary call round trip", unary), ("stream message round trip", stream)):
        tcp, unix = samples["TCP loopback"], samples["Unix socket"]
        for q in (50, 95):
            a, b = _percentile(tcp, q), _percentile(unix, q)
            print(f"  {what:<27} p{q}  TCP {a:7.1f} us   Unix {b:7.1f} us   ratio {b / a:.2f}")
    tcp, unix = statistics.median(rates["TCP loopback"]), statistics.median(rates["Unix socket"])
    print(
        f"  lab trial, env in a process    TCP {tcp:7.0f} ticks/s  Unix {unix:7.0f} ticks/s  "
        f"ratio {unix / tcp:.2f} (time per tick {tcp / unix:.2f})"
    )


if __name__ == "__main__":
    main()
