"""Outbound audio paced in real time: 160-byte frames every 20 ms, marks in order, pause and clear.

One `Playout` per call owns the send side of the media stream. Speech is queued as whole chunks
(frames plus the mark that follows them); one task sends frame k at `anchor + (k - lead) * 20 ms` on
the loop clock, an absolute schedule, so a slow send never accumulates drift the way `sleep(0.02)` in a
loop does. `lead_frames` are sent ahead of real time so the carrier's jitter buffer never runs dry.
After an underrun (the TTS was slower than real time) the schedule re-anchors at the next frame instead
of bursting to catch up. How late each frame left against that schedule (the lead frames are due at the
anchor) goes to the `callwright_playout_lag_seconds` histogram: the jitter the carrier's buffer absorbs.

`pause()` (a barge-in candidate) stops sending at once and keeps the queue; `resume()` goes on where it
stopped; `clear()` drops everything unsent. `sent_frames(tag)` says how many frames of a chunk left, so
the session can estimate how much of a cut-off chunk the callee heard.

The line can go at any moment: a send that raises (the socket closed under us when the callee hung up)
ends the playout quietly — nothing more is sent, `closed` says so — and never escapes `close()`, so the
session's end, which closes the playout, always goes on to record the call.
"""

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from monitoring.metrics import MEDIA_FRAMES, PLAYOUT_LAG
from voice import codec
from voice.sessions import MediaSender

# The frame counter is updated once a second of audio (50 frames), not per frame: ~1 µs per update in
# multiprocess mode, 50 times a second per call, is a cost the media path does not need.
FRAMES_PER_REPORT = 50
FRAMES_OUT = MEDIA_FRAMES.labels(direction="out")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Mark:
    name: str


class Playout:
    def __init__(
        self,
        sender: MediaSender,
        *,
        time_scale: float = 1.0,
        lead_frames: int = 3,
        on_mark: Callable[[str], None] | None = None,
        on_audio: Callable[[bytes], None] | None = None,
    ) -> None:
        self.sender = sender
        self.on_mark = on_mark
        self.on_audio = on_audio  # each frame sent (the turn detector keeps the agent's echo out with it)
        self.interval = codec.FRAME_MS / 1000 * time_scale
        self.lead_frames = lead_frames
        self._items: deque[tuple[bytes, str] | _Mark] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._paused = False
        self._generation = 0
        self._sent: Counter[str] = Counter()
        self._task: asyncio.Task | None = None
        self.frames_sent = 0
        self.closed = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="playout")

    async def close(self) -> None:
        """Stop sending, at once and for good (what is queued is dropped). Never raises."""
        self.closed = True
        self._items.clear()
        self._idle.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def enqueue(self, frames: list[bytes], *, tag: str, mark: str | None = None, start_mark: str | None = None) -> None:
        """Queue a chunk's frames (tagged for `sent_frames`), an optional mark after its first frame, and
        its closing mark. Ignored once the playout is closed."""
        if self.closed:
            return
        for position, frame in enumerate(frames):
            self._items.append((frame, tag))
            if position == 0 and start_mark:
                self._items.append(_Mark(start_mark))
        if mark:
            self._items.append(_Mark(mark))
        if not self._items:
            return
        self._idle.clear()
        self._wake.set()

    def clear(self) -> None:
        """Drop everything not yet sent (the caller also sends the carrier a `clear`)."""
        self._items.clear()
        self._generation += 1
        self._idle.set()

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def busy(self) -> bool:
        return bool(self._items)

    def sent_frames(self, tag: str) -> int:
        return self._sent[tag]

    async def drained(self) -> None:
        """Wait until everything queued has been sent."""
        await self._idle.wait()

    async def _run(self) -> None:
        try:
            await self._play()
        except Exception as error:  # the line is gone (a send on a closed socket): stop sending, quietly
            logger.info("playout stopped: the stream can no longer be written (%s: %s)", type(error).__name__, error)
            self.closed = True
            self._items.clear()
            self._idle.set()
        finally:
            FRAMES_OUT.inc(self.frames_sent % FRAMES_PER_REPORT)  # what the last whole second did not report

    async def _play(self) -> None:
        loop = asyncio.get_running_loop()
        anchor, position = loop.time(), 0
        while True:
            if not self._items or self._paused:
                if not self._items:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                # Whatever was playing has run out (or was paused): a fresh schedule from now.
                anchor, position = loop.time(), 0
                continue
            item = self._items.popleft()
            if isinstance(item, _Mark):
                await self.sender.send_mark(item.name)
                if self.on_mark is not None:
                    self.on_mark(item.name)
                continue
            frame, tag = item
            due = anchor + (position - self.lead_frames) * self.interval
            delay = due - loop.time()
            if delay > 0:
                generation = self._generation
                await asyncio.sleep(delay)
                if generation != self._generation:
                    continue  # cleared while waiting: this frame is not to be played
                if self._paused:
                    self._items.appendleft(item)
                    continue
            await self.sender.send_audio(frame)
            if self.on_audio is not None:
                self.on_audio(frame)
            PLAYOUT_LAG.observe(loop.time() - max(due, anchor))
            self._sent[tag] += 1
            self.frames_sent += 1
            if self.frames_sent % FRAMES_PER_REPORT == 0:
                FRAMES_OUT.inc(FRAMES_PER_REPORT)
            position += 1
