"""An asyncio event loop on virtual time, for tests of what the code schedules on the loop's clock.

`loop.time()` starts at 0 and moves only when nothing is ready to run: the loop then jumps straight to
its next timer instead of waiting for it. Pacing, timeouts and latencies measured on the loop clock
become exact — what the code decided, not how busy the machine was. While a job the loop handed to a
thread (`run_in_executor`: `database_sync_to_async`, say) is under way, the clock stands still and the
loop waits for it for real: a database write takes no virtual time, and no timer fires early because of
it. Code that waits on other real I/O still works, but virtual timers may fire before it answers.

A test opts in with `@on_virtual_time` on its `async def` (no asyncio marker): the decorator runs it to
the end on a fresh loop of this kind. `advance()` stands for a loop that is blocked (a slow neighbour):
the clock moves while nothing runs.
"""

import asyncio
import functools
import selectors
from collections.abc import Callable, Coroutine
from typing import Any


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """Polls without blocking; when nothing is ready and the loop would wait, the clock jumps by that wait."""

    def __init__(self, clock: "VirtualTimeLoop") -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if self.clock.threads_working:  # the thread's answer wakes the loop; until then, time stands still
            return super().select(_THREAD_POLL_S if timeout is None else min(timeout, _THREAD_POLL_S))
        if timeout is None:  # no timer at all: only real I/O can wake the loop
            return super().select(None)
        self.clock.advance(timeout)
        return ready


_THREAD_POLL_S = 0.05  # real seconds between looks while a thread works (its answer wakes the loop sooner)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.virtual_now = 0.0
        self.threads_working = 0
        super().__init__(selector=_JumpingSelector(self))

    def run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> asyncio.Future:
        future = super().run_in_executor(executor, func, *args)
        self.threads_working += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _future: asyncio.Future) -> None:
        self.threads_working -= 1

    def time(self) -> float:
        return self.virtual_now

    def advance(self, seconds: float) -> None:
        self.virtual_now += seconds


def on_virtual_time(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Turn an async test into a sync one that runs it on a `VirtualTimeLoop` (fixtures pass through)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
            runner.run(test(*args, **kwargs))

    return run
