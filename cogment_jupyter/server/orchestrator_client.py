"""The server's gRPC client of the runtime's orchestrator (``TrialLifecycleSP``).

The server asks the orchestrator, never the engine: it only knows the runtime as a Cogment
endpoint, exactly as a kernel or an SDK client does.
"""

from __future__ import annotations

from typing import Any

import grpc

from cogment_jupyter.access import target
from cogment_jupyter.engine.records import TrialState
from cogment_jupyter.proto import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

#: seconds per call; the orchestrator is on loopback and answers these at once
CALL_TIMEOUT = 5.0


class OrchestratorClient:
    """One channel to one orchestrator endpoint (``grpc://host:port``)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._channel = grpc.aio.insecure_channel(target(endpoint))
        self._stub = orchestrator_pb2_grpc.TrialLifecycleSPStub(self._channel)

    async def version(self, timeout: float = CALL_TIMEOUT) -> dict[str, str]:
        reply = await self._stub.Version(common_pb2.VersionRequest(), timeout=timeout)
        return {v.name: v.version for v in reply.versions}

    async def trial_info(self, trial_id: str) -> dict[str, Any] | None:
        """What the orchestrator knows of a trial it runs (or ran recently); None when it does not."""
        reply = await self._stub.GetTrialInfo(
            orchestrator_pb2.TrialInfoRequest(get_actor_list=False),
            metadata=(("trial-id", trial_id),),
            timeout=CALL_TIMEOUT,
        )
        for info in reply.trial:
            if info.trial_id == trial_id:
                return {
                    "state": _state_name(info.state),
                    "tick_id": info.tick_id,
                    "duration": info.trial_duration / 1e9,
                    "env_name": info.env_name,
                    "properties": dict(info.properties),
                }
        return None

    async def terminate(self, trial_id: str, *, hard: bool) -> None:
        await self._stub.TerminateTrial(
            orchestrator_pb2.TerminateTrialRequest(hard_termination=hard),
            metadata=(("trial-id", trial_id),),
            timeout=CALL_TIMEOUT,
        )

    async def close(self) -> None:
        await self._channel.close()


def _state_name(state: int) -> str:
    try:
        return TrialState(state).name
    except ValueError:
        return str(state)
