"""Real speech on real lines, through the media consumer: each line condition × each caller script.

A carrier on the far side of the real media consumer (`config.asgi.application`, the production
`ConversationSession` and its calls-side host on the database) plays the agent's audio as Twilio does — a frame
per 20 ms tick, marks echoed once the audio before them has played, `clear` dropping what has not — and sends a
frame per tick of the line: the condition's background (white noise, other voices, music, the faint hiss of
an echoing line), the caller's espeak-ng phrases (voice/tests/fixtures/speech) at their moment, the agent's
own voice coming back 20 dB down under the echo condition, frames lost under a loss condition (never sent),
the caller far too loud under clipping.

Everything is measured in ticks of that 20 ms line clock on a virtual-time loop (voice/tests/virtual_time.py),
so a busy machine changes nothing. The speech providers are the simulated ones with no delay: the agent's
reply begins at the tick its turn's end was found. Asserted for every condition and script:

- the end of the caller's speech is found within 800 ms of its real end (p95 of the script's turns; the
  first frame of the reply arrives by then);
- no reply starts while the caller is still speaking (no agent audio between their first and last frame;
  over the agent, none after the barge-in);
- a caller who speaks over the agent's reply silences it within 400 ms of starting (the last frame of the
  agent's audio that plays).

Scripts: "answers" (waits for the agent to finish, then speaks), "barges in" (over the agent's reply, 800 ms
in) and "pauses mid-sentence" (two phrases, 400 ms apart, one turn). The wider sweep (more seeds, the
detectors side by side) is bench/bench_endpointing.py.
"""

import asyncio
import base64
import json
from collections import deque
from dataclasses import dataclass, field

import numpy
import pytest
from channels.testing import WebsocketCommunicator

from calls.conversation_host import CallConversationHost
from calls.tests.test_media_consumer import path_for, start
from config.asgi import application
from voice import codec
from voice import media_streams as ms
from voice.line_conditions import (
    CONDITIONS,
    background,
    caller_gain,
    echo_gain,
    lost_frames,
    p95,
    phrases,
    to_linear,
    to_ulaw,
)
from voice.pipeline import fallback
from voice.pipeline.conversation import ConversationSession, SessionConfig
from voice.providers.simulated_speech import SimulatedLanguageModel, SimulatedSpeechToText, SimulatedTextToSpeech
from voice.providers.speech_selection import SpeechProviders
from voice.tests.virtual_time import on_virtual_time
from voice.tests.waiting import within

pytestmark = [pytest.mark.django_db(transaction=True)]

TICK_MS = codec.FRAME_MS
SPOKEN = phrases()
WORDS = {
    "already_paid": "No, I already paid that last week.",
    "call_back": "Can you call me back tomorrow afternoon?",
    "not_interested": "I'm not interested, thank you.",
    "who_is_this": "Who is this?",
    "works_for_me": "Sure, that works for me.",
    "yes_speaking": "Yes, this is me speaking.",
}
SPEECH_RMS = float(numpy.mean([numpy.sqrt(numpy.mean(to_linear(audio) ** 2)) for audio in SPOKEN.values()]))
LINE_SECONDS = 60  # the background is this long, then repeats
LINE_FRAMES = LINE_SECONDS * 1000 // TICK_MS
ECHO_DELAY_TICKS = 6  # 120 ms: the agent's voice back through the carrier and the phone
ANSWER_GAP_TICKS = 15  # the caller answers 300 ms after the agent has finished
AGENT_DONE_TICKS = 10  # the agent is done when nothing has played for 200 ms
BARGE_IN_AFTER_TICKS = 40  # the caller talks over the reply 800 ms into it
PAUSE_TICKS = 20  # a 400 ms pause mid-sentence
ENDPOINT_MS, BARGE_IN_MS = 800, 400


@dataclass(frozen=True)
class Turn:
    """One turn of the caller: its phrases (more than one: a pause between them), said over the agent or not."""

    parts: tuple[str, ...]
    over_agent: bool = False

    @property
    def words(self) -> str:
        return " ".join(WORDS[part] for part in self.parts)


SCRIPTS = {
    "answers": (Turn(("yes_speaking",)), Turn(("already_paid",)), Turn(("who_is_this",))),
    "barges in": (
        Turn(("works_for_me",)),  # over the opener a greeting is no interruption: the first turn answers it
        Turn(("not_interested",), over_agent=True),
        Turn(("call_back",), over_agent=True),
    ),
    "pauses mid-sentence": (Turn(("who_is_this", "already_paid")), Turn(("yes_speaking", "call_back"))),
}
STT_LINES: list[str] = []


def line_session() -> ConversationSession:
    """The `VOICE_SESSION_FACTORY` here: the production session and host; simulated providers with no delay."""
    speech = SpeechProviders(SimulatedSpeechToText(STT_LINES), SimulatedLanguageModel(), SimulatedTextToSpeech(), None)
    return ConversationSession(CallConversationHost(), providers=speech, config=SessionConfig())


