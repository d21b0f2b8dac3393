"""Real file systems for fault tests: a small tmpfs, a read-only bind mount.

Mounting needs root (or CAP_SYS_ADMIN); where the machine does not allow it the test is
skipped with a message saying so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(*arguments: str) -> None:
    try:
        done = subprocess.run(["mount", *arguments], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no `mount` command on this machine: cannot make the file system this test needs")
    if done.returncode != 0:
        pytest.skip(f"mounting is not allowed here (mount {' '.join(arguments)}: {done.stderr.strip()})")


def _unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "5m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        _unmount(path)


@contextlib.contextmanager
def read_only_view(source: Path, path: Path) -> Iterator[Path]:
    """``source`` seen read-only at ``path`` (a bind mount remounted ``ro``)."""
    path.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(source), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield path
    finally:
        _unmount(path)


def fill(directory: Path, block: int = 64 * 1024) -> Path:
    """Write a file in ``directory`` until its file system is full; returns the file."""
    filler = directory / "filler"
    data = b"\xff" * block
    with open(filler, "wb", buffering=0) as stream:
        while block:
            try:
                stream.write(data[:block])
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                block //= 2
    os.sync()
    return filler
