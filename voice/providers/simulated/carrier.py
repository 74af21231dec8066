"""A carrier that behaves like Twilio from the outside, for demos and tests with no account.

For each placed call it posts signed status callbacks in order (initiated, ringing, in-progress,
completed — or busy / no-answer), fetches the TwiML URL with a valid `X-Twilio-Signature`, follows
`<Connect><Stream>` by opening the media WebSocket and speaking the exact Media Streams messages
(`connected`, `start` with `customParameters`, 20 ms μ-law `media` frames paced in real time, `dtmf`,
`stop`), plays the audio we send back at real-time speed, echoes each `mark` once the audio queued
before it has "played", honours `clear` (dropping unplayed audio and returning its marks), and posts
the asynchronous AMD verdict. Requests are signed with `SIMULATED_CARRIER_AUTH_TOKEN`, which our
webhooks accept only while `TELEPHONY_PROVIDER=simulated`.

Where it runs: an asyncio loop on one daemon thread in the process that placed the call (under
`make run`, a Celery worker child). Calls are network I/O and timers, so one loop carries many; a
thread needs no extra process in the Procfile and no IPC to hand a call over, and the placing process
already exists whenever a call is placed. The price: calls in flight die with that process (a worker
restart) — exactly like a carrier outage, and handled the same way: their callbacks stop and the
reaper closes them as failed. **Each call has an owner whose death ends it**: the owning loop rewrites
every live call's status in the shared cache every `HEARTBEAT_SECONDS`, with a time-to-live of
`LIVE_TTL_SECONDS`, so a call whose process died is gone from the cache within seconds (a finished
call's last status stays `FINAL_TTL_SECONDS`); `fetch_status` then answers "unknown call" — once the
call has been missing for a whole time-to-live, so a cache that came back empty (a Redis restart) is
refilled by the next heartbeat before anyone is told the call is gone (`confirm_gone`). Control
requests from other processes (hang up, transfer, redirect) and status look-ups reach the owning loop
through Django's cache (the file cache in the demo, Redis in production), which every process shares.
The cache is never on the call's own path: a write that fails (Redis down) is logged and the call
goes on, its callbacks included.

`SIMULATED_CARRIER_TIME_SCALE` (default 1.0) multiplies every delay, so tests run calls faster than
real time; `SIMULATED_CARRIER_CHAOS` duplicates and reorders the callbacks, as a real network may.
"""

import asyncio
import contextlib
import email.utils
import functools
import logging
import math
import os
import random
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import websockets
from django.conf import settings
from django.core.cache import cache
from twilio.request_validator import RequestValidator

from voice import codec, media_streams
from voice.providers.base import CallState, CallStatusReport, MachineDetection, PlaceCallRequest
from voice.providers.simulated.personas import (
    Beep,
    Interrupt,
    Pause,
    Persona,
    PressKey,
    Say,
    Step,
    persona_for,
    spoken_in,
)
from voice.synthetic_audio import silence_ulaw, tone_ulaw, voiced_noise_ulaw

logger = logging.getLogger(__name__)

CACHE_PREFIX = "simulated-carrier"
COMMAND_POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 2.0  # how often the owning process rewrites its live calls' status
LIVE_TTL_SECONDS = 6  # a live call's status outlives its owner by at most this (three heartbeats)
FINAL_TTL_SECONDS = 3600  # a finished call's last status, for a late look-up
COMMAND_TTL_SECONDS = 600
GONE_MARKER_TTL_SECONDS = 600


def status_key(sid: str) -> str:
    return f"{CACHE_PREFIX}:status:{sid}"


def missing_key(sid: str) -> str:
    return f"{CACHE_PREFIX}:missing:{sid}"


def command_key(sid: str) -> str:
    return f"{CACHE_PREFIX}:command:{sid}"


def twilio_status(state: CallState) -> str:
    return state.value.replace("_", "-")


@dataclass
class CarrierConfig:
    account_sid: str
    auth_token: str
    time_scale: float
    chaos: bool
    forced_persona: str

    @classmethod
    def from_settings(cls) -> "CarrierConfig":
        return cls(
            account_sid=settings.SIMULATED_CARRIER_ACCOUNT_SID,
            auth_token=settings.SIMULATED_CARRIER_AUTH_TOKEN,
            time_scale=float(settings.SIMULATED_CARRIER_TIME_SCALE),
            chaos=bool(settings.SIMULATED_CARRIER_CHAOS),
            forced_persona=settings.SIMULATED_CARRIER_PERSONA,
        )


