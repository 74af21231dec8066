"""Waiting in tests: on a condition or an awaitable, with a generous overall limit that fails in words.

The limit is a hang guard, never a measurement: a slow machine makes a test slower, not red.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
LIMIT_S = 30.0


def wait_until(condition: Callable[[], T], *, what: str, limit_s: float = LIMIT_S, poll_s: float = 0.02) -> T:
    """Poll `condition` until it is truthy and return its value; fail naming `what` after `limit_s`."""
    deadline = time.monotonic() + limit_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting, after {limit_s:g}s, for {what}")
        time.sleep(poll_s)
    return value


async def until(condition: Callable[[], T], *, what: str, limit_s: float = LIMIT_S, poll_s: float = 0.005) -> T:
    """`wait_until` on the running loop (and on its clock: virtual time in a `virtual_time` test)."""
    try:
        async with asyncio.timeout(limit_s) as guard:
            while not (value := condition()):
                await asyncio.sleep(poll_s)
            return value
    except TimeoutError:
        if guard.expired():
            raise AssertionError(f"still waiting, after {limit_s:g}s, for {what}") from None
        raise


async def within(awaitable: Awaitable[T], *, what: str, limit_s: float = LIMIT_S) -> T:
    """Await `awaitable`; if it has not finished after `limit_s`, cancel it and fail naming `what`."""
    try:
        async with asyncio.timeout(limit_s) as guard:
            return await awaitable
    except TimeoutError:
        if guard.expired():
            raise AssertionError(f"still waiting, after {limit_s:g}s, for {what}") from None
        raise  # the awaitable's own TimeoutError
