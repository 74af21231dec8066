"""WebSockets of calls: supervisors' live board and call feeds, and Twilio's media stream for each call."""

import asyncio
import contextlib
import importlib
import logging

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings
from django.utils.module_loading import import_string

from calls import listen_in
from calls.live_events import VOICE_MESSAGE_TYPE, call_group, voice_group
from calls.live_hub import board_hub
from calls.media_tokens import PARAMETER, media_token_valid
from calls.permissions import LISTEN_LIVE_CALLS, STEER_LIVE_CALLS, VIEW_LIVE_CALLS, may
from calls.services import StreamStart, call_media_stream_start, call_record_media_stop
from monitoring.metrics import ACTIVE_CALLS, MEDIA_FRAMES
from voice import media_streams
from voice.codec import FRAME_BYTES
from voice.sessions import VoiceSession, stream_info

logger = logging.getLogger(__name__)
FRAMES_PER_REPORT = 50  # inbound frames counted once a second of audio: a metric update costs ~1 µs
FRAMES_IN = MEDIA_FRAMES.labels(direction="in")

# Close codes of the media stream (4000–4999 are the application's own).
CLOSE_PROTOCOL_ERROR = 4400
CLOSE_UNAUTHORIZED = 4401  # no or wrong media token in `start`
CLOSE_FORBIDDEN = 4403  # X-Twilio-Signature does not sign this stream's URL; a browser without the permission
CLOSE_UNKNOWN_CALL = 4404  # no such call, another CallSid, or the call has ended
CLOSE_STREAM_LIVE = 4409  # the call already has a live media stream
CLOSE_INTERNAL_ERROR = 1011  # the voice session could not start
# The close code a stopping server gives its open WebSockets (uvicorn's graceful shutdown: "service restart").
SERVER_STOPPING = 1012

# Streams whose end is being recorded after their task was cancelled (a server that cancels its connections
# on the way out): kept referenced until done, and awaited by `finish_live_streams`.
_ENDING: set[asyncio.Task] = set()


async def finish_live_streams(timeout_s: float = 10.0) -> int:
    """Wait up to `timeout_s` for every stream's end still being recorded in this process — ends started by a
    cancellation, and finished calls' last writes; how many are left. The ASGI lifespan's shutdown runs this
    (`calls.lifespan`), so the process exits only after every call's record is written."""
    from voice.pipeline.call_record import unfinished

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    if _ENDING:
        await asyncio.wait(set(_ENDING), timeout=timeout_s)
    left = sum(1 for task in _ENDING if not task.done())
    return left + await unfinished(max(0.0, deadline - loop.time()))


def preload() -> None:
    """Import what a media stream needs (the session factory's pipeline, the adapters the settings choose)
    before the server takes its first call; `config.asgi` calls this.

    Left to the first stream, these imports — hundreds of modules, the μ-law tables among them — would run on
    the event loop while the first calls are already talking, and every call's audio would stall meanwhile.
    Nothing is built or connected here, so settings changed later (tests) still take effect.
    """
    from voice.providers.selection import telephony_module
    from voice.providers.speech_selection import adapter_modules

    import_string(settings.VOICE_SESSION_FACTORY)
    from voice.pipeline import speech_model

    speech_model.available()  # loads the Silero model once for the process (tens of ms), not under a call
    from voice.pipeline import callback_times

    callback_times.warm_up()  # dateparser's language data (~0.1 s a language), not at a call's first callback
    for module in ("calls.twiml", telephony_module(), *adapter_modules()):
        importlib.import_module(module)
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default")
    if layer:
        import_string(layer["BACKEND"])  # the class only: the layer is built (and connects) on first use
    if settings.DATABASES["default"].get("OPTIONS", {}).get("pool"):
        importlib.import_module("psycopg_pool")  # Django imports it as the first connection opens


def signature_required() -> bool:
    """Whether a media stream's handshake must carry `X-Twilio-Signature`: whenever Twilio credentials are set
    (then a media token alone, which travels in the TwiML, is not enough)."""
    return settings.TELEPHONY_PROVIDER == "twilio" or bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN)


