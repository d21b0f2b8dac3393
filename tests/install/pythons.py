"""Where the CPython versions the package supports are on this machine (pyenv, then PATH)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

#: the versions the package declares (classifiers) and the tests install on
SUPPORTED = ("3.11", "3.12", "3.13")


def find_python(minor: str) -> Path | None:
    """A CPython ``minor`` interpreter: ``~/.pyenv/versions/<minor>.*`` (newest), else ``python<minor>``."""
    versions = Path.home() / ".pyenv" / "versions"
    candidates = sorted(
        versions.glob(f"{minor}.*/bin/python{minor}"),
        key=lambda p: [int(part) if part.isdigit() else -1 for part in p.parts[-3].split(".")],
        reverse=True,
    )
    found = shutil.which(f"python{minor}")
    for candidate in [*candidates, *([Path(found)] if found else [])]:
        if _is_cpython(candidate, minor):
            return candidate
    return None


def _is_cpython(python: Path, minor: str) -> bool:
    try:
        out = subprocess.run(
            [str(python), "-c", "import platform, sys; print(platform.python_implementation(), sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except OSError:
        return False
    major, _, minor_number = minor.partition(".")
    return out.strip() == f"CPython ({major}, {minor_number})"


def missing(minor: str) -> str:
    return (
        f"CPython {minor} not found (looked in ~/.pyenv/versions/{minor}.* and for python{minor} on PATH): "
        f"install it (e.g. `pyenv install {minor}`) to run this test"
    )
