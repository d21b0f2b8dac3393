"""REST under ``/cogment/api/``: every verb behind Jupyter's authentication.

Errors are JSON ``{"message": ..., ...}`` like Jupyter's own API: 400 for a bad filter or a
trial id no trial can have (one gRPC metadata cannot carry), 404 for an unknown trial, 409 for
terminating a trial that is not running, 503 when the runtime is down (with the reason and the
runtime's status).

Routes (relative to the server's base URL):

- ``GET  cogment/api/status``                     the runtime: state, pid, endpoints, versions, uptime, restarts
- ``POST cogment/api/runtime/restart``            stop and start the runtime (e.g. after it ``failed``)
- ``GET  cogment/api/trials``                     recorded trials; ``state``, ``property=k=v``,
  ``properties={json}``, ``since``, ``until``, ``limit``
- ``GET  cogment/api/trials/<id>``                one trial: its row, params, and live orchestrator info
- ``GET  cogment/api/trials/<id>/steps``          its steps as JSON, or an Arrow IPC stream with
  ``?format=arrow`` or ``Accept: application/vnd.apache.arrow.stream``; ``offset``, ``limit``, ``decode=0``
- ``POST cogment/api/trials/<id>/terminate``      ``TerminateTrial``; JSON body ``{"hard": true}`` optional
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from cogment_jupyter.server.recorded_trials import (
    ARROW_STREAM,
    BadQuery,
    arrow_stream,
    parse_count,
    parse_filter,
    table_rows,
)
from cogment_jupyter.server.supervisor import RuntimeUnavailable

if TYPE_CHECKING:
    from cogment_jupyter.server.app import CogmentJupyter
    from cogment_jupyter.shared_runtime import SharedRuntime

#: seconds a request needing the orchestrator waits for a (re)starting runtime
READY_TIMEOUT = 10.0


def reading(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Errors of reading the datastore as replies: a bad query is 400, an unusable file 503."""

    @functools.wraps(method)
    async def wrapper(self: CogmentHandler, *args: Any, **kwargs: Any) -> None:
        from cogment_jupyter.datastore.errors import DatastoreError

        try:
            await method(self, *args, **kwargs)
        except BadQuery as error:
            self.fail(400, str(error))
        except DatastoreError as error:  # an unknown trial is answered by the routes
            self.fail(503, f"the shared datastore cannot be read: {error}")

    return wrapper


