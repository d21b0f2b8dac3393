"""Kernels started by the server find its runtime, share trials, and keep them across a restart.

Until ``%cogment launch`` attaches by itself, the kernels do what it will do:
``Lab(**shared_lab_arguments())``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from cogment_jupyter.shared_runtime import SERVER_RUNTIME_ENV, probe_shared_runtime
from tests.server.conftest import discovery_path, recorded
from tests.server.harness import JupyterServer, wait_for
from tests.server.kernels import ServerKernel

LAUNCH = """
%load_ext cogment_jupyter
%cogment launch
from cogment_jupyter.shared_runtime import probe_shared_runtime, shared_lab_arguments
from cogment_jupyter import Lab, envs, actors
found = probe_shared_runtime()
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
lab.serve_actor("random", actors.Random())
"""


def run_trial(kernel: ServerKernel, notebook: str) -> str:
    code = f"h = lab.start_trial('cartpole', 'random', properties={{'notebook': {notebook!r}}}); h.wait(60)"
    kernel.run(code)
    return kernel.value("h.id")


def seen_by(kernel: ServerKernel, trial_id: str) -> bool:
    return trial_id in kernel.value("list(lab.trials('all', state='ENDED')['trial_id'])")


def assert_shared(server: JupyterServer, other: ServerKernel, trial_id: str, notebook: str, what: str) -> None:
    """The trial is in the shared datastore with its ``notebook`` property, and the other notebook sees it."""
    assert recorded(server, trial_id)["trial"]["properties"]["notebook"] == notebook
    wait_for(lambda: seen_by(other, trial_id), 30, f"notebook B seeing {what}")


@pytest.fixture(scope="module")
def kernels(server: JupyterServer) -> Iterator[tuple[ServerKernel, ServerKernel]]:
    a = ServerKernel.start(server)
    b = ServerKernel.start(server)
    try:
        yield a, b
    finally:
        for kernel in (a, b):
            kernel.shutdown()


def test_kernels_find_the_shared_runtime_and_share_trials(server: JupyterServer, kernels) -> None:
    a, b = kernels
    status = server.wait_running()
    for kernel in (a, b):
        kernel.run(LAUNCH)
        found = kernel.value("[found.reason, found.runtime.orchestrator, found.runtime.pid, str(found.runtime.file)]")
        reason, orchestrator, pid, file = found
        assert SERVER_RUNTIME_ENV in reason
        assert orchestrator == status["endpoints"]["orchestrator"] and pid == status["pid"]
        assert file == status["discovery_file"]
        assert kernel.value("lab.orchestrator_endpoint") == orchestrator
        assert kernel.value("lab.mode") == "shared"
    from_a = run_trial(a, "A")
    from_b = run_trial(b, "B")
    wait_for(lambda: seen_by(b, from_a), 30, "notebook B seeing A's trial")
    wait_for(lambda: seen_by(a, from_b), 30, "notebook A seeing B's trial")
    for trial_id in (from_a, from_b):
        assert recorded(server, trial_id)["trial"]["properties"]["notebook"] in ("A", "B")
    # all parts in the kernel: the in-process fast path, recorded in the shared datastore
    assert a.value("lab.trial(" + repr(from_a) + ").remote") is False
    # a client actor: the trial goes through the shared orchestrator
    a.run(
        "class Script(actors.Actor):\n"
        "    def act(self, observation, frame=None):\n"
        "        return 1\n"
        "c = lab.start_trial('cartpole', {'gym': 'client'}, max_steps=3, properties={'notebook': 'client'})\n"
        "lab.join(c, 'gym', Script()).result(60); c.wait(60)"
    )
    assert a.value("c.remote") is True and a.value("c.errors") == []
    assert_shared(server, b, a.value("c.id"), "client", "A's client-actor trial")
    # a play widget's person is in this kernel: the game runs in-process, recorded in the shared datastore
    a.run(
        "import os\n"
        "os.environ['COGMENT_JUPYTER_HUMAN_STAND_IN'] = 'random:3'\n"
        "keys = {'ArrowLeft': 0, 'ArrowRight': 1}\n"
        "w = lab.play('cartpole', keys=keys, noop=0, fps=0, properties={'notebook': 'play'})\n"
        "w.trial.wait(60); w.stand_in.stop(); del os.environ['COGMENT_JUPYTER_HUMAN_STAND_IN']"
    )
    assert a.value("w.trial.remote") is False and a.value("w.trial.errors") == []
    assert a.value("w.trial.tick") > 0 and a.value("len(w.actions)") == a.value("w.trial.tick")
    assert_shared(server, b, a.value("w.trial.id"), "play", "A's game")


def test_kernel_restart_keeps_trials_and_runtime(server: JupyterServer, kernels) -> None:
    a, b = kernels
    a.run(LAUNCH)
    trial_id = run_trial(a, "before restart")
    recorded(server, trial_id)
    pid = server.wait_running()["pid"]
    a.restart()
    assert a.value("'lab' in globals()") is False  # a fresh interpreter
    a.run(LAUNCH)
    assert trial_id in a.value("list(lab.trials('all')['trial_id'])")  # a kernel without a notebook: see all
    assert a.value("found.runtime.pid") == pid == server.status()["pid"]
    assert a.value("len(lab.steps(" + repr(trial_id) + "))") > 0
    # the other notebook did not notice anything
    after = run_trial(b, "B after A restarted")
    wait_for(lambda: seen_by(a, after), 30, "the restarted notebook seeing B's new trial")


def test_discovery_through_the_parent_pid(server: JupyterServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel started by another launcher keeps ``JPY_PARENT_PID``: the server's file is found by pid."""
    for name in ("COGMENT_JUPYTER_RUNTIME", SERVER_RUNTIME_ENV, "COGMENT_JUPYTER_NO_SHARED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(server.runtime_dir))
    monkeypatch.setenv("JPY_PARENT_PID", str(server.proc.pid))
    found = probe_shared_runtime()
    assert found.runtime is not None, found.reason
    assert found.runtime.file == discovery_path(server) and "parent Jupyter server" in found.reason
    monkeypatch.setenv("COGMENT_JUPYTER_NO_SHARED", "1")
    assert probe_shared_runtime().runtime is None
    monkeypatch.delenv("COGMENT_JUPYTER_NO_SHARED")
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))  # a parent that is no such server
    missing = probe_shared_runtime()
    assert missing.runtime is None
    assert f"cogment_jupyter-{os.getpid()}.json" in missing.reason


def test_in_kernel_fast_path_records_into_the_shared_datastore(server: JupyterServer, kernels) -> None:
    """The other way to share: the kernel's own orchestrator, writing the shared file beside the runtime."""
    _, b = kernels
    b.run(LAUNCH)
    b.run(
        "fast = Lab(datastore=shared_lab_arguments()['datastore'])\n"
        "fast.serve_env('cartpole', envs.Gymnasium('CartPole-v1'))\n"
        "fast.serve_actor('random', actors.Random())\n"
        "f = fast.start_trial('cartpole', 'random', properties={'notebook': 'fast'}); f.wait(60)\n"
        "assert fast.orchestrator is not None and fast.remote_orchestrator is None"
    )
    trial_id = b.value("f.id")
    assert recorded(server, trial_id)["trial"]["properties"]["notebook"] == "fast"
    wait_for(lambda: seen_by(b, trial_id), 30, "the attached lab seeing the fast-path trial")
    b.run("fast.close()")
