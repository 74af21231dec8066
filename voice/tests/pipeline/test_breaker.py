import asyncio

import pytest

from voice.pipeline.breaker import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    breaker_for,
    stream_with_timeouts,
    with_timeout,
)
from voice.providers.base import ProviderError

OUTAGE = ProviderError("tts: HTTP 503", permanent=False)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **options) -> CircuitBreaker:
    return CircuitBreaker("tts:test", failure_threshold=3, reset_timeout_s=30, clock=clock, **options)


async def failing():
    raise OUTAGE


async def succeeding():
    return "ok"


@pytest.mark.asyncio
async def test_it_opens_after_the_threshold_of_failures_in_a_row_and_then_fails_fast():
    clock = Clock()
    cb = breaker(clock)
    for _ in range(3):
        with pytest.raises(ProviderError):
            await cb.call(failing)
    assert cb.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        await cb.call(succeeding)
    assert caught.value.permanent is False
    assert caught.value.retry_in_s == 30
    assert cb.last_error is OUTAGE


@pytest.mark.asyncio
async def test_a_success_resets_the_count_of_failures():
    cb = breaker(Clock())
    cb.record_failure(OUTAGE)
    cb.record_failure(OUTAGE)
    assert await cb.call(succeeding) == "ok"
    cb.record_failure(OUTAGE)
    cb.record_failure(OUTAGE)
    assert cb.state is BreakerState.CLOSED


@pytest.mark.asyncio
async def test_half_open_lets_one_trial_through_and_a_success_closes_it():
    clock = Clock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure(OUTAGE)
    clock.now += 30
    assert cb.state is BreakerState.HALF_OPEN
    cb.before_call()  # the one trial
    with pytest.raises(CircuitOpen):
        cb.before_call()  # a second concurrent trial is refused
    cb.record_success()
    assert cb.state is BreakerState.CLOSED


@pytest.mark.asyncio
async def test_a_failed_trial_opens_it_again_for_a_full_reset_timeout():
    clock = Clock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure(OUTAGE)
    clock.now += 31
    with pytest.raises(ProviderError):
        await cb.call(failing)
    assert cb.state is BreakerState.OPEN
    clock.now += 29
    assert cb.state is BreakerState.OPEN
    clock.now += 1
    assert cb.state is BreakerState.HALF_OPEN


@pytest.mark.asyncio
async def test_a_stream_failing_after_its_first_items_counts_as_a_failure():
    cb = breaker(
        Clock(),
    )
    cb.failure_threshold = 1

    async def stalls_after_one():
        yield b"a"
        raise OUTAGE

    received = []

    async def consume():
        async for item in cb.stream(stalls_after_one):
            received.append(item)

    with pytest.raises(ProviderError):
        await consume()
    assert received == [b"a"]
    assert cb.state is BreakerState.OPEN


@pytest.mark.asyncio
async def test_a_stream_closed_by_the_consumer_after_data_is_a_success_and_closes_the_source():
    cb = breaker(Clock())
    cb.record_failure(OUTAGE)
    closed = asyncio.Event()

    async def endless():
        try:
            while True:
                yield b"x"
        finally:
            closed.set()

    stream = cb.stream(endless)
    assert await anext(stream) == b"x"
    await stream.aclose()  # barge-in
    assert closed.is_set()
    # The earlier failure was forgotten: it takes a full threshold of new ones to open the circuit.
    for _ in range(cb.failure_threshold - 1):
        cb.record_failure(OUTAGE)
    assert cb.state is BreakerState.CLOSED


@pytest.mark.asyncio
async def test_a_half_open_trial_cancelled_by_barge_in_gives_its_slot_back():
    clock = Clock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure(OUTAGE)
    clock.now += 30
    trial = asyncio.ensure_future(cb.call(lambda: asyncio.sleep(5)))
    await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert cb.state is BreakerState.HALF_OPEN
    assert await cb.call(succeeding) == "ok"  # the next trial may go ahead
    assert cb.state is BreakerState.CLOSED


def test_breakers_are_one_per_provider_per_process():
    assert breaker_for("stt:x") is breaker_for("stt:x")
    assert breaker_for("stt:x") is not breaker_for("stt:y")


@pytest.mark.asyncio
async def test_with_timeout_turns_a_slow_call_into_a_transient_provider_error():
    with pytest.raises(ProviderError, match=r"transcription timed out after 0.05s") as caught:
        await with_timeout(asyncio.sleep(5), 0.05, "transcription")
    assert caught.value.permanent is False
    assert await with_timeout(succeeding(), 1, "x") == "ok"


@pytest.mark.asyncio
async def test_stream_with_timeouts_bounds_the_first_item_and_every_gap():
    async def slow_start():
        await asyncio.sleep(5)
        yield 1

    async def stalls():
        yield 1
        await asyncio.sleep(5)
        yield 2

    async def fine():
        for n in range(3):
            await asyncio.sleep(0.01)
            yield n

    with pytest.raises(ProviderError, match=r"no first item within 0\.05s"):
        await anext(stream_with_timeouts(slow_start(), first_item_s=0.05, idle_s=1, what="llm"))
    items = []

    async def consume():
        async for item in stream_with_timeouts(stalls(), first_item_s=1, idle_s=0.05, what="tts"):
            items.append(item)

    with pytest.raises(ProviderError, match="stalled mid-stream"):
        await consume()
    assert items == [1]
    assert [n async for n in stream_with_timeouts(fine(), first_item_s=1, idle_s=1, what="x")] == [0, 1, 2]
