"""Back-to-back trials in a fresh process, its memory measured: ``python -m tests.lab.soak_child DIR TRIALS``.

Runs TRIALS random CartPole trials in batches (``run_trials``, 200 a batch, 16 at a time) and
after each batch prints one JSON line ``{"trials": n, "rss": bytes}``: the resident memory after
a garbage collection. A fresh process, so that nothing the test session did is measured.
"""

from __future__ import annotations

import gc
import json
import sys

import psutil

BATCH = 200


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
            print(json.dumps({"trials": done, "rss": process.memory_info().rss}), flush=True)


if __name__ == "__main__":
    main()
