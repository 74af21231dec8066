"""The conversation session: one per call, composing turn-taking, STT, LLM, chunker, TTS and playout.

Flow. `start` loads the call's context from the host, renders the opener (the agent's first message with
the contact's `{{variables}}`) and speaks it; every inbound frame goes through the `TurnDetector` inline
(`on_media` never awaits anything slow). Finished utterances go onto a queue that one task works
through in order: STT → classify → (if it is a turn) a reply task: LLM stream → sentence chunker → TTS
per chunk → `Playout` (paced 20 ms frames, a mark after each chunk and one after its first frame).

Barge-in. A `BargeInCandidate` pauses the playout at once (the agent goes quiet within a frame or two).
When the words are known, an interruption clears the carrier's buffer, cancels the reply, and keeps in
the transcript only what was heard: chunks whose mark came back before the clear, plus the share of the
cut chunk that had been sent (minus the lead). A backchannel or a noise resumes the agent where it
paused. The callee's "Hello?" over the opener is a greeting, not an interruption.

Fallback. Each provider is called through its circuit breaker with timeouts. If nothing has been said
`hold_after_s` after the callee's turn ended, the cached "One moment, please." plays; a failed TTS is
replaced by the secondary voice for the rest of the call; when the conversation cannot go on (no LLM,
no voice, no STT twice in a row), the cached goodbye plays and the call is hung up. Every failure is
reported to the host.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voice import codec
from voice.pipeline import tools as tool_specs
from voice.pipeline.agent_turns import AgentTurn, latency_summary
from voice.pipeline.breaker import CircuitBreaker, breaker_for, stream_with_timeouts, with_timeout
from voice.pipeline.chunker import SentenceChunker
from voice.pipeline.fallback import GOODBYE, HOLD, REPEAT, FallbackPhrases
from voice.pipeline.host import (
    LATENCY_STAGES,
    VOICEMAIL_VERDICTS,
    CallSummary,
    ConversationContext,
    ConversationHost,
    StaticHost,
    TurnRecord,
)
from voice.pipeline.playout import Playout
from voice.pipeline.speaker import CannotSpeak, Speaker
from voice.pipeline.templating import render
from voice.pipeline.turn_taking import (
    BargeInCandidate,
    SpeechDiscarded,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnTakingConfig,
    Utterance,
    classify_utterance,
)
from voice.providers.base import ProviderError
from voice.providers.speech import (
    ChatMessage,
    ReplyRequest,
    TextDelta,
    ToolCall,
)
from voice.providers.speech_selection import SpeechProviders, speech_providers
from voice.sessions import MediaSender, StreamInfo, VoiceSession

logger = logging.getLogger(__name__)

# Said as the phone is picked up, over the opener: the callee checking the line, not interrupting.
GREETING_WORDS = frozenset({"hello", "hi", "hey", "yes", "yeah", "hallo", "speaking", "who", "is", "this", "it"})
_GOODBYES = {
    tool_specs.END_CALL: "Thank you for your time. Goodbye.",
    tool_specs.OPT_OUT: "Understood, we won't call you again. Goodbye.",
    tool_specs.TRANSFER: "Please hold while I connect you with a colleague.",
}


@dataclass(frozen=True)
class SessionConfig:
    """Timings of one session (seconds are real time; the simulated carrier's time scale applies to pacing)."""

    turn_taking: TurnTakingConfig = field(default_factory=TurnTakingConfig)
    hold_after_s: float = 0.8  # nothing said this long after the callee's turn: the hold phrase plays
    stt_timeout_s: float = 4.0
    llm_first_token_s: float = 3.0
    llm_idle_s: float = 3.0
    tts_first_byte_s: float = 2.0
    tts_idle_s: float = 2.0
    mark_timeout_s: float = 10.0  # how long the last words may take to be heard before hanging up anyway
    max_tool_rounds: int = 3
    stop_grace_s: float = 2.0  # at stream end: for the last utterance's STT, then again for the last writes
    lead_frames: int = 3


@dataclass(frozen=True)
class _Utterance:
    event: SpeechEnded
    over_agent: bool
    end_of_speech: float  # loop time
    digits: tuple[str, ...] = ()
    index: int = 0


@dataclass(frozen=True)
class _Digit:
    digit: str


class ConversationSession(VoiceSession):
    """See the module docstring. `host` persists; `providers` default to the settings' adapters."""

    def __init__(
        self,
        host: ConversationHost | None = None,
        *,
        providers: SpeechProviders | None = None,
        config: SessionConfig | None = None,
        breakers: Callable[[str], CircuitBreaker] = breaker_for,
    ) -> None:
        self.host = host
        self.providers = providers
        self.config = config or SessionConfig()
        self._breaker = breakers
        self.detector = TurnDetector(self.config.turn_taking)
        self._reframer = codec.Reframer()
        self._inputs: asyncio.Queue[_Utterance | _Digit | None] = asyncio.Queue()
        self._reports: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()
        self._reply: asyncio.Task | None = None
        self._turn: AgentTurn | None = None
        self._turns: dict[int, AgentTurn] = {}
        self._next_index = 0
        self._keys = 0
        self._messages: list[ChatMessage] = []
        self._pending_digits: list[str] = []
        self._speech_over_agent = False
        self._ending = False
        self._outcome = "completed"
        self._failures: list[str] = []
        self._latencies: dict[str, list[int]] = {stage: [] for stage in LATENCY_STAGES}
        self._stt_failures = 0
        self._stopped = False
        self.started = False

    # ---- VoiceSession ------------------------------------------------------------------------------

    async def start(self, info: StreamInfo, sender: MediaSender) -> None:
        self.info, self.sender = info, sender
        self.loop = asyncio.get_running_loop()
        self.started_at = self.loop.time()
        if self.host is None:
            self.host = StaticHost(ConversationContext(system_prompt="", first_message=""))
        self.context = await self.host.load_context(info)
        self.providers = self.providers or speech_providers(info.parameters)
        self.playout = Playout(
            sender, time_scale=self.context.time_scale, lead_frames=self.config.lead_frames, on_mark=self._mark_sent
        )
        self.playout.start()
        self.speaker = Speaker(
            self.playout,
            self.providers.text_to_speech,
            self.providers.secondary_text_to_speech,
            self.context.voice,
            breakers=self._breaker,
            first_byte_s=self.config.tts_first_byte_s,
            idle_s=self.config.tts_idle_s,
            allocate_index=self._allocate_index,
            on_failure=self._failed,
        )
        self.phrases = FallbackPhrases(self.providers.text_to_speech, self.context.voice)
        self._spawn(self.phrases.prepare())
        self._spawn(self._work_inputs())
        self._spawn(self._report_loop())
        self.host.subscribe(self.set_answered_by)
        self.started = True
        if self.context.answered_by in VOICEMAIL_VERDICTS:
            self._begin_voicemail()
        else:
            opener = render(self.context.first_message, self.context.variables).text
            self._start_reply(self._speak_text(opener), reference=self.started_at, is_opener=True)

    async def on_media(self, payload: bytes) -> None:
        # Inline and cheap: the detector costs tens of µs a frame; anything slow goes onto a queue.
        for frame in self._reframer.push(payload) if len(payload) != codec.FRAME_BYTES else (payload,):
            for event in self.detector.feed(frame):
                self._on_turn_event(event)

    async def on_mark(self, name: str) -> None:
        key, _, part = name.partition(":")
        turn = self._turns.get(int(key)) if key.isdigit() else None
        if turn is None or turn.cleared:
            return  # echoed because of a `clear`: not heard
        now = self.loop.time()
        if part == "start":
            turn.stamp("first_audio_heard", now)
            return
        turn.heard.add(name)
        if turn.complete():
            self._finish_agent_turn(turn)

    async def on_dtmf(self, digit: str) -> None:
        if self.detector.in_speech:
            self._pending_digits.append(digit)  # belongs with the words being said
        else:
            self._inputs.put_nowait(_Digit(digit))

    async def stop(self) -> None:
        if self._stopped or not self.started:
            return
        self._stopped = True
        # Words the callee was still saying when the line dropped: end the utterance with silence.
        if self.detector.in_speech:
            silence = bytes([codec.ULAW_SILENCE]) * codec.FRAME_BYTES
            for _ in range(self.config.turn_taking.silence_ms // codec.FRAME_MS + 1):
                for event in self.detector.feed(silence):
                    if isinstance(event, SpeechEnded):
                        self._inputs.put_nowait(self._utterance(event))
        if self._reply is not None:
            self._reply.cancel()
        self._inputs.put_nowait(None)
        worker = next((t for t in self._tasks if t.get_name() == "inputs"), None)
        if worker is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(worker), timeout=self.config.stop_grace_s)
        if self._reply is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reply
        if self._turn is not None:
            self._finish_agent_turn(self._turn, cut=True)
        await self.playout.close()
        self._reports.put_nowait(("end", self._summary()))
        reporter = next((t for t in self._tasks if t.get_name() == "reports"), None)
        if reporter is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(reporter), timeout=self.config.stop_grace_s)
            if not reporter.done():
                # The carrier is waiting for the stream to close: the last writes finish on their own.
                self._tasks.discard(reporter)
                _FINISHING.add(reporter)
                reporter.add_done_callback(_FINISHING.discard)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- AMD -------------------------------------------------------------------------------------

    def set_answered_by(self, verdict: str) -> None:
        """An AMD verdict arrived mid-call: a machine after its greeting gets the voicemail message."""
        if verdict in VOICEMAIL_VERDICTS and not self._ending and self.started:
            self._begin_voicemail()

    def _begin_voicemail(self) -> None:
        self._ending, self._outcome = True, "voicemail"
        self._cancel_reply(interrupted=False)
        message = render(self.context.voicemail_message, self.context.variables).text
        self._start_reply(self._speak_text(message, then_hang_up=True), reference=self.loop.time(), force=True)

    # ---- Inbound speech --------------------------------------------------------------------------

    def _utterance(self, event: SpeechEnded) -> _Utterance:
        lag = (event.detected_ms - event.ended_ms) / 1000 * self.context.time_scale
        digits, self._pending_digits = tuple(self._pending_digits), []
        # The transcript position is taken when the words end, before STT, so it follows speaking order.
        return _Utterance(event, self._speech_over_agent, self.loop.time() - lag, digits, self._allocate_index())

    def _on_turn_event(self, event: object) -> None:
        if isinstance(event, SpeechStarted):
            self._speech_over_agent = self.detector.agent_speaking
        elif isinstance(event, BargeInCandidate):
            self.playout.pause()  # quiet at once; the words decide whether to stop for good
        elif isinstance(event, SpeechEnded):
            self._inputs.put_nowait(self._utterance(event))
        elif isinstance(event, SpeechDiscarded):
            self.playout.resume()

    async def _work_inputs(self) -> None:
        """One input at a time, in order (the STT of utterance k must come before k+1)."""
        while (item := await self._inputs.get()) is not None:
            try:
                if isinstance(item, _Digit):
                    await self._on_digit(item.digit)
                else:
                    await self._on_utterance(item)
            except Exception:
                # One bad turn must not end the conversation (nor other calls in the process).
                logger.exception("call %s: turn failed", self.info.call_id)

    async def _on_digit(self, digit: str) -> None:
        text = f"The caller pressed {digit}."
        self._record("system", text, self.loop.time(), self.loop.time())
        self._messages.append(ChatMessage("user", text))
        if self._ending or self._stopped or self._turn is not None:
            # The agent is already answering (perhaps the words the key followed, or a goodbye): a key press
            # does not cut that short; the model sees it with the next turn.
            return
        self._start_reply(self._speak_reply(), reference=self.loop.time())

    async def _on_utterance(self, utterance: _Utterance) -> None:
        # A slow STT must not leave the callee in silence either (only when the agent is not talking).
        hold = None if utterance.over_agent else self.loop.call_later(self.config.hold_after_s, self._hold_for_stt)
        try:
            text = await self._transcribe(utterance.event.audio)
        except ProviderError as error:
            await self._stt_failed(error)
            return
        finally:
            if hold is not None:
                hold.cancel()
        self._stt_failures = 0
        stt_done = self.loop.time()
        if utterance.digits:
            text = f"{text} (The caller pressed {', '.join(utterance.digits)}.)".strip()
        turn = self._turn
        speaking = utterance.over_agent and turn is not None and not turn.done.is_set()
        kind = classify_utterance(
            text, agent_speaking=speaking, min_interruption_words=self.config.turn_taking.min_interruption_words
        )
        if speaking and turn is not None and turn.is_opener and kind is Utterance.INTERRUPTION:
            words = {w.strip("?.,!").lower() for w in text.split()}
            if words <= GREETING_WORDS:
                kind = Utterance.BACKCHANNEL
        if text:
            spoke_for = utterance.event.speech_ms / 1000 * self.context.time_scale
            self._record("contact", text, utterance.end_of_speech - spoke_for, stt_done, index=utterance.index,
                         latency={"stt_final": self._ms(utterance.end_of_speech, stt_done)})  # fmt: skip
        if self._ending or self._stopped:
            return
        if kind in (Utterance.NOISE, Utterance.BACKCHANNEL):
            self.playout.resume()
            return
        self._cancel_reply(interrupted=True)
        self._messages.append(ChatMessage("user", text))
        self._start_reply(self._speak_reply(), reference=utterance.end_of_speech, stt_done=stt_done)

    async def _transcribe(self, audio: bytes) -> str:
        assert self.providers is not None  # noqa: S101 - set in start()
        stt = self.providers.speech_to_text
        breaker = self._breaker(f"stt:{stt.name}")
        transcript = await breaker.call(
            lambda: with_timeout(stt.transcribe(audio), self.config.stt_timeout_s, f"stt:{stt.name}")
        )
        return transcript.text.strip()

    async def _stt_failed(self, error: ProviderError) -> None:
        assert self.providers is not None  # noqa: S101
        self._failed("stt", self.providers.speech_to_text.name, error)
        self._stt_failures += 1
        if self._stt_failures >= 2 or not isinstance(error, ProviderError) or self._ending:
            await self._give_up()
            return
        self._cancel_reply(interrupted=True)
        self._start_reply(self._speak_audio(REPEAT), reference=self.loop.time())

    # ---- Replies ---------------------------------------------------------------------------------

    def _start_reply(
        self,
        speech: Callable[[AgentTurn], Any],
        *,
        reference: float,
        stt_done: float | None = None,
        is_opener: bool = False,
        force: bool = False,
    ) -> None:
        if self._stopped or (self._ending and not force):
            return
        self._keys += 1
        turn = AgentTurn(self._keys, reference, time.time(), is_opener=is_opener)
        if stt_done is not None:
            turn.stamp("stt_final", stt_done)
        self._turn = self._turns[turn.key] = turn
        self.detector.agent_speaking = True
        self.playout.resume()
        self._reply = asyncio.create_task(self._run_reply(turn, speech), name=f"reply-{turn.key}")

    async def _run_reply(self, turn: AgentTurn, speech: Callable[[AgentTurn], Any]) -> None:
        hold = asyncio.get_running_loop().call_later(self.config.hold_after_s, self._hold, turn)
        try:
            await speech(turn)
        except asyncio.CancelledError:
            raise
        except _GiveUp:
            hold.cancel()
            turn.generating = False
            await self._give_up()
            return
        finally:
            hold.cancel()
        turn.generating = False
        if turn.complete():
            self._finish_agent_turn(turn)

    def _hold_for_stt(self) -> None:
        """Still transcribing and nothing playing: the hold phrase, queued ahead of the reply to come."""
        if self._turn is not None or self._stopped or self._ending or self.playout.busy:
            return
        self.playout.enqueue(list(codec.reframe([self.phrases.audio(HOLD)])), tag="hold")
        now = self.loop.time()
        self._record("agent", self.phrases.phrases[HOLD], now, now)

    def _hold(self, turn: AgentTurn) -> None:
        """Nothing said yet: the callee hears the cached hold phrase rather than silence."""
        if turn.chunks or turn.cleared or self._stopped or turn.is_opener:
            return
        self._enqueue(turn, self.phrases.audio(HOLD), self.phrases.phrases[HOLD])

    def _speak_text(self, text: str, *, then_hang_up: bool = False) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            chunker = SentenceChunker()
            for chunk in [*chunker.push(text), *filter(None, [chunker.flush()])]:
                await self._synthesize(turn, chunk)
            self._messages.append(ChatMessage("assistant", text))
            turn.message_at = len(self._messages) - 1
            if then_hang_up:
                turn.generating = False
                await self._hang_up_after(turn)

        return speak

    def _speak_audio(self, key: str) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            self._enqueue(turn, self.phrases.audio(key), self.phrases.phrases[key])

        return speak

    def _speak_reply(self) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            terminal = ""
            for _ in range(self.config.max_tool_rounds):
                spoken, calls = await self._one_round(turn)
                results: list[ChatMessage] = []
                for call in calls:
                    result, ends = await self._run_tool(call)
                    results.append(ChatMessage.tool_result(call.id, result))
                    terminal = terminal or ends
                self._messages.append(ChatMessage("assistant", spoken, tool_calls=tuple(calls)))
                turn.message_at = len(self._messages) - 1
                self._messages.extend(results)
                if terminal:
                    if not spoken:
                        await self._synthesize(turn, _GOODBYES[terminal])
                    turn.generating = False
                    await self._hang_up_after(turn, transfer=terminal == tool_specs.TRANSFER)
                    return
                if not calls or spoken:
                    return
                # Tools only (e.g. an outcome recorded, or a refused call): let the model go on.

        return speak

    async def _one_round(self, turn: AgentTurn) -> tuple[str, list[ToolCall]]:
        assert self.providers is not None  # noqa: S101
        llm = self.providers.language_model
        variables = self.context.variables
        request = ReplyRequest(
            system_prompt=render(self.context.system_prompt, variables).text,
            messages=tuple(self._messages),
            model=self.context.llm_model,
            tools=tool_specs.offered_tools(self.context.tools),
            temperature=self.context.llm_temperature,
        )
        breaker = self._breaker(f"llm:{llm.name}")
        chunker, spoken, calls = SentenceChunker(), [], []
        pending: deque[str] = deque()
        try:
            stream: AsyncIterator[Any] = breaker.stream(
                lambda: stream_with_timeouts(
                    llm.stream_reply(request),
                    first_item_s=self.config.llm_first_token_s,
                    idle_s=self.config.llm_idle_s,
                    what=f"llm:{llm.name}",
                )
            )
            async for event in stream:
                if isinstance(event, TextDelta):
                    if event.text:
                        turn.stamp("llm_first_token", self.loop.time())
                    pending.extend(chunker.push(event.text))
                    while pending:
                        sentence = pending.popleft()
                        spoken.append(sentence)
                        await self._synthesize(turn, sentence)
                elif isinstance(event, ToolCall):
                    calls.append(event)
        except ProviderError as error:
            self._failed("llm", llm.name, error)
            raise _GiveUp from error
        if tail := chunker.flush():
            spoken.append(tail)
            await self._synthesize(turn, tail)
        return " ".join(spoken), calls

    async def _synthesize(self, turn: AgentTurn, text: str) -> None:
        try:
            await self.speaker.synthesize(turn, text)
        except CannotSpeak as error:
            raise _GiveUp from error

    def _enqueue(self, turn: AgentTurn, audio: bytes, text: str) -> None:
        self.speaker.enqueue(turn, audio, text)

    def _mark_sent(self, name: str) -> None:
        key, _, part = name.partition(":")
        turn = self._turns.get(int(key)) if key.isdigit() else None
        if turn is not None and part == "start":
            turn.stamp("first_audio_sent", self.loop.time())

    async def _hang_up_after(self, turn: AgentTurn, *, transfer: bool = False) -> None:
        """Let the last words be heard (their marks come back), then end or hand over the call."""
        self._ending = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.mark_timeout_s):
                while not turn.complete():
                    await asyncio.sleep(0.02 * self.context.time_scale)
        self._finish_agent_turn(turn)
        if transfer:
            result = await self.host.run_tool(tool_specs.TRANSFER, {})  # type: ignore[union-attr]
            if result.ok:
                self._outcome = "transferred"
                return
        await self.sender.hang_up()

    # ---- Tools -----------------------------------------------------------------------------------

    async def _run_tool(self, call: ToolCall) -> tuple[dict[str, Any], str]:
        """(result for the model, the terminal tool's name or ""). Bad calls get an error, never raise."""
        arguments, error = tool_specs.vet(
            call, self.context.tools, outcome_fields=self.context.outcome_fields, time_zone=self.context.time_zone
        )
        if error:
            return {"error": error}, ""
        if call.name == tool_specs.TRANSFER:
            return {"ok": True, "transferring": True}, tool_specs.TRANSFER  # carried out once the words are heard
        assert self.host is not None  # noqa: S101
        result = await self.host.run_tool(call.name, arguments)
        if not result.ok:
            return result.as_json(), ""
        if call.name == tool_specs.OPT_OUT:
            self._outcome = "opted_out"
        elif call.name == tool_specs.END_CALL:
            self._outcome = "ended_by_agent"
        return result.as_json(), call.name if call.name in tool_specs.TERMINAL_TOOLS else ""

    # ---- Interruptions and endings -----------------------------------------------------------------

    def _cancel_reply(self, *, interrupted: bool) -> None:
        """Stop the agent: clear the carrier's buffer, cancel the reply, keep only what was heard."""
        turn, reply = self._turn, self._reply
        if reply is not None and not reply.done() and reply is not asyncio.current_task():
            reply.cancel()
        self._reply = None
        self.playout.resume()  # a pause for a barge-in candidate ends with the decision, whatever it was
        if turn is None or turn.done.is_set():
            return
        if turn.chunks and not turn.complete():
            self._spawn(self.sender.clear())
        self.playout.clear()
        self.playout.resume()
        turn.generating = False
        turn.interrupted = interrupted and not turn.complete()
        self._finish_agent_turn(turn, cut=True)

    async def _give_up(self) -> None:
        """The conversation cannot go on: the cached goodbye, then a clean hang-up."""
        if self._stopped:
            return
        self._outcome = "provider_failure"
        self._cancel_reply(interrupted=False)
        self._ending = True
        self._start_reply(self._speak_audio_then_hang_up(GOODBYE), reference=self.loop.time(), force=True)

    def _speak_audio_then_hang_up(self, key: str) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            self._enqueue(turn, self.phrases.audio(key), self.phrases.phrases[key])
            turn.generating = False
            await self._hang_up_after(turn)

        return speak

    def _finish_agent_turn(self, turn: AgentTurn, *, cut: bool = False) -> None:
        if turn.done.is_set():
            return
        turn.done.set()
        turn.cleared = cut and not turn.complete()
        if self._turn is turn:
            self._turn = None
            self.detector.agent_speaking = False
        text = turn.heard_text(self.playout.sent_frames, lead_frames=self.config.lead_frames)
        if cut:
            # The model must remember what the callee heard, not what it meant to say.
            if turn.message_at is not None:
                old = self._messages[turn.message_at]
                self._messages[turn.message_at] = ChatMessage("assistant", text, tool_calls=old.tool_calls)
            elif text:
                self._messages.append(ChatMessage("assistant", text))
        if not text or turn.index is None:
            return
        latency = {stage: self._ms(turn.reference, at) for stage, at in turn.stamps.items()}
        self._reports.put_nowait(
            (
                "turn",
                TurnRecord(
                    index=turn.index,
                    role="agent",
                    text=text,
                    started_at=turn.started_wall,
                    ended_at=time.time(),
                    interrupted=turn.interrupted,
                    latency_ms=latency,
                ),
            )
        )
        if not turn.is_opener:  # the opener's timings run from the stream start, not from speech
            for stage, value in latency.items():
                self._latencies[stage].append(value)

    # ---- Reports (persisted by the host, off the audio path) ----------------------------------------

    def _record(
        self,
        role: str,
        text: str,
        started: float,
        ended: float,
        latency: Mapping[str, int] | None = None,
        index: int | None = None,
    ) -> None:
        offset = time.time() - self.loop.time()
        index = self._allocate_index() if index is None else index
        record = TurnRecord(index, role, text, started + offset, ended + offset, latency_ms=dict(latency or {}))
        self._reports.put_nowait(("turn", record))

    def _failed(self, role: str, provider: str, error: ProviderError) -> None:
        message = getattr(error, "message", str(error))
        self._failures.append(f"{role}:{provider}: {message}"[:255])
        self._reports.put_nowait(("failure", (role, provider, message, error.permanent)))

    async def _report_loop(self) -> None:
        host = self.host
        assert host is not None  # noqa: S101
        while True:
            kind, payload = await self._reports.get()
            try:
                if kind == "turn":
                    await host.turn_finished(payload)
                elif kind == "failure":
                    role, provider, message, permanent = payload
                    await host.provider_failed(role, provider, message, permanent=permanent)
                else:
                    await host.call_ended(payload)
                    return
            except Exception:
                logger.exception("call %s: could not report %s", self.info.call_id, kind)

    def _summary(self) -> CallSummary:
        return CallSummary(self._outcome, tuple(self._failures), latency_summary(self._latencies), self._next_index)

    # ---- Helpers ---------------------------------------------------------------------------------

    def _allocate_index(self) -> int:
        index, self._next_index = self._next_index, self._next_index + 1
        return index

    @staticmethod
    def _ms(reference: float, at: float) -> int:
        return max(0, round((at - reference) * 1000))

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        name = getattr(coroutine, "__name__", "")
        if name == "_work_inputs":
            task.set_name("inputs")
        elif name == "_report_loop":
            task.set_name("reports")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


# Reporters still writing a finished call's last turns (kept referenced until they are done).
_FINISHING: set[asyncio.Task] = set()


class _GiveUp(Exception):
    """Raised inside a reply when a provider failure leaves nothing to say it with."""
