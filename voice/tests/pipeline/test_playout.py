"""Outbound pacing: frames leave on an absolute 20 ms schedule, and how late each one left is measured.

On virtual time (voice/tests/virtual_time.py): the send times are what the playout scheduled, exactly.
"""

import asyncio

import pytest
from prometheus_client import REGISTRY

from voice import codec
from voice.pipeline.playout import Playout
from voice.tests.virtual_time import on_virtual_time
from voice.tests.waiting import within

FRAME = bytes([codec.ULAW_SILENCE]) * codec.FRAME_BYTES


class RecordingSender:
    """Records when each frame was handed over; `stall_at` holds the event loop once, like a slow neighbour."""

    def __init__(self, *, stall_at: int = -1, stall_s: float = 0.0) -> None:
        self.times: list[float] = []
        self.stall_at, self.stall_s = stall_at, stall_s

    async def send_audio(self, payload: bytes) -> None:
        loop = asyncio.get_running_loop()
        if len(self.times) == self.stall_at:
            loop.advance(self.stall_s)  # the loop's clock moves while nothing runs: late for everyone after this
        self.times.append(loop.time())

    async def send_mark(self, name: str) -> None:
        pass

    async def clear(self) -> None:
        pass

    async def hang_up(self) -> None:
        pass


def lag_samples(above_s: float | None = None) -> float:
    """Frames observed so far (all, or only those later than `above_s`, which must be a bucket bound)."""
    count = REGISTRY.get_sample_value("callwright_playout_lag_seconds_count") or 0.0
    if above_s is None:
        return count
    return count - (REGISTRY.get_sample_value("callwright_playout_lag_seconds_bucket", {"le": str(above_s)}) or 0.0)


async def play(sender: RecordingSender, frames: int, *, lead_frames: int = 2) -> None:
    playout = Playout(sender, lead_frames=lead_frames)
    playout.start()
    playout.enqueue([FRAME] * frames, tag="chunk")
    await within(playout.drained(), what="the playout to send every frame")
    await playout.close()


@on_virtual_time
async def test_frames_follow_an_absolute_schedule_after_the_lead_and_each_lag_is_observed():
    sender = RecordingSender()
    before = lag_samples()
    await play(sender, 12, lead_frames=2)
    assert lag_samples() - before == 12
    start = sender.times[0]
    # The two lead frames leave at once; frame k then at (k - 2) × 20 ms, whatever each send cost.
    assert sender.times[1] == start
    assert [round(at - start, 6) for at in sender.times[2:]] == [round(0.02 * k, 6) for k in range(10)]


@on_virtual_time
async def test_a_stalled_loop_shows_as_late_frames_and_the_schedule_catches_up_without_drift():
    sender = RecordingSender(stall_at=4, stall_s=0.08)
    late_before = lag_samples(above_s=0.05)
    await play(sender, 12, lead_frames=0)
    # Frame 4 waited for the 80 ms stall (due at 80 ms, sent at 160 ms); frame 5 (due at 100 ms) left with it,
    # still more than 50 ms late; frame 6 (due at 120 ms) 40 ms late.
    assert lag_samples(above_s=0.05) - late_before == 2
    assert sender.times[4] - sender.times[0] == pytest.approx(0.08 + 0.08)  # due at 80 ms, held 80 ms more
    assert sender.times[-1] - sender.times[0] == pytest.approx(0.22)  # back on the original schedule
