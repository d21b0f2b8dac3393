"""``%cogment``: launch, inspect and stop the lab from a notebook.

``%load_ext cogment_jupyter`` imports only this module: the lab (gRPC, Gymnasium, the
datastore) loads at ``%cogment launch``, so loading the extension costs a kernel nothing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

if TYPE_CHECKING:
    from cogment_jupyter.lab.lab import Lab

MODES = {
    "embedded": "orchestrator and datastore in this kernel",
    "attached": "attached to {orchestrator}",
    "shared": "sharing the Jupyter server's runtime at {orchestrator}",
}


def launch(
    datastore: str,
    orchestrator: str | None,
    datalog: str | None,
    embedded: bool,
    model_registry: str | None = None,
    directory: str | None = None,
    host: str | None = None,
    log_dir: str | None = None,
) -> Lab:
    """The lab ``%cogment launch`` makes: the Jupyter server's shared runtime when there is one
    (not when ``host`` asks this kernel's services to be reachable from other machines)."""
    from cogment_jupyter.lab.lab import Lab

    reason = None
    if orchestrator is None and datalog is None and not embedded and host is None:
        from cogment_jupyter.shared_runtime import probe_shared_runtime

        found = probe_shared_runtime()
        if found.runtime is not None:
            arguments = found.runtime.lab_arguments()
            return Lab(
                datastore=arguments["datastore"],
                shared=arguments["orchestrator"],
                shared_datalog=arguments["datalog"],
                model_registry=model_registry or arguments.get("model_registry"),
                directory=directory,
                log_dir=log_dir,
            )
        reason = found.reason
    lab = Lab(
        datastore=datastore,
        orchestrator=orchestrator,
        datalog=datalog,
        model_registry=model_registry,
        directory=directory,
        host=host,
        log_dir=log_dir,
    )
    lab.discovery_reason = reason
    return lab


def stop_current() -> bool:
    module = sys.modules.get("cogment_jupyter.lab.lab")
    if module is None:  # no lab was ever started in this process
        return False
    try:
        lab = module.Lab.current()
    except module.LabNotLaunched:
        return False
    lab.close()
    return True


@magics_class
class CogmentMagics(Magics):
    @magic_arguments()
    @argument("command", choices=["launch", "status", "stop"], help="what to do")
    @argument(
        "--datastore",
        default=".cogment",
        help="directory where trials are recorded (default: .cogment in the working directory)",
    )
    @argument(
        "--orchestrator",
        default=None,
        help="attach to this Cogment orchestrator (grpc://HOST:PORT) instead of starting one in the kernel",
    )
    @argument("--datalog", default=None, help="send trial data to this datalog (grpc://HOST:PORT) instead")
    @argument(
        "--model_registry",
        default=None,
        help="use this model registry (grpc://HOST:PORT) for lab.models, e.g. the class's",
    )
    @argument(
        "--directory",
        default=None,
        help="register what the lab serves in this directory (grpc://HOST:PORT) and resolve "
        "cogment://discover endpoints there (default: COGMENT_DIRECTORY_ENDPOINT)",
    )
    @argument(
        "--host",
        default=None,
        help="serve this kernel's environments, actors and datastore over TCP on this address (e.g. the "
        "address an orchestrator on another machine reaches; 0.0.0.0: every interface; 127.0.0.1: every "
        "user of this machine) instead of Unix sockets only you can reach",
    )
    @argument(
        "--log_dir",
        default=None,
        help="keep logs in this directory: lab.log for the lab, one <kind>-<name>.log per service in its own "
        "process (default: the kernel's output)",
    )
    @argument(
        "--embedded",
        action="store_true",
        help="run in this kernel even when the Jupyter server shares a Cogment runtime",
    )
    @line_magic
    def cogment(self, line: str) -> object:
        """Run Cogment in this kernel.

        %cogment launch   start an orchestrator and a datastore here, or use the Jupyter server's
                          shared runtime when it has one (--embedded: here anyway; --orchestrator:
                          attach to another orchestrator)
        %cogment status   mode, endpoints, services, running and recent trials
        %cogment stop     stop everything the lab started
        """
        args = parse_argstring(self.cogment, line)
        if args.command == "launch":
            self._launch(args)
            return None
        if args.command == "status":
            from cogment_jupyter.lab.lab import Lab

            return Lab.current().status()
        print("Cogment lab stopped." if stop_current() else "No Cogment lab is running.")
        return None

    def _launch(self, args: Any) -> None:
        from cogment_jupyter.access import describe

        stop_current()
        lab = launch(
            args.datastore,
            args.orchestrator,
            args.datalog,
            args.embedded,
            args.model_registry,
            args.directory,
            args.host,
            args.log_dir,
        )
        self.shell.user_ns["lab"] = lab
        where = MODES[lab.mode].format(orchestrator=describe(lab.orchestrator_endpoint))
        print(
            f"Cogment lab ready in {lab.launch_seconds:.2f} s ({where}); trials recorded in {lab.datastore_path}"
            " -> available as `lab` (and Lab.current())"
        )
