"""The callee's side of the line: frames → turn events → utterances and key presses, transcribed in order.

Every inbound frame goes through the `TurnDetector` inline (`feed` never awaits: it runs for each 20 ms
frame on the consumer's loop). A barge-in candidate pauses the agent at once and a discarded burst resumes
it (`Floor`). A finished utterance takes its transcript position when the words end — before STT, so the
transcript follows speaking order — and carries the keys pressed while it was said. One worker takes
utterances and lone key presses off a queue in order (the STT of utterance k comes before k+1); while the
agent is silent, a transcription slower than `hold_after_s` lets the session play its hold phrase. The
`Transcriber` gets the utterance's frames as they are heard (a streaming STT transcribes while the callee
speaks) and its audio whole at the endpoint.

`classify` decides what the words were: a turn, an interruption, a backchannel or noise — and the callee's
"Hello?" over the opener is a greeting, not an interruption.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from voice import codec
from voice.languages import ENGLISH, Language
from voice.pipeline.transcription import Transcriber
from voice.pipeline.turn_taking import (
    BargeInCandidate,
    SpeechDiscarded,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnEvent,
    Utterance,
    classify_utterance,
    words_of,
)
from voice.providers.base import ProviderError
from voice.providers.speech import Transcript

logger = logging.getLogger(__name__)

# Said as the phone is picked up, over the opener: the callee checking the line, not interrupting (English's;
# each language has its own, voice/languages/).
GREETING_WORDS = ENGLISH.greeting_words


@dataclass(frozen=True)
class SpokenUtterance:
    """A finished utterance, waiting for its transcript."""

    event: SpeechEnded
    over_agent: bool  # it began while the agent was speaking
    end_of_speech: float  # loop time of the end of the last frame that held the caller's speech
    digits: tuple[str, ...] = ()
    index: int = 0  # transcript position
    streamed: Awaitable[Transcript] | None = field(default=None, repr=False, compare=False)  # see Transcriber


@dataclass(frozen=True)
class _KeyPress:
    digit: str


class Floor(Protocol):
    """What the listener tells the session, which holds the agent's side of the floor."""

    def pause_agent(self) -> None:
        """The callee may be barging in: go quiet at once, the words will decide."""

    def resume_agent(self) -> None:
        """It was not speech after all: go on where the agent paused."""

    def hold_for_transcript(self) -> None:
        """The transcript is slow and the agent is silent: fill the gap."""

    async def heard(self, utterance: SpokenUtterance, text: str, stt_done: float) -> None:
        """The utterance's words (the keys pressed during it appended)."""

    async def key_pressed(self, digit: str) -> None:
        """A key pressed while the callee was not speaking."""

    async def transcription_failed(self, error: ProviderError) -> None:
        """The utterance could not be transcribed."""


def classify(
    text: str, *, agent_speaking: bool, over_opener: bool, min_interruption_words: int, language: Language = ENGLISH
) -> Utterance:
    """`classify_utterance`, except that greeting words over the opener are a backchannel ("Hello?", "¿Diga?")."""
    kind = classify_utterance(
        text, agent_speaking=agent_speaking, min_interruption_words=min_interruption_words, language=language
    )
    over_opener_greeting = agent_speaking and over_opener and kind is Utterance.INTERRUPTION
    if over_opener_greeting and set(words_of(text)) <= language.greeting_words:
        return Utterance.BACKCHANNEL
    return kind


