"""The lab of host A in ``test_two_hosts.py``: run in A's network namespace, it runs trials and
prints what the test checks (trial ids, errors, end details) as JSON; the records stay in its
datastore, which the test reads (the file system is shared, the network is not)."""

from __future__ import annotations

import argparse
import json

from cogment_jupyter import Lab, actors, envs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datastore")
    parser.add_argument("--env", help="grpc:// endpoint of the Duet environment served on host B")
    parser.add_argument("--pilot", help="grpc:// endpoint of our actor served on host B")
    parser.add_argument("--sdk", help="grpc:// endpoint of the official-SDK actor served on host B")
    parser.add_argument("--orchestrator", help="attach to this orchestrator (on host B) instead of our own")
    parser.add_argument("--host", default="127.0.0.1", help="where this lab serves (reachable from B when attached)")
    args = parser.parse_args()
    trials = []
    with Lab(datastore=args.datastore, orchestrator=args.orchestrator, host=args.host) as lab:
        if args.env:
            lab.serve_remote("duet", args.env)
            lab.serve_remote("pilot", args.pilot)
            lab.serve_remote("sdk", args.sdk)
            trials.append(lab.start_trial("duet", {"left": "pilot", "right": "sdk"}).wait(120))
        if args.orchestrator:
            lab.serve_env("cartpole", envs.Gymnasium("CartPole-v1"))
            lab.serve_actor("random", actors.Random())
            trials += [lab.start_trial("cartpole", "random", seed=seed) for seed in (1, 2)]
            trials = [handle.wait(120) for handle in trials]
        print(json.dumps([{"id": h.id, "errors": h.errors, "end": h.end_details, "tick": h.tick} for h in trials]))


if __name__ == "__main__":
    main()
