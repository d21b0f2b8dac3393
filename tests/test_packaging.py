"""The command line, the version and what starting up imports (the install tests check the wheel)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import cogment_jupyter

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("cogment-jupyter")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_one_version_everywhere():
    assert version("cogment-jupyter") == cogment_jupyter.__version__
    from cogment_jupyter.datastore import __version__ as datastore_version
    from cogment_jupyter.engine.service_status import version_info

    assert datastore_version == cogment_jupyter.__version__
    assert {v.name: v.version for v in version_info().versions}["cogment_jupyter"] == cogment_jupyter.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {cogment_jupyter.__version__}" in changelog, "CHANGELOG.md has no section for this version"


def test_version_and_help_from_the_script_and_python_m():
    for command in ([str(SCRIPT)], [sys.executable, "-m", "cogment_jupyter"]):
        shown = _run(*command, "--version")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.strip() == f"cogment-jupyter {cogment_jupyter.__version__}"
        helped = _run(*command, "services", "--help")
        assert helped.returncode == 0, helped.stderr
        for service in ("orchestrator", "trial_datastore", "runtime"):
            assert service in helped.stdout
    flags = _run(sys.executable, "-m", "cogment_jupyter", "services", "orchestrator", "--help")
    assert "--lifecycle_port" in flags.stdout and "--status_file" in flags.stdout
    wrong = _run(sys.executable, "-m", "cogment_jupyter", "services", "orchestra")
    assert wrong.returncode == 2 and "invalid choice: 'orchestra'" in wrong.stderr


IMPORTED = """
import sys
{code}
heavy = ("pandas", "pyarrow", "cogment_jupyter.lab.lab", "cogment_jupyter.datastore.store", "gymnasium", "cogment")
print(",".join(m for m in heavy if m in sys.modules))
"""


def _loaded_by(code: str) -> set[str]:
    result = _run(sys.executable, "-c", IMPORTED.format(code=code))
    assert result.returncode == 0, result.stderr
    return set(filter(None, result.stdout.strip().split(",")))


def test_load_ext_imports_nothing_heavy():
    """``%load_ext cogment_jupyter`` registers the magic; the lab loads at ``%cogment launch``."""
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'cogment_jupyter')\n"
        "assert 'cogment' in shell.magics_manager.magics['line']\n"
    )
    assert _loaded_by(code) == set()


def test_the_orchestrator_command_loads_only_the_orchestrator():
    code = "from cogment_jupyter.cli import build_parser\nbuild_parser('orchestrator')\n"
    assert _loaded_by(code) == set()


def test_a_lab_without_a_datastore_loads_neither_arrow_nor_pandas():
    code = "from cogment_jupyter import Lab\nlab = Lab(datastore=None)\nlab.close()\n"
    loaded = _loaded_by(code)
    assert "cogment_jupyter.lab.lab" in loaded and not loaded & {"pandas", "pyarrow", "cogment_jupyter.datastore.store"}


def test_a_recording_lab_builds_frames_only_when_asked(tmp_path):
    code = (
        "from cogment_jupyter import Lab, envs\n"
        f"lab = Lab(datastore={str(tmp_path / 'store')!r})\n"
        "lab.serve_env('cartpole', envs.Gymnasium('CartPole-v1'))\n"
        "lab.serve_actor('left', lambda observation: 0)\n"
        "trial = lab.start_trial('cartpole', 'left').wait(60)\n"
        "assert 'cogment_jupyter.datastore.dataframes' not in sys.modules\n"
        "assert len(lab.steps(trial.id)) > 0 and 'cogment_jupyter.datastore.dataframes' in sys.modules\n"
        "lab.close()\n"
    )
    assert "cogment_jupyter.datastore.store" in _loaded_by(code)


MISSING = """
import sys
sys.modules[{module!r}] = None  # as if it were not installed
try:
{call}
except ImportError as error:
    print("ERROR", error)
"""


def _error_without(module: str, call: str) -> str:
    code = MISSING.format(module=module, call="\n".join("    " + line for line in call.splitlines()))
    result = _run(sys.executable, "-c", code)
    assert result.returncode == 0 and result.stdout.startswith("ERROR "), result.stdout + result.stderr
    return result.stdout


def test_optional_pieces_say_how_to_install_them(tmp_path):
    """What [notebooks] brings, and torch, fail with the pip line that brings them."""
    pettingzoo = _error_without("pettingzoo", "from cogment_jupyter import envs\nenvs.PettingZooParallel('x/y-v0')")
    assert 'pip install pettingzoo (or "cogment-jupyter[notebooks]")' in pettingzoo
    for module in ("minari", "PIL"):
        call = (
            f"from cogment_jupyter.lab.minari_export import load_minari\nload_minari('a/b-v0', root={str(tmp_path)!r})"
        )
        assert 'pip install "cogment-jupyter[notebooks]"' in _error_without(module, call)
    torch = _error_without(
        "torch",
        "import gymnasium as gym\n"
        "from cogment_jupyter import actors\n"
        "from cogment_jupyter.adapters.base import AgentSpec, TrialContext\n"
        "space = gym.spaces.Discrete(2)\n"
        "actors.Torch(lambda x: x).reset('a', AgentSpec(space, space), TrialContext('t', 1, {}, False))",
    )
    assert "pip install torch" in torch