class LiveSupervisionConsumer(AsyncJsonWebsocketConsumer):
    """A browser of live supervision: staff holding `permission` only; anyone else is closed with 4403 before
    any event is sent (accepted first: a handshake refused outright reaches a browser as 1006, without a
    reason). Messages from the browser are ignored, the microphone of a take-over excepted (`SpeakConsumer`):
    steering goes through POSTs, which carry CSRF protection and are audited."""

    permission = VIEW_LIVE_CALLS

    async def connect(self) -> None:
        if not await database_sync_to_async(may)(self.scope.get("user"), self.permission):
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.groups_joined: list[str] = []
        for group in self.live_groups():
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()

    def live_groups(self) -> list[str]:
        """The channel-layer groups this socket joins once its user may watch (none by default; each live
        socket below names its own, or subscribes elsewhere and joins none)."""
        return []

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)


class LiveCallsConsumer(LiveSupervisionConsumer):
    """The live board's feed (`ws/calls/live/`): every live call's status, AMD verdict, turns and tools.

    It joins no group itself: the process's `BoardHub` (calls/live_hub.py) receives each event once, coalesces
    per call and sends every watcher `{"calls": {call id: patch}}` at most every 200 ms. A slow watcher holds
    one pending patch per call, never a growing queue. No channel of its own either (nothing is sent to it).
    """

    channel_layer_alias = "no layer: the board hub receives for every watcher"

    def live_groups(self) -> list[str]:
        self.watcher = board_hub().subscribe(self, self._send_text)
        return []

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "watcher", None) is not None:
            board_hub().unsubscribe(self)


class ListenInConsumer(LiveSupervisionConsumer):
    """One call's audio, both sides (`ws/calls/<uuid>/audio/`), for staff who may listen: binary frames of one
    track byte (0 callee, 1 agent) and 160 bytes of μ-law, as the call carries them (calls/listen_in.py).

    It announces its channel on the call's group when it connects, and again when the call's conversation
    starts (a listener may arrive while the call still rings); the stream's tap then sends it frames, dropping
    those its channel has no room for. Each frame is sent as it comes: a browser that reads slowly fills the
    channel, and frames are lost there, never queued here.
    """

    permission = LISTEN_LIVE_CALLS

    def live_groups(self) -> list[str]:
        self.call_id = str(self.scope["url_route"]["kwargs"]["call_id"])
        return [call_group(self.call_id)]

    async def connect(self) -> None:
        await super().connect()
        if getattr(self, "groups_joined", None):  # accepted: it may listen
            await self._announce("start")

    async def _announce(self, action: str) -> None:
        message = {"type": listen_in.LISTEN_MESSAGE_TYPE, "action": action, "channel": self.channel_name}
        await self.channel_layer.group_send(call_group(self.call_id), message)

    async def call_event(self, message: dict) -> None:
        event = message.get("event") or {}
        if event.get("kind") == "conversation" and event.get("state") == "started":
            await self._announce("start")

    async def call_listen(self, message: dict) -> None:
        """Announcements (its own among them) are for the media stream."""

    async def call_steer(self, message: dict) -> None:
        """Steering is shown by the call's feed, not here."""

    async def listen_audio(self, message: dict) -> None:
        await self.send(bytes_data=listen_in.frame_bytes(message))

    async def disconnect(self, code: int) -> None:
        if getattr(self, "groups_joined", None):
            await self._announce("stop")
        await super().disconnect(code)


class SpeakConsumer(LiveSupervisionConsumer):
    """A supervisor's microphone on a call they took over (`ws/calls/<uuid>/speak/`, steering permission): binary
    messages of 160 bytes of 8 kHz μ-law (20 ms), sent on to the call's conversation, which plays them only
    while the call is taken over (anything else is dropped there). A message of another size is ignored."""

    permission = STEER_LIVE_CALLS

    def live_groups(self) -> list[str]:
        self.call_id = str(self.scope["url_route"]["kwargs"]["call_id"])
        return []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None and len(bytes_data) == FRAME_BYTES:
            message = {"type": VOICE_MESSAGE_TYPE, "payload": bytes_data}
            await self.channel_layer.group_send(voice_group(self.call_id), message)


class CallFeedConsumer(LiveSupervisionConsumer):
    """One call's live events (`ws/calls/<uuid>/`), each forwarded as it comes: every turn matters here."""

    def live_groups(self) -> list[str]:
        return [call_group(self.scope["url_route"]["kwargs"]["call_id"])]

    async def call_event(self, message: dict) -> None:
        await self.send_json(message["event"])

    async def call_listen(self, message: dict) -> None:
        """A listener announcing itself to the call's media stream; nothing to show."""

    async def call_steer(self, message: dict) -> None:
        """A supervisor's steering, shown in every watcher's page (never the guidance text's author alone)."""
        await self.send_json({"kind": "steer", "action": message.get("action"), "text": message.get("text", ""),
                              "by": message.get("by", "")})  # fmt: skip


