"""One subscription to the live board's group per server process, fanned out to its supervisors' sockets.

Every board watcher subscribing to `calls.live` itself would make the process receive, decode and merge each
event once per watcher (ten supervisors: ten times the events). The hub receives each event once, keeps the
coalesced patch per call (calls/live_board.py), and every `FLUSH_INTERVAL_S` serialises the patches once and
hands the same text to each watcher. A watcher still sending the previous update (a slow browser) is not
waited for: the new patches are merged into its own backlog, one pending patch per call, and sent when it
is free. The process's cost grows with the events plus one send per watcher per flush — not with their product.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

from calls.live_board import BoardCoalescer
from calls.live_events import LIVE_CALLS_GROUP

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.2  # a new call shows within this (the page's promise is 500 ms from `initiated`)
LAYER_RETRY_S = 1.0

Send = Callable[[str], Awaitable[None]]


class Watcher:
    """One board socket: sends one update at a time; what arrives meanwhile waits, merged per call."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.backlog: dict[str, dict[str, Any]] = {}
        self.sending: asyncio.Task | None = None

    def offer(self, text: str, patches: dict[str, dict[str, Any]]) -> None:
        if self.sending is None:
            self.sending = asyncio.create_task(self._send(text))
            return
        for call, patch in patches.items():
            self.backlog.setdefault(call, {}).update(patch)

    async def _send(self, text: str) -> None:
        try:
            while True:
                await self.send(text)
                if not self.backlog:
                    return
                backlog, self.backlog = self.backlog, {}
                text = json.dumps({"calls": backlog})
        except Exception:  # a socket gone mid-send: its consumer's disconnect unsubscribes it
            logger.debug("board update not sent", exc_info=True)
        finally:
            self.sending = None

    def stop(self) -> None:
        if self.sending is not None:
            self.sending.cancel()


class BoardHub:
    """The process's board feed, on the event loop that created it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.board = BoardCoalescer()
        self.watchers: dict[object, Watcher] = {}
        self.task: asyncio.Task | None = None

    def subscribe(self, key: object, send: Send) -> Watcher:
        watcher = self.watchers[key] = Watcher(send)
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        return watcher

    def unsubscribe(self, key: object) -> None:
        watcher = self.watchers.pop(key, None)
        if watcher is not None:
            watcher.stop()
        if not self.watchers and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(LIVE_CALLS_GROUP, channel)
        flusher = asyncio.create_task(self._flush_every())
        try:
            while True:
                try:
                    message = await layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a layer that failed (Redis restarting): the board resumes when it is back
                    logger.warning("live board: the channel layer failed; retrying", exc_info=True)
                    await asyncio.sleep(LAYER_RETRY_S)
                    continue
                if message.get("type") == "call.event":
                    self.board.add(message.get("event") or {})
        finally:
            flusher.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(layer.group_discard(LIVE_CALLS_GROUP, channel))

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            if self.board:
                self.flush()

    def flush(self) -> None:
        patches = self.board.drain()
        text = json.dumps({"calls": patches})
        for watcher in list(self.watchers.values()):
            watcher.offer(text, patches)


_hub: BoardHub | None = None


def board_hub() -> BoardHub:
    """This process's hub (a new one for a new event loop: tests run each on its own)."""
    global _hub
    if _hub is None or _hub.loop is not asyncio.get_running_loop():
        _hub = BoardHub()
    return _hub
