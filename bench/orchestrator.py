"""Orchestrator throughput: ticks/s with official-SDK services over gRPC vs in-process components.

Run: ``uv run python bench/orchestrator.py [--trials N] [--steps 200]``

The SDK environment and actor are served from one separate process (as a Cogment
deployment would run them); our orchestrator runs in this process. The in-process trials
have the same shape (one actor, a float observation, an int action, 200 steps) on
``adapters.base`` objects. Figures are printed as a ratio to the SDK-over-gRPC figure
measured in the same run: absolute rates on a shared machine do not compare.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import socket
import sys
import time
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym
import numpy as np
from cogment.api import common_pb2

from cogment_jupyter.adapters.base import Actor, AgentSpec, Environment, StepResult
from cogment_jupyter.engine.orchestrator import Orchestrator
from cogment_jupyter.transport.factory import GrpcComponentFactory
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.lab_config import ActorConfig

LOCAL = "127.0.0.1:1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_sdk(port: int, ready) -> None:
    """The official SDK's environment and actor, in one process."""
    import cogment

    from tests import sdk_cog_settings
    from tests.orchestrator.sdk_components import Act, Obs

    logging.basicConfig(level=logging.ERROR)

    async def environment(session):
        session.start([("*", Obs(value=0.0))])
        step = 0
        async for event in session.all_events():
            if event.actions:
                step += 1
                if event.type == cogment.EventType.ENDING:
                    session.end([("*", Obs(value=float(step)))])
                else:
                    session.produce_observations([("*", Obs(value=float(step)))])

    async def actor(session):
        session.start()
        async for event in session.all_events():
            if event.observation is not None and event.type == cogment.EventType.ACTIVE:
                session.do_action(Act(value=1))

    async def main():
        context = cogment.Context(user_id="bench", cog_settings=sdk_cog_settings, prometheus_registry=None)
        context.register_environment(environment, "env")
        context.register_actor(actor, "actor", ["player"])
        task = asyncio.create_task(context.serve_all_registered(cogment.ServedEndpoint(port=port)))
        while not context.served_port:
            await asyncio.sleep(0.01)
        ready.set()
        await task

    asyncio.run(main())


class Counting(Environment):
    """The in-process twin of the SDK environment above."""

    specs: ClassVar[dict[str, AgentSpec]] = {
        "player": AgentSpec(gym.spaces.Box(-np.inf, np.inf, (), np.float64), gym.spaces.Discrete(2))
    }

    @property
    def agent_specs(self) -> dict[str, AgentSpec]:
        return self.specs

    def reset(self, context, options=None) -> StepResult:
        self.step_count = 0
        return StepResult({"player": 0.0})

    def step(self, actions) -> StepResult:
        self.step_count += 1
        return StepResult({"player": float(self.step_count)})

    def fork(self) -> Counting:
        return Counting()


class One(Actor):
    def act(self, observation, frame=None):
        return 1


def sdk_params(endpoint: str, steps: int) -> common_pb2.TrialParams:
    params = common_pb2.TrialParams(max_steps=steps)
    params.environment.endpoint = endpoint
    params.environment.implementation = "env"
    params.actors.add(name="player", actor_class="player", endpoint=endpoint, implementation="actor")
    return params


def inprocess_params(steps: int) -> common_pb2.TrialParams:
    params = common_pb2.TrialParams(max_steps=steps)
    params.environment.endpoint = f"grpc://{LOCAL}"
    actor = params.actors.add(name="player", actor_class="player", endpoint=f"grpc://{LOCAL}")
    actor.config.content = ActorConfig(spec=Counting.specs["player"]).to_bytes()
    return params


async def run_trials(orchestrator: Orchestrator, params: common_pb2.TrialParams, count: int, concurrent: int) -> float:
    """Ticks per second over ``count`` trials run ``concurrent`` at a time."""
    ticks = 0
    start = time.perf_counter()
    remaining = count
    while remaining > 0:
        batch = min(concurrent, remaining)
        ids = [await orchestrator.start_trial(params=params) for _ in range(batch)]
        trials = [orchestrator.trials[i] for i in ids]
        await asyncio.gather(*(t.wait_ended() for t in trials))
        for trial in trials:
            if trial.end_details:
                raise RuntimeError(f"trial ended with {trial.end_details}: {trial.errors}")
            ticks += trial.tick_id
        remaining -= batch
    return ticks / (time.perf_counter() - start)


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=serve_sdk, args=(port, ready), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("the SDK services did not start")
    services = InProcessServices(environments={"env": Counting()}, actors={"actor": One()})
    orchestrator = Orchestrator(GrpcComponentFactory({LOCAL: services}), gc_interval=0, ended_retention=0)
    endpoint = f"grpc://127.0.0.1:{port}"
    try:
        await run_trials(orchestrator, sdk_params(endpoint, args.steps), 2, 1)  # warm up channels
        rows = []
        for concurrent in (1, 10):
            count = max(args.trials, concurrent)
            sdk_rate = await run_trials(orchestrator, sdk_params(endpoint, args.steps), count, concurrent)
            orchestrator.collect_garbage()
            local_rate = await run_trials(orchestrator, inprocess_params(args.steps), count * 10, concurrent)
            orchestrator.collect_garbage()
            rows.append((concurrent, sdk_rate, local_rate))
    finally:
        await orchestrator.shutdown()
        server.terminate()
    print(f"trials of {args.steps} steps, one actor; reference = official SDK services over gRPC, same run")
    print(f"{'concurrent':>10} {'SDK/gRPC ticks/s':>17} {'in-process ticks/s':>19} {'ratio':>8}")
    for concurrent, sdk_rate, local_rate in rows:
        print(f"{concurrent:>10} {sdk_rate:>17,.0f} {local_rate:>19,.0f} {local_rate / sdk_rate:>7.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per measurement (default 10)")
    parser.add_argument("--steps", type=int, default=200, help="max_steps of each trial (default 200)")
    asyncio.run(main(parser.parse_args()))
