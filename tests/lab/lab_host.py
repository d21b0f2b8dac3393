"""A lab in a process of its own, for probing from outside: ``python -m tests.lab.lab_host DIR [HOST]``.

Serves CartPole in a child process (``process=True``) and a random actor in another, runs one
trial through them, starts its model registry (``lab.models``), prints ``{"pid", "endpoints",
"trial"}`` as one JSON line, and stops when its standard input closes.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    from cogment_jupyter import Lab, actors, envs

    host = sys.argv[2] if len(sys.argv) > 2 else None
    with Lab(datastore=sys.argv[1], host=host) as lab:
        lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"), process=True)
        lab.serve_actor("random", actors.Random(), process=True)
        handle = lab.start_trial("cartpole", "random").wait(60)
        assert handle.errors == [], handle.errors
        endpoints = {"lab": lab.endpoint, "datastore": lab.datastore_endpoint}
        endpoints.update({name: lab.endpoint_of(name) for name in ("cartpole", "random")})
        endpoints["model_registry"] = lab.models.endpoint
        print(json.dumps({"pid": os.getpid(), "endpoints": endpoints, "trial": handle.id}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
