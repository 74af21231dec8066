"""Listen-in: both sides of a live call's audio, μ-law as carried, to supervisors' browsers — never at the call's cost.

A call's media stream opens a `ListenTap` (in its own process); each listener's consumer announces its channel
on the call's group and the call's conversation host adds it to the tap (`call.listen` messages). Frames go:

    media stream --offer (put_nowait)--> tap queue (TAP_QUEUE_FRAMES) --layer.send--> listener's channel
    (the layer's capacity) --> listener consumer --> browser

Every hop is bounded and none waits on the next: the stream only ever does a `put_nowait` (a frame that does
not fit is dropped and counted), and a listener whose channel is full (a browser that reads slowly, or not at
all) loses frames (`ChannelFull`) instead of queueing them. The call never waits for a listener.
"""

import asyncio
import logging

from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

LISTEN_MESSAGE_TYPE = "call.listen"  # {"action": "start" | "stop", "channel": …} on the call's group
AUDIO_MESSAGE_TYPE = "listen.audio"  # {"track": "in" | "out", "payload": μ-law bytes} to a listener's channel
TAP_QUEUE_FRAMES = 50  # one second of both sides' frames waiting for the layer, at most
TRACKS = {"in": 0, "out": 1}  # the callee (inbound) and the agent (outbound); the byte that leads each frame

_TAPS: dict[str, "ListenTap"] = {}


class ListenTap:
    """One call's audio, offered to its listeners."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.listeners: set[str] = set()
        self.queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=TAP_QUEUE_FRAMES)
        self.dropped = 0  # frames not delivered: the tap's queue or a listener's channel was full
        self._pump: asyncio.Task | None = None

    def offer(self, track: str, payload: bytes) -> None:
        """From the media stream, per frame: O(1), never waits."""
        if not self.listeners:
            return
        try:
            self.queue.put_nowait((track, payload))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._forward())

    def listen(self, channel: str, *, on: bool) -> None:
        if on:
            self.listeners.add(channel)
        else:
            self.listeners.discard(channel)

    async def _forward(self) -> None:
        layer = get_channel_layer()
        try:
            while self.listeners:
                track, payload = await self.queue.get()
                message = {"type": AUDIO_MESSAGE_TYPE, "track": track, "payload": payload}
                for channel in list(self.listeners):
                    try:
                        await layer.send(channel, message)
                    except ChannelFull:
                        self.dropped += 1
        except Exception:  # listening is best effort; the call goes on
            logger.warning("call %s: listen-in stopped", self.call_id, exc_info=True)
        finally:
            self._pump = None

    def close(self) -> None:
        self.listeners.clear()
        if self._pump is not None:
            self._pump.cancel()


def open_tap(call_id: str) -> ListenTap:
    tap = _TAPS[str(call_id)] = ListenTap(str(call_id))
    return tap


def close_tap(call_id: str) -> None:
    tap = _TAPS.pop(str(call_id), None)
    if tap is not None:
        tap.close()


def tap_for(call_id: str) -> ListenTap | None:
    """The call's tap, if its media stream lives in this process."""
    return _TAPS.get(str(call_id))


def handle_listen_message(call_id: str, message: dict) -> None:
    """A listener's announcement on the call's group (the conversation host relays it)."""
    tap = tap_for(call_id)
    if tap is not None and message.get("channel"):
        tap.listen(str(message["channel"]), on=message.get("action") == "start")


def frame_bytes(message: dict) -> bytes:
    """What a listener's browser receives per frame: the track's byte, then the μ-law payload."""
    return bytes([TRACKS.get(message.get("track", "in"), 0)]) + bytes(message.get("payload", b""))
