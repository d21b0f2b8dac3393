"""What the in-process components cost a short trial: CartPole-v1 and the random actor driven
through ``InProcessEnvironment`` / ``InProcessActor`` by the calls the lab's inline loops make
(init, then per tick ``act_on``, ``step``, ``bare_observations`` or ``observe`` and the
envelopes recorded, then the final observation and the ends), with no engine and no datastore.

Run: ``uv run python bench/components.py [--rounds 7] [--trials 400]``

Reference (same rounds, CPU of this thread): the raw Gymnasium loop doing what a trial must,
a seeded ``reset`` per episode and ``env.step(env.action_space.sample())``, for as many steps.
Printed as ratios to it: the components' CPU per trial, what a trial costs them beyond the raw
loop, split in its parts (the actor's and the environment's init, the reset's observation
recorded, the end), the same trials started from a batch's setup with their seeds (what
``run_trials`` does: ``transport.batch_setup``), interleaved with them, and per tick with an
environment that does nothing (its own step costs nothing, so what is left is the components'
own work), as a share of a raw CartPole step: through the calls of the fused loop, and of the
lean runner's plain tick (the plain ports).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gymnasium as gym
import numpy as np

from cogment_jupyter import actors, envs
from cogment_jupyter.adapters.payloads import checked_envelope_encoder, envelope_encoder, observation_encoder
from cogment_jupyter.engine.records import ActorInit, EnvInit, Observation, TrialActor
from cogment_jupyter.proto.common_pb2 import TrialParams
from cogment_jupyter.transport.batch_setup import BatchSetup
from cogment_jupyter.transport.inprocess import InProcessServices
from cogment_jupyter.transport.lab_config import ActorConfig, EnvConfig, with_seed


class Port:
    """An environment's and an actor's port that keeps what the components report."""

    def __init__(self) -> None:
        self.observation_sets: list[Any] = []

    def observations(self, observation_set: Any) -> None:
        self.observation_sets.append(observation_set)

    def reward(self, reward: Any) -> None: ...
    def message(self, message: Any) -> None: ...
    def last(self) -> None: ...
    def last_ack(self) -> None: ...
    def action(self, action: Any) -> None: ...

    def failed(self, error: str) -> None:
        raise RuntimeError(error)

    def refused(self, tick: int, reason: str) -> None:
        raise RuntimeError(reason)


class Nothing(gym.Env):
    """An environment whose step does nothing (the per-tick reference)."""

    observation_space = gym.spaces.Box(-1, 1, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.value = np.zeros(4, np.float32)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        return self.value, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        return self.value, 1.0, False, False, {}


class Components:
    """Trials of one environment and the random actor, run on the in-process components;
    ``prepared``: started from a batch's setup with each trial's seeds (as ``run_trials``
    does), else each initialised from its init messages."""

    def __init__(self, environment: envs.Gymnasium, prepared: bool = False) -> None:
        self.services = InProcessServices({"env": environment}, {"random": actors.Random()})
        spec = environment.agent_specs["gym"]
        self.environment_config = EnvConfig().to_bytes()
        self.actor_config = ActorConfig(spec).to_bytes()
        self.parts: dict[str, float] = {}
        self.setup: BatchSetup | None = None
        if prepared:
            params = TrialParams()
            params.environment.implementation = "env"
            params.environment.config.content = self.environment_config
            actor = params.actors.add(name="gym", actor_class="player", implementation="random")
            actor.config.content = self.actor_config
            self.setup = BatchSetup.of(self.services, params)
            assert self.setup is not None

    async def open(self, seed: int) -> tuple[Any, Any, Port, list[Any]]:
        """A trial's components, initialised (the actor first, as the lab does), and the reset's observations."""
        clock = time.thread_time
        started = clock()
        environment = self.services.environment("trial", "env")
        actor = self.services.actor("trial", "random")
        environment_port = Port()
        setup = self.setup
        if setup is not None:
            actor.start(setup.actor, seed + 1, Port())  # type: ignore[arg-type]
            actor_ready = clock()
            environment.start(setup.environment, seed, environment_port)  # type: ignore[arg-type]
            self._add("actor start (a batch's setup)", actor_ready - started)
            self._add("environment start (its reset included)", clock() - actor_ready)
            return environment, actor, environment_port, environment_port.observation_sets.pop().observations
        await actor.init(
            ActorInit("gym", "player", "random", "env", with_seed(self.actor_config, seed + 1, "actor")),
            Port(),  # type: ignore[arg-type]
        )
        actor_ready = clock()
        await environment.init(
            EnvInit(
                "env", "env", 0, [TrialActor("gym", "player")], with_seed(self.environment_config, seed, "environment")
            ),
            environment_port,  # type: ignore[arg-type]
        )
        self._add("actor init", actor_ready - started)
        self._add("environment init (its reset included)", clock() - actor_ready)
        return environment, actor, environment_port, environment_port.observation_sets.pop().observations

    async def trial(self, seed: int) -> int:
        """One trial to its end; its ticks."""
        environment, actor, port, observations = await self.open(seed)
        clock = time.thread_time
        started = clock()
        codec = environment.observation_codecs[0]
        value_envelope, observation_envelope = envelope_encoder(codec), observation_encoder(codec)
        action_envelope = envelope_encoder(actor.action_codec)
        rows: list[Any] = []
        observation_envelope(observations[0])
        self._add("the reset's observation recorded", clock() - started)
        bare, ticks = False, 0
        while True:
            observation = observations[0]
            if ticks:
                rows.append(value_envelope(observation.value) if bare else observation_envelope(observation))
            value = actor.act_on(observation)
            rows.append(action_envelope(value))
            result = environment.step([value])
            rows.append(float(result.rewards["gym"]))
            ticks += 1
            if result.done:
                break
            observations = environment.bare_observations(result)
            bare = observations is not None
            if not bare:
                observations = environment.observe(result)
        ending = clock()
        environment.emit(result, rewards=False)
        final = port.observation_sets.pop()
        actor.observation(Observation(ticks, 0, final.observations[0]), (), True)
        environment.end(None)
        actor.end(None)
        self._add("the end (final observation, ends)", clock() - ending)
        return ticks

    def _add(self, part: str, seconds: float) -> None:
        self.parts[part] = self.parts.get(part, 0.0) + seconds


def raw_loop(steps: int, seed: int) -> tuple[float, int]:
    """CPU seconds of ``steps`` raw CartPole steps with a seeded reset per episode; episodes."""
    env = gym.make("CartPole-v1")
    env.action_space.seed(seed)
    env.reset(seed=seed)
    started = time.thread_time()
    episodes = 0
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes += 1
            env.reset(seed=seed + episodes)
    return time.thread_time() - started, episodes


async def per_tick(ticks: int) -> float:
    """CPU seconds per tick of the components on an environment whose step does nothing."""
    components = Components(envs.Gymnasium(Nothing))
    environment, actor, _, observations = await components.open(1)
    step, bare_observations, act_on = environment.step, environment.bare_observations, actor.act_on
    codec = environment.observation_codecs[0]
    value_envelope, action_envelope = envelope_encoder(codec), envelope_encoder(actor.action_codec)
    observation = observations[0]
    started = time.thread_time()
    for _ in range(ticks):
        value_envelope(observation.value)
        value = act_on(observation)
        action_envelope(value)
        observation = bare_observations(step([value]))[0]
    return (time.thread_time() - started) / ticks


async def per_plain_tick(ticks: int) -> float:
    """:func:`per_tick` with the calls the lean runner makes on a plain tick: the actor's
    ``act`` on the value alone, its answer checked and enveloped in one call, the
    environment's plain port (``Gymnasium.plain_step``)."""
    components = Components(envs.Gymnasium(Nothing))
    environment, actor, _, observations = await components.open(1)
    act, _, _ = actor.plain_answers()
    plain_step = environment.plain_stepper(actor.action_codec)
    value_envelope = envelope_encoder(environment.observation_codecs[0])
    checked_action = checked_envelope_encoder(actor.action_codec)
    value = observations[0].value
    started = time.thread_time()
    for _ in range(ticks):
        value_envelope(value)
        answer = act(value, None)
        checked_action(answer)
        value, _, _ = plain_step(answer)
    return (time.thread_time() - started) / ticks


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--trials", type=int, default=400)
    args = parser.parse_args()
    components = Components(envs.Gymnasium("CartPole-v1"))
    prepared = Components(envs.Gymnasium("CartPole-v1"), prepared=True)
    for seed in range(100):  # (warm: the env pool, the plans, the codecs)
        await components.trial(seed)
        await prepared.trial(seed)
    trial_ratios, raw_us, lab_us, tick_us, plain_tick_us, raw_step_us = [], [], [], [], [], []
    prepared_us: list[float] = []
    parts: list[dict[str, float]] = []
    for round_ in range(args.rounds):
        components.parts, prepared.parts = {}, {}
        started = time.thread_time()
        steps = 0
        for trial in range(args.trials):
            steps += await components.trial(10_000 * (round_ + 1) + trial)
        lab_seconds = time.thread_time() - started
        started = time.thread_time()
        for trial in range(args.trials):  # (the same seeds, from a batch's setup)
            await prepared.trial(10_000 * (round_ + 1) + trial)
        prepared_us.append((time.thread_time() - started) / args.trials * 1e6)
        raw_seconds, _ = raw_loop(steps, round_)
        raw_us.append(raw_seconds / args.trials * 1e6)
        lab_us.append(lab_seconds / args.trials * 1e6)
        trial_ratios.append(lab_seconds / raw_seconds)
        parts.append(
            {part: seconds / args.trials * 1e6 for part, seconds in (components.parts | prepared.parts).items()}
        )
        tick_us.append(await per_tick(20_000) * 1e6)
        plain_tick_us.append(await per_plain_tick(20_000) * 1e6)
        raw_step_us.append(raw_seconds / steps * 1e6)
    raw, lab, from_setup = statistics.median(raw_us), statistics.median(lab_us), statistics.median(prepared_us)
    print(
        f"In-process components, random CartPole trials ({steps / args.trials:.1f} steps), CPU of this thread; "
        f"reference = the raw loop\nfor as many steps with a seeded reset per episode (median of {args.rounds} rounds)"
    )
    print(f"  raw loop                              : {raw:8.1f} us an episode   1.00x")
    print(f"  components (the inline loops' calls)  : {lab:8.1f} us a trial     {statistics.median(trial_ratios):.2f}x")
    print(f"  beyond the raw loop                   : {lab - raw:8.1f} us a trial     {(lab - raw) / raw:.2f}x")
    for part in parts[0]:
        value = statistics.median(p[part] for p in parts)
        print(f"    {part:36s}: {value:7.1f} us          {value / raw:.3f}x")
    print(f"  the same from a batch's setup         : {from_setup:8.1f} us a trial     {from_setup / raw:.2f}x")
    tick, raw_step = statistics.median(tick_us), statistics.median(raw_step_us)
    print("Per tick, an environment whose step does nothing (what is left is the components' own work);")
    print("reference = a raw CartPole step with action_space.sample(), same rounds")
    print(f"  raw CartPole step                     : {raw_step:8.2f} us          1.00x")
    print(f"  components' tick (the fused loop's)   : {tick:8.2f} us          {tick / raw_step:.2f}x")
    plain_tick = statistics.median(plain_tick_us)
    print(f"  a plain tick (the lean runner's)      : {plain_tick:8.2f} us          {plain_tick / raw_step:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
