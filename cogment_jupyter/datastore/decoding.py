"""The hook that turns stored observation/action bytes into values in ``Datastore.steps()``.

The datastore knows nothing about value formats; whoever does (e.g. the Gymnasium space codec,
which reads the ``cogment_jupyter.spaces`` trial property) registers a factory here. For each
trial, ``steps()`` asks the factories (most recently registered first) for a decoder built from
the trial's params; without one, the columns stay raw bytes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # registering a decoder factory (at the adapters' import) needs no Arrow
    import pyarrow as pa

    from cogment_jupyter.proto.common_pb2 import TrialParams

log = logging.getLogger(__name__)


@runtime_checkable
class TrialDecoder(Protocol):
    """Decodes one trial's payloads, one actor at a time, a whole column at once.

    ``contents`` holds only present values (no nulls); return an array of the same length.
    A decoder may also have ``decode_infos(actor_index, contents)``: the environment's info
    of each observation as JSON text (``steps()``'s ``info`` column; null where none).
    """

    def decode_observations(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array: ...

    def decode_actions(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array: ...


DecoderFactory = Callable[["TrialParams"], "TrialDecoder | None"]

_factories: list[DecoderFactory] = []
_lock = threading.Lock()


def register_decoder_factory(factory: DecoderFactory) -> DecoderFactory:
    """Add a factory (usable as a decorator); registering the same one twice is a no-op."""
    with _lock:
        if factory not in _factories:
            _factories.append(factory)
    return factory


def unregister_decoder_factory(factory: DecoderFactory) -> None:
    with _lock:
        if factory in _factories:
            _factories.remove(factory)


def decoder_for(params: TrialParams) -> TrialDecoder | None:
    """The first decoder a factory offers for these params (newest factory first)."""
    with _lock:
        factories = list(reversed(_factories))
    for factory in factories:
        try:
            decoder = factory(params)
        except Exception:
            log.warning("decoder factory %r failed; trying the others", factory, exc_info=True)
            continue
        if decoder is not None:
            return decoder
    return None
