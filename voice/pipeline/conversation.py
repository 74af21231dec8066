"""The conversation session: one per call, holding the floor between the callee and the agent.

Flow. `start` loads the call's context from the host and speaks the opener (the agent's first message with
the contact's `{{variables}}`). The `Listener` (listening.py) runs inbound frames through the turn detector
inline and hands each utterance's words back in order; the session decides whether they are a turn and
starts the answer: `ReplyRounds` (replies.py: LLM stream → sentence chunker, tools between rounds) spoken
by the `Speaker` (TTS per chunk) into the `Playout` (paced 20 ms frames, a mark after each chunk and one
after its first frame). The `CallRecorder` (call_record.py) keeps transcript, latencies, failures and
outcome, and reports them to the host.

Barge-in. A `BargeInCandidate` pauses the playout at once (the agent goes quiet within a frame or two).
When the words are known, an interruption clears the carrier's buffer, cancels the reply, and keeps in
the transcript only what was heard: chunks whose mark came back before the clear, plus the share of the
cut chunk that had been sent (minus the lead). A backchannel or a noise resumes the agent where it
paused. The callee's "Hello?" over the opener is a greeting, not an interruption.

Fallback. Each provider is called through its circuit breaker with timeouts. If nothing has been said
`hold_after_s` after the callee's turn ended, the cached "One moment, please." plays; a failed TTS is
replaced by the secondary voice for the rest of the call; when the conversation cannot go on (no LLM,
no voice, no STT twice in a row), the cached goodbye plays and the call is hung up. An answering
machine's greeting ended (at the start or mid-call) gets the voicemail message, then a hang-up.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from voice import codec
from voice.pipeline import tools as tool_specs
from voice.pipeline.agent_turns import AgentTurn, AgentTurns
from voice.pipeline.breaker import CircuitBreaker, breaker_for
from voice.pipeline.call_record import CallRecorder, elapsed_ms
from voice.pipeline.chunker import SentenceChunker
from voice.pipeline.fallback import GOODBYE, HOLD, REPEAT, FallbackPhrases
from voice.pipeline.host import VOICEMAIL_VERDICTS, ConversationContext, ConversationHost, StaticHost
from voice.pipeline.listening import GREETING_WORDS, Listener, SpokenUtterance, classify
from voice.pipeline.playout import Playout
from voice.pipeline.replies import GiveUp, ReplyRounds
from voice.pipeline.session_config import SessionConfig
from voice.pipeline.silence import SilenceWatch, silence_phrases
from voice.pipeline.speaker import CannotSpeak, Speaker
from voice.pipeline.templating import render
from voice.pipeline.transcription import Transcriber
from voice.pipeline.turn_taking import TurnDetector, Utterance
from voice.providers.base import ProviderError
from voice.providers.speech import ChatMessage
from voice.providers.speech_selection import SpeechProviders, speech_providers
from voice.sessions import MediaSender, StreamInfo, VoiceSession

__all__ = ["GREETING_WORDS", "ConversationSession", "SessionConfig"]

logger = logging.getLogger(__name__)


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
        self.recorder = CallRecorder()
        self._tasks: set[asyncio.Task] = set()
        self._reply: asyncio.Task | None = None
        self._turn: AgentTurn | None = None
        self._agent_turns = AgentTurns()
        self._ending = False
        self._stt_failures = 0
        self._stopped = False
        self._recording = False  # the host knows the call: its end must be reported, whatever happens next
        self.started = False
        self.taken_over = False  # a supervisor speaks instead of the agent
        self.playout: Playout | None = None
        self.listener: Listener | None = None
        self.replies: ReplyRounds | None = None

    # ---- VoiceSession ------------------------------------------------------------------------------

    async def start(self, info: StreamInfo, sender: MediaSender) -> None:
        self.info, self.sender = info, sender
        self.loop = asyncio.get_running_loop()
        self.started_at = self.loop.time()
        if self.host is None:
            self.host = StaticHost(ConversationContext(system_prompt="", first_message=""))
        self.context = await self.host.load_context(info)
        self.recorder.start(self.host, info.call_id)
        self._recording = True
        self.providers = self.providers or speech_providers(info.parameters)
        self.playout = Playout(
            sender,
            time_scale=self.context.time_scale,
            lead_frames=self.config.lead_frames,
            on_mark=lambda name: self._agent_turns.mark_sent(name, self.loop.time()),
            on_audio=self.detector.agent_audio,
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
            allocate_index=self.recorder.allocate_index,
            on_failure=self.recorder.failed,
        )
        self.replies = ReplyRounds(
            self.context,
            self.providers.language_model,
            self.host,
            self.recorder,
            speak=self._synthesize,
            clock=self.loop.time,
            breakers=self._breaker,
            first_token_s=self.config.llm_first_token_s,
            idle_s=self.config.llm_idle_s,
            max_rounds=self.config.max_tool_rounds,
        )
        self.listener = Listener(
            self,
            self.detector,
            Transcriber(
                self.providers.speech_to_text,
                breakers=self._breaker,
                timeout_s=self.config.stt_timeout_s,
                on_failure=self.recorder.failed,
            ),
            allocate_index=self.recorder.allocate_index,
            time_scale=self.context.time_scale,
            hold_after_s=self.config.hold_after_s,
            call_id=info.call_id,
        )
        self.phrases = FallbackPhrases(self.providers.text_to_speech, self.context.voice)
        self._spawn(self.phrases.prepare())
        self._spawn(self.listener.work(), name="inputs")
        self._silence = silence_phrases(self.context.voice.language)
        self._reprompt_turn: AgentTurn | None = None
        watch = SilenceWatch(
            reprompt_s=self.context.silence_reprompt_s,
            hang_up_s=self.context.silence_hang_up_s,
            time_scale=self.context.time_scale,
            busy=lambda: (
                self.taken_over
                or self.listener.busy
                or (self._turn is not None and self._turn is not self._reprompt_turn)
            ),
            reprompt=self._reprompt,
            give_up=self._no_response,
        )
        self._spawn(watch.run(), name="silence")
        self.host.subscribe(self.set_answered_by, self.supervise)
        self.started = True
        if self.context.answered_by in VOICEMAIL_VERDICTS:
            self._begin_voicemail()
        else:
            opener = render(self.context.first_message, self.context.variables).text
            self._start_reply(self._speak_text(opener), reference=self.started_at, is_opener=True)

    async def on_media(self, payload: bytes) -> None:
        self.listener.feed(payload)  # inline and cheap; anything slow goes onto the listener's queue

    async def on_mark(self, name: str) -> None:
        if (turn := self._agent_turns.mark_heard(name, self.loop.time())) is not None:
            self._finish_agent_turn(turn)

    async def on_dtmf(self, digit: str) -> None:
        self.listener.key(digit)

    async def stop(self) -> None:
        """End the conversation, however the call ended (callee hung up mid-word, mid-reply or mid-tool, the
        line dropped, a provider failed, the server is stopping). Never raises; from the moment the host knew
        the call, its end — outcome, latency summary, what failed — is reported exactly once, after the turns
        heard so far. Nothing is sent after this begins: the line may already be gone."""
        if self._stopped or not self._recording:
            return
        self._stopped = True
        try:
            await self._wind_down()
        except Exception:  # whatever broke, the record below must still be written
            logger.exception("call %s: the conversation did not wind down cleanly", self.info.call_id)
        finally:
            await self.recorder.close(self.config.stop_grace_s)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _wind_down(self) -> None:
        if self.playout is not None:
            await self.playout.close()
        if self.listener is None or self.replies is None:
            return  # `start` failed half-way: nothing was heard or said
        self.listener.end_of_stream()
        if self._reply is not None:
            self._reply.cancel()
        worker = next((t for t in self._tasks if t.get_name() == "inputs"), None)
        if worker is not None:  # the last words' transcript belongs in the record
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(worker), timeout=self.config.stop_grace_s)
        if self._reply is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reply
        await self.replies.tools_finished(self.config.stop_grace_s)
        try:
            await self.listener.transcriber.aclose()
        except Exception:
            logger.warning("call %s: the transcriber did not close cleanly", self.info.call_id, exc_info=True)
        if self._turn is not None:
            self._finish_agent_turn(self._turn, cut=True)

    async def server_stopping(self) -> None:
        """The server is stopping under the call: the outcome says so (unless the call had one already), and
        the carrier says goodbye for us (the stream cannot) unless the agent was already ending the call."""
        if self._stopped or not self._recording:
            return
        if self.recorder.outcome == "completed":
            self.recorder.outcome = "server_stopped"
        if self._ending:
            return
        self._ending = True
        language = self.context.voice.language
        try:
            await self.host.end_with_goodbye(silence_phrases(language).cut_short, language)  # type: ignore[union-attr]
        except Exception:  # the record matters more than the goodbye: stop() follows whatever happened here
            logger.warning("call %s: no goodbye before the server stopped", self.info.call_id, exc_info=True)

    # ---- AMD -------------------------------------------------------------------------------------

    def set_answered_by(self, verdict: str) -> None:
        """An AMD verdict arrived mid-call: a machine after its greeting gets the voicemail message."""
        if verdict in VOICEMAIL_VERDICTS and not self._ending and self.started:
            self._begin_voicemail()

    def _begin_voicemail(self) -> None:
        self._ending, self.recorder.outcome = True, "voicemail"
        self._cancel_reply(interrupted=False)
        message = render(self.context.voicemail_message, self.context.variables).text
        self._start_reply(self._speak_text(message, then_hang_up=True), reference=self.loop.time(), force=True)

    # ---- A supervisor ------------------------------------------------------------------------------

    def supervise(self, action: str, value: str | bytes = "") -> None:
        """What a supervisor does on the call (relayed by the host): `whisper` (text), `take_over`, `audio`
        (one 20 ms μ-law frame of the supervisor's voice, while taken over), `hand_back`."""
        if self._stopped or self.replies is None:
            return
        if action == "whisper":
            self.take_guidance(str(value))
        elif action == "take_over":
            self.take_over()
        elif action == "audio" and self.taken_over and isinstance(value, bytes | bytearray):
            self.playout.enqueue([bytes(value)], tag="supervisor")  # paced like the agent's own audio
        elif action == "hand_back":
            self.hand_back()

    def take_guidance(self, text: str) -> None:
        """A supervisor's whisper: in the model's context before the agent's next turn, and in the transcript
        (as a system turn); the callee hears nothing of it."""
        self.replies.history.append(ChatMessage.guidance(text))
        now = self.loop.time()
        self.recorder.record("system", f"Supervisor whispered: {text}", now, now)

    def take_over(self) -> None:
        """A supervisor speaks on the call: the agent falls silent (what it was saying is cut, the carrier's
        buffer cleared) and starts nothing — no reply, reprompt or hold phrase — until `hand_back`. The callee's
        words are still transcribed and kept in the model's history."""
        if self.taken_over or self._ending:
            return
        self.taken_over = True
        self._cancel_reply(interrupted=False)
        now = self.loop.time()
        self.recorder.record("system", "A supervisor took over the call.", now, now)

    def hand_back(self) -> None:
        """The agent speaks again, going on from the transcript (the callee's latest words)."""
        if not self.taken_over:
            return
        self.taken_over = False
        now = self.loop.time()
        self.recorder.record("system", "The supervisor handed the call back to the agent.", now, now)
        if self.replies.history and self.replies.history[-1].role == "user":
            self._start_reply(self._speak_reply, reference=now)

    # ---- A silent callee -------------------------------------------------------------------------

    def _reprompt(self) -> None:
        if self._turn is not None or self._ending or self._stopped:
            return
        self._start_reply(self._speak_text(self._silence.reprompt), reference=self.loop.time())
        self._reprompt_turn = self._turn
        if self._turn is not None:
            self._turn.unprompted = True

    def _no_response(self) -> None:
        """Silent through the reprompt: a polite goodbye, then hang up."""
        if self._ending or self._stopped:
            return
        self.recorder.outcome = "no_response"
        self._cancel_reply(interrupted=False)
        self._ending = True
        goodbye = self._speak_text(self._silence.goodbye, then_hang_up=True)
        self._start_reply(goodbye, reference=self.loop.time(), force=True)
        if self._turn is not None:
            self._turn.unprompted = True

    # ---- What the listener hears (its `Floor`) -----------------------------------------------------

    def pause_agent(self) -> None:
        if self.taken_over:
            return  # the supervisor speaking is not an agent to interrupt
        self.playout.pause()  # quiet at once; the words decide whether to stop for good

    def resume_agent(self) -> None:
        self.playout.resume()

    def hold_for_transcript(self) -> None:
        """Still transcribing and nothing playing: the hold phrase, queued ahead of the reply to come."""
        if self._turn is not None or self._stopped or self._ending or self.playout.busy or self.taken_over:
            return
        self.playout.enqueue(list(codec.reframe([self.phrases.audio(HOLD)])), tag="hold")
        now = self.loop.time()
        self.recorder.record("agent", self.phrases.phrases[HOLD], now, now)

    async def key_pressed(self, digit: str) -> None:
        text = f"The caller pressed {digit}."
        self.recorder.record("system", text, self.loop.time(), self.loop.time())
        self.replies.history.append(ChatMessage("user", text))
        if self._ending or self._stopped or self._turn is not None:
            # The agent is already answering (perhaps the words the key followed, or a goodbye): a key press
            # does not cut that short; the model sees it with the next turn.
            return
        self._start_reply(self._speak_reply, reference=self.loop.time())

    async def heard(self, utterance: SpokenUtterance, text: str, stt_done: float) -> None:
        self._stt_failures = 0
        turn = self._turn
        speaking = utterance.over_agent and turn is not None and not turn.done.is_set()
        kind = classify(
            text,
            agent_speaking=speaking,
            over_opener=turn is not None and turn.is_opener,
            min_interruption_words=self.config.turn_taking.min_interruption_words,
        )
        endpoint_at = utterance.end_of_speech + utterance.event.endpoint_delay_ms / 1000 * self.context.time_scale
        if text:
            spoke_for = utterance.event.speech_ms / 1000 * self.context.time_scale
            latency = {"endpoint": elapsed_ms(utterance.end_of_speech, endpoint_at),
                       "stt_final": elapsed_ms(utterance.end_of_speech, stt_done)}  # fmt: skip
            self.recorder.record("contact", text, utterance.end_of_speech - spoke_for, stt_done, index=utterance.index,
                                 latency=latency)  # fmt: skip
        if self._ending or self._stopped:
            return
        if kind in (Utterance.NOISE, Utterance.BACKCHANNEL):
            self.playout.resume()
            return
        self._cancel_reply(interrupted=True)
        self.replies.history.append(ChatMessage("user", text))
        self._start_reply(
            self._speak_reply,
            reference=utterance.end_of_speech,
            stt_done=stt_done,
            endpoint=endpoint_at,
        )

    async def transcription_failed(self, error: ProviderError) -> None:
        assert self.providers is not None  # noqa: S101 - set in start()
        self.recorder.failed("stt", self.providers.speech_to_text.name, error)
        self._stt_failures += 1
        if self._stt_failures >= 2 or not isinstance(error, ProviderError) or self._ending:
            await self._give_up()
            return
        self._cancel_reply(interrupted=True)
        self._start_reply(self._speak_audio(REPEAT), reference=self.loop.time())

    # ---- The agent's turns -------------------------------------------------------------------------

    def _start_reply(
        self,
        speech: Callable[[AgentTurn], Any],
        *,
        reference: float,
        stt_done: float | None = None,
        endpoint: float | None = None,
        is_opener: bool = False,
        force: bool = False,
    ) -> None:
        if self._stopped or (self._ending and not force) or (self.taken_over and not force):
            return
        turn = self._agent_turns.new(reference, is_opener=is_opener)
        if endpoint is not None:
            turn.stamp("endpoint", endpoint)
        if stt_done is not None:
            turn.stamp("stt_final", stt_done)
        self._turn = turn
        self.detector.agent_speaking = True
        self.playout.resume()
        self._reply = asyncio.create_task(self._run_reply(turn, speech), name=f"reply-{turn.key}")

    async def _run_reply(self, turn: AgentTurn, speech: Callable[[AgentTurn], Any]) -> None:
        hold = asyncio.get_running_loop().call_later(self.config.hold_after_s, self._hold, turn)
        try:
            await speech(turn)
        except asyncio.CancelledError:
            raise
        except GiveUp:
            hold.cancel()
            turn.generating = False
            await self._give_up()
            return
        finally:
            hold.cancel()
        turn.generating = False
        if turn.complete():
            self._finish_agent_turn(turn)

    def _hold(self, turn: AgentTurn) -> None:
        """Nothing said yet: the callee hears the cached hold phrase rather than silence."""
        if turn.chunks or turn.cleared or self._stopped or turn.is_opener:
            return
        self.speaker.enqueue(turn, self.phrases.audio(HOLD), self.phrases.phrases[HOLD])

    # What a turn says: the model's answer, a text, or a cached phrase (each `speech` for `_start_reply`).

    async def _speak_reply(self, turn: AgentTurn) -> None:
        if terminal := await self.replies.answer(turn):
            turn.generating = False
            await self._hang_up_after(turn, transfer=terminal == tool_specs.TRANSFER)

    def _speak_text(self, text: str, *, then_hang_up: bool = False) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            chunker = SentenceChunker()
            for chunk in [*chunker.push(text), *filter(None, [chunker.flush()])]:
                await self._synthesize(turn, chunk)
            self.replies.said(turn, text)
            if then_hang_up:
                turn.generating = False
                await self._hang_up_after(turn)

        return speak

    def _speak_audio(self, key: str, *, then_hang_up: bool = False) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            self.speaker.enqueue(turn, self.phrases.audio(key), self.phrases.phrases[key])
            if then_hang_up:
                turn.generating = False
                await self._hang_up_after(turn)

        return speak

    async def _synthesize(self, turn: AgentTurn, text: str) -> None:
        try:
            await self.speaker.synthesize(turn, text)
        except CannotSpeak as error:
            raise GiveUp from error

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

    async def _hang_up_after(self, turn: AgentTurn, *, transfer: bool = False) -> None:
        """Let the last words be heard (their marks come back), then end or hand over the call."""
        self._ending = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.mark_timeout_s):
                while not turn.complete():
                    await asyncio.sleep(0.02 * self.context.time_scale)
        self._finish_agent_turn(turn)
        if transfer:
            result = await self.replies.run_host_tool(tool_specs.TRANSFER, {}, outcome="transferred")
            if result.ok:
                return
        await self.sender.hang_up()

    async def _give_up(self) -> None:
        """The conversation cannot go on: the cached goodbye, then a clean hang-up."""
        if self._stopped:
            return
        self.recorder.outcome = "provider_failure"
        self._cancel_reply(interrupted=False)
        self._ending = True
        self._start_reply(self._speak_audio(GOODBYE, then_hang_up=True), reference=self.loop.time(), force=True)

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
            self.replies.keep_heard(turn, text)
        if text and turn.index is not None:
            self.recorder.agent_turn(turn, text)

    def _spawn(self, coroutine: Any, *, name: str | None = None) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
