"""Only its owner reaches a lab: every endpoint of an embedded lab (its orchestrator and
services, its datastore, its ``process=True`` services) is a Unix socket another user of the
machine cannot connect to, and the lab opens no TCP port unless asked (``host=``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cogment
import pytest

from tests.access import ROOT, assert_only_owner_reaches, other_user, probe, tcp_listeners


@contextmanager
def lab_process(store: Path, host: str | None = None) -> Iterator[dict[str, Any]]:
    command = [sys.executable, "-m", "tests.lab.lab_host", str(store), *([host] if host else [])]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line, f"the lab process exited with {process.wait(30)}"
        yield json.loads(line)
    finally:
        process.stdin.close()
        process.wait(60)


def test_an_embedded_lab_is_reachable_by_its_owner_only(tmp_path: Path) -> None:
    other_user()  # (skips where this cannot be checked)
    with lab_process(tmp_path / "store") as lab:
        assert tcp_listeners(lab["pid"]) == []
        endpoints = list(lab["endpoints"].values())
        assert all(endpoint.startswith("grpc://unix:") for endpoint in endpoints), endpoints
        assert_only_owner_reaches(endpoints)


async def test_the_official_sdk_dials_a_private_lab(tmp_path: Path) -> None:
    with lab_process(tmp_path / "store") as lab:
        context = cogment.Context(user_id="tests", cog_settings=None)
        controller = context.get_controller(cogment.Endpoint(lab["endpoints"]["lab"]))
        versions = await controller.get_remote_versions()
        assert versions["cogment"].startswith("2.")
        datastore = context.get_datastore(cogment.Endpoint(lab["endpoints"]["datastore"]))
        trials = await datastore.get_trials([lab["trial"]])
        assert [t.trial_id for t in trials] == [lab["trial"]] and trials[0].trial_state == cogment.TrialState.ENDED


def test_tcp_only_when_asked(tmp_path: Path) -> None:
    """``host=`` serves over TCP, which every user can reach: the probe sees it (it is not blind)."""
    stranger = other_user()
    with lab_process(tmp_path / "store", "127.0.0.1") as lab:
        assert tcp_listeners(lab["pid"])
        endpoints = list(lab["endpoints"].values())
        assert all(endpoint.startswith("grpc://127.0.0.1:") for endpoint in endpoints), endpoints
        for endpoint, reached in probe(endpoints, stranger).items():
            assert reached == {"socket": "connected", "grpc": "ready"}, (endpoint, reached)


@pytest.mark.parametrize("orchestrator", ["grpc://127.0.0.1:9000", "grpc://unix:%2Ftmp%2Fx.sock", None])
def test_a_lab_is_called_back_over_tcp_only_by_an_orchestrator_it_reaches_over_tcp(orchestrator) -> None:
    from cogment_jupyter.access import Reach

    reach = Reach.to_call_back(orchestrator, None)
    assert reach.private == (orchestrator is None or "unix" in orchestrator)
    assert Reach.to_call_back(orchestrator, "0.0.0.0").host == "0.0.0.0"
