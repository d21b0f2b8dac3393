"""``pip install cogment-jupyter`` as its users do it, on CPython 3.11, 3.12 and 3.13.

For each version a fresh ``python -m venv`` gets the package with the pip that came with that
CPython (no uv, no overrides, no lock), beside the JupyterLab a class server has:

- 3.11: the wheel, with grpcio and protobuf held at the floors pyproject.toml declares;
- 3.12: the sdist (pip builds it, as ``pip install .`` from a clone does);
- 3.13: the wheel with the ``[notebooks]`` extra, which then runs notebook 01 top to bottom.

Then: ``pip check``; both Jupyter extensions enabled; a Jupyter server of that environment
starts a kernel that runs ``%load_ext cogment_jupyter``, ``%cogment launch`` (the server's
shared runtime), a CartPole trial and ``lab.steps``; and ``cogment-jupyter services
orchestrator`` of that environment runs a trial for the official SDK of the dev environment.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import tarfile
import threading
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version

from cogment_jupyter import __version__
from tests.install.conftest import ROOT, TIMINGS, Dists
from tests.install.pip_env import PipEnv
from tests.install.pythons import SUPPORTED, find_python, missing

pytestmark = pytest.mark.timeout(1800)

NOTEBOOK = ROOT / "notebooks" / "01_play_cartpole.ipynb"
#: the Python whose environment gets the [notebooks] extra
NOTEBOOKS_PYTHON = "3.13"
DRIVER = Path(__file__).with_name("kernel_driver.py")


def floors() -> list[str]:
    """``grpcio`` and ``protobuf`` pinned at the floors pyproject.toml declares (``>=X`` -> ``==X``)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = []
    for requirement in dependencies:
        name, _, floor = requirement.partition(">=")
        if name in ("grpcio", "protobuf"):
            pins.append(f"{name}=={floor}")
    assert len(pins) == 2, dependencies
    return pins


def _install(minor: str, env: PipEnv, dists: Dists, tmp: Path) -> None:
    if minor == NOTEBOOKS_PYTHON:
        env.pip_install(f"{dists.wheel}[notebooks]")
    elif minor == "3.11":
        constraints = tmp / "floors.txt"
        constraints.write_text("\n".join(floors()) + "\n")
        env.pip_install(str(dists.wheel), "jupyterlab", "-c", str(constraints))
    else:
        env.pip_install(str(dists.sdist), "jupyterlab")


@pytest.fixture(scope="module", params=SUPPORTED)
def installed(request: pytest.FixtureRequest, dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> PipEnv:
    minor = request.param
    python = find_python(minor)
    if python is None:
        pytest.skip(missing(minor))
    tmp = tmp_path_factory.mktemp(f"pip-{minor}")
    env = PipEnv.create(python, tmp / "venv")
    env.minor = minor  # type: ignore[attr-defined]
    _install(minor, env, dists, tmp)
    TIMINGS[f"CPython {minor} ({python})"] = env.timings
    return env


def _minor(env: PipEnv) -> str:
    return env.minor  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the distributions


def test_the_distributions_carry_the_license_typing_and_one_panel(dists: Dists):
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = wheel.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = wheel.read(info).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "cogment_jupyter/py.typed" in names
    assert "cogment_jupyter/proto/cogment/api/common.proto" in names
    panel = [
        n for n in names if "cogment-jupyter-panel/package.json" in n or n.startswith("cogment_jupyter/labextension/")
    ]
    assert panel == [
        f"cogment_jupyter-{__version__}.data/data/share/jupyter/labextensions/cogment-jupyter-panel/package.json"
    ]
    assert f"Version: {__version__}" in metadata and "License-Expression: Apache-2.0" in metadata
    for minor in SUPPORTED:
        assert f"Classifier: Programming Language :: Python :: {minor}" in metadata
    assert "Requires-Dist: cogment" not in metadata.replace("cogment-jupyter", "")
    assert "Provides-Extra: notebooks" in metadata and "Project-URL:" in metadata
    with tarfile.open(dists.sdist) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "cogment_jupyter/py.typed", "tools/generate_proto.py"} <= members


# ------------------------------------------------------------------ each Python


def test_pip_check_is_clean(installed: PipEnv):
    output = installed.run(installed.python, "-m", "pip", "check")
    assert "No broken requirements found" in output
    listed = installed.run(installed.python, "-m", "pip", "list", "--format=json")
    names = {p["name"].lower() for p in json.loads(listed[listed.index("[") : listed.rindex("]") + 1])}
    assert "cogment-jupyter" in names and "cogment" not in names  # no SDK: nothing needs it
    shown = installed.run(installed.python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])")
    assert shown.strip() == _minor(installed)
    if _minor(installed) == "3.11":  # held at the declared floors
        code = "import grpc, google.protobuf as p; print(grpc.__version__, p.__version__)"
        versions = installed.run(installed.python, "-c", code).split()
        assert [Version(v) for v in versions] == [Version(pin.split("==")[1]) for pin in floors()]


