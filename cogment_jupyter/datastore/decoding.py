"""The hook that turns stored observation/action bytes into values in ``Datastore.steps()``.

The datastore knows nothing about value formats; whoever opens it and does (a lab gives the
Gymnasium space codec, which reads the ``cogment_jupyter.spaces`` trial property) hands it
factories: ``Datastore(path, decoders=[...])``. For each trial, ``steps()`` asks them in order
for a decoder built from the trial's params; without one, the columns stay raw bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # naming a decoder factory needs no Arrow
    import pyarrow as pa

    from cogment_jupyter.proto.common_pb2 import TrialParams

log = logging.getLogger(__name__)


@runtime_checkable
class TrialDecoder(Protocol):
    """Decodes one trial's payloads, one actor at a time, a whole column at once.

    ``contents`` holds only present values (no nulls); return an array of the same length.
    A decoder may also have ``decode_infos(actor_index, contents)``: the environment's info
    of each observation as JSON text (``steps()``'s ``info`` column; null where none), and a
    ``decoding_key``: decoders of the same type and key decode every column alike, so the
    trials they serve are decoded together (see :func:`decoding_key`).
    """

    def decode_observations(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array: ...

    def decode_actions(self, actor_index: int, contents: pa.BinaryArray) -> pa.Array: ...


def decoding_key(decoder: TrialDecoder | None) -> Hashable:
    """Trials whose decoders give equal keys have their columns decoded in one pass: the
    decoder's type and its own ``decoding_key``, or the decoder itself when it has none (a
    factory handing the same decoder to many trials)."""
    if decoder is None:
        return None
    key = getattr(decoder, "decoding_key", None)
    return (type(decoder), key) if key is not None else ("decoder", id(decoder))


DecoderFactory = Callable[["TrialParams"], "TrialDecoder | None"]


def first_decoder(factories: Sequence[DecoderFactory], params: TrialParams) -> TrialDecoder | None:
    """The decoder the first of ``factories`` to offer one builds for these params."""
    for factory in factories:
        try:
            decoder = factory(params)
        except Exception:
            log.warning("decoder factory %r failed; trying the others", factory, exc_info=True)
            continue
        if decoder is not None:
            return decoder
    return None
