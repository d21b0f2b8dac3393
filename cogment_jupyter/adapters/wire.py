"""The protobuf envelope our adapters put in Cogment observation / action ``content``.

The message classes ``Observation``, ``Action``, ``EnvironmentConfig`` and ``ActorConfig``
are built from a ``FileDescriptorProto`` (no protoc step) on first access; :data:`PROTO_SOURCE`
is the same schema as ``.proto`` text, for SDK clients in other languages.

``value`` is always field 1, so a serialised envelope that carries a value starts with
``0x0a <varint length>``: the datastore finds values in a column of envelopes with numpy
(:func:`envelope_value_spans`) instead of parsing each row. Field 1 is ``optional`` (explicit
presence) so an empty value (``""`` for a Text space) differs from no value at all.

Our side writes envelopes by hand (:func:`encode_observation`, :func:`encode_action`):
byte-identical to ``SerializeToString`` (tested), faster for the common value-only envelope,
and without importing protobuf on the in-process path (``docs/decisions/hot-path-costs.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cogment_jupyter.adapters.codec import DecodeError, binary_layout, strings_from_spans, write_varint

__all__ = [
    "PLAYER",
    "PROTO_FILE",
    "PROTO_SOURCE",
    "SPECTATOR",
    "EnvelopeColumn",
    "encode_action",
    "encode_observation",
    "envelope_value_spans",
    "file_descriptor",
]

PROTO_FILE = "cogment_jupyter/wire.proto"

#: The actor class every agent of our adapters uses.
PLAYER = "player"
#: Participants that are not agents of the environment (people giving feedback, observers):
#: they watch (and reward, message) and see what the first agent sees.
SPECTATOR = "spectator"

PROTO_SOURCE = """\
syntax = "proto3";
package cogment_jupyter;

// Observation content. `value` is the agent's observation in the compact value codec of its
// observation space (absent = no observation this tick).
message Observation {
  optional bytes value = 1;
  bool inactive = 2;      // the agent is not asked to act this tick (answer with no action)
  bool dead = 3;          // the agent is done (terminated or truncated) while the trial goes on
  bytes frame = 4;        // rendered RGB frame, encoded as frame_format says
  string frame_format = 5;  // "zlib:HxWxC" (zlib of raw uint8 HWC), "raw:HxWxC" or "png"
  bool terminated = 6;
  bool truncated = 7;
  string info_json = 8;   // the environment's info dict as JSON (numpy values as lists)
  bytes action_mask = 9;  // one byte (0/1) per action; MultiDiscrete: the per-dimension masks in order
}

// Action content: the value in the codec of the action space; absent = no action (None).
message Action {
  optional bytes value = 1;
}

// Environment config (EnvInitialInput.config) when a Cogment environment runs our adapters.
message EnvironmentConfig {
  optional int64 seed = 1;
  bool render = 2;
  string config_json = 3;         // the trial's environment config as JSON
  string reset_options_json = 4;  // options passed to reset(), as JSON
  int64 render_width = 5;         // frames resampled to this width (0: as rendered or from the height)
  int64 render_height = 6;        // ... and height (one of them alone keeps the aspect ratio)
  string format = 7;              // the trial's payload format: "" ours, "cogment_lab" Cogment Lab's
}

