"""Probing an endpoint as its owner and as another user of the machine (``nobody``)."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]


def other_user() -> tuple[int, int]:
    """``nobody``'s uid and gid; skips the test where this process cannot switch users."""
    if os.geteuid() != 0:
        pytest.skip("probing as another user needs root (to switch to `nobody`); run the tests as root to check it")
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no `nobody` user on this machine to probe as")
    return entry.pw_uid, entry.pw_gid


def probe(endpoints: list[str], user: tuple[int, int] | None = None) -> dict[str, dict[str, str]]:
    """What a process (of ``user``, else of this one's) gets when it connects to each endpoint."""
    command = [sys.executable, "-m", "tests.access_probe"]
    if user is not None:
        command += ["--as", str(user[0]), str(user[1])]
    done = subprocess.run([*command, *endpoints], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply["uid"] == (os.getuid() if user is None else user[0])
    return reply["results"]


def assert_only_owner_reaches(endpoints: list[str]) -> None:
    """The owner connects to every endpoint; ``nobody`` is refused by the file system at each."""
    for endpoint, reached in probe(endpoints).items():
        assert reached == {"socket": "connected", "grpc": "ready"}, (endpoint, reached)
    for endpoint, reached in probe(endpoints, other_user()).items():
        assert reached["socket"] == "Permission denied" and reached["grpc"] != "ready", (endpoint, reached)


def tcp_listeners(pid: int) -> list[str]:
    """The TCP ports a process and its children listen on."""
    root = psutil.Process(pid)
    out = []
    for process in [root, *root.children(recursive=True)]:
        try:
            connections = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        out += [f"{c.laddr.ip}:{c.laddr.port} (pid {process.pid})" for c in connections if c.status == "LISTEN"]
    return out
