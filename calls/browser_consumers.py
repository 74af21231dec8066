"""Talk to an agent from the browser: the operator's microphone into the same conversation as a phone call.

`/ws/agents/<agent id>/talk/?contact=<id>` (session-authenticated, origin-checked): staff who may add calls
and view agents get a test call (calls/services/browser.py) whose voice session is the one a phone call gets
(`VOICE_SESSION_FACTORY`: turn-taking, tools, fallback, transcript, latencies). The page speaks Twilio's
Media Streams messages — `media` frames of 20 ms 8 kHz μ-law (encoded in the page's AudioWorklet), `mark`
echoes once the audio before them has played, `stop` to hang up — so everything after the socket is the
phone path (`TwilioMediaStreamConsumer`, whose stream handling this consumer inherits). It also forwards the
call's live events (turns with their latencies, tools, the end) to the page, as `{"event": "live", ...}`.
Anyone else is closed with 4403 before anything is written.
"""

import json
import urllib.parse
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.module_loading import import_string

from calls.consumers import CLOSE_FORBIDDEN, CLOSE_INTERNAL_ERROR, TwilioMediaStreamConsumer, logger
from calls.live_events import call_group
from calls.services.browser import browser_call_finish, browser_call_start
from monitoring.metrics import ACTIVE_CALLS
from voice.sessions import StreamInfo

CLOSE_BAD_REQUEST = 4400
REQUIRED_PERMISSIONS = ("calls.add_call", "campaigns.view_agent")


def _may_talk(user: object) -> bool:
    return bool(user and user.is_authenticated and user.is_staff and user.has_perms(REQUIRED_PERMISSIONS))


class BrowserTestCallConsumer(TwilioMediaStreamConsumer):
    async def __call__(self, scope: dict, receive, send) -> None:
        # The generic consumer's loop (not the media consumer's socket-only one): the call's live events
        # arrive on the channel layer.
        await AsyncWebsocketConsumer.__call__(self, scope, receive, send)

    async def connect(self) -> None:
        self.begin_stream_state("")  # a call of its own is made below, once the operator may talk
        user = self.scope.get("user")
        if not await database_sync_to_async(_may_talk)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        agent_id = self.scope["url_route"]["kwargs"]["agent_id"]
        query = urllib.parse.parse_qs(self.scope.get("query_string", b"").decode())
        try:
            contact_id = int(query["contact"][0])
            call, language = await database_sync_to_async(browser_call_start)(agent_id=agent_id, contact_id=contact_id)
        except (KeyError, ValueError, LookupError):
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        self.call_id = call.pk
        await self.accept()
        await self.channel_layer.group_add(call_group(call.pk), self.channel_name)
        self.stream_sid, self.writable = f"MZ{uuid.uuid4().hex}", True
        await self.send(text_data=json.dumps({"event": "call", "call": str(call.pk), "streamSid": self.stream_sid}))
        self.session = import_string(settings.VOICE_SESSION_FACTORY)()
        ACTIVE_CALLS.inc()
        try:
            # The stream's parameters, as a phone call's TwiML gives them: the call's language.
            info = StreamInfo(str(call.pk), self.stream_sid, call.provider_call_id, {"language": language})
            await self.session.start(info, self)
        except Exception:
            logger.exception("browser call %s: the voice session did not start", call.pk)
            await self._ending()
            await self.close(code=CLOSE_INTERNAL_ERROR)

    async def call_event(self, message: dict) -> None:
        """The call's live events (turns, latencies, tools, the end), for the page."""
        if self.writable:
            await self.send(text_data=json.dumps({"event": "live", **message["event"]}))

    async def disconnect(self, code: int) -> None:
        await super().disconnect(code)
        if self.call_id:
            await self.channel_layer.group_discard(call_group(self.call_id), self.channel_name)

    async def _end(self, *, server_stopping: bool = False) -> None:
        """The phone path's end (the session's record, the stream's stop), then the call completed."""
        started = self.session is not None
        await super()._end(server_stopping=server_stopping)
        if started:
            await database_sync_to_async(browser_call_finish)(call_id=self.call_id)