def test_both_jupyter_extensions_are_enabled(installed: PipEnv):
    servers = installed.run(installed.bin("jupyter"), "server", "extension", "list")
    assert re.search(r"cogment_jupyter\s+enabled", servers), servers
    assert re.search(rf"cogment_jupyter {re.escape(__version__)}\s+OK", servers), servers
    labs = installed.run(installed.bin("jupyter"), "labextension", "list")
    assert re.search(rf"cogment-jupyter-panel v{re.escape(__version__)}\s+enabled\s+OK", labs), labs
    assert installed.run(installed.bin("cogment-jupyter"), "--version").strip() == f"cogment-jupyter {__version__}"
    assert (
        installed.run(installed.python, "-m", "cogment_jupyter", "--version").strip()
        == f"cogment-jupyter {__version__}"
    )


KERNEL_CODE = """\
%load_ext cogment_jupyter
%cogment launch
import json, sys
from cogment_jupyter import envs
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
lab.serve_actor("lean", lambda observation: int(observation[2] > 0))
trial = lab.start_trial("cartpole", "lean", seed=1).wait(120)
steps = lab.steps(trial.id)
print("RESULT " + json.dumps({
    "mode": lab.mode, "rows": len(steps), "trial": trial.id, "errors": trial.errors, "tick": trial.tick,
    "actions": sorted(set(map(int, steps["action"].dropna()))), "python": sys.executable,
    "sdk": "cogment" in sys.modules,
}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _until(condition, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except OSError as error:  # not listening yet
            last = error
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f} s (last: {last!r})")


SERVER_FLAGS = ("--ServerApp.port_retries=0", "--allow-root")


@pytest.fixture
def jupyter_server(installed: PipEnv, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``jupyter server`` of the installed environment (its server extension runs the shared runtime)."""
    config, runtime, root = tmp_path / "config", tmp_path / "runtime", tmp_path / "work"
    for folder in (config, runtime, root):
        folder.mkdir()
    (config / "jupyter_server_config.py").write_text(
        "c.IdentityProvider.token = ''\nc.ServerApp.password = ''\nc.ServerApp.disable_check_xsrf = True\n"
    )
    port, root_dir = _free_port(), f"--ServerApp.root_dir={root}"
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [
            installed.bin("jupyter"),
            "server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            *SERVER_FLAGS,
            root_dir,
        ],
        env=installed.environ(
            JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(runtime), JUPYTER_PLATFORM_DIRS="1"
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _get(f"{base}/api/status"), "the Jupyter server answering")
        yield base, runtime
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def test_a_notebook_kernel_runs_a_cartpole_trial_on_the_shared_runtime(installed: PipEnv, jupyter_server, tmp_path):
    base, runtime = jupyter_server
    status = _until(
        lambda: (s := _get(f"{base}/cogment/api/status"))["responding"] and s, "the shared runtime answering"
    )
    code = tmp_path / "cell.py"
    code.write_text(KERNEL_CODE)
    output = installed.run(installed.python, str(DRIVER), base, str(runtime), str(code), timeout=600)
    line = next((line for line in output.splitlines() if line.startswith("RESULT ")), None)
    assert line is not None, output[-4000:]
    result = json.loads(line.removeprefix("RESULT "))
    assert result["mode"] == "shared", output
    assert result["rows"] == result["tick"] + 1 > 1 and result["errors"] == []  # ticks 0..tick, one actor
    assert result["actions"] and set(result["actions"]) <= {0, 1}
    assert result["python"].startswith(str(installed.root)) and result["sdk"] is False
    trials = _get(f"{base}/cogment/api/trials")["trials"]
    assert result["trial"] in {t["trial_id"] for t in trials}, (status, trials)


def _orchestrator_flags(port: int, status: Path) -> list[str]:
    return [f"--lifecycle_port={port}", f"--actor_port={port}", f"--status_file={status}", "--log_level=warning"]


