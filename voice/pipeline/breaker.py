"""A circuit breaker per provider, and the timeouts that turn a stalled provider into a ProviderError.

Why our own (~100 lines) and not aiobreaker or circuitbreaker: a provider failure here usually happens
*inside a stream* (the TTS stalls after three chunks), and both libraries guard a call, not an async
iterator whose failure comes after its first item; aiobreaker has had no release since 2021; neither
lets a test drive the clock. `CircuitBreaker.stream()` guards a whole stream and takes an injectable
clock, and the states are the textbook ones:

- closed: calls pass; `failure_threshold` failures in a row open it;
- open: calls fail at once with `CircuitOpen` (a non-permanent ProviderError) — the session goes straight
  to its fallback (canned phrase, secondary TTS) instead of waiting for a timeout per call;
- half-open, after `reset_timeout_s`: `half_open_max_calls` trial calls pass; one success closes the
  breaker, one failure opens it again for another `reset_timeout_s`.

One breaker per provider role per process (`breaker_for`), shared by every call in the process: a
provider outage seen by one call spares the others the wait. A cancellation (barge-in) is neither a
success nor a failure, and gives back a half-open trial it held.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from monitoring.metrics import BREAKER_STATE
from voice.providers.base import ProviderError

T = TypeVar("T")
tracer = trace.get_tracer("callwright.voice")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# callwright_provider_breaker_state's values: the higher, the worse (the scrape keeps the worst process's).
STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class CircuitOpen(ProviderError):
    """The provider's breaker is open: not even tried."""

    def __init__(self, name: str, retry_in_s: float) -> None:
        super().__init__(f"{name}: circuit open, next try in {retry_in_s:.1f}s", permanent=False)
        self.retry_in_s = retry_in_s


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        reset_timeout_s: float = 30.0,
        half_open_max_calls: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._state = BreakerState.CLOSED
        BREAKER_STATE.labels(breaker=name).set(STATE_VALUES[BreakerState.CLOSED])
        self._failures = 0
        self._opened_at = 0.0
        self._trials = 0
        self.last_error: ProviderError | None = None

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.reset_timeout_s:
            self._move(BreakerState.HALF_OPEN)
            self._trials = 0
        return self._state

    def _move(self, state: BreakerState) -> None:
        """Change state, and say so to Prometheus (only on a change: a success per call costs nothing)."""
        if state is not self._state:
            self._state = state
            BREAKER_STATE.labels(breaker=self.name).set(STATE_VALUES[state])

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go ahead now (counts a half-open trial)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and self._trials < self.half_open_max_calls:
            self._trials += 1
            return
        retry_in = max(0.0, self.reset_timeout_s - (self._clock() - self._opened_at))
        raise CircuitOpen(self.name, retry_in)

    def record_success(self) -> None:
        self._move(BreakerState.CLOSED)
        self._failures, self._trials = 0, 0

    def record_abandoned(self) -> None:
        """A call cancelled before it proved anything (barge-in): give its half-open trial back."""
        if self._state is BreakerState.HALF_OPEN and self._trials:
            self._trials -= 1

    def record_failure(self, error: ProviderError) -> None:
        self.last_error = error
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
            self._move(BreakerState.OPEN)
            self._opened_at = self._clock()

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Await `operation()` under the breaker; ProviderErrors count as failures and are re-raised.
        A span `provider <name>` covers it (a no-op unless tracing is on)."""
        self.before_call()
        with tracer.start_as_current_span(f"provider {self.name}", attributes={"callwright.provider": self.name}):
            try:
                result = await operation()
            except ProviderError as error:
                self.record_failure(error)
                raise
            except asyncio.CancelledError:
                self.record_abandoned()
                raise
        self.record_success()
        return result

    async def stream(self, open_stream: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        """Iterate `open_stream()` under the breaker: a ProviderError anywhere in it is a failure; reaching
        the end — or being closed by the consumer after at least one item — is a success."""
        self.before_call()
        source = open_stream()
        delivered = False
        # Started, not made current: a generator's context is not its consumer's (no attach across yields).
        span = tracer.start_span(f"provider {self.name}", attributes={"callwright.provider": self.name})
        try:
            async for item in source:
                delivered = True
                yield item
        except ProviderError as error:
            self.record_failure(error)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, error.message))
            raise
        except GeneratorExit:
            if delivered:
                self.record_success()
            else:
                self.record_abandoned()
            raise
        except asyncio.CancelledError:
            self.record_abandoned()
            raise
        else:
            self.record_success()
        finally:
            span.end()
            await _aclose(source)


_BREAKERS: dict[str, CircuitBreaker] = {}


def breaker_for(name: str, **options: float) -> CircuitBreaker:
    """The process-wide breaker for a provider role (e.g. "tts:elevenlabs"); options apply on first use."""
    if name not in _BREAKERS:
        _BREAKERS[name] = CircuitBreaker(name, **options)  # type: ignore[arg-type]
    return _BREAKERS[name]


# ---- Timeouts ------------------------------------------------------------------------------------


async def with_timeout(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """Await with a deadline; a miss is `ProviderError(permanent=False)` naming what timed out."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise ProviderError(f"{what} timed out after {seconds:g}s", permanent=False) from None


async def stream_with_timeouts(
    source: AsyncIterator[T], *, first_item_s: float, idle_s: float, what: str
) -> AsyncIterator[T]:
    """Re-yield `source`, failing with `ProviderError(permanent=False)` if the first item takes longer than
    `first_item_s` or any later gap exceeds `idle_s` — a provider that stalls mid-stream. The source is
    closed on every exit, so its HTTP connection is released."""
    iterator = aiter(source)
    limit, stage = first_item_s, "first item"
    try:
        while True:
            try:
                async with asyncio.timeout(limit):
                    item = await anext(iterator)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ProviderError(f"{what}: no {stage} within {limit:g}s", permanent=False) from None
            yield item
            limit, stage = idle_s, "data (stalled mid-stream)"
    finally:
        await _aclose(iterator)


async def _aclose(iterator: object) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        # Closing a half-broken stream must not mask the error that broke it.
        with contextlib.suppress(ProviderError, RuntimeError):
            await close()