class TwilioMediaStreamConsumer(AsyncWebsocketConsumer):
    """One call's Twilio Media Stream (`/ws/twilio/media/<call uuid>/`), handed to a voice session.

    Trust: Twilio sends no Origin and no cookie, so the route has no origin check or session auth.
    Instead an `X-Twilio-Signature` on the handshake must sign the stream URL — required whenever Twilio
    credentials are set, checked whenever present (else the handshake is refused) — and the `start` message
    must carry this call's media token in `customParameters` (else close 4401). Until `start` is accepted
    nothing is written and no session exists; an unknown or finished call closes 4404, a second stream
    while the call's stream is live 4409 (logged), a malformed message 4400.

    Cost: the database is touched twice per stream (start, stop) through `database_sync_to_async`,
    never per frame. Per message, what Channels' generic consumer would add is left out — 50 frames a
    second per call in, as many out: `dispatch` skips the `aclose_old_connections()` thread hop (this
    consumer never uses a connection outside the wrapped services), `__call__` reads the socket
    directly instead of racing it against a channel-layer channel nobody sends to (a new task and an
    `asyncio.wait` per message), and audio goes straight to the server's `send`.
    """

    async def __call__(self, scope: dict, receive, send) -> None:
        self.scope, self.base_send, self.channel_layer = scope, send, None
        # `receive()` returns without suspending while frames are queued (a backlog after a slow start, say;
        # uvicorn's receive is a queue's `get`): yield after each one, so draining it never holds up the call's
        # own reply and playout, or other calls. The same in tests and production; one cheap loop turn a frame.
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            # The server cancels the connection (it is stopping and will not wait): the call's record is still
            # written, by a task of its own that outlives this one.
            if getattr(self, "session", None) is not None:
                self._ending(server_stopping=True)
            raise

    async def dispatch(self, message: dict) -> None:
        if message["type"] == "websocket.receive":  # 50 a second per call: to `receive` without the lookups
            text = message.get("text")
            await (self.receive(text_data=text) if text is not None else self.receive(bytes_data=message["bytes"]))
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def begin_stream_state(self, call_id: object) -> None:
        """The state a stream starts with (a subclass that connects its own way calls this too)."""
        self.call_id = call_id
        self.session: VoiceSession | None = None
        self.tap = listen_in.ListenTap(str(call_id))  # dormant until the stream starts (`open_tap`)
        self.stream_sid = ""
        self.frames_in = 0
        self.writable = False  # from an accepted `start` until the stream ends: only then is anything sent
        self._end_task: asyncio.Task | None = None

    async def connect(self) -> None:
        from calls.twiml import media_stream_url
        from voice.providers.selection import telephony

        self.begin_stream_state(self.scope["url_route"]["kwargs"]["call_id"])
        headers = dict(self.scope.get("headers") or [])
        signature = headers.get(b"x-twilio-signature", b"").decode("latin-1")
        if (signature or signature_required()) and not telephony().validate_signature(
            media_stream_url(self.call_id), {}, signature
        ):
            logger.warning("media stream for call %s refused: %s handshake signature", self.call_id,
                           "a wrong" if signature else "no")  # fmt: skip
            await self.close(code=CLOSE_FORBIDDEN)  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = media_streams.parse_inbound(text_data if text_data is not None else bytes_data or b"")
        except media_streams.ProtocolError as error:
            logger.warning("media stream for call %s: %s", self.call_id, error)
            await self.close(code=CLOSE_PROTOCOL_ERROR)
            return
        if self.session is None:
            await self._handshake(message)
        elif isinstance(message, media_streams.Media):
            self.frames_in += 1
            if self.frames_in % FRAMES_PER_REPORT == 0:  # a counter update a second, not per frame
                FRAMES_IN.inc(FRAMES_PER_REPORT)
            self.tap.offer("in", message.payload)
            await self.session.on_media(message.payload)
        elif isinstance(message, media_streams.Mark):
            await self.session.on_mark(message.name)
        elif isinstance(message, media_streams.Dtmf):
            await self.session.on_dtmf(message.digit)
        elif isinstance(message, media_streams.Stop):
            await asyncio.shield(self._ending())
            await self.close()

    async def _handshake(self, message: media_streams.InboundMessage) -> None:
        if isinstance(message, media_streams.Connected):
            return
        token = message.custom_parameters.get(PARAMETER, "") if isinstance(message, media_streams.Start) else ""
        if not media_token_valid(token, self.call_id):
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        started = await database_sync_to_async(call_media_stream_start)(
            call_id=self.call_id,
            call_sid=message.call_sid,
            stream_sid=message.stream_sid,
            payload={"event": "start", "streamSid": message.stream_sid, "tracks": list(message.tracks)},
        )
        if started is StreamStart.ANOTHER_STREAM_LIVE:
            logger.warning("media stream %s for call %s refused: the call has a live stream", message.stream_sid,
                           self.call_id)  # fmt: skip
            await self.close(code=CLOSE_STREAM_LIVE)
            return
        if started is not StreamStart.STARTED:
            await self.close(code=CLOSE_UNKNOWN_CALL)
            return
        self.stream_sid = message.stream_sid
        self.writable = True
        self.session = import_string(settings.VOICE_SESSION_FACTORY)()
        self.tap = listen_in.open_tap(self.call_id)
        ACTIVE_CALLS.inc()
        try:
            await self.session.start(stream_info(call_id=str(self.call_id), start=message), self)
        except Exception:
            # The stream is recorded as started: it must be recorded as ended too, and the carrier let go.
            logger.exception("media stream for call %s: the voice session did not start", self.call_id)
            await asyncio.shield(self._ending())
            await self.close(code=CLOSE_INTERNAL_ERROR)

    async def disconnect(self, code: int) -> None:
        await asyncio.shield(self._ending(server_stopping=code == SERVER_STOPPING))

    def _ending(self, *, server_stopping: bool = False) -> asyncio.Task:
        """The stream's end, run once in a task of its own: a cancelled connection does not cut it short."""
        if self._end_task is None:
            self._end_task = asyncio.ensure_future(self._end(server_stopping=server_stopping))
            _ENDING.add(self._end_task)
            self._end_task.add_done_callback(_ENDING.discard)
        return self._end_task

    async def _end(self, *, server_stopping: bool = False) -> None:
        """Once per stream, whichever comes first: the carrier's `stop`, or the socket closing — because the
        server is stopping, in which case the session ends the call for the callee (a goodbye) first.

        Nothing is sent from here on (Twilio treats any message after its `stop` as a protocol error, and a
        dropped socket takes none). Never raises: whatever the session does on its way out, the stream's stop
        is recorded."""
        self.writable = False
        session, self.session = self.session, None
        if session is None:
            return
        stream_sid = self.stream_sid
        listen_in.close_tap(self.call_id)
        ACTIVE_CALLS.dec()
        FRAMES_IN.inc(self.frames_in % FRAMES_PER_REPORT)
        try:
            if server_stopping:
                logger.info("media stream for call %s: the server is stopping under the call", self.call_id)
                await session.server_stopping()
            await session.stop()
        except Exception:
            logger.exception("media stream for call %s: the voice session did not stop cleanly", self.call_id)
        finally:
            try:
                await database_sync_to_async(call_record_media_stop)(
                    call_id=self.call_id, stream_sid=stream_sid, payload={"event": "stop", "streamSid": stream_sid}
                )
            except Exception:
                logger.exception("media stream for call %s: its stop was not recorded", self.call_id)

    # MediaSender: what the voice session uses to talk back ----------------------------------------

    async def send_audio(self, payload: bytes) -> None:
        if self.writable:
            self.tap.offer("out", payload)
            await self.base_send(
                {"type": "websocket.send", "text": media_streams.media_message(self.stream_sid, payload)}
            )

    async def send_mark(self, name: str) -> None:
        if self.writable:
            await self.send(text_data=media_streams.mark_message(self.stream_sid, name))

    async def clear(self) -> None:
        if self.writable:
            await self.send(text_data=media_streams.clear_message(self.stream_sid))

    async def hang_up(self) -> None:
        if self.writable:
            await self.close()

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close the stream; nothing is sent after it."""
        self.writable = False
        await super().close(code=code, reason=reason)