class Playback:
    """Our outbound audio as the callee's phone plays it: 160 bytes per 20 ms, marks echoed in order."""

    def __init__(self) -> None:
        self.items: deque[bytes | str] = deque()  # audio bytes, or a mark name
        self.playing_seconds = 0.0  # how long the current run of agent audio has been playing
        self.heard_bytes = 0

    def queue_audio(self, payload: bytes) -> None:
        self.items.append(payload)

    def queue_mark(self, name: str) -> None:
        self.items.append(name)

    def clear(self) -> list[str]:
        """Drop unplayed audio; the marks queued behind it are returned to be echoed at once."""
        marks = [item for item in self.items if isinstance(item, str)]
        self.items.clear()
        self.playing_seconds = 0.0
        return marks

    def tick(self) -> list[str]:
        """Play 20 ms; return the marks whose audio has now been heard."""
        marks: list[str] = []
        budget = codec.FRAME_BYTES
        while self.items and isinstance(self.items[0], str):
            marks.append(self.items.popleft())
        played = False
        while budget and self.items and isinstance(self.items[0], bytes):
            chunk = self.items.popleft()
            take, rest = chunk[:budget], chunk[budget:]
            budget -= len(take)
            self.heard_bytes += len(take)
            played = True
            if rest:
                self.items.appendleft(rest)
        while self.items and isinstance(self.items[0], str):  # all audio queued before it has now played
            marks.append(self.items.popleft())
        self.playing_seconds = self.playing_seconds + media_streams.FRAME_SECONDS if played else 0.0
        return marks


@dataclass
class SimulatedCall:
    sid: str
    request: PlaceCallRequest
    persona: Persona
    config: CarrierConfig
    state: CallState = CallState.QUEUED
    answered_at: float | None = None
    duration_seconds: int | None = None
    answered_by: str = ""
    commands: asyncio.Queue = field(default_factory=asyncio.Queue)
    sequence: int = 0
    background: set[asyncio.Task] = field(default_factory=set)
    playback: "Playback | None" = None  # what the callee hears of the call's media stream, while it is up

    def report(self) -> CallStatusReport:
        return CallStatusReport(
            provider_call_id=self.sid,
            state=self.state,
            duration_seconds=self.duration_seconds,
            answered_by=self.answered_by,
        )


def send_command(sid: str, command: tuple[str, str]) -> None:
    """Hand a control request (hangup / twiml / url) to the call, wherever its loop runs."""
    carrier = SimulatedCarrier.current()
    call = carrier.calls.get(sid) if carrier else None
    if carrier is not None and call is not None:
        carrier.loop.call_soon_threadsafe(call.commands.put_nowait, command)
    else:
        cache.set(command_key(sid), command, COMMAND_TTL_SECONDS)


def call_status(sid: str) -> CallStatusReport | None:
    """The call's state from its own carrier, or as its owner last wrote it in the shared cache (None: no
    living carrier has written it within LIVE_TTL_SECONDS, or its final status has expired)."""
    carrier = SimulatedCarrier.current()
    call = carrier.calls.get(sid) if carrier else None
    if call is not None:
        return call.report()
    report = cache.get(status_key(sid))
    if report is not None:
        cache.delete(missing_key(sid))
    return report


def confirm_gone(sid: str, *, now: float | None = None) -> bool:
    """Whether call `sid`, missing from the cache now, has been missing for a whole LIVE_TTL_SECONDS.

    The first look that misses it notes the time; only a miss that lasts longer than its owner's
    heartbeat could have left it missing means the owner is dead. A cache that lost everything (a Redis
    restart) is refilled by the next heartbeat, well within that time, so live calls are never declared
    gone by it.
    """
    now = time.time() if now is None else now
    cache.add(missing_key(sid), now, GONE_MARKER_TTL_SECONDS)
    first_missed = cache.get(missing_key(sid), now)
    return now - float(first_missed) >= LIVE_TTL_SECONDS


