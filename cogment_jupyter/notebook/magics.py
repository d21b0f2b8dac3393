"""``%cogment``: launch, inspect and stop the lab from a notebook."""

from __future__ import annotations

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from cogment_jupyter.lab.lab import Lab, LabNotLaunched


def stop_current() -> bool:
    try:
        lab = Lab.current()
    except LabNotLaunched:
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
    @line_magic
    def cogment(self, line: str) -> object:
        """Run Cogment in this kernel.

        %cogment launch   start an orchestrator and a datastore here (or attach with --orchestrator)
        %cogment status   endpoints, services, running and recent trials
        %cogment stop     stop everything the lab started
        """
        args = parse_argstring(self.cogment, line)
        if args.command == "launch":
            return self._launch(args.datastore, args.orchestrator, args.datalog)
        if args.command == "status":
            return Lab.current().status()
        if not stop_current():
            print("No Cogment lab is running.")
        else:
            print("Cogment lab stopped.")
        return None

    def _launch(self, datastore: str, orchestrator: str | None, datalog: str | None) -> Lab:
        stop_current()
        lab = Lab(datastore=datastore, orchestrator=orchestrator, datalog=datalog)
        self.shell.user_ns.setdefault("lab", lab)
        if self.shell.user_ns.get("lab") is not lab:
            self.shell.user_ns["lab"] = lab
        print(
            f"Cogment lab ready in {lab.launch_seconds:.2f} s: orchestrator {lab.orchestrator_endpoint}, "
            f"datastore {lab.datastore_path} -> available as `lab` (and Lab.current())"
        )
        return None
