"""Back-to-back trials in a fresh process, its memory measured: ``python -m tests.lab.soak_child DIR TRIALS``.

Runs TRIALS random CartPole trials in batches (``run_trials``, 200 a batch, 16 at a time) and
after each batch prints one JSON line ``{"trials": n, "rss": bytes}``: the resident memory after
a garbage collection and with the allocator's free memory given back to the system (glibc's
``malloc_trim``): RSS then follows what is live, not the high-water mark of the largest batch,
which a loaded machine makes larger now and then. A fresh process, so that nothing the test session did is measured.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import sys

import psutil

BATCH = 200


def release_free_memory() -> None:
    """Give freed heap memory back to the system where the C library can (glibc); else nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def main() -> None:
    from cogment_jupyter import Lab, actors, envs

    directory, total = sys.argv[1], int(sys.argv[2])
    process = psutil.Process()
    with Lab(datastore=directory) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
        lab.serve_actor("random", actors.Random())
        done = 0
        while done < total:
            handles = lab.run_trials(min(BATCH, total - done), "cartpole", "random", progress=False, concurrency=16)
            assert all(not handle.errors for handle in handles), handles[0].errors
            done += len(handles)
            del handles
            gc.collect()
            release_free_memory()
            print(json.dumps({"trials": done, "rss": process.memory_info().rss}), flush=True)


if __name__ == "__main__":
    main()
