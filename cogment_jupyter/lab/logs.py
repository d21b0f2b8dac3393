"""Where a lab's logs go with ``Lab(log_dir=...)``: one file per service, as Cogment Lab keeps them.

``lab.log`` holds the lab's own records (orchestrator, datastore, in-kernel components) from
``INFO`` up; each service served in its own process (``process=True``) writes everything it
prints and logs, errors included, to ``<kind>-<name>.log`` (``environment-cartpole.log``).
Without ``log_dir`` nothing changes: a service process writes to the kernel's own output.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

__all__ = ["LAB_LOG", "LabLogs", "log_to_file"]

#: The lab's own log, in the log directory.
LAB_LOG = "lab.log"
#: The logger every module of the package logs under.
PACKAGE_LOGGER = "cogment_jupyter"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LabLogs:
    """A lab's log directory: its own log file while it runs, and the file of each service."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser().resolve()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"log_dir {str(directory)!r} cannot be created: {error.strerror}") from None
        self._handler: logging.Handler | None = None
        self._level_before: int | None = None

    @property
    def lab_file(self) -> Path:
        return self.directory / LAB_LOG

    def service_file(self, kind: str, name: str) -> Path:
        """``<kind>-<name>.log``, the name made safe for a file name."""
        return self.directory / f"{kind}-{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.log"

    def start(self) -> None:
        """Write the package's records, ``INFO`` and up, to :attr:`lab_file`."""
        handler = logging.FileHandler(self.lab_file, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(FORMAT))
        logger = logging.getLogger(PACKAGE_LOGGER)
        if logger.getEffectiveLevel() > logging.INFO:
            self._level_before = logger.level
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        self._handler = handler

    def stop(self) -> None:
        handler, self._handler = self._handler, None
        if handler is None:
            return
        logger = logging.getLogger(PACKAGE_LOGGER)
        logger.removeHandler(handler)
        if self._level_before is not None:
            logger.setLevel(self._level_before)
            self._level_before = None
        handler.close()


def log_to_file(path: str | os.PathLike[str], prefix: str) -> None:
    """In a service's own process: everything it prints or logs goes to ``path`` (appended),
    down to the file descriptors, so output of native code and of crashes lands there too."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    for stream in (sys.stdout, sys.stderr):  # each line in the file as it is written
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {prefix} %(levelname)s %(name)s: %(message)s")
