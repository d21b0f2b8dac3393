"""``cogment-jupyter``: run the project's Cogment services from a terminal.

``cogment-jupyter services orchestrator`` and ``cogment-jupyter services trial_datastore``
take the upstream ``cogment services …`` flags, so tooling that launches the upstream
binaries can launch these instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: service name -> module with ``add_arguments(parser)`` and ``run(args) -> int``
SERVICES = {
    "orchestrator": "cogment_jupyter.transport.orchestrator_cli",
    "trial_datastore": "cogment_jupyter.datastore.cli",
    "runtime": "cogment_jupyter.transport.runtime_cli",
    "directory": "cogment_jupyter.directory.cli",
    "model_registry": "cogment_jupyter.model_registry.cli",
    "registry": "cogment_jupyter.model_registry.cli",  # upstream's alias
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cogment-jupyter", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    services = commands.add_parser("services", help="run a Cogment service").add_subparsers(
        dest="service", required=True, metavar="SERVICE"
    )
    for name, module_name in SERVICES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:  # a service whose module is not built yet
            if error.name != module_name:
                raise
            continue
        for group in (services, commands):  # `services orchestrator` and the alias `orchestrator`
            sub = group.add_parser(name, help=f"run the {name.replace('_', ' ')}")
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
