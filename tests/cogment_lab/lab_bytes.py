"""Run by Cogment Lab's Python: Lab's own bytes for the spaces and values of ``CASES`` (JSON on stdout).

Each case is ``[name, space constructor text, a value of it]``; the space is built with ``eval``
over ``gymnasium.spaces`` (in both interpreters, from the same text).
"""

from __future__ import annotations

import json
import sys


def main(cases: list) -> None:
    import gymnasium as gym
    import numpy as np
    from cogment_lab.specs import AgentSpecs
    from cogment_lab.specs.action_space import ActionSpace
    from cogment_lab.specs.observation_space import ObservationSpace
    from gymnasium.spaces import Box, Dict, Discrete, MultiBinary, MultiDiscrete, Text  # noqa: F401

    out = {}
    for name, text, value in cases:
        space = eval(text, {"np": np, **vars(gym.spaces)})
        if isinstance(value, list) and not isinstance(space, Dict):
            value = np.asarray(value, dtype=space.dtype)
        elif isinstance(space, Dict):
            value = {k: np.asarray(v, dtype=space[k].dtype) if isinstance(v, list) else v for k, v in value.items()}
        specs = AgentSpecs.create_homogeneous(space, space).serialize()
        action = ActionSpace(space).create_serialize(value)
        observation = ObservationSpace(space).create_serialize(value=value, active=True, alive=False)
        out[name] = {
            "specs": specs.SerializeToString().hex(),
            "action": action.SerializeToString().hex(),
            "observation": observation.SerializeToString().hex(),
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
