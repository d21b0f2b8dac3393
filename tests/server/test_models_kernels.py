"""Two kernels of one Jupyter server share its runtime's model registry: one publishes, the
other's actor plays with the latest iteration and follows the next one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import JupyterServer
from tests.server.kernels import ServerKernel

LAUNCH = """
%load_ext cogment_jupyter
%cogment launch
import numpy as np
from cogment_jupyter import actors, envs
"""

STUDENT = """
lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
lab.serve_actor("teacher", actors.Policy(lambda obs, w: int(w[0] > 0), model="class-policy"))

def play():
    handle = lab.start_trial("cartpole", "teacher", max_steps=20)
    handle.wait(60)
    assert not handle.errors, handle.errors
    return sorted(set(int(a) for a in lab.steps(handle.id)["action"].dropna()))
"""


@pytest.fixture(scope="module")
def teacher_and_student(server: JupyterServer) -> Iterator[tuple[ServerKernel, ServerKernel]]:
    teacher = ServerKernel.start(server)
    student = ServerKernel.start(server)
    try:
        yield teacher, student
    finally:
        for kernel in (teacher, student):
            kernel.shutdown()


def test_one_kernel_publishes_the_other_plays_the_latest(server: JupyterServer, teacher_and_student) -> None:
    teacher, student = teacher_and_student
    status = server.wait_running()
    registry = status["endpoints"]["model_registry"]
    for kernel in (teacher, student):
        kernel.run(LAUNCH)
        assert kernel.value("lab.mode") == "shared"
        assert kernel.value("lab.models.endpoint") == registry  # the runtime's registry, no other

    teacher.run("first = lab.models.store('class-policy', np.array([1.0]), {'by': 'teacher'})")
    assert teacher.value("first.iteration") == 1
    student.run(STUDENT)
    assert student.value("play()") == [1]  # iteration 1 pushes right
    assert student.value("list(lab.models.list()['model'])") == ["class-policy"]

    teacher.run("second = lab.models.publish('class-policy', np.array([-1.0]))")
    assert teacher.value("second.iteration") == 2
    student.run("lab.models.follow('class-policy').wait(30, newer_than=1)")
    assert student.value("play()") == [0]  # the student's actor now plays iteration 2
    assert student.value("list(lab.models.iterations('class-policy')['stored'])") == [True, False]
    # the stored iteration is on disk beside the shared datastore
    model_dir = Path(status["datastore_dir"]) / "model_registry" / "class-policy"
    assert (model_dir / "class-policy-v000001.data").stat().st_size == teacher.value("first.size")
