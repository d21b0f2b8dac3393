"""Cogment Lab 0.1.5's own environments and actors, served as Lab serves them (its SDK
context, its ``cog_settings``, the ``player`` actor class), for the interop tests.

Run by the Python 3.10 interpreter of the venv that has ``cogment_lab`` installed (it cannot be
installed beside this package): ``python serve_lab.py '<spec>'`` prints ``PORT <n>`` once every
service listens on 127.0.0.1, then serves until stdin closes. The spec is JSON::

    {"envs": {"cartpole": {"gym": "CartPole-v1", "render": true},
              "rps": {"aec": "pettingzoo.classic.rps_v2.env"}},
     "actors": {"lean": {"lean": true}, "random": {"random": "CartPole-v1"}, "zero": {"constant": 0}}}
"""

from __future__ import annotations

import asyncio
import json
import sys


def main(spec: dict) -> None:
    import cogment.context

    def loopback_server(served_endpoint):  # the SDK binds [::]; tests stay on 127.0.0.1
        import grpc

        server = grpc.aio.server()
        return server, server.add_insecure_port(f"127.0.0.1:{served_endpoint.port}")

    cogment.context._make_server = loopback_server
    asyncio.run(serve(spec))


async def serve(spec: dict) -> None:
    import cogment
    import gymnasium as gym
    from cogment_lab.actors import ConstantActor, RandomActor
    from cogment_lab.core import CogmentActor
    from cogment_lab.envs import AECEnvironment, GymEnvironment, ParallelEnvironment
    from cogment_lab.generated import cog_settings

    class Lean(CogmentActor):
        """CartPole: push toward the pole's lean (observation[2])."""

        async def act(self, observation, rendered_frame=None):
            return int(observation[2] > 0)

    context = cogment.Context(cog_settings=cog_settings, user_id="cogment_lab")
    for name, env_spec in spec.get("envs", {}).items():
        if "gym" in env_spec:
            env = GymEnvironment(env_spec["gym"], render=env_spec.get("render", False))
        elif "aec" in env_spec:
            env = AECEnvironment(env_spec["aec"], render=env_spec.get("render", False))
        else:
            env = ParallelEnvironment(env_spec["parallel"], render=env_spec.get("render", False))
        context.register_environment(impl=env.impl, impl_name=name)
    for name, actor_spec in spec.get("actors", {}).items():
        if "lean" in actor_spec:
            actor = Lean()
        elif "random" in actor_spec:
            actor = RandomActor(gym.make(actor_spec["random"]).action_space)
        else:
            actor = ConstantActor(actor_spec["constant"])
        context.register_actor(impl=actor.impl, impl_name=name, actor_classes=["player"])

    task = asyncio.create_task(context.serve_all_registered(cogment.ServedEndpoint(port=0)))
    while not context.served_port:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    print(f"PORT {context.served_port}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes
    task.cancel()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
