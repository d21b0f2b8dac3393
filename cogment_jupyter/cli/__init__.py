"""``cogment-jupyter``: run the project's Cogment services from a terminal.

``cogment-jupyter services orchestrator`` and ``cogment-jupyter services trial_datastore``
take the upstream ``cogment services …`` flags, so tooling that launches the upstream
binaries can launch these instead. ``python -m cogment_jupyter`` is the same command.

This package holds the composition roots: every command that wires services together
(``orchestrator``, ``trial_datastore``, ``runtime``, ``directory``, ``model_registry``,
``serve``; ``services`` holds what they share). They sit above every layer.

Only the module of the service being run is imported (its flags included): the orchestrator
does not pay for the datastore's Arrow and pandas, and answers sooner.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cogment_jupyter import __version__

#: service name -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, help)
SERVICES = {
    "orchestrator": ("cogment_jupyter.cli.orchestrator", "run the orchestrator"),
    "trial_datastore": ("cogment_jupyter.cli.trial_datastore", "run the trial datastore"),
    "runtime": (
        "cogment_jupyter.cli.runtime",
        "run an orchestrator, a datastore and a model registry together",
    ),
    "directory": ("cogment_jupyter.cli.directory", "run the directory"),
    "model_registry": ("cogment_jupyter.cli.model_registry", "run the model registry"),
    "registry": ("cogment_jupyter.cli.model_registry", "run the model registry (upstream's alias)"),
}
#: commands of our own (not upstream services), same shape
COMMANDS = {
    "serve": ("cogment_jupyter.cli.serve", "serve one environment or actor for labs on this or other machines"),
}


def _requested(argv: Sequence[str]) -> str | None:
    """The service named on the command line (``services NAME`` or the alias ``NAME``)."""
    words = [word for word in argv if not word.startswith("-")]
    if words[:1] == ["services"]:
        words = words[1:]
    return words[0] if words and (words[0] in SERVICES or words[0] in COMMANDS) else None


def build_parser(service: str | None = None) -> argparse.ArgumentParser:
    """The command line; only ``service``'s flags are loaded (the others are listed by name)."""
    parser = argparse.ArgumentParser(prog="cogment-jupyter", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cogment-jupyter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    services = commands.add_parser("services", help="run a Cogment service").add_subparsers(
        dest="service", required=True, metavar="SERVICE"
    )
    groups = [(name, entry, (services, commands)) for name, entry in SERVICES.items()]  # and the alias `NAME`
    groups += [(name, entry, (commands,)) for name, entry in COMMANDS.items()]
    for name, (module_name, help_text), parents in groups:
        for group in parents:
            if name != service:
                group.add_parser(name, help=help_text)
                continue
            module = importlib.import_module(module_name)
            sub = group.add_parser(
                name,
                help=help_text,
                description=getattr(module, "DESCRIPTION", None),
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_requested(arguments)).parse_args(arguments)
    return args.run(args)
