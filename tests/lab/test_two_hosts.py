"""Trials across hosts: two network namespaces joined by a veth pair stand for two machines.

Host B serves a Duet environment and an actor with ``cogment-jupyter serve`` and an official-SDK
actor; host A's lab runs a trial of all three on its own orchestrator and records every tick in
A's datastore. Then an orchestrator runs on B (``services orchestrator --host``) and a lab on A
attached to it runs and records trials of its own environment and actor, which B's orchestrator
calls back over the link. Needs root and ``ip netns`` (skipped with the reason otherwise).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cogment_jupyter import Lab
from tests import served
from tests.lab.test_serve_command import check_duet_recorded

A_ADDRESS, B_ADDRESS = "10.77.0.1", "10.77.0.2"


@dataclass
class Hosts:
    a: str  # network namespace names
    b: str


def _ip(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *arguments], capture_output=True, text=True, timeout=30)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("two-host test needs root and the `ip` command (iproute2) to build network namespaces")
    tag = secrets.token_hex(3)
    made = Hosts(f"cj-a-{tag}", f"cj-b-{tag}")
    steps = [
        ("netns", "add", made.a),
        ("netns", "add", made.b),
        ("link", "add", f"cja{tag}", "type", "veth", "peer", "name", f"cjb{tag}"),
        ("link", "set", f"cja{tag}", "netns", made.a),
        ("link", "set", f"cjb{tag}", "netns", made.b),
        ("-n", made.a, "addr", "add", f"{A_ADDRESS}/24", "dev", f"cja{tag}"),
        ("-n", made.b, "addr", "add", f"{B_ADDRESS}/24", "dev", f"cjb{tag}"),
    ]
    for namespace, device in ((made.a, f"cja{tag}"), (made.b, f"cjb{tag}")):
        steps += [("-n", namespace, "link", "set", "lo", "up"), ("-n", namespace, "link", "set", device, "up")]
    try:
        for step in steps:
            result = _ip(*step)
            if result.returncode != 0:
                pytest.skip(f"network namespaces are not allowed here (ip {' '.join(step)}: {result.stderr.strip()})")
        ping = subprocess.run(
            ["ip", "netns", "exec", made.a, "ping", "-c", "1", "-W", "5", B_ADDRESS], capture_output=True, text=True
        )
        if shutil.which("ping") and ping.returncode != 0:
            raise AssertionError(f"the two namespaces do not reach each other: {ping.stdout}{ping.stderr}")
        yield made
    finally:
        for namespace in (made.a, made.b):  # deleting a namespace deletes its end of the veth pair
            _ip("netns", "del", namespace)


def _lab_on_a(hosts: Hosts, *arguments: str) -> list[dict]:
    result = subprocess.run(
        ["ip", "netns", "exec", hosts.a, *served.python(), "-m", "tests.lab.two_hosts_lab", *arguments],
        cwd=served.ROOT,
        env=served.environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_trial_of_services_on_host_b_runs_on_host_a_and_is_recorded_there(hosts, tmp_path):
    env = served.serve("env", "duet", "tests.lab.served_components:make_duet", host=B_ADDRESS, netns=hosts.b)
    pilot = served.serve("actor", "pilot", "tests.lab.served_components:alternating", host=B_ADDRESS, netns=hosts.b)
    sdk = served.start("-m", "tests.lab.sdk_actor_process", netns=hosts.b)
    store = tmp_path / "host-a-store"
    try:
        (trial,) = _lab_on_a(
            hosts,
            str(store),
            "--env",
            f"grpc://{B_ADDRESS}:{env.port}",
            "--pilot",
            f"grpc://{B_ADDRESS}:{pilot.port}",
            "--sdk",
            f"grpc://{B_ADDRESS}:{sdk.port}",
        )
    finally:
        sdk.stop()
        stopped = [env.stop(), pilot.stop()]
    assert trial["errors"] == [] and trial["end"] is None, trial
    with Lab(datastore=store) as lab:  # A's datastore, read here
        check_duet_recorded(lab, trial["id"])
    for code, err in stopped:
        assert code == 0 and "Traceback" not in err, err


def test_a_lab_on_host_a_attached_to_an_orchestrator_on_host_b(hosts, tmp_path):
    orchestrator = served.start(
        "-m",
        "cogment_jupyter",
        "services",
        "orchestrator",
        "--host",
        B_ADDRESS,
        "--lifecycle_port=0",
        "--actor_port=0",
        "--log_level=info",
        netns=hosts.b,
        announced=r"lifecycle [^\s:]+:(\d+)",
    )
    store = tmp_path / "host-a-store"
    try:
        trials = _lab_on_a(
            hosts, str(store), "--orchestrator", f"grpc://{B_ADDRESS}:{orchestrator.port}", "--host", A_ADDRESS
        )
    finally:
        code, err = orchestrator.stop()
    assert len(trials) == 2
    with Lab(datastore=store) as lab:
        for trial in trials:
            assert trial["errors"] == [] and trial["end"] is None and trial["tick"] > 0, trial
            steps = lab.steps(trial["id"])
            assert steps["tick"].tolist() == list(range(trial["tick"] + 1))
        assert set(lab.trials(scope="all")["trial_id"]) >= {t["id"] for t in trials}
    assert code == 0 and "Traceback" not in err, err
