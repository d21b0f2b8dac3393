"""``cogment-jupyter serve env|actor NAME TARGET --port P``: one environment or actor served as
a Cogment service on any machine, for a lab elsewhere to use with
``lab.serve_remote(NAME, "grpc://HOST:P")``.

``TARGET`` is ``module:attribute`` (the module imported from the working directory or the
Python path) or, for an environment, a Gymnasium id such as ``CartPole-v1``. The attribute is
a factory called with no arguments, or the object itself. An environment factory may return an
``envs.*`` environment, a Gymnasium id or a ``gymnasium.Env`` (then each trial calls the
factory for a fresh one); an actor factory an ``actors.*`` actor or any callable
``observation -> action``. Served with the same servicers and codec as a lab's ``process=True``
services; SIGTERM or Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from typing import Any

from cogment_jupyter.access import HOST_HELP, Reach, port_of
from cogment_jupyter.engine.logs import LOG_LEVELS

log = logging.getLogger("cogment_jupyter.serve")

KINDS = {"env": "environment", "environment": "environment", "actor": "actor"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(KINDS), help="what to serve: an environment or an actor")
    parser.add_argument("name", help="the implementation name trials ask for (what lab.serve_remote names)")
    parser.add_argument(
        "target",
        help="module:factory (a factory or the object itself), or for an environment a Gymnasium id (CartPole-v1)",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port to listen on (default 0: a free port, printed)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help=HOST_HELP,
    )
    parser.add_argument("--log_level", default="warning", choices=sorted(LOG_LEVELS), help="minimum level of the logs")


class TargetError(ValueError):
    """TARGET does not name something servable; the message says why and what to write."""


def _resolve(target: str, kind: str) -> tuple[Any, bool]:
    """The object TARGET names, and whether it is a Gymnasium id rather than an attribute."""
    module_name, colon, attribute = target.partition(":")
    if not colon:
        if kind == "environment":
            return target, True
        raise TargetError(f"an actor is named by module:factory, got {target!r} (e.g. my_agents:make_policy)")
    if not module_name or not attribute:
        raise TargetError(f"{target!r} is not module:factory (e.g. my_envs:make_env)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: modules beside the user are found
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise TargetError(
                f"no module named {module_name!r} (run from the directory that holds {module_name}.py, "
                "or add its directory to PYTHONPATH)"
            ) from None
        raise
    try:
        return getattr(module, attribute), False
    except AttributeError:
        if kind == "environment":  # "module:Id-v0": a Gymnasium id registered by importing its module
            return target, True
        raise TargetError(f"module {module_name!r} has no attribute {attribute!r}") from None


def load_component(kind: str, target: str) -> Any:
    """The environment or actor TARGET names (see the module docstring); TargetError otherwise.
    An environment is made once here, so that a wrong id fails now rather than in each trial."""
    try:
        component = _load(kind, target)
        if kind == "environment":
            component.agent_specs  # noqa: B018 (makes the environment)
    except TargetError:
        raise
    except Exception as error:  # the user's factory, Gymnasium: say which target and what it raised
        raise TargetError(f"cannot make the {kind} {target}: {type(error).__name__}: {error}") from error
    return component


def _load(kind: str, target: str) -> Any:
    from cogment_jupyter.adapters.base import Actor, Environment

    found, is_id = _resolve(target, kind)
    if kind == "environment":
        from cogment_jupyter import envs

        if is_id or isinstance(found, str):
            return envs.Gymnasium(found)
        if isinstance(found, Environment):
            return found
        made = _call(found, target)
        if isinstance(made, Environment):
            return made
        if isinstance(made, str):
            return envs.Gymnasium(made)
        import gymnasium as gym

        if isinstance(made, gym.Env):
            made.close()
            return envs.Gymnasium(found)  # the factory makes each trial's own
        raise TargetError(
            f"{target} returned {type(made).__name__}: an environment factory returns an envs.* environment "
            "(e.g. envs.Gymnasium('CartPole-v1')), a Gymnasium id or a gymnasium.Env"
        )
    if isinstance(found, Actor):
        return found
    made = _call(found, target)
    if isinstance(made, Actor):
        return made
    if callable(made):
        from cogment_jupyter.adapters.actors import Policy

        return Policy(made)
    raise TargetError(
        f"{target} returned {type(made).__name__}: an actor factory returns an actors.* actor "
        "(e.g. actors.Random()) or a callable observation -> action"
    )


def _call(factory: Any, target: str) -> Any:
    if not callable(factory):
        raise TargetError(f"{target} is a {type(factory).__name__}, neither a factory nor an environment or actor")
    try:
        return factory()
    except TypeError as error:
        raise TargetError(f"{target} cannot be called without arguments: {error}") from None


async def serve(kind: str, name: str, component: Any, host: str, port: int) -> None:
    from cogment_jupyter.transport.component_host import ComponentHost

    components = ComponentHost.serving(kind, name, component)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        server, endpoint = await components.start_server(Reach(host).address(f"{kind}-{name}", port))
    except OSError as error:
        raise SystemExit(str(error)) from None
    bound = port_of(endpoint)
    shown = host if host not in ("0.0.0.0", "::", "") else "THIS_HOST"
    what = repr(component) if type(component).__repr__ is not object.__repr__ else type(component).__name__
    print(
        f"Serving {kind} [{name}] ({what}) at grpc://{host}:{bound}; "
        f"from a lab: lab.serve_remote({name!r}, 'grpc://{shown}:{bound}')",
        flush=True,
    )
    await stop.wait()
    log.info("stopping")
    await server.stop(grace=1.0)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=LOG_LEVELS[args.log_level], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kind = KINDS[args.kind]
    try:
        component = load_component(kind, args.target)
    except TargetError as error:
        raise SystemExit(f"cogment-jupyter serve {args.kind}: {error}") from None
    asyncio.run(serve(kind, args.name, component, args.host, args.port))
    return 0
