"""One gRPC channel per address, shared by every stub (``cogment-protocol.md`` §1.2)."""

from __future__ import annotations

import grpc

#: Keep streams alive across idle humans and long ticks; same limits as the SDK would accept.
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


class ChannelPool:
    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}

    def get(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        return channel

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close(grace=None)


async def until_ready(channel: grpc.aio.Channel, timeout: float) -> bool:
    """Whether ``channel`` connects within ``timeout`` seconds. A channel whose peer restarted waits
    in a reconnection backoff and fails calls at once meanwhile: this reconnects it now."""
    import asyncio

    try:
        await asyncio.wait_for(channel.channel_ready(), timeout)
    except TimeoutError:
        return False
    return True
