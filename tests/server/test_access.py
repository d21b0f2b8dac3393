"""Only their owner reaches the shared runtime a Jupyter server starts and the labs of its
kernels: Unix sockets another user of the machine cannot connect to, and no TCP port."""

from __future__ import annotations

from tests.access import assert_only_owner_reaches, other_user, tcp_listeners
from tests.server.harness import JupyterServer
from tests.server.kernels import ServerKernel

LAUNCH = """
%load_ext cogment_jupyter
%cogment launch
from cogment_jupyter import envs
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"), process=True)
"""


def test_the_shared_runtime_and_a_kernels_lab_are_reachable_by_their_owner_only(server: JupyterServer) -> None:
    other_user()  # (skips where this cannot be checked)
    status = server.wait_running()
    assert tcp_listeners(status["pid"]) == []
    runtime = list(status["endpoints"].values())
    assert_only_owner_reaches(runtime)

    kernel = ServerKernel.start(server)
    try:
        pid = kernel.value("__import__('os').getpid()")
        jupyters = tcp_listeners(pid)  # the kernel's own (ZMQ and the like)
        kernel.run(LAUNCH)
        assert kernel.value("lab.mode") == "shared" and kernel.value("lab.reach.private") is True
        endpoints = kernel.value("[lab.endpoint, lab.datastore_endpoint, lab.endpoint_of('cartpole')]")
        assert "this user only" in kernel.run("print(repr(lab.status()))")
        assert tcp_listeners(pid) == jupyters  # the lab and its service process opened none
        assert_only_owner_reaches(endpoints)
    finally:
        kernel.shutdown()
