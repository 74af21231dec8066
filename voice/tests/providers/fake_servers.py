"""A real HTTP server on loopback (aiohttp, ephemeral port) standing in for a provider's API.

Tests set `server.handler` (any aiohttp handler) and read `server.requests` afterwards. Stalling handlers
wait on `server.released`, which teardown sets, so no test waits for a stuck connection.
"""

import asyncio
import json
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class FakeServer:
    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.handler = None
        self.released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> "FakeServer":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Seen(request.method, request.path, dict(request.query), dict(request.headers), body))
        assert self.handler is not None, "the test set no handler"
        return await self.handler(request)

    async def stall(self) -> None:
        await self.released.wait()


async def stream_bytes(
    request: web.Request,
    chunks: list[bytes],
    content_type: str,
    stall_after: int | None = None,
    server: FakeServer | None = None,
) -> web.StreamResponse:
    """Chunked transfer: each chunk is flushed on its own; optionally stall (never finish) after N chunks."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for index, chunk in enumerate(chunks):
        if stall_after is not None and index == stall_after and server is not None:
            await server.stall()
        await response.write(chunk)
        await asyncio.sleep(0.001)
    await response.write_eof()
    return response


def sse(events: list[object], done: bool = True) -> list[bytes]:
    lines = [f"data: {json.dumps(event)}\n\n".encode() for event in events]
    return [*lines, b"data: [DONE]\n\n"] if done else lines


def json_error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "test", **extra}}, status=status)
