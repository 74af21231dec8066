"""Outbound pacing: frames leave on an absolute 20 ms schedule, and how late each one left is measured."""

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from voice import codec
from voice.pipeline.playout import Playout

pytestmark = pytest.mark.asyncio
FRAME = bytes([codec.ULAW_SILENCE]) * codec.FRAME_BYTES


class RecordingSender:
    """Records when each frame was handed over; `stall_at` blocks the event loop once, like a slow neighbour."""

    def __init__(self, *, stall_at: int = -1, stall_s: float = 0.0) -> None:
        self.times: list[float] = []
        self.stall_at, self.stall_s = stall_at, stall_s

    async def send_audio(self, payload: bytes) -> None:
        if len(self.times) == self.stall_at:
            time.sleep(self.stall_s)  # deliberately blocking: the loop is late for everyone after this
        self.times.append(asyncio.get_running_loop().time())

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
    await asyncio.wait_for(playout.drained(), timeout=5)
    await playout.close()


async def test_frames_follow_an_absolute_schedule_after_the_lead_and_each_lag_is_observed():
    sender = RecordingSender()
    before = lag_samples()
    await play(sender, 12, lead_frames=2)
    assert lag_samples() - before == 12
    start = sender.times[0]
    # The two lead frames leave at once; frame k then at (k - 2) × 20 ms, whatever each send cost.
    assert sender.times[1] - start < 0.01
    assert sender.times[-1] - start == pytest.approx(0.18, abs=0.015)  # frame 11: 9 × 20 ms


async def test_a_stalled_loop_shows_as_late_frames_and_the_schedule_catches_up_without_drift():
    sender = RecordingSender(stall_at=4, stall_s=0.08)
    late_before = lag_samples(above_s=0.05)
    await play(sender, 12, lead_frames=0)
    # Frame 4 waited for the 80 ms stall (due at 80 ms, sent at ≥ 140 ms); the next one was still > 50 ms late.
    assert lag_samples(above_s=0.05) - late_before >= 2
    assert sender.times[-1] - sender.times[0] == pytest.approx(0.22, abs=0.015)  # back on the original schedule