class SimulatedCarrier:
    """One per process: owns the event loop thread and the calls it is carrying."""

    _instance: "SimulatedCarrier | None" = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.calls: dict[str, SimulatedCall] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="simulated-carrier", daemon=True)
        self.thread.start()
        self.http: httpx.AsyncClient | None = None
        asyncio.run_coroutine_threadsafe(self._heartbeat(), self.loop)

    @classmethod
    def get(cls) -> "SimulatedCarrier":
        # After a fork (Celery's prefork pool) the parent's loop thread does not exist in the child.
        with cls._instance_lock:
            if cls._instance is None or cls._instance.pid != os.getpid():
                cls._instance = cls()
            return cls._instance

    # Called from any thread ------------------------------------------------------------------------

    def place(self, request: PlaceCallRequest) -> str:
        config = CarrierConfig.from_settings()
        sid = "CA" + uuid.uuid4().hex
        call = SimulatedCall(
            sid=sid,
            request=request,
            persona=persona_for(request.to, forced=config.forced_persona),
            config=config,
        )
        self.calls[sid] = call
        write_status(call)
        asyncio.run_coroutine_threadsafe(self._run(call), self.loop)
        return sid

    @classmethod
    def current(cls) -> "SimulatedCarrier | None":
        """This process's carrier, if it has placed any call (looking up others needs no loop thread)."""
        instance = cls._instance
        return instance if instance is not None and instance.pid == os.getpid() else None

    # On the loop -------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        """Every HEARTBEAT_SECONDS, rewrite the status of every live call this process owns (see the module)."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            live = {status_key(sid): call.report() for sid, call in list(self.calls.items()) if not call.state.terminal}
            if live:
                await asyncio.to_thread(
                    _cache_write, functools.partial(cache.set_many, live, LIVE_TTL_SECONDS), "heartbeat"
                )

    async def _run(self, call: SimulatedCall) -> None:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=15.0)
        watcher = asyncio.create_task(self._watch_cache_commands(call))
        try:
            await self._call_flow(call)
        except Exception:
            logger.exception("simulated call %s crashed", call.sid)
            if not call.state.terminal:
                await self._finish(call, CallState.FAILED)
        finally:
            watcher.cancel()
            if call.background:
                await asyncio.gather(*call.background, return_exceptions=True)
            self.calls.pop(call.sid, None)

    async def _sleep(self, call: SimulatedCall, seconds: float) -> None:
        await asyncio.sleep(seconds * call.config.time_scale)

    async def _call_flow(self, call: SimulatedCall) -> None:
        persona, request = call.persona, call.request
        await self._sleep(call, 0.1)
        await self._set_state(call, CallState.INITIATED)
        await self._sleep(call, 0.3)
        await self._set_state(call, CallState.RINGING)
        ring_timeout = request.ring_timeout_seconds
        if not persona.answers or persona.ring_seconds >= ring_timeout:
            # Busy is known at once; nobody answering rings until the ring timeout.
            rings = persona.ring_seconds if persona.unanswered_state == CallState.BUSY else ring_timeout
            hung_up = await self._wait_or_hangup(call, min(rings, ring_timeout))
            state = persona.unanswered_state if not persona.answers else CallState.NO_ANSWER
            await self._finish(call, CallState.CANCELED if hung_up else state)
            return
        if await self._wait_or_hangup(call, persona.ring_seconds):
            await self._finish(call, CallState.CANCELED)
            return
        call.answered_at = time.monotonic()
        call.state = CallState.IN_PROGRESS
        await self._remember(call)
        # Like Twilio: the TwiML is requested when the callee answers, then the `answered` callback goes out.
        document = await self._fetch_twiml(call, request.twiml_url)
        await self._send_status(call, CallState.IN_PROGRESS)
        if request.machine_detection != MachineDetection.OFF:
            self._spawn(call, self._send_amd(call))
        try:
            async with asyncio.timeout(request.time_limit_seconds * call.config.time_scale):
                await self._converse(call, document)
        except TimeoutError:
            logger.info("simulated call %s reached its time limit", call.sid)
        await self._finish(call, CallState.COMPLETED)

    async def _wait_or_hangup(self, call: SimulatedCall, seconds: float) -> bool:
        """Ring for `seconds`; True if we were told to hang up meanwhile (the call is then canceled)."""
        try:
            async with asyncio.timeout(seconds * call.config.time_scale):
                while True:
                    kind, _ = await call.commands.get()
                    if kind == "hangup":
                        call.state = CallState.CANCELED
                        return True
        except TimeoutError:
            return False

    async def _converse(self, call: SimulatedCall, document: str | None) -> None:
        """Run TwiML until it ends; a control request replaces it (hang up, new TwiML, redirect)."""
        while document is not None:
            execution = asyncio.create_task(self._execute(call, document))
            command = asyncio.create_task(call.commands.get())
            done, _ = await asyncio.wait({execution, command}, return_when=asyncio.FIRST_COMPLETED)
            if execution in done:
                command.cancel()
                execution.result()
                return
            execution.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await execution
            kind, value = command.result()
            if kind == "hangup":
                return
            document = value if kind == "twiml" else await self._fetch_twiml(call, value)

    async def _execute(self, call: SimulatedCall, document: str) -> None:
        # Our own application's TwiML, not untrusted input.
        root = ET.fromstring(document)  # noqa: S314
        for verb in root:
            if verb.tag == "Hangup":
                return
            if verb.tag == "Connect":
                stream = verb.find("Stream")
                if stream is not None:
                    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
                    await self._stream(call, stream.get("url", ""), params)
            elif verb.tag == "Dial":
                await self._sleep(call, 3.0)  # the human and the callee talk, then hang up
            elif verb.tag == "Redirect":
                redirected = await self._fetch_twiml(call, (verb.text or "").strip())
                if redirected:
                    await self._execute(call, redirected)
                return
            else:
                await self._sleep(call, 1.0)  # <Say>, <Play>, <Pause>: something plays for a while

    # Media stream ------------------------------------------------------------------------------------

    async def _stream(self, call: SimulatedCall, url: str, parameters: dict[str, str]) -> None:
        signature = RequestValidator(call.config.auth_token).compute_signature(url, {})
        try:
            async with websockets.connect(
                url, additional_headers={"X-Twilio-Signature": signature}, open_timeout=10, max_size=2**20
            ) as ws:
                await CalleeStream(call, ws).run(parameters)
        except (OSError, websockets.WebSocketException) as error:
            logger.warning("simulated call %s: media stream failed: %s", call.sid, error)

    # Callbacks ---------------------------------------------------------------------------------------

    async def _set_state(self, call: SimulatedCall, state: CallState) -> None:
        call.state = state
        await self._remember(call)
        await self._send_status(call, state)

    async def _finish(self, call: SimulatedCall, state: CallState) -> None:
        if call.answered_at is not None and state == CallState.COMPLETED:
            elapsed = (time.monotonic() - call.answered_at) / (call.config.time_scale or 1)
            call.duration_seconds = max(1, math.ceil(elapsed))
        else:
            call.duration_seconds = 0
        call.state = state
        await self._remember(call)
        await self._send_status(call, state)
        if call.request.record and call.answered_at is not None:
            self._spawn(call, self._send_recording(call))

    async def _remember(self, call: SimulatedCall) -> None:
        await asyncio.to_thread(write_status, call)

    def _base_params(self, call: SimulatedCall) -> dict[str, str]:
        return {
            "AccountSid": call.config.account_sid,
            "CallSid": call.sid,
            "From": call.request.from_,
            "To": call.request.to,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
        }

    async def _send_status(self, call: SimulatedCall, state: CallState) -> None:
        params = self._base_params(call) | {
            "CallStatus": twilio_status(state),
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(call.sequence),
            "Timestamp": email.utils.formatdate(usegmt=True),
        }
        call.sequence += 1
        if state.terminal:
            params["CallDuration"] = str(call.duration_seconds or 0)
            if call.answered_by and call.request.machine_detection != MachineDetection.OFF:
                params["AnsweredBy"] = call.answered_by
        await self._deliver(call, call.request.status_callback_url, params)

    async def _send_amd(self, call: SimulatedCall) -> None:
        persona = call.persona
        await self._sleep(call, persona.amd_seconds)
        answered_by = persona.answered_by
        if answered_by == "machine_end_beep" and call.request.machine_detection == MachineDetection.ENABLE:
            answered_by = "machine_start"  # Enable answers before the greeting ends
        call.answered_by = answered_by
        params = self._base_params(call) | {
            "AnsweredBy": answered_by,
            "MachineDetectionDuration": str(int(persona.amd_seconds * 1000)),
        }
        await self._post(call, call.request.amd_callback_url, params)

    async def _send_recording(self, call: SimulatedCall) -> None:
        await self._sleep(call, 0.5)
        recording_sid = "RE" + uuid.uuid4().hex
        params = {
            "AccountSid": call.config.account_sid,
            "CallSid": call.sid,
            "RecordingSid": recording_sid,
            "RecordingUrl": f"https://simulated-carrier.invalid/Recordings/{recording_sid}",
            "RecordingStatus": "completed",
            "RecordingDuration": str(call.duration_seconds or 0),
            "RecordingChannels": "1",
            "RecordingSource": "OutboundAPI",
        }
        await self._post(call, call.request.recording_callback_url, params)

    async def _deliver(self, call: SimulatedCall, url: str, params: dict[str, str]) -> None:
        """Post in order; with chaos on, late (reordered) and sometimes twice (duplicated)."""
        if not call.config.chaos:
            await self._post(call, url, params)
            return
        rng = random.Random(f"{call.sid}:{params.get('SequenceNumber')}")  # noqa: S311 - not cryptography
        for _ in range(2 if rng.random() < 0.6 else 1):
            self._spawn(call, self._post_later(call, url, params, rng.uniform(0, 0.8)))

    async def _post_later(self, call: SimulatedCall, url: str, params: dict[str, str], delay: float) -> None:
        await self._sleep(call, delay)
        await self._post(call, url, params)

    async def _post(self, call: SimulatedCall, url: str, params: dict[str, str]) -> httpx.Response | None:
        if not url:
            return None
        signature = RequestValidator(call.config.auth_token).compute_signature(url, params)
        try:
            response = await self.http.post(url, data=params, headers={"X-Twilio-Signature": signature})
        except httpx.HTTPError as error:
            logger.warning("simulated call %s: callback to %s failed: %s", call.sid, url, error)
            return None
        if response.status_code >= 400:
            logger.warning("simulated call %s: %s answered %s", call.sid, url, response.status_code)
        return response

    async def _fetch_twiml(self, call: SimulatedCall, url: str) -> str | None:
        params = self._base_params(call) | {"CallStatus": twilio_status(CallState.IN_PROGRESS)}
        response = await self._post(call, url, params)
        if response is None or response.status_code != 200:
            # Twilio says "an application error has occurred" and hangs up.
            return None
        return response.text

    async def _watch_cache_commands(self, call: SimulatedCall) -> None:
        """Control requests made in other processes arrive through the shared cache (none while it is down)."""
        while True:
            await asyncio.sleep(COMMAND_POLL_SECONDS)
            command = await asyncio.to_thread(_cache_write, lambda: cache.get(command_key(call.sid)), "")
            if command is not None:
                await asyncio.to_thread(_cache_write, lambda: cache.delete(command_key(call.sid)), "")
                call.commands.put_nowait(tuple(command))

    def _spawn(self, call: SimulatedCall, coroutine: Awaitable) -> None:
        task = asyncio.ensure_future(coroutine)
        call.background.add(task)
        task.add_done_callback(call.background.discard)


