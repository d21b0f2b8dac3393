"""Every test checks something: a test that asserts nothing cannot fail, and passes for nothing.

A test function (``test_*`` in ``tests/**/test_*.py``) must hold an ``assert``, a
``pytest.raises`` / ``pytest.warns`` block, or a call to an ``assert...`` helper (numpy's
``assert_array_equal``, the suite's own ``assert_row``). The walk reads the source (``ast``).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def checks_something(test: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name in ("raises", "warns") or name.startswith("assert"):
                return True
    return False


def find_tests_asserting_nothing(folder: Path = TESTS) -> list[str]:
    found = []
    for path in sorted(folder.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            is_test = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
            if is_test and not checks_something(node):
                found.append(f"{path.relative_to(folder.parent)}:{node.lineno} {node.name}")
    return found


def test_every_test_asserts_something() -> None:
    found = find_tests_asserting_nothing()
    assert not found, "tests that assert nothing (give them an assertion or remove them):\n" + "\n".join(found)


def test_the_walk_finds_a_test_that_asserts_nothing(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_made_up.py").write_text(
        "def test_runs_only():\n    len([1])\n\n"
        "def test_asserts():\n    assert len([1]) == 1\n\n"
        "async def test_raises(pytest):\n    with pytest.raises(ValueError):\n        int('x')\n"
    )
    assert find_tests_asserting_nothing(tmp_path / "tests") == ["tests/test_made_up.py:1 test_runs_only"]