// Actor config (ActorInitialInput.config): what a remote actor needs to act.
message ActorConfig {
  optional int64 seed = 1;
  string config_json = 2;
  string observation_space_json = 3;  // see cogment_jupyter.adapters.spaces
  string action_space_json = 4;
  bool render = 5;
  string format = 6;  // the trial's payload format: "" ours, "cogment_lab" Cogment Lab's
}
"""

# (message, [(field, number, type, optional)]) -- kept in step with PROTO_SOURCE by a test.
_SCHEMA: list[tuple[str, list[tuple[str, int, str, bool]]]] = [
    (
        "Observation",
        [
            ("value", 1, "bytes", True),
            ("inactive", 2, "bool", False),
            ("dead", 3, "bool", False),
            ("frame", 4, "bytes", False),
            ("frame_format", 5, "string", False),
            ("terminated", 6, "bool", False),
            ("truncated", 7, "bool", False),
            ("info_json", 8, "string", False),
            ("action_mask", 9, "bytes", False),
        ],
    ),
    ("Action", [("value", 1, "bytes", True)]),
    (
        "EnvironmentConfig",
        [
            ("seed", 1, "int64", True),
            ("render", 2, "bool", False),
            ("config_json", 3, "string", False),
            ("reset_options_json", 4, "string", False),
            ("render_width", 5, "int64", False),
            ("render_height", 6, "int64", False),
            ("format", 7, "string", False),
        ],
    ),
    (
        "ActorConfig",
        [
            ("seed", 1, "int64", True),
            ("config_json", 2, "string", False),
            ("observation_space_json", 3, "string", False),
            ("action_space_json", 4, "string", False),
            ("render", 5, "bool", False),
            ("format", 6, "string", False),
        ],
    ),
]


def file_descriptor() -> Any:
    """The schema as a ``descriptor_pb2.FileDescriptorProto``."""
    from google.protobuf import descriptor_pb2

    f = descriptor_pb2.FieldDescriptorProto
    types = {"bytes": f.TYPE_BYTES, "bool": f.TYPE_BOOL, "string": f.TYPE_STRING, "int64": f.TYPE_INT64}
    fdp = descriptor_pb2.FileDescriptorProto(name=PROTO_FILE, package="cogment_jupyter", syntax="proto3")
    for name, fields in _SCHEMA:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, optional in fields:
            field = msg.field.add(name=fname, number=number, type=types[ftype], label=f.LABEL_OPTIONAL)
            field.json_name = "".join(p if i == 0 else p.capitalize() for i, p in enumerate(fname.split("_")))
            if optional:  # proto3 `optional`: a synthetic oneof gives explicit presence
                field.oneof_index = len(msg.oneof_decl)
                field.proto3_optional = True
                msg.oneof_decl.add(name=f"_{fname}")
    return fdp


_CLASSES: dict[str, Any] = {}


def _build() -> dict[str, Any]:
    """Register the schema in protobuf's default pool and make the message classes."""
    from google.protobuf import descriptor_pool, message_factory

    if not _CLASSES:
        pool = descriptor_pool.Default()
        try:
            pool.FindFileByName(PROTO_FILE)  # already there (module reloaded)
        except KeyError:
            pool.Add(file_descriptor())
        for name, _ in _SCHEMA:
            _CLASSES[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"cogment_jupyter.{name}"))
        globals().update(_CLASSES)  # later lookups find them without going through __getattr__
    return _CLASSES


def __getattr__(name: str) -> Any:
    # The message classes are made on first use: importing protobuf is slow, and the
    # in-process path (and our own encoding) never needs it.
    if any(name == n for n, _ in _SCHEMA):
        return _build()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- fast encoding


def _bytes_field(tag: int, data: bytes) -> bytes:
    n = len(data)
    return (bytes((tag, n)) if n < 0x80 else bytes((tag,)) + write_varint(n)) + data


def encode_observation(
    value: bytes | None,
    inactive: bool = False,
    dead: bool = False,
    frame: bytes = b"",
    frame_format: str = "",
    terminated: bool = False,
    truncated: bool = False,
    info_json: str = "",
    action_mask: bytes = b"",
) -> bytes:
    """The serialised :class:`Observation` (same bytes as ``SerializeToString``: fields in
    number order, defaults omitted)."""
    out = encode_action(value)  # field 1, the value, is encoded as an Action's
    if inactive:
        out += b"\x10\x01"
    if dead:
        out += b"\x18\x01"
    if frame:
        out += _bytes_field(0x22, frame)
    if frame_format:
        out += _bytes_field(0x2A, frame_format.encode())
    if terminated:
        out += b"\x30\x01"
    if truncated:
        out += b"\x38\x01"
    if info_json:
        out += _bytes_field(0x42, info_json.encode())
    if action_mask:
        out += _bytes_field(0x4A, action_mask)
    return out


#: The headers of values under 128 bytes (one varint byte), made once: every recorded tick uses them.
_SHORT_HEADERS = tuple(b"\x0a" + bytes((n,)) for n in range(0x80))


def encode_action(value: bytes | None) -> bytes:
    """The serialised :class:`Action` (``None`` -> empty: no action)."""
    if value is None:
        return b""
    n = len(value)
    return (_SHORT_HEADERS[n] if n < 0x80 else b"\x0a" + write_varint(n)) + value


# --------------------------------------------------------------------------- column reading

#: Observation field numbers (see :data:`PROTO_SOURCE`); ``Action`` has ``VALUE`` only.
VALUE, INACTIVE, DEAD, FRAME, FRAME_FORMAT, TERMINATED, TRUNCATED, INFO_JSON, ACTION_MASK = range(1, 10)
_PAD = 11  # a tag and a 10-byte varint can be read past any row without bounds checks


