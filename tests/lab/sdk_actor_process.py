"""An official-SDK actor, session style, using our ``cog_settings``: served from its own process
(``serve`` from a test, or ``python -m tests.lab.sdk_actor_process``). It leans with observation[2]."""

from __future__ import annotations

import asyncio
import logging


def serve(port_queue) -> None:
    import cogment

    from cogment_jupyter.adapters import cog_settings, wire
    from cogment_jupyter.adapters.codec import codec_for
    from cogment_jupyter.adapters.payloads import decode_observation
    from cogment_jupyter.adapters.spaces import space_from_str

    logging.basicConfig(level=logging.WARNING)

    async def actor(session: cogment.ActorSession) -> None:
        observation_codec = codec_for(space_from_str(session.config.observation_space_json))
        action_codec = codec_for(space_from_str(session.config.action_space_json))
        session.start()
        async for event in session.all_events():
            if event.observation is not None and event.type == cogment.EventType.ACTIVE:
                observation = decode_observation(event.observation.observation, observation_codec)
                action = 1 if observation.value[2] > 0 else 0  # lean with the pole
                session.do_action(wire.Action(value=action_codec.encode(action)))

    async def main() -> None:
        context = cogment.Context(user_id="sdk", cog_settings=cog_settings, prometheus_registry=None)
        context.register_actor(actor, "sdk", ["player"])
        task = asyncio.create_task(context.serve_all_registered(cogment.ServedEndpoint(port=0)))
        while not context.served_port:
            await asyncio.sleep(0.01)
        port_queue.put(context.served_port)
        await task

    asyncio.run(main())


class _Announce:
    """``serve``'s port queue when run as a command: the port goes to stdout."""

    def put(self, port: int) -> None:
        print(f"Serving the SDK actor [sdk] at grpc://0.0.0.0:{port}", flush=True)


if __name__ == "__main__":  # python -m tests.lab.sdk_actor_process (another host's SDK actor)
    serve(_Announce())