class Listener:
    def __init__(
        self,
        floor: Floor,
        detector: TurnDetector,
        transcriber: Transcriber,
        *,
        allocate_index: Callable[[], int],
        time_scale: float,
        hold_after_s: float,
        call_id: str,
    ) -> None:
        self.floor, self.detector, self.transcriber = floor, detector, transcriber
        self._allocate_index = allocate_index
        self.time_scale, self.hold_after_s, self.call_id = time_scale, hold_after_s, call_id
        self.loop = asyncio.get_running_loop()
        self._reframer = codec.Reframer()
        self._inputs: asyncio.Queue[SpokenUtterance | _KeyPress | None] = asyncio.Queue()
        self._pending_digits: list[str] = []
        self._speech_over_agent = False
        self._working = False

    @property
    def busy(self) -> bool:
        """The callee is speaking, or what they said (or pressed) is still being worked on."""
        return self.detector.in_speech or self._working or not self._inputs.empty()

    # ---- Inline, per frame ---------------------------------------------------------------------

    def feed(self, payload: bytes) -> None:
        """Inbound audio of any length (the detector costs tens of µs a frame; anything slow is queued)."""
        for frame in self._reframer.push(payload) if len(payload) != codec.FRAME_BYTES else (payload,):
            for event in self._frame(frame):
                self._on_turn_event(event)

    def key(self, digit: str) -> None:
        if self.detector.in_speech:
            self._pending_digits.append(digit)  # belongs with the words being said
        else:
            self._inputs.put_nowait(_KeyPress(digit))

    def end_of_stream(self) -> None:
        """Words the callee was still saying when the line dropped: end the utterance with silence; then no
        more input (the worker stops after what is queued)."""
        if self.detector.in_speech:
            silence = bytes([codec.ULAW_SILENCE]) * codec.FRAME_BYTES
            for _ in range(self.detector.config.silence_ms // codec.FRAME_MS + 1):
                for event in self._frame(silence):
                    if isinstance(event, SpeechEnded):
                        self._inputs.put_nowait(self._utterance(event))
        self._inputs.put_nowait(None)

    def _frame(self, frame: bytes) -> tuple[TurnEvent, ...]:
        """One frame to the detector, and to the transcriber when it is part of an utterance."""
        in_speech = self.detector.in_speech
        events = self.detector.feed(frame)
        if in_speech:
            self.transcriber.push(frame)  # the detector added it to the utterance (which it may have ended)
        for event in events:
            if isinstance(event, SpeechStarted):
                self.transcriber.begin(self.detector.speech_audio)
            elif isinstance(event, SpeechDiscarded):
                self.transcriber.discard()
        return events

    def _on_turn_event(self, event: object) -> None:
        if isinstance(event, SpeechStarted):
            self._speech_over_agent = self.detector.agent_speaking
        elif isinstance(event, BargeInCandidate):
            self.floor.pause_agent()
        elif isinstance(event, SpeechEnded):
            self._inputs.put_nowait(self._utterance(event))
        elif isinstance(event, SpeechDiscarded):
            self.floor.resume_agent()

    def _utterance(self, event: SpeechEnded) -> SpokenUtterance:
        lag = event.endpoint_delay_ms / 1000 * self.time_scale
        digits, self._pending_digits = tuple(self._pending_digits), []
        # The transcript position is taken when the words end, before STT, so it follows speaking order.
        return SpokenUtterance(
            event,
            self._speech_over_agent,
            self.loop.time() - lag,
            digits,
            self._allocate_index(),
            self.transcriber.end(),
        )

    # ---- The worker ----------------------------------------------------------------------------

    async def work(self) -> None:
        """One input at a time, in order, until `end_of_stream`."""
        while (item := await self._inputs.get()) is not None:
            self._working = True
            try:
                if isinstance(item, _KeyPress):
                    await self.floor.key_pressed(item.digit)
                else:
                    await self._hear(item)
            except Exception:
                # One bad turn must not end the conversation (nor other calls in the process).
                logger.exception("call %s: turn failed", self.call_id)
            finally:
                self._working = False

    async def _hear(self, utterance: SpokenUtterance) -> None:
        # A slow STT must not leave the callee in silence either (only when the agent is not talking).
        hold = None if utterance.over_agent else self.loop.call_later(self.hold_after_s, self.floor.hold_for_transcript)
        try:
            text = await self.transcriber.transcribe(utterance.event.audio, utterance.streamed)
        except ProviderError as error:
            await self.floor.transcription_failed(error)
            return
        finally:
            if hold is not None:
                hold.cancel()
        stt_done = self.loop.time()
        if utterance.digits:
            text = f"{text} (The caller pressed {', '.join(utterance.digits)}.)".strip()
        await self.floor.heard(utterance, text, stt_done)
