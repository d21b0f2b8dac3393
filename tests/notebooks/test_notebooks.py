"""The classroom notebooks run top to bottom in a fresh kernel, and are committed without outputs.

Each notebook runs with nbclient in its own kernel, in a temporary working directory (so its
``.cogment/`` datastore and exports land there), with the scripted stand-in playing every widget
(``COGMENT_JUPYTER_HUMAN_STAND_IN``): the same client-actor path a person's keys take.
"""

from __future__ import annotations

import importlib.util
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
#: executed copies, with their outputs, for people to read (git-ignored)
EXECUTED = REPO / "test-artifacts" / "notebooks" / "executed"
#: seconds one cell may take (every cell is meant to take seconds; a stuck one fails the test)
CELL_TIMEOUT = 120
#: optional packages a notebook needs beyond the project's dependencies
NEEDS = {"06_analysing_trials": {"minari": 'the Minari export needs minari: pip install "minari[arrow]"'}}


def committed_notebooks() -> list[Path]:
    """The notebooks git knows (every ``*.ipynb`` in ``notebooks/`` outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--", "notebooks/*.ipynb"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    paths = [REPO / p for p in out] or sorted(NOTEBOOKS.glob("*.ipynb"))
    return sorted(p for p in paths if p.exists())


def all_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif output.get("output_type") == "error":
                parts.append("\n".join(output.get("traceback", [])))
    return "\n".join(parts)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    for module, why in NEEDS.get(path.stem, {}).items():
        if importlib.util.find_spec(module) is None:
            pytest.skip(why)
    monkeypatch.setenv("COGMENT_JUPYTER_HUMAN_STAND_IN", "random:8")
    monkeypatch.setenv("COGMENT_JUPYTER_NO_SHARED", "1")  # the kernel's own runtime, whatever runs nearby
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    started = time.perf_counter()
    try:
        client.execute()  # raises CellExecutionError on the first failing cell
    finally:
        EXECUTED.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, EXECUTED / path.name)
    seconds = time.perf_counter() - started
    text = _outputs_text(nb)
    assert "Traceback" not in text, f"{path.name} printed a traceback:\n{text[-3000:]}"
    print(f"{path.name}: {seconds:.1f} s")


@pytest.mark.parametrize("path", committed_notebooks(), ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs_and_a_python3_kernel(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: kernelspec is not python3"
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs; strip them: "
        f"uv run jupyter nbconvert --clear-output --inplace {path.relative_to(REPO)}"
    )


def test_the_classroom_notebooks_are_all_there() -> None:
    names = [p.name for p in all_notebooks()]
    for number in range(1, 8):
        assert any(n.startswith(f"{number:02d}_") for n in names), f"notebook {number:02d}_* is missing"
    readme = (NOTEBOOKS / "README.md").read_text()
    for name in names:
        assert name in readme, f"notebooks/README.md does not mention {name}"