@pytest.fixture(autouse=True)
def line_settings(settings):
    settings.VOICE_SESSION_FACTORY = "calls.tests.test_line_conditions_on_calls.line_session"
    settings.TELEPHONY_PROVIDER = "simulated"
    settings.SIMULATED_CARRIER_TIME_SCALE = 1.0  # virtual time: real time costs nothing
    fallback.clear_cache()


_BACKGROUNDS: dict[str, numpy.ndarray] = {}


def line_background(condition: str) -> numpy.ndarray:
    if condition not in _BACKGROUNDS:
        _BACKGROUNDS[condition] = background(
            condition, LINE_SECONDS * codec.SAMPLE_RATE, seed=1, speech_rms=SPEECH_RMS, others=list(SPOKEN.values())
        )
    return _BACKGROUNDS[condition]


@dataclass
class Heard:
    """What the carrier saw of one caller turn, in ticks."""

    turn: Turn
    first_tick: int  # the tick whose frame holds its first sample
    speech_end_ms: int  # line time of its last sample
    last_tick: int
    agent_played: list[int] = field(default_factory=list)  # ticks, during the turn, at which agent audio played
    agent_arrived: list[int] = field(default_factory=list)  # ticks, during the turn, at which agent audio arrived
    reply_tick: int | None = None  # the first agent frame to arrive after the turn

    @property
    def endpoint_ms(self) -> float:
        """From the real end of speech to the moment the reply began (the end of the tick it arrived in)."""
        return float("inf") if self.reply_tick is None else (self.reply_tick + 1) * TICK_MS - self.speech_end_ms

    @property
    def barge_in_ms(self) -> int:
        """From the caller's first sample to the end of the last agent frame that played while they spoke."""
        return (max(self.agent_played) + 1 - self.first_tick) * TICK_MS if self.agent_played else 0