def trial_route(method: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """A route about one trial: an id no trial can have is a 400 that says why, before it
    reaches gRPC (which cannot send it) or the datastore."""

    @functools.wraps(method)
    async def wrapper(self: CogmentHandler, trial_id: str, *args: Any, **kwargs: Any) -> None:
        from cogment_jupyter.engine.ids import trial_id_problem

        problem = trial_id_problem(trial_id)
        if problem is not None:
            self.fail(400, f"no trial can have this id: {problem}")
            return
        await method(self, trial_id, *args, **kwargs)

    return wrapper


class CogmentHandler(ExtensionHandlerMixin, APIHandler):
    """Shared helpers: the extension app, JSON replies, errors."""

    @property
    def cogment(self) -> CogmentJupyter:
        return self.extensionapp  # type: ignore[return-value]

    def reply(self, document: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(document))

    def fail(self, status: int, message: str, **extra: Any) -> None:
        self.reply({"message": message, **extra}, status)

    async def runtime_or_503(self) -> SharedRuntime | None:
        """The running runtime; replies 503 and returns None when it is down."""
        self.cogment.use()
        try:
            return await self.cogment.supervisor.wait_ready(READY_TIMEOUT)
        except RuntimeUnavailable as error:
            self.fail(503, str(error), runtime=self.cogment.supervisor.status())
            return None


class StatusHandler(CogmentHandler):
    """Only observes: polling the status (a panel does) must not start the runtime."""

    @tornado.web.authenticated
    async def get(self) -> None:
        self.reply(await self.cogment.status())


class RestartHandler(CogmentHandler):
    @tornado.web.authenticated
    async def post(self) -> None:
        supervisor = self.cogment.supervisor
        await supervisor.restart()
        try:
            await supervisor.wait_ready()
        except RuntimeUnavailable as error:
            self.fail(503, str(error), runtime=supervisor.status())
            return
        self.reply(await self.cogment.status())


class TrialsHandler(CogmentHandler):
    @tornado.web.authenticated
    @reading
    async def get(self) -> None:
        self.cogment.use()
        arguments = {k: [v.decode() for v in values] for k, values in self.request.query_arguments.items()}
        query = parse_filter(arguments)
        self.reply(await asyncio.to_thread(self.cogment.recorded_trials.trials, query))


class TrialHandler(CogmentHandler):
    @tornado.web.authenticated
    @trial_route
    @reading
    async def get(self, trial_id: str) -> None:
        from cogment_jupyter.datastore.errors import UnknownTrialError

        self.cogment.use()
        live = await self.cogment.live_info(trial_id)
        try:
            document = await asyncio.to_thread(self.cogment.recorded_trials.trial, trial_id)
        except UnknownTrialError:
            if live is None:
                self.fail(404, f"unknown trial {trial_id!r}: not recorded and not running")
                return
            document = {"trial": None, "params": None}  # running, nothing recorded yet
        document["live"] = live
        self.reply(document)


class StepsHandler(CogmentHandler):
    @tornado.web.authenticated
    @trial_route
    @reading
    async def get(self, trial_id: str) -> None:
        from cogment_jupyter.datastore.errors import UnknownTrialError

        self.cogment.use()
        fmt = self.get_query_argument("format", "")
        if fmt not in ("", "json", "arrow"):
            self.fail(400, f"format={fmt!r}: use json or arrow")
            return
        arrow = fmt == "arrow" or (not fmt and ARROW_STREAM in self.request.headers.get("Accept", ""))
        offset = parse_count("offset", self.get_query_argument("offset", "0"))
        raw_limit = self.get_query_argument("limit", "")
        limit = parse_count("limit", raw_limit) if raw_limit else None
        decode = self.get_query_argument("decode", "1").lower() not in ("0", "false", "no")
        try:
            table, decoded = await asyncio.to_thread(
                self.cogment.recorded_trials.steps, trial_id, decode=decode, offset=offset, limit=limit
            )
        except UnknownTrialError:
            self.fail(404, f"unknown trial {trial_id!r}: it has recorded nothing")
            return
        if arrow:
            self.set_header("X-Cogment-Decoded", "true" if decoded else "false")
            self.set_status(200)
            self.finish(await asyncio.to_thread(arrow_stream, table), set_content_type=ARROW_STREAM)
            return
        rows = await asyncio.to_thread(table_rows, table)
        self.reply(
            {
                "trial_id": trial_id,
                "columns": table.column_names,
                "decoded": decoded,
                "offset": offset,
                "count": len(rows),
                "steps": rows,
            }
        )


class TerminateHandler(CogmentHandler):
    @tornado.web.authenticated
    @trial_route
    @reading
    async def post(self, trial_id: str) -> None:
        import grpc

        try:
            body = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as error:
            self.fail(400, f"the body is not JSON: {error}")
            return
        hard = body.get("hard", False) if isinstance(body, dict) else None
        if not isinstance(hard, bool):
            self.fail(400, 'the body must be a JSON object like {"hard": true}')
            return
        runtime = await self.runtime_or_503()
        if runtime is None:
            return
        client = self.cogment.orchestrator_client(runtime.orchestrator)
        try:
            live = await client.trial_info(trial_id)
            if live is None:
                await self._not_running(trial_id)
                return
            if live["state"] == "ENDED":
                self.fail(409, f"trial {trial_id!r} has already ended", live=live)
                return
            await client.terminate(trial_id, hard=hard)
        except grpc.aio.AioRpcError as error:
            self.fail(503, f"the orchestrator at {runtime.orchestrator} failed: {error.details()}")
            return
        self.reply({"trial_id": trial_id, "hard": hard, "requested": True, "live": live}, 202)

    async def _not_running(self, trial_id: str) -> None:
        from cogment_jupyter.datastore.errors import UnknownTrialError

        try:
            document = await asyncio.to_thread(self.cogment.recorded_trials.trial, trial_id)
        except UnknownTrialError:
            self.fail(404, f"unknown trial {trial_id!r}")
            return
        state = document["trial"]["state"]
        self.fail(409, f"trial {trial_id!r} is not running on the shared orchestrator (recorded state {state})")


def routes() -> list[tuple[str, type[CogmentHandler]]]:
    """URL patterns relative to the base URL (the ExtensionApp prepends it)."""
    trial = r"cogment/api/trials/(?P<trial_id>[^/]+)"
    return [
        (r"cogment/api/status", StatusHandler),
        (r"cogment/api/runtime/restart", RestartHandler),
        (r"cogment/api/trials", TrialsHandler),
        (trial, TrialHandler),
        (trial + r"/steps", StepsHandler),
        (trial + r"/terminate", TerminateHandler),
    ]
