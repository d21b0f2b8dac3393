"""Our Cogment stubs (``cogment_jupyter.proto``) against the official SDK's (``cogment.api``).

Each package is imported in a fresh interpreter of its own for the comparison (in one process
they share a descriptor pool, so comparing there would compare a thing with itself), then both
are imported together in either order, as a user with the SDK installed does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "cogment_jupyter" / "proto"
SDK_API = Path(__import__("cogment").__file__).parent / "api"
NAMES = sorted(p.stem for p in SDK_API.glob("*.proto"))

DUMP = """
import importlib, json, sys
from google.protobuf import descriptor_pb2

package, names = sys.argv[1], sys.argv[2].split(",")

def walk(descriptor, out):
    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    out[descriptor.full_name] = proto.SerializeToString(deterministic=True).hex()
    for nested in descriptor.nested_types:
        walk(nested, out)

files = {}
for name in names:
    pb2 = importlib.import_module(f"{package}.{name}_pb2")
    importlib.import_module(f"{package}.{name}_pb2_grpc")
    messages = {}
    for message in pb2.DESCRIPTOR.message_types_by_name.values():
        walk(message, messages)
    services = {}
    for service in pb2.DESCRIPTOR.services_by_name.values():
        proto = descriptor_pb2.ServiceDescriptorProto()
        service.CopyToProto(proto)
        services[service.full_name] = proto.SerializeToString(deterministic=True).hex()
    files[pb2.DESCRIPTOR.name] = {
        "serialized": pb2.DESCRIPTOR.serialized_pb.hex(),
        "messages": messages,
        "enums": sorted(pb2.DESCRIPTOR.enum_types_by_name),
        "services": services,
    }
imported = sorted({m.split(".")[0] for m in sys.modules} & {"cogment", "cogment_jupyter"})
print(json.dumps({"files": files, "imported": imported}))
"""


def _python(code: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _dump(package: str) -> dict:
    return json.loads(_python(DUMP, package, ",".join(NAMES)))


def test_every_sdk_proto_is_carried_with_its_license_notice():
    assert len(NAMES) >= 9, NAMES
    for name in NAMES:
        ours = (OURS / "cogment" / "api" / f"{name}.proto").read_bytes()
        assert ours == (SDK_API / f"{name}.proto").read_bytes(), f"{name}.proto differs from the SDK's"
        assert b"Licensed under the Apache License, Version 2.0" in ours
        for suffix in ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi"):
            assert (OURS / f"{name}{suffix}").exists(), f"cogment_jupyter/proto/{name}{suffix} missing"


def test_descriptors_equal_the_sdks_message_by_message():
    ours, sdk = _dump("cogment_jupyter.proto"), _dump("cogment.api")
    assert ours["imported"] == ["cogment_jupyter"], "our stubs must not import the SDK"
    assert "cogment_jupyter" not in sdk["imported"]
    assert set(ours["files"]) == {f"cogment/api/{name}.proto" for name in NAMES}
    assert set(ours["files"]) == set(sdk["files"])
    compared = 0
    for path, mine in ours["files"].items():
        theirs = sdk["files"][path]
        assert set(mine["messages"]) == set(theirs["messages"]), path
        for message, proto in mine["messages"].items():
            assert proto == theirs["messages"][message], f"{message} ({path}) differs from the SDK's"
            compared += 1
        assert mine["enums"] == theirs["enums"], path
        assert mine["services"] == theirs["services"], path
        assert mine["serialized"] == theirs["serialized"], f"{path}: serialized file descriptors differ"
    assert compared > 80  # every message of the API, nested ones included


TOGETHER = """
import importlib, sys
first, second = sys.argv[1:3]
names = sys.argv[3].split(",")
modules = {}
for package in (first, second):
    for name in names:
        modules[package, name] = importlib.import_module(f"{package}.{name}_pb2")
        importlib.import_module(f"{package}.{name}_pb2_grpc")
import cogment  # the whole SDK, as its users import it

ours = modules["cogment_jupyter.proto", "common"]
sdk = modules["cogment.api", "common"]
params = ours.TrialParams(max_steps=7, properties={"k": "v"})
params.actors.add(name="a", actor_class="player", endpoint="grpc://x:1")
again = sdk.TrialParams.FromString(params.SerializeToString())
assert again == params and again.actors[0].name == "a" and again.properties["k"] == "v"
assert isinstance(params, sdk.TrialParams) and isinstance(again, ours.TrialParams)
sample = modules["cogment.api", "datalog"].DatalogSample()
sample.info.tick_id = 3
sample.info.special_events.append("e")
parsed = modules["cogment_jupyter.proto", "datalog"].DatalogSample.FromString(sample.SerializeToString())
assert parsed.info.tick_id == 3 and list(parsed.info.special_events) == ["e"]
info = modules["cogment_jupyter.proto", "orchestrator"].TrialInfo(state=sdk.RUNNING)
assert modules["cogment.api", "orchestrator"].TrialInfo.FromString(info.SerializeToString()).state == ours.RUNNING
print("ok")
"""


@pytest.mark.parametrize("first", ["cogment_jupyter.proto", "cogment.api"])
def test_both_stub_sets_import_together_in_either_order(first):
    second = "cogment.api" if first == "cogment_jupyter.proto" else "cogment_jupyter.proto"
    assert _python(TOGETHER, first, second, ",".join(NAMES)).strip() == "ok"


def test_stubs_carry_no_runtime_version_checks():
    """Checks written by recent generators would force users onto the newest grpcio/protobuf."""
    for path in OURS.glob("*_pb2*.py"):
        text = path.read_text()
        for check in ("ValidateProtobufRuntimeVersion", "GRPC_GENERATED_VERSION", "_registered_method"):
            assert check not in text, f"{path.name} carries {check}: regenerate with tools/generate_proto.py"
        assert "from cogment.api" not in text and "'cogment.api." not in text, path.name


@pytest.mark.skipif(shutil.which("uv") is None, reason="tools/generate_proto.py runs its generator through uv")
def test_committed_stubs_are_what_the_script_generates_from_the_sdks_protos():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "generate_proto.py"), "--check", "--sources", str(SDK_API.parent.parent)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
