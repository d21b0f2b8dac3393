"""The lab without the official SDK (as `pip install cogment-jupyter` leaves it): everything
runs, our gRPC services included; SDK session functions say how to install the SDK."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from cogment_jupyter import Lab, actors, envs
from cogment_jupyter.official_sdk import SDK_INSTALL, SdkNotInstalled

try:
    import cogment_jupyter.adapters.cog_settings
except SdkNotInstalled as error:
    assert SDK_INSTALL in str(error)
else:
    raise AssertionError("cog_settings without the SDK must fail")

with Lab(datastore=None) as lab:
    lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"), process=True)   # our servicer, another process
    lab.serve_actor("lean", lambda obs: int(obs[2] > 0))
    handle = lab.start_trial("cartpole", "lean", seed=1, max_steps=20).wait(60)
    assert handle.errors == [] and handle.tick == 21, (handle.errors, handle.tick)
    try:
        lab.serve_sdk_env("sdk", lambda session: None, {})
    except SdkNotInstalled as error:
        assert "lab.serve_sdk_env" in str(error) and SDK_INSTALL in str(error), error
    else:
        raise AssertionError("serve_sdk_env without the SDK must fail")
    try:
        lab.serve_sdk_actor("sdk", lambda session: None)
    except SdkNotInstalled as error:
        assert "lab.serve_sdk_actor" in str(error)
    else:
        raise AssertionError("serve_sdk_actor without the SDK must fail")
    assert "sdk" not in lab.services
import sys
assert "cogment" not in sys.modules or sys.modules["cogment"] is None
print("ok")
"""


def test_the_lab_runs_and_serves_without_the_sdk(tmp_path: Path):
    blocker = tmp_path / "cogment"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('the official SDK is not installed here (test)')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert result.stdout.strip().endswith("ok")


def test_only_the_sdk_gateways_import_the_sdk():
    """Statically: ``cogment`` is imported only where the SDK is asked for by name."""
    import ast

    package = Path(__file__).resolve().parents[2] / "cogment_jupyter"
    allowed = {"official_sdk.py", "transport/sdk_bridge.py"}
    for path in package.rglob("*.py"):
        relative = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n == "cogment" or n.startswith("cogment.") for n in names):
                assert relative in allowed, f"{relative}:{node.lineno} imports the official SDK"