class EnvelopeColumn:
    """The fields of every envelope of an Arrow binary column, located with numpy.

    Rows are walked field by field, all rows at once: a row whose envelope is its value alone
    (``0x0a <length> value``, what a bare observation or any action is) is done after the
    first look; the others (flags, info, frames) take one vectorised step per field. No
    protobuf parsing per row, whatever the writer's field order.
    """

    def __init__(self, contents: Any) -> None:
        data, starts, lengths, present = binary_layout(contents)
        self.data = data
        self.rows = len(starts)
        self.present = present
        self._spans: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._varints: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        last = max(len(data) - 1, 0)
        starts = np.where(present, starts, 0)
        ends = starts + np.where(present, lengths, 0)
        if len(data):
            first = data[np.minimum(starts, last)]
            second = data[np.minimum(starts + 1, last)].astype(np.int64)
        else:
            first = second = np.zeros(self.rows, dtype=np.int64)
        bare = present & (lengths >= 2) & (first == 0x0A) & (second < 0x80) & (lengths == second + 2)
        value_starts = np.zeros(self.rows, dtype=np.int64)
        value_lengths = np.zeros(self.rows, dtype=np.int64)
        value_starts[bare] = starts[bare] + 2
        value_lengths[bare] = second[bare]
        self._spans[VALUE] = (value_starts, value_lengths, bare.copy())
        rest = np.flatnonzero(present & ~bare & (lengths > 0))
        if rest.size:  # on a copy of their bytes, padded so that reads past a row need no bounds checks
            self._walk(np.concatenate([data, np.zeros(_PAD, dtype=np.uint8)]), rest, starts[rest], ends[rest])

    def _walk(self, padded: np.ndarray, rows: np.ndarray, pos: np.ndarray, ends: np.ndarray) -> None:
        while rows.size:
            tag, pos = _read_varints(padded, pos)
            field, wire_type = tag >> 3, tag & 7
            value = np.zeros(rows.size, dtype=np.int64)
            size = np.zeros(rows.size, dtype=np.int64)
            varint = wire_type == 0
            if varint.any():
                value[varint], pos[varint] = _read_varints(padded, pos[varint])
            delimited = wire_type == 2
            if delimited.any():
                size[delimited], pos[delimited] = _read_varints(padded, pos[delimited])
            size[wire_type == 1] = 8
            size[wire_type == 5] = 4
            bad = ~(varint | delimited | (wire_type == 1) | (wire_type == 5)) | (pos + size > ends) | (field == 0)
            if bad.any():
                raise DecodeError(f"row {int(rows[np.argmax(bad)])}: not a well-formed envelope")
            for number in np.unique(field).tolist():
                at = field == number
                if number in (VALUE, FRAME, FRAME_FORMAT, INFO_JSON, ACTION_MASK):
                    starts, lengths, has = self._spans.setdefault(
                        number,
                        (np.zeros(self.rows, np.int64), np.zeros(self.rows, np.int64), np.zeros(self.rows, bool)),
                    )
                    starts[rows[at]], lengths[rows[at]], has[rows[at]] = pos[at], size[at], True  # the last one wins
                elif number in (INACTIVE, DEAD, TERMINATED, TRUNCATED):
                    values, has = self._varints.setdefault(
                        number, (np.zeros(self.rows, np.int64), np.zeros(self.rows, bool))
                    )
                    values[rows[at]], has[rows[at]] = value[at], True
            pos = pos + size
            going = pos < ends
            rows, pos, ends = rows[going], pos[going], ends[going]

    def span(self, field: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(data, starts, lengths, has)`` of a length-delimited field, for ``Codec.decode_spans``."""
        found = self._spans.get(field)
        if found is None:
            zeros = np.zeros(self.rows, dtype=np.int64)
            return self.data, zeros, zeros, np.zeros(self.rows, dtype=bool)
        return (self.data, *found)

    def flag(self, field: int) -> np.ndarray:
        """A boolean field per row (False where absent)."""
        found = self._varints.get(field)
        return np.zeros(self.rows, dtype=bool) if found is None else found[0] != 0

    def text(self, field: int) -> Any:
        """A string field as an Arrow string array; null where absent or empty."""
        data, starts, lengths, has = self.span(field)
        return strings_from_spans(data, starts, lengths, has & (lengths > 0))


def _read_varints(padded: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unsigned LEB128 varints starting at ``pos`` (one per row): ``(values, positions after)``."""
    byte = padded[pos].astype(np.int64)
    values = byte & 0x7F
    going = byte >= 0x80
    after = pos + 1
    shift = 7
    while going.any():
        if shift > 63:
            raise DecodeError("a varint longer than 10 bytes: not a well-formed envelope")
        byte = padded[after].astype(np.int64)
        values |= np.where(going, (byte & 0x7F) << shift, 0)
        after = after + going
        going &= byte >= 0x80
        shift += 7
    return values, after


def envelope_value_spans(contents: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where field 1 (``value``) lies in each envelope of an Arrow binary column:
    ``(data, starts, lengths, present)`` for :meth:`Codec.decode_spans`."""
    return EnvelopeColumn(contents).span(VALUE)
