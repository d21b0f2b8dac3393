"""The fused tick loop: a trial whose environment and actors are all objects in this process.

The engine's tick loop routes every tick through the protocol's records (observation sets,
actions, action sets, rewards, samples) and the components' ports: several times what a
CartPole step costs (``bench/throughput.py`` measures both loops;
``docs/decisions/hot-path-costs.md``). Here a tick is ``act`` on
each actor and ``step`` on the environment, asked by the same functions the engine's loop
asks them through (``transport.inprocess``), and one plain row for the datalog: the same
ticks, the same states, the same rows in the datastore (``tests/engine/test_fused.py``
runs both loops and compares them).

Only plain ticks run here, and only through the trial's :class:`~cogment_jupyter.engine.trial.TickLease`.
At the first tick that is not plain the loop gives the trial back and the engine runs the
rest of it: max steps or a soft end (the engine sends ``LAST``), a component that raised or
an answer outside the action space, an action that is awaited, a reward for someone who is
not an actor, anything the engine routed in the tick (an actor's ``send_reward``), a hard
termination. When the environment ends the trial, its last tick is a row and the engine runs
the end. Those paths are the engine's own code, so they behave exactly as they do without
this loop.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import call
from typing import TYPE_CHECKING, Any

from cogment_jupyter.adapters.payload_formats import OURS
from cogment_jupyter.adapters.payloads import (
    LabAction,
    LabObservation,
    bare_observation,
    envelope_encoder,
    observation_encoder,
)
from cogment_jupyter.engine.components import FusedLoop
from cogment_jupyter.engine.errors import TrialAborted
from cogment_jupyter.engine.ticks import Pacer

if TYPE_CHECKING:
    from cogment_jupyter.engine.trial import TickLease
    from cogment_jupyter.transport.inprocess import InProcessActor, InProcessEnvironment

__all__ = ["FusedTicks", "envelope_encoders", "fusable", "offer"]


def offer(lease: TickLease, environment: InProcessEnvironment, in_process: type[InProcessActor]) -> FusedTicks | None:
    """A fused loop for the lent trial, or None when a component needs the engine's loop
    (see :func:`fusable`). (The class is given: ``transport.inprocess`` imports this module.)"""
    actors = [slot.connection for slot in lease.actors]
    return FusedTicks(lease, environment, actors) if fusable(environment, actors, in_process) else None  # type: ignore[arg-type]


def fusable(environment: InProcessEnvironment, actors: list[Any], in_process: type[InProcessActor]) -> bool:
    """Whether a loop that calls the components itself may run these parts' ticks (the fused
    loop, the lean runner's episodes): an environment that answers inline in our payload
    format (its observations are encoded as ours), actors all ``in_process`` answering
    synchronously on the event loop."""
    if not environment.inline or environment.payload_format is not OURS:
        return False
    for actor in actors:  # noqa: SIM110 (asked for every trial: a generator costs more than the checks)
        if not isinstance(actor, in_process) or not actor.fusable:
            return False
    return True


def envelope_encoders(
    environment: InProcessEnvironment, actors: list[InProcessActor]
) -> tuple[list[Callable[[Any], bytes]], list[Callable[[LabObservation], bytes]], list[Callable[[Any], bytes]]]:
    """Each actor's envelope encoders, as the engine's records make the envelopes
    (``value_envelope``, ``LabObservation.to_bytes``), in one call for most values: of an
    observation's value (a bare observation's envelope is its value's), of an observation,
    of an action (one that raises for an actor without an action space: the engine then
    records why)."""
    codecs = environment.observation_codecs  # (map, not comprehensions: made for every trial)
    return (
        list(map(envelope_encoder, codecs)),
        list(map(observation_encoder, codecs)),
        list(map(_action_envelope, actors)),
    )


def _action_envelope(actor: InProcessActor) -> Callable[[Any], bytes]:
    codec = actor.action_codec
    return envelope_encoder(codec) if codec is not None else _no_codec


class FusedTicks(FusedLoop):
    """Runs one trial's plain ticks (see the module doc)."""

    def __init__(self, lease: TickLease, environment: InProcessEnvironment, actors: list[InProcessActor]) -> None:
        self.lease = lease
        self.environment = environment
        self.actors = actors
        self._value_envelopes, self._observation_envelopes, self._action_envelopes = envelope_encoders(
            environment, actors
        )

    async def run(self) -> None:
        lease = self.lease
        environment = self.environment
        actors = self.actors
        n = len(actors)
        observations: list[LabObservation] = await lease.start(  # type: ignore[assignment]
            _action_payloads(actors), [actor.wants_rewards for actor in actors]
        )
        recording = lease.recording
        values = lease.values
        receivers = lease.receivers
        engine_records = lease.engine_records
        pending = [slot.pending_rewards for slot in lease.actors]
        pacer = Pacer()
        # (bound once: a lookup costs as much as some of what a tick does; ``map`` over
        # these, not comprehensions: on Python 3.11 a comprehension costs more per tick than
        # what it computes)
        recorded_observations, recorded_actions = lease.rows.observations, lease.rows.actions
        record_observation, record_action = recorded_observations.append, recorded_actions.append
        observation_envelopes, action_envelopes = self._observation_envelopes, self._action_envelopes
        # (one actor, most trials: a call less than mapping over one)
        alone = n == 1
        observation_envelope = observation_envelopes[0] if alone else None
        value_envelope = self._value_envelopes[0] if alone else None
        action_envelope = action_envelopes[0] if alone else None
        take_rewards, last_tick, close_tick, due = lease.take_rewards, lease.last_tick, lease.close_tick, pacer.due
        step, observe, bare_observations = environment.step, environment.observe, environment.bare_observations
        # (one actor: the environment's plain port when it has one, see InProcessEnvironment.plain_stepper)
        plain_step = (
            environment.plain_stepper(actors[0].action_codec)
            if alone and actors[0].plain_answers() is not None
            else None
        )
        observation_codec = environment.observation_codecs[0] if plain_step is not None else None
        act_ons = [actor.act_on for actor in actors]
        indices = range(n)
        bare = False  # whether the open tick's observations are bare (the reset's: as they come)
        while True:
            # -- the actors answer the open tick's observations (recorded first: an actor or
            # the environment's next step may change them)
            unrecorded = False
            if recording:
                if alone:
                    try:
                        record_observation(
                            value_envelope(observations[0].value) if bare else observation_envelope(observations[0])
                        )
                    except Exception:  # it cannot be encoded: the engine records that tick, with the reason
                        unrecorded = True
                else:
                    unrecorded = not _record_each(recorded_observations, observation_envelopes, observations)
            for i in indices:
                try:
                    if pending[i]:
                        actors[i].deliver_rewards(take_rewards(i))
                    value = act_ons[i](observations[i])
                except Exception as error:  # it raised, answered outside its space, or answers later
                    await self._hand_over_dispatch(i, error)
                    return
                if lease.ended:
                    raise TrialAborted
                values[i] = value
                lease.answered = i + 1
            if recording and not unrecorded:
                if alone:
                    try:
                        record_action(action_envelope(values[0]))
                    except Exception:
                        unrecorded = True
                else:
                    unrecorded = not _record_each(recorded_actions, action_envelopes, values)
            if unrecorded or last_tick():
                lease.take_back()  # the engine's action processing (LAST; or it records why a value is not)
                await lease.resume(dispatch_from=n)
                return
            # -- the environment steps
            lease.processed = True
            try:
                if plain_step is not None and not engine_records:  # (the engine routes a tick with records)
                    next_value, reward, result = plain_step(values[0])
                else:
                    result = step(values)
            except Exception as error:
                lease.take_back()
                environment.failed(error)
                raise TrialAborted from error
            if lease.ended:  # the step ended the trial (a cancel)
                raise TrialAborted
            if result is None:  # a plain step: its reward the actor's, its observation the value alone
                bare = True
                observations = [bare_observation(next_value, observation_codec)]
                close_tick([(0, reward)], observations)
                if due():
                    await lease.pause(pacer)
                continue
            # -- the open tick closes as a plain row, unless the engine must route something
            rewarded = []
            for agent, reward in result.rewards.items():
                index = receivers.get(agent, -1)
                if index < 0:
                    break
                rewarded.append((index, float(reward)))
            else:
                index = 0
            if index < 0 or engine_records:
                lease.take_back()  # the engine routes these rewards with what else this tick got
                environment.emit(result)
                await lease.resume()
                return
            if result.done:  # the environment ended the trial: the engine's end, after this row
                close_tick(rewarded, None)
                lease.release()
                environment.emit(result, rewards=False)
                await lease.resume()
                return
            observations = bare_observations(result)
            bare = observations is not None
            if not bare:
                observations = observe(result)
            close_tick(rewarded, observations)
            if due():  # fairness for other trials (as the engine's loop)
                await lease.pause(pacer)

    async def _hand_over_dispatch(self, index: int, error: Exception) -> None:
        """Actor ``index`` did not answer with a value: the engine gathers this tick's actions."""
        lease = self.lease
        lease.take_back()
        self.actors[index].report(error, lease.tick)
        await lease.resume(dispatch_from=index + 1)  # the actors after it have not seen the observation


def _record_each(column: list[bytes], envelopes: list[Callable[[Any], bytes]], items: list[Any]) -> bool:
    """Add the envelope of each actor's item to ``column``; nothing and False when one cannot
    be encoded (the engine records that tick, with the reason)."""
    start = len(column)
    try:
        column.extend(map(call, envelopes, items))
    except Exception:
        del column[start:]
        return False
    return True


def _action_payloads(actors: list[InProcessActor]) -> Callable[[int, Any], LabAction]:
    """Actor i's answer as the engine carries it. (Not a method of the loop: the lease keeps
    it, and a loop -> lease -> loop cycle would leave every trial's lease and rows to the
    garbage collector instead of freeing them as the trial ends.)"""

    def action_payload(index: int, value: Any) -> LabAction:
        return actors[index].action_payload(value)

    return action_payload


def _no_codec(value: Any) -> bytes:
    raise ValueError("the actor has no action space to encode its answers with")
