"""``cogment-jupyter serve env|actor``: components served by a command on any machine, used by a
lab through ``lab.serve_remote`` (here on loopback; ``tests/lab/test_two_hosts.py`` across hosts)."""

from __future__ import annotations

import socket
import subprocess
import sys

import numpy as np
import pytest

from cogment_jupyter import Lab
from tests import served
from tests.lab.served_components import ROUNDS


def check_duet_recorded(lab: Lab, trial_id: str) -> None:
    """Every tick of a Duet trial recorded for both players, their actions as their policies say:
    left alternates (``alternating``), right leans with observation[2] (the SDK actor)."""
    steps = lab.steps(trial_id)
    for player in ("left", "right"):
        rows = steps[steps["actor"] == player].sort_values("tick")
        assert rows["tick"].tolist() == list(range(ROUNDS + 1)), player
        observations = np.stack(rows["observation"].to_numpy())
        acted = rows["action"].to_numpy()[:ROUNDS]  # the final tick has no action
        if player == "left":
            assert acted.tolist() == [int(t) % 2 for t in observations[:ROUNDS, 0]]
        else:
            assert acted.tolist() == [int(x > 0) for x in observations[:ROUNDS, 2]]


def test_an_environment_and_actors_served_by_commands_run_a_recorded_trial(tmp_path):
    env = served.serve("env", "duet", "tests.lab.served_components:make_duet")
    pilot = served.serve("actor", "pilot", "tests.lab.served_components:alternating")
    sdk = served.start("-m", "tests.lab.sdk_actor_process")
    try:
        assert "lab.serve_remote('duet', 'grpc://127.0.0.1:" in env.banner
        with Lab(datastore=tmp_path / "store") as lab:
            lab.serve_remote("duet", f"grpc://127.0.0.1:{env.port}")
            lab.serve_remote("pilot", f"grpc://127.0.0.1:{pilot.port}")
            lab.serve_remote("sdk", f"grpc://127.0.0.1:{sdk.port}")
            assert lab.services["duet"].startswith("environment (remote")
            assert lab.services["pilot"].startswith("remote") and lab.services["sdk"].startswith("remote")
            handle = lab.start_trial("duet", {"left": "pilot", "right": "sdk"}).wait(60)
            assert handle.errors == [] and handle.end_details is None
            check_duet_recorded(lab, handle.id)
    finally:
        sdk.stop()
        results = [env.stop(), pilot.stop()]
    for code, err in results:
        assert code == 0 and "Traceback" not in err, err


def test_a_gymnasium_id_and_a_policy_factory(tmp_path):
    env = served.serve("env", "cartpole", "CartPole-v1")
    lean = served.serve("actor", "lean", "tests.lab.served_components:alternating")
    try:
        with Lab(datastore=tmp_path / "store") as lab:
            lab.serve_remote("cartpole", f"grpc://127.0.0.1:{env.port}")
            lab.serve_remote("lean", f"grpc://127.0.0.1:{lean.port}")
            handle = lab.start_trial("cartpole", "lean", seed=4).wait(60)
            assert handle.errors == [] and handle.tick > 0
            assert len(lab.steps(handle.id)) == handle.tick + 1
    finally:
        for service in (env, lean):
            assert service.stop()[0] == 0


def _serve_fails(*arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cogment_jupyter", "serve", *arguments], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("actor", "a", "no_such_module:make"), "no module named 'no_such_module'"),
        (("actor", "a", "tests.lab.served_components:missing"), "has no attribute 'missing'"),
        (("actor", "a", "CartPole-v1"), "an actor is named by module:factory"),
        (("env", "e", "NoSuchGame-v0"), "cannot make the environment NoSuchGame-v0"),
        (("env", "e", "tests.lab.served_components:ROUNDS"), "neither a factory nor an environment"),
    ],
)
def test_what_cannot_be_served_is_named(arguments, says):
    assert says in _serve_fails(*arguments)


def test_a_port_in_use_is_named():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        error = _serve_fails("env", "e", "CartPole-v1", "--port", str(port))
    assert f"cannot listen on 127.0.0.1:{port}" in error.lower()