async def test_the_orchestrator_command_runs_a_trial_for_the_official_sdk(installed: PipEnv, tmp_path: Path):
    import cogment

    from tests import sdk_cog_settings
    from tests.sdk_components import Log, acting_actor, counting_environment, trial_params
    from tests.sdk_fixtures import SdkServices

    fifo = tmp_path / "status"
    os.mkfifo(fifo)
    port = _free_port()
    process = subprocess.Popen(
        [installed.bin("cogment-jupyter"), "services", "orchestrator", *_orchestrator_flags(port, fifo)],
        env=installed.environ(),
    )
    status: list[str] = []
    reader = threading.Thread(target=lambda: status.append(fifo.read_text()), daemon=True)
    reader.start()
    services = SdkServices(cogment.Context(user_id="pip", cog_settings=sdk_cog_settings, prometheus_registry=None))
    try:
        log = Log()
        services.context.register_environment(counting_environment(log), "env")
        services.context.register_actor(acting_actor(log), "actor", ["player"])
        endpoint = await services.serve()
        controller = services.context.get_controller(cogment.Endpoint(f"grpc://127.0.0.1:{port}"))
        versions = None
        for _ in range(600):
            try:
                versions = await controller.get_remote_versions()
                break
            except Exception:
                assert process.poll() is None, "the orchestrator exited"
                await asyncio.sleep(0.05)
        assert versions is not None and versions["cogment_jupyter"] == __version__
        params = trial_params(endpoint, [("p1", "player", endpoint, "actor")], max_steps=3)
        trial_id = await controller.start_trial(trial_params=params)
        await asyncio.wait_for(log.done("env").wait(), 60)
        events = [event[0] for event in log.of("env")]
        assert events[:3] == [cogment.EventType.ACTIVE] * 3 and cogment.EventType.ENDING in events, events
        assert trial_id
    finally:
        await services.stop()
        process.send_signal(signal.SIGTERM)
        code = process.wait(30)
        reader.join(10)
    assert code == 0 and status == ["IRT"]


@pytest.mark.parametrize("installed", [NOTEBOOKS_PYTHON], indirect=True)
def test_notebook_01_runs_top_to_bottom_in_the_notebooks_extra(installed: PipEnv, tmp_path: Path):
    notebook = tmp_path / NOTEBOOK.name
    notebook.write_bytes(NOTEBOOK.read_bytes())
    installed.run(
        installed.bin("jupyter"),
        "execute",
        "--inplace",
        "--timeout=180",
        str(notebook),
        timeout=900,
        COGMENT_JUPYTER_HUMAN_STAND_IN="random:8",
        COGMENT_JUPYTER_NO_SHARED="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    executed = json.loads(notebook.read_text())
    outputs = [o for cell in executed["cells"] for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") == "display_data" for o in outputs)  # the plots
    assert (tmp_path / ".cogment").exists()  # the datastore the notebook recorded into


SDK_SESSION = """
import cogment, gymnasium as gym, numpy as np
from cogment_jupyter import Lab, actors
from cogment_jupyter.adapters import wire
from cogment_jupyter.adapters.base import AgentSpec
from cogment_jupyter.adapters.codec import codec_for
from cogment_jupyter.adapters.payloads import decode_action

SPEC = AgentSpec(gym.spaces.Box(0, 100, (1,), np.float32), gym.spaces.Discrete(3))

async def counter(session):
    observations, actions = codec_for(SPEC.observation_space), codec_for(SPEC.action_space)
    def observe(total):
        return [("*", wire.Observation(value=observations.encode(np.array([total], np.float32))))]
    total = 0
    session.start(observe(total))
    async for event in session.all_events():
        if event.actions:
            total += decode_action(event.actions[0].action, actions).value
            if total >= 6 or event.type == cogment.EventType.ENDING:
                session.end(observe(total))
            else:
                session.produce_observations(observe(total))

with Lab(datastore=None) as lab:
    lab.serve_sdk_env("counter", counter, {"player": SPEC})
    lab.serve_actor("two", actors.Constant(2))
    handle = lab.start_trial("counter", "two").wait(60)
    assert handle.errors == [] and handle.tick == 3, (handle.errors, handle.tick)
print("SDK session served")
"""


@pytest.mark.parametrize("installed", [NOTEBOOKS_PYTHON], indirect=True)
def test_serve_sdk_env_says_how_to_install_the_sdk_and_that_works(installed: PipEnv, tmp_path: Path):
    """Once, on the newest Python (the SDK's metadata says < 3.11), and last for its environment:
    it installs the SDK there, as the error message says."""
    script = tmp_path / "sdk_session.py"
    script.write_text(SDK_SESSION.replace("import cogment, ", "import "))
    refused = installed.run(installed.python, str(script), check=False)
    assert "lab.serve_sdk_env needs the official Cogment Python SDK" in refused, refused[-3000:]
    command = next(line.strip() for line in refused.splitlines() if line.strip().startswith("pip install"))
    installed.run(*command.replace('"', "").replace("pip install", f"{installed.python} -m pip install", 1).split())
    script.write_text(SDK_SESSION)
    assert "SDK session served" in installed.run(installed.python, str(script), timeout=300)
