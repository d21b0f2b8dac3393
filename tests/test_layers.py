"""Imports point down the layers, and no module uses another module's underscore names.

The layers, top first (the README's Layout draws the same map). A module may import its
own package and any package of a layer below its own, never one above, nor another package
of its own layer (but the composition roots at the top use one another). Every import
counts: at the top of a module, inside a function, or for typing only. The walk reads the
source (``ast``), so it sees imports no test run reaches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cogment_jupyter"

#: top first; each entry names packages or single modules of ``cogment_jupyter``
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("the package and its commands (composition roots)", ("", "__main__", "cli")),
    ("the notebook's entry point and the Jupyter server extension", ("magics", "server")),
    ("the user API", ("lab", "envs", "actors")),
    ("widgets: front ends that never import lab", ("notebook",)),
    ("finding the shared runtime (kernels, server and runtime command)", ("shared_runtime",)),
    ("transport: in-process and gRPC components, the orchestrator's servers", ("transport",)),
    ("adapters: Gymnasium, PettingZoo, built-in actors, value codecs", ("adapters",)),
    ("services: trial datastore, model registry, directory", ("datastore", "model_registry", "directory")),
    ("who may reach an endpoint", ("access",)),
    ("engine: trials and their tick rules", ("engine",)),
    ("gRPC channels, the official SDK's import, generated protobuf", ("channels", "official_sdk", "proto")),
]

#: names a framework asks for by convention (Jupyter's extension hooks)
FRAMEWORK_NAMES = ("_jupyter_server_extension_points", "_jupyter_labextension_paths")


@dataclass(frozen=True)
class Import:
    module: str  # dotted, without the leading "cogment_jupyter"
    target: str  # likewise
    names: tuple[str, ...]
    line: int


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_imports(path: Path, package: Path) -> list[Import]:
    """Every import of a ``cogment_jupyter`` module in a file, relative ones resolved."""
    name = module_name(path, package)
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "":
        here = []
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module == "cogment_jupyter" or (node.module or "").startswith("cogment_jupyter."):
                target = node.module.removeprefix("cogment_jupyter").lstrip(".")
            else:
                continue
            names = tuple(alias.name for alias in node.names)
            folder = package.joinpath(*target.split(".")) if target else package
            modules = [n for n in names if (folder / f"{n}.py").is_file() or (folder / n / "__init__.py").is_file()]
            for module in modules:  # ``from package import module``: the module is what is imported
                found.append(Import(name, f"{target}.{module}".lstrip("."), (), node.lineno))
            if len(modules) < len(names):
                found.append(Import(name, target, tuple(n for n in names if n not in modules), node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("cogment_jupyter."):
                    target = alias.name.removeprefix("cogment_jupyter.")
                    found.append(Import(name, target, (), node.lineno))
    return found


def layer_of(module: str) -> tuple[int, str]:
    """The layer index (0 = top) and the package (or module) that places ``module`` there."""
    head = module.split(".")[0] if module else ""
    for index, (_, members) in enumerate(LAYERS):
        if head in members:
            return index, head
    raise AssertionError(f"cogment_jupyter.{module} belongs to no layer: add it to LAYERS in {__file__}")


def problems(package: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        if "proto" in path.relative_to(package).parts[:1]:
            continue  # generated code
        for imp in package_imports(path, package):
            where = f"{path.relative_to(package.parent)}:{imp.line}"
            private = [n for n in imp.names if n.startswith("_") and not n.startswith("__")]
            private = [n for n in private if n not in FRAMEWORK_NAMES]
            if private and imp.target != imp.module:
                out.append(f"{where}: uses {', '.join(private)}, private to cogment_jupyter.{imp.target}")
            if imp.target == "" and set(imp.names) <= {"__version__"}:
                continue  # the version is written once, in the package's __init__, which imports nothing
            (mine, my_package), (theirs, their_package) = layer_of(imp.module), layer_of(imp.target)
            if theirs < mine or (theirs == mine and their_package != my_package and mine > 0):
                out.append(
                    f"{where}: cogment_jupyter.{imp.module} ({LAYERS[mine][0]}) imports "
                    f"cogment_jupyter.{imp.target} ({LAYERS[theirs][0]})"
                )
    return out


def test_imports_point_down_the_layers() -> None:
    found = problems()
    print(f"{len(list(PACKAGE.rglob('*.py')))} modules walked; {len(found)} imports against the layers")
    for line in found:
        print(" ", line)
    assert not found, "imports against the layers:\n" + "\n".join(found)


def test_the_walk_sees_an_upward_import_and_a_private_name(tmp_path: Path) -> None:
    """The check can fail: a made-up package whose engine imports lab, and whose widgets use
    a private name of the transport, lazily inside a function."""
    package = tmp_path / "cogment_jupyter"
    for folder in ("engine", "notebook", "lab"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "engine" / "trial.py").write_text("from cogment_jupyter.lab.lab import Lab\n")
    (package / "notebook" / "play.py").write_text("def f():\n    from ..transport.http2 import _Frame\n")
    (package / "lab" / "lab.py").write_text("from cogment_jupyter.engine import trial\nfrom . import handles\n")
    found = problems(package)
    assert len(found) == 2, found
    assert "cogment_jupyter/engine/trial.py:1: cogment_jupyter.engine.trial (engine" in found[0]
    assert "imports cogment_jupyter.lab.lab (the user API)" in found[0]
    assert found[1] == "cogment_jupyter/notebook/play.py:2: uses _Frame, private to cogment_jupyter.transport.http2"
