"""The conversation session as a `VoiceSession`: built at the stream's start, fed its messages, ended once.

See the package docstring (voice/pipeline/conversation/__init__.py) for the flow."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from voice.languages import language_for
from voice.pipeline.agent_turns import AgentTurn, AgentTurns
from voice.pipeline.breaker import CircuitBreaker, breaker_for
from voice.pipeline.call_record import CallRecorder
from voice.pipeline.conversation.hearing import Hearing
from voice.pipeline.conversation.supervised import Supervised
from voice.pipeline.conversation.supervisor_voice import SupervisorVoice
from voice.pipeline.conversation.unanswered import Unanswered
from voice.pipeline.fallback import FallbackPhrases, fallback_phrases
from voice.pipeline.host import VOICEMAIL_VERDICTS, ConversationContext, ConversationHost, StaticHost
from voice.pipeline.listening import Listener
from voice.pipeline.playout import Playout
from voice.pipeline.replies import ReplyRounds
from voice.pipeline.session_config import SessionConfig
from voice.pipeline.silence import SilenceWatch
from voice.pipeline.speaker import Speaker
from voice.pipeline.templating import render
from voice.pipeline.transcription import Transcriber
from voice.pipeline.turn_taking import TurnDetector
from voice.providers.speech_selection import SpeechProviders, speech_providers
from voice.sessions import MediaSender, StreamInfo, VoiceSession

logger = logging.getLogger(__name__)


class ConversationSession(Hearing, Unanswered, Supervised, VoiceSession):
    """See the package docstring. `host` persists; `providers` default to the settings' adapters."""

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
        self.supervisor_voice: SupervisorVoice | None = None
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
        self.language = language_for(self.context.voice.language)  # its word lists
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
                language=self.context.voice.language or None,
                breakers=self._breaker,
                timeout_s=self.config.stt_timeout_s,
                on_failure=self.recorder.failed,
            ),
            allocate_index=self.recorder.allocate_index,
            time_scale=self.context.time_scale,
            hold_after_s=self.config.hold_after_s,
            call_id=info.call_id,
        )
        self.phrases = FallbackPhrases(
            self.providers.text_to_speech, self.context.voice, fallback_phrases(self.context.phrases)
        )
        self._spawn(self.phrases.prepare())
        self._spawn(self.listener.work(), name="inputs")
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
        if self.supervisor_voice is not None:  # the supervisor's last words belong in the record too
            await self.supervisor_voice.finish(self.config.stop_grace_s)
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
        language = self.context.voice.language or "en-US"
        try:
            await self.host.end_with_goodbye(self.context.phrases.cut_short, language)  # type: ignore[union-attr]
        except Exception:  # the record matters more than the goodbye: stop() follows whatever happened here
            logger.warning("call %s: no goodbye before the server stopped", self.info.call_id, exc_info=True)
