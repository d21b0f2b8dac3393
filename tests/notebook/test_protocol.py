"""The widget's messages as the kernel handles them (``notebook/protocol.py``) and as the page
types them (``js/src/protocol.ts``) are the same: kinds, fields, field types, optional fields.

The TypeScript is read with the TypeScript compiler (``protocol_shape.mjs``), so the test needs
node and ``npm ci`` in js/ (CI installs both), like ``tests/test_js.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import types
import typing
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import anywidget
import numpy as np
import pytest
import traitlets

from cogment_jupyter.notebook import protocol
from cogment_jupyter.notebook.frame_stream import FrameStream
from cogment_jupyter.notebook.protocol import KERNEL_MESSAGES, VIEW_MESSAGES, message_kind
from cogment_jupyter.notebook.widget import PlayWidget

REPO = Path(__file__).resolve().parents[2]
JS = REPO / "js"
SHAPE_SCRIPT = Path(__file__).with_name("protocol_shape.mjs")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (CI installs it)"),
    pytest.mark.skipif(
        not (JS / "node_modules").is_dir(), reason="js/node_modules is missing: run `npm ci` in js/ (CI does)"
    ),
]


def typescript_shape(protocol_ts: Path | None = None) -> dict[str, Any]:
    command = ["node", str(SHAPE_SCRIPT), str(JS), *([str(protocol_ts)] if protocol_ts else [])]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def ts() -> dict[str, Any]:
    return typescript_shape()


def as_typescript(annotation: Any) -> str:
    """A Python annotation written as protocol_shape.mjs writes TypeScript types."""
    simple = {int: "number", float: "number", str: "string", bool: "boolean", type(None): "null", Any: "unknown"}
    if annotation in simple:
        return simple[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(sorted(json.dumps(a) for a in args))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(sorted({part for a in args for part in as_typescript(a).split(" | ")}))
    if origin is list:
        return f"{as_typescript(args[0])}[]"
    if origin is dict and args[0] is str:
        return f"Record<string, {as_typescript(args[1])}>"
    raise AssertionError(f"as_typescript does not know {annotation!r}")


def python_fields(message: type) -> dict[str, dict[str, Any]]:
    hints = get_type_hints(message)  # NotRequired[...] stripped; __optional_keys__ says which
    return {name: {"type": as_typescript(hints[name]), "optional": name in message.__optional_keys__} for name in hints}


def view_messages_of(shape: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {json.loads(fields["type"]["type"]): fields for fields in shape["ViewMessage"]["messages"]}


def test_the_kernels_messages_are_typed_alike_on_both_sides(ts):
    assert ts["KernelMessage"]["refs"] == [m.__name__ for m in KERNEL_MESSAGES]
    for message in KERNEL_MESSAGES:
        assert python_fields(message) == ts[message.__name__]["fields"], message.__name__


def test_the_views_messages_are_typed_alike_on_both_sides(ts):
    python = {message_kind(m): python_fields(m) for m in VIEW_MESSAGES}
    typescript = view_messages_of(ts)
    assert sorted(python) == sorted(typescript), "a view message kind is declared on one side only"
    for kind in python:
        assert python[kind] == typescript[kind], f"the {kind!r} message differs"


def test_the_widget_handles_exactly_the_declared_view_messages():
    assert set(PlayWidget.MESSAGE_HANDLERS) == {message_kind(m) for m in VIEW_MESSAGES}
    for kind, method in PlayWidget.MESSAGE_HANDLERS.items():
        assert callable(getattr(PlayWidget, method, None)), f"{kind!r} is handled by a missing {method}"


def test_the_value_types_and_synced_traits_match(ts):
    for name in ("FrameFormat", "ControlAction", "KeyEventKind"):
        assert as_typescript(getattr(protocol, name)) == ts[name]["type"], name
    trait_types = {
        traitlets.Int: "number",
        traitlets.Float: "number",
        traitlets.Unicode: "string",
        traitlets.Bool: "boolean",
    }

    def trait_type(trait: traitlets.TraitType | None) -> str:
        if trait is None:  # a Dict of any JSON values
            return "unknown"
        if isinstance(trait, traitlets.Dict):
            return f"Record<string, {trait_type(trait._value_trait)}>"
        return trait_types[type(trait)]

    inherited = set(anywidget.AnyWidget.class_traits(sync=True))
    synced = {
        name: {"type": trait_type(trait), "optional": False}
        for name, trait in PlayWidget.class_traits(sync=True).items()
        if name not in inherited
    }
    assert synced == ts["PlayModel"]["fields"]


def test_the_frames_the_kernel_sends_fit_the_frame_message():
    sent: list[dict[str, Any]] = []
    stream = FrameStream(lambda header, buffers: sent.append(header), window=4)
    stream.submit(np.zeros((4, 6, 3), np.uint8), key_seq=3, key_view="v", tick=1, episode_return=0.5)
    stream.submit(np.zeros((4, 6, 3), np.uint8))  # asks for no ack of its own
    fields = python_fields(protocol.FrameMessage)
    for header in sent:
        assert set(header) <= set(fields), f"undeclared fields {set(header) - set(fields)}"
        assert {name for name, f in fields.items() if not f["optional"]} <= set(header)
        for name, value in header.items():
            assert isinstance(value, (int, float) if fields[name]["type"] == "number" else object)
    assert sent[0]["key_seq"] == 3 and sent[1]["ack"] is False


def test_a_message_on_one_side_only_is_caught(tmp_path: Path):
    """The comparison itself fails when the TypeScript gains a message the kernel does not handle."""
    source = (JS / "src" / "protocol.ts").read_text()
    union = "export type ViewMessage =\n"
    assert union in source
    drifted = tmp_path / "protocol.ts"
    drifted.write_text(source.replace(union, union + '  | { type: "rewind"; view: string }\n'))
    kinds = set(view_messages_of(typescript_shape(drifted)))
    assert kinds - {message_kind(m) for m in VIEW_MESSAGES} == {"rewind"}
