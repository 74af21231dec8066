"""A stand-in for OpenAI's Realtime API on loopback: a `websockets` server speaking transcription events.

It records every client event and the audio of every committed buffer, acknowledges each commit with
`input_audio_buffer.committed` (item ids `item_1`, `item_2`… across connections) and does what `on_commit`
says for that item: by default the next of `transcripts` as word deltas then `.completed`.
Tests swap `on_commit` to send an error, stall, or drop the connection.
"""

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

OnCommit = Callable[[ServerConnection, dict[str, Any], str], Awaitable[None]]


class FakeRealtimeServer:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []  # every client event, all connections
        self.paths: list[str] = []  # request path (and query) of each connection
        self.closed = 0  # connections that have ended
        self.headers: list[dict[str, str]] = []  # of each handshake
        self.committed: list[bytes] = []  # μ-law of each committed buffer, in order
        self.transcripts: list[str] = []  # said for the commits, in order (default `on_commit`)
        self.on_commit: OnCommit = self.transcribe
        self.refuse_sessions = False  # answer session.update with an invalid_request_error naming it
        self.reject_status = 0  # refuse the WebSocket handshake with this HTTP status (e.g. 401)
        self.released = asyncio.Event()
        self._buffer = bytearray()
        self._items = 0
        self._server: Server | None = None
        self.url = ""  # http://127.0.0.1:<port>/v1 — the SDK maps http to ws and appends /realtime

    async def start(self) -> "FakeRealtimeServer":
        self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self._process_request)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == kind]

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.headers.append(dict(request.headers.raw_items()))
        if self.reject_status:
            return connection.respond(self.reject_status, "Incorrect API key provided.\n")
        return None

    async def _handle(self, websocket: ServerConnection) -> None:
        self.paths.append(websocket.request.path if websocket.request else "")
        self._buffer.clear()
        try:
            await self._serve(websocket)
        finally:
            self.closed += 1

    async def _serve(self, websocket: ServerConnection) -> None:
        async for message in websocket:
            event = json.loads(message)
            self.events.append(event)
            kind = event["type"]
            if kind == "session.update" and self.refuse_sessions:
                await send(websocket, {"type": "error", "error": {"type": "invalid_request_error",
                                                                  "message": "Invalid transcription model.",
                                                                  "event_id": event.get("event_id")}})  # fmt: skip
            elif kind == "session.update":
                await send(websocket, {"type": "session.updated", "session": event["session"]})
            elif kind == "input_audio_buffer.append":
                self._buffer += base64.b64decode(event["audio"])
            elif kind == "input_audio_buffer.clear":
                self._buffer.clear()
                await send(websocket, {"type": "input_audio_buffer.cleared"})
            elif kind == "input_audio_buffer.commit":
                self._items += 1
                item_id = f"item_{self._items}"
                self.committed.append(bytes(self._buffer))
                self._buffer.clear()
                await self.on_commit(websocket, event, item_id)

    # ---- Behaviours for on_commit ------------------------------------------------------------------

    async def transcribe(self, websocket: ServerConnection, commit: dict[str, Any], item_id: str) -> None:
        await acknowledge(websocket, item_id)
        text = self.transcripts.pop(0) if self.transcripts else ""
        for word in text.split(" "):
            await send(websocket, {"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id,
                                   "content_index": 0, "delta": word + " "})  # fmt: skip
        await send(websocket, {"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id,
                               "content_index": 0, "transcript": text,
                               "usage": {"type": "duration", "seconds": 1.0}})  # fmt: skip

    async def refuse(self, websocket: ServerConnection, commit: dict[str, Any], item_id: str) -> None:
        """The commit is refused: an error naming it, and no acknowledgement."""
        await send(websocket, {"type": "error", "error": {"type": "server_error", "code": "internal",
                                                          "message": "The server had an error.",
                                                          "event_id": commit.get("event_id")}})  # fmt: skip

    async def fail_generally(self, websocket: ServerConnection, commit: dict[str, Any], item_id: str) -> None:
        """Acknowledged, then an error that names no client event."""
        await acknowledge(websocket, item_id)
        await send(websocket, {"type": "error", "error": {"type": "server_error", "message": "overloaded"}})

    async def stall(self, websocket: ServerConnection, commit: dict[str, Any], item_id: str) -> None:
        await acknowledge(websocket, item_id)
        await self.released.wait()

    async def drop(self, websocket: ServerConnection, commit: dict[str, Any], item_id: str) -> None:
        await websocket.close(code=1011, reason="going away")


async def acknowledge(websocket: ServerConnection, item_id: str) -> None:
    await send(websocket, {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None})


async def send(websocket: ServerConnection, event: dict[str, Any]) -> None:
    await websocket.send(json.dumps({"event_id": "event_x", **event}))
