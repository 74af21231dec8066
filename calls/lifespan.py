"""The ASGI lifespan of the web process, for the calls it carries: a stopping server writes every call's record
before it exits.

uvicorn stops on SIGTERM by closing every WebSocket (code 1012, which the media consumer answers by ending its
call with a goodbye and recording it), waiting for the connections' tasks, then sending `lifespan.shutdown`.
Whatever is still being written then — ends of streams whose task was cancelled, the last writes of calls
that ended just before — is awaited here, up to `grace_s`, before the server may exit.
"""

import asyncio
import logging

from calls.live_events import serve_live_events_on

logger = logging.getLogger(__name__)


class CallsLifespan:
    """An ASGI application for the `lifespan` scope (route it from the project's ProtocolTypeRouter)."""

    def __init__(self, grace_s: float = 10.0) -> None:
        self.grace_s = grace_s

    async def __call__(self, scope: dict, receive, send) -> None:
        from calls.consumers import finish_live_streams

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                serve_live_events_on(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                left = await finish_live_streams(self.grace_s)
                if left:
                    logger.error("server stopping with %d call record(s) still being written", left)
                await send({"type": "lifespan.shutdown.complete"})
                return
