"""Errors the engine reports to callers (gRPC servicers turn them into UNKNOWN statuses)."""


class OrchestratorError(Exception):
    """A request the orchestrator refuses; the message says what is wrong and how to fix it."""


class InvalidTrialId(OrchestratorError, ValueError):
    """A requested trial id that cannot travel as gRPC metadata (gRPC's INVALID_ARGUMENT)."""


class TrialAborted(Exception):
    """Raised inside a trial's driver when the trial was hard-terminated under it."""