class LineCarrier:
    """Twilio's side of the stream on a line under `condition`, one 20 ms tick at a time (see the module)."""

    def __init__(self, communicator: WebsocketCommunicator, condition: str) -> None:
        self.communicator = communicator
        self.background = line_background(condition)
        self.lost = lost_frames(condition, LINE_FRAMES, seed=1)
        self.gain, self.echo_gain = caller_gain(condition), echo_gain(condition)
        self.tick = 0
        self.sequence = 1
        self.speech: deque[numpy.ndarray] = deque()  # the caller's samples still to say, a frame each
        self.playback: deque[bytes | str] = deque()  # agent frames and marks, as they arrived
        self.played: dict[int, bytes] = {}  # the agent frame played at each tick (for the echo)
        self.last_played_tick = -1
        self.arrived_ticks: list[int] = []
        self.turn: Heard | None = None
        self.heard: list[Heard] = []
        self.closed = asyncio.Event()
        self.first_audio = asyncio.Event()

    # ---- The line ------------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        while not self.closed.is_set():
            await self._play()
            frame = self._line_frame()
            if self.tick % LINE_FRAMES not in self.lost:
                self.sequence += 1
                await self.communicator.send_to(
                    text_data=ms.inbound_media_message(
                        sequence_number=self.sequence, stream_sid="MZ1", chunk=self.tick, timestamp_ms=self.tick * 20,
                        payload=frame,
                    )
                )  # fmt: skip
            self.tick += 1
            await asyncio.sleep(max(0.0, began + self.tick * TICK_MS / 1000 - loop.time()))

    def _line_frame(self) -> bytes:
        start = self.tick * codec.FRAME_BYTES % len(self.background)
        samples = self.background[start : start + codec.FRAME_BYTES].copy()
        if self.speech:
            samples += self.speech.popleft() * self.gain
            if not self.speech and self.turn is not None:
                self.turn.last_tick = self.tick
        echoed = self.played.get(self.tick - ECHO_DELAY_TICKS)
        if echoed is not None and self.echo_gain:
            samples += to_linear(echoed) * self.echo_gain
        return to_ulaw(samples)

    async def _play(self) -> None:
        """This tick's 20 ms of the agent's audio plays; marks with nothing unplayed before them are echoed."""
        frame = None
        while self.playback and (frame is None or isinstance(self.playback[0], str)):
            item = self.playback.popleft()
            if isinstance(item, str):
                await self._echo(item)
            else:
                frame = item
        if frame is not None:
            self.played[self.tick] = frame
            self.last_played_tick = self.tick
            if self._speaking():
                self.turn.agent_played.append(self.tick)

    def _speaking(self) -> bool:
        """The caller's turn is under way: from its first frame to its last, that one included."""
        turn = self.turn
        return turn is not None and turn.first_tick <= self.tick and (not turn.last_tick or self.tick <= turn.last_tick)

    async def _echo(self, name: str) -> None:
        self.sequence += 1
        await self.communicator.send_to(
            text_data=ms.mark_echo_message(sequence_number=self.sequence, stream_sid="MZ1", name=name)
        )

    async def read(self) -> None:
        """What the server sends: audio queued to play, marks behind it, `clear` dropping the unplayed."""
        while True:
            output = await self.communicator.receive_output(timeout=3600)
            if output["type"] == "websocket.close":
                self.closed.set()
                return
            message = json.loads(output["text"])
            if message["event"] == "media":
                self.first_audio.set()
                self.playback.append(base64.b64decode(message["media"]["payload"]) if self.echo_gain else b"")
                self.arrived_ticks.append(self.tick)
                if self._speaking():
                    self.turn.agent_arrived.append(self.tick)
                elif self.turn is not None and self.turn.reply_tick is None and self.turn.last_tick:
                    self.turn.reply_tick = self.tick
            elif message["event"] == "mark":
                self.playback.append(message["mark"]["name"])
            elif message["event"] == "clear":
                marks = [item for item in self.playback if isinstance(item, str)]
                self.playback.clear()
                for name in marks:  # Twilio returns the cleared marks at once
                    await self._echo(name)

    # ---- The caller ----------------------------------------------------------------------------

    async def say(self, turn: Turn) -> Heard:
        """Queue the turn's phrases for the coming ticks; the turn as heard once its reply has begun."""
        samples: list[numpy.ndarray] = []
        for index, part in enumerate(turn.parts):
            if index:
                samples.append(numpy.zeros(PAUSE_TICKS * codec.FRAME_BYTES))
            samples.append(to_linear(SPOKEN[part]))
        speech = numpy.concatenate(samples)
        padded = numpy.zeros(-(-len(speech) // codec.FRAME_BYTES) * codec.FRAME_BYTES)
        padded[: len(speech)] = speech
        first = self.tick
        self.turn = heard = Heard(turn, first, first * TICK_MS + len(speech) * 1000 // codec.SAMPLE_RATE, 0)
        self.speech.extend(padded.reshape(-1, codec.FRAME_BYTES))
        await self.until(lambda: heard.reply_tick is not None, what=f"a reply to {turn.words!r}")
        self.heard.append(heard)
        return heard

    async def agent_done(self) -> None:
        await self.until(lambda: not self.playback and self.tick - self.last_played_tick > AGENT_DONE_TICKS,
                         what="the agent to finish")  # fmt: skip

    async def ticks(self, count: int) -> None:
        until = self.tick + count
        await self.until(lambda: self.tick >= until, what=f"{count} ticks")

    async def until(self, condition, *, what: str) -> None:
        limit = self.tick + 60_000 // TICK_MS  # a minute of line time
        while not condition():
            if self.tick > limit or self.closed.is_set():
                raise AssertionError(f"no {what} after a minute of the call")
            await asyncio.sleep(TICK_MS / 1000 / 2)


async def run_script(call, condition: str, script: tuple[Turn, ...]) -> list[Heard]:
    STT_LINES[:] = [turn.words for turn in script]
    communicator = WebsocketCommunicator(application, path_for(call.pk))
    connected, _ = await communicator.connect(timeout=3600)
    assert connected
    await communicator.send_to(text_data=start(call.pk))
    carrier = LineCarrier(communicator, condition)
    tasks = [asyncio.ensure_future(carrier.read())]
    # The line's clock starts with the opener: what the session's start waits on (the database, a Redis channel
    # layer, each for real) does not move where the caller's words fall on the line.
    await within(carrier.first_audio.wait(), what="the opener")
    tasks.append(asyncio.ensure_future(carrier.run()))
    await carrier.agent_done()
    for turn in script:
        if turn.over_agent:
            await carrier.ticks(BARGE_IN_AFTER_TICKS)  # the reply to the turn before began as it ended
        else:
            await carrier.agent_done()
            await carrier.ticks(ANSWER_GAP_TICKS)
        await carrier.say(turn)
    stop = ms.stop_message(sequence_number=carrier.sequence + 1, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    await within(carrier.closed.wait(), what="the stream to close")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await communicator.wait(timeout=3600)
    return carrier.heard


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("condition", CONDITIONS)
@on_virtual_time
async def test_the_end_of_speech_is_found_in_time_and_no_reply_starts_over_the_caller(call, condition, script):
    heard = await run_script(call, condition, SCRIPTS[script])
    summary = [(h.turn.words, h.endpoint_ms, h.barge_in_ms, h.agent_arrived) for h in heard]
    assert len(heard) == len(SCRIPTS[script])
    assert p95([h.endpoint_ms for h in heard]) <= ENDPOINT_MS, summary
    for turn in heard:
        if turn.turn.over_agent:
            assert 0 < turn.barge_in_ms <= BARGE_IN_MS, summary  # it was speaking, and went quiet in time
        else:
            assert turn.agent_played == [], summary  # nothing played over the caller
            assert turn.agent_arrived == [], summary  # nor was any sent
