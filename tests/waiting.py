"""Waiting for a condition, with a deadline: how tests synchronise (never a fixed sleep)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy (its value); fail the test after
    ``timeout`` s, saying what did not happen (and the last error ``predicate`` raised)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except Exception as error:  # e.g. connection refused while starting
            last_error = error
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} within {timeout} s" + (f" (last error: {last_error!r})" if last_error else ""))
        time.sleep(interval)


async def await_condition(
    predicate: Callable[[], T | Awaitable[T]], timeout: float, what: str, interval: float = 0.01
) -> T:
    """:func:`wait_for` for a test running on the event loop (``predicate`` may be async)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        await asyncio.sleep(interval)
