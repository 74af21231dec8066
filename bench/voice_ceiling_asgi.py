"""The server's own ceiling beside bench_voice_calls: uvicorn serving a bare Media Streams agent (no Django).

Per WebSocket: every inbound message goes through `media_streams.parse_inbound` (JSON, base64) and is
otherwise dropped; from `start` on, the product's `Playout` speaks in turns — TALK_S of audio, a mark
after each second of it, then PAUSE_S of silence, as an agent does between its replies — until `stop`.
No Django, no database, no VAD, no STT/LLM/TTS: what is left is the server's per-message cost plus the
product's pacing and framing, at the same frame rates as the real run. GET /metrics serves the
`callwright_playout_lag_seconds` histogram, read the same way as the real server's. Served like the
project (`config.server --app=bench.voice_ceiling_asgi:served`): same uvicorn options, same interpreter settings.
"""

import asyncio
import contextlib

from prometheus_client import generate_latest

from config.server import tune_interpreter
from voice import codec, media_streams
from voice.pipeline.playout import Playout

TALK_S, PAUSE_S = 3.0, 3.0  # half the time talking: the real run sends ~2,550 frames/s at N = 100
FRAME = bytes([codec.ULAW_SILENCE ^ 0x01]) * codec.FRAME_BYTES
SECOND = 1000 // codec.FRAME_MS


class AsgiSender:
    """MediaSender over an ASGI `send`."""

    def __init__(self, send, stream_sid: str) -> None:
        self.send, self.stream_sid = send, stream_sid

    async def send_audio(self, payload: bytes) -> None:
        await self.send({"type": "websocket.send", "text": media_streams.media_message(self.stream_sid, payload)})

    async def send_mark(self, name: str) -> None:
        await self.send({"type": "websocket.send", "text": media_streams.mark_message(self.stream_sid, name)})

    async def clear(self) -> None:
        await self.send({"type": "websocket.send", "text": media_streams.clear_message(self.stream_sid)})

    async def hang_up(self) -> None:
        await self.send({"type": "websocket.close"})


async def speak_in_turns(playout: Playout) -> None:
    turn = 0
    while True:
        turn += 1
        for second in range(int(TALK_S)):
            playout.enqueue([FRAME] * SECOND, tag=f"turn-{turn}", mark=f"turn-{turn}-{second}")
        await playout.drained()
        await asyncio.sleep(PAUSE_S)


async def media_stream(receive, send) -> None:
    playout: Playout | None = None
    speaker: asyncio.Task | None = None
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept"})
                continue
            if message["type"] != "websocket.receive":
                return
            inbound = media_streams.parse_inbound(message.get("text") or message.get("bytes") or b"")
            if isinstance(inbound, media_streams.Start) and playout is None:
                playout = Playout(AsgiSender(send, inbound.stream_sid))
                playout.start()
                speaker = asyncio.create_task(speak_in_turns(playout))
            elif isinstance(inbound, media_streams.Stop):
                await send({"type": "websocket.close"})
                return
            await asyncio.sleep(0)  # as the product's consumer: a backlog never holds up the other calls
    finally:
        if speaker is not None:
            speaker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await speaker
        if playout is not None:
            await playout.close()


async def metrics(receive, send) -> None:
    body = generate_latest()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def application(scope: dict, receive, send) -> None:
    if scope["type"] == "websocket":
        await media_stream(receive, send)
    elif scope["type"] == "http":
        await metrics(receive, send)


def served():
    """The application factory config.server runs: this app, in an interpreter tuned as the project's is."""
    tune_interpreter()
    return application