def write_status(call: SimulatedCall) -> None:
    """Publish the call's status for other processes: a live call's expires with its owner's heartbeat."""
    ttl = FINAL_TTL_SECONDS if call.state.terminal else LIVE_TTL_SECONDS
    _cache_write(lambda: cache.set(status_key(call.sid), call.report(), ttl), f"status of call {call.sid}")


def _cache_write(operation: Callable[[], object], what: str) -> object:
    """Run a cache operation of the carrier; a cache that is down costs other processes their view of the
    call, never the call itself (its callbacks go to the webhooks, not the cache)."""
    try:
        return operation()
    except Exception as error:  # whatever the cache backend raises when its server is unreachable
        if what:
            logger.warning("simulated carrier: could not write the %s to the cache: %s", what, error)
        return None


def simulation_parameters(persona: Persona) -> dict[str, str]:
    """Simulation only: what the callee will say, for the simulated STT to "hear" (real Twilio sends only the
    TwiML's <Parameter>s). `caller_script` is the persona's utterances in order, joined by '|'."""
    said = [step.say if isinstance(step, Interrupt) else step for step in persona.script]
    lines = [step.text.replace("|", " ") for step in said if isinstance(step, Say)]
    return {"caller_script": "|".join(lines), "persona": persona.name}


class CalleeStream:
    """The carrier's side of one media stream: the callee's audio in, our audio played out."""

    def __init__(self, call: SimulatedCall, ws: websockets.ClientConnection) -> None:
        self.call = call
        self.ws = ws
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.playback = call.playback = Playback()
        self.inbound: deque[bytes] = deque()  # callee audio waiting to be sent, 20 ms frames
        self._sequence = 0

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    async def run(self, parameters: dict[str, str]) -> None:
        call = self.call
        call.persona = spoken_in(call.persona, parameters.get("language", ""))  # the callee speaks the agent's
        await self.ws.send(media_streams.connected_message())
        await self.ws.send(
            media_streams.start_message(
                sequence_number=self.next_sequence(),
                stream_sid=self.stream_sid,
                account_sid=call.config.account_sid,
                call_sid=call.sid,
                custom_parameters=parameters | simulation_parameters(call.persona),
            )
        )
        script = asyncio.create_task(self._perform())
        tasks = [script, asyncio.create_task(self._read_outbound()), asyncio.create_task(self._pace())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if script in done and script.exception() is None:
            # The callee hung up: Twilio ends the stream with `stop`, then closes it.
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(
                    media_streams.stop_message(
                        sequence_number=self.next_sequence(),
                        stream_sid=self.stream_sid,
                        account_sid=call.config.account_sid,
                        call_sid=call.sid,
                    )
                )
                # Let the server finish with the stream (it records the stop) before the call's last callback.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.ws.wait_closed(), timeout=5)

    async def _echo_marks(self, names: list[str]) -> None:
        for name in names:
            await self.ws.send(
                media_streams.mark_echo_message(
                    sequence_number=self.next_sequence(), stream_sid=self.stream_sid, name=name
                )
            )

    async def _read_outbound(self) -> None:
        """Our messages: audio to play, marks to echo once played, `clear` to drop what is unplayed."""
        async for text in self.ws:
            event, message = media_streams.parse_outbound(text)
            if event == "media":
                self.playback.queue_audio(media_streams.parse_inbound(text).payload)
            elif event == "mark":
                self.playback.queue_mark(message["mark"]["name"])
            else:
                await self._echo_marks(self.playback.clear())

    async def _pace(self) -> None:
        """Every 20 ms: send one frame of the callee's audio (silence when quiet) and play 20 ms of ours."""
        interval = media_streams.FRAME_SECONDS * self.call.config.time_scale
        silent = silence_ulaw(codec.FRAME_MS)
        loop = asyncio.get_running_loop()
        started = loop.time()
        chunk = 0
        while True:
            chunk += 1
            await self.ws.send(
                media_streams.inbound_media_message(
                    sequence_number=self.next_sequence(),
                    stream_sid=self.stream_sid,
                    chunk=chunk,
                    timestamp_ms=chunk * 20,
                    payload=self.inbound.popleft() if self.inbound else silent,
                )
            )
            await self._echo_marks(self.playback.tick())
            # An absolute schedule: no drift however long a send took.
            await asyncio.sleep(max(0.0, started + chunk * interval - loop.time()))

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds * self.call.config.time_scale)

    async def _perform(self) -> None:
        """The callee's side of the conversation, from the persona's script; returning = hanging up."""
        for index, step in enumerate(self.call.persona.script):
            await self._step(step, seed=index)

    async def _step(self, step: Step, *, seed: int) -> None:
        if isinstance(step, Say):
            self.inbound.extend(codec.reframe([voiced_noise_ulaw(round(step.seconds * 1000), seed=seed)]))
            await self._sleep(step.seconds)
        elif isinstance(step, Beep):
            self.inbound.extend(codec.reframe([tone_ulaw(1400, round(step.seconds * 1000))]))
            await self._sleep(step.seconds)
        elif isinstance(step, Pause):
            await self._sleep(step.seconds)
        elif isinstance(step, PressKey):
            await self.ws.send(
                media_streams.dtmf_message(
                    sequence_number=self.next_sequence(), stream_sid=self.stream_sid, digit=step.digit
                )
            )
        elif isinstance(step, Interrupt):
            waited = 0.0
            while self.playback.playing_seconds < step.after_seconds and waited < step.give_up_seconds:
                await self._sleep(media_streams.FRAME_SECONDS)
                waited += media_streams.FRAME_SECONDS
            await self._step(step.say, seed=seed)
