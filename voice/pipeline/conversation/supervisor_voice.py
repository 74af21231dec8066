"""What a supervisor says while they have taken the call over, transcribed like the callee's words.

The callee hears the supervisor in the agent's place, so the record must say what they heard: each of the
supervisor's utterances is found by a turn detector of its own and transcribed, then kept in the transcript (a
system turn, "Supervisor said: …", as a whisper is) and in the model's history as the agent side's words, so
the agent, handed the call back, goes on from what the supervisor said.
"""

import asyncio
import contextlib
from collections.abc import Callable

from voice.pipeline.breaker import CircuitBreaker
from voice.pipeline.conversation.state import ConversationState
from voice.pipeline.listening import Listener, SpokenUtterance
from voice.pipeline.transcription import Transcriber
from voice.pipeline.turn_taking import TurnDetector
from voice.providers.base import ProviderError
from voice.providers.speech import ChatMessage


class SupervisorVoice:
    """The `Floor` of the supervisor's microphone: words are recorded; nothing here interrupts or replies."""

    def __init__(self, session: ConversationState, *, breakers: Callable[[str], CircuitBreaker]) -> None:
        self.session = session
        assert session.providers is not None  # noqa: S101 - a take-over comes after start()
        providers = session.providers
        self.listener = Listener(
            self,
            TurnDetector(session.config.turn_taking),
            Transcriber(
                providers.supervisor_speech_to_text or providers.speech_to_text,
                language=session.context.voice.language or None,
                breakers=breakers,
                timeout_s=session.config.stt_timeout_s,
                on_failure=session.recorder.failed,
            ),
            allocate_index=session.recorder.allocate_index,
            time_scale=session.context.time_scale,
            hold_after_s=session.config.hold_after_s,
            call_id=session.info.call_id,
        )
        self._worker = asyncio.ensure_future(self.listener.work())

    def feed(self, frame: bytes) -> None:
        self.listener.feed(frame)

    async def finish(self, grace_s: float) -> None:
        """The supervisor stopped speaking (handed back, or the call ends): the words still being said or
        transcribed are recorded, for up to `grace_s`."""
        self.listener.end_of_stream()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._worker), timeout=grace_s)
        self._worker.cancel()
        with contextlib.suppress(Exception):
            await self.listener.transcriber.aclose()

    # ---- Floor ---------------------------------------------------------------------------------

    def pause_agent(self) -> None:
        """Nothing to pause: the agent is silent while a supervisor has the call."""

    def resume_agent(self) -> None:
        """Nothing to resume (see pause_agent)."""

    def hold_for_transcript(self) -> None:
        """No hold phrase: the supervisor is the one speaking."""

    async def heard(self, utterance: SpokenUtterance, text: str, stt_done: float) -> None:
        if not text:
            return
        spoke_for = utterance.event.speech_ms / 1000 * self.session.context.time_scale
        self.session.recorder.record(
            "system", f"Supervisor said: {text}", utterance.end_of_speech - spoke_for, stt_done, index=utterance.index
        )
        if self.session.replies is not None:
            self.session.replies.history.append(ChatMessage("assistant", text))

    async def key_pressed(self, digit: str) -> None:
        """The supervisor's page sends no keys."""

    async def transcription_failed(self, error: ProviderError) -> None:
        """Already recorded as the STT's failure (the transcriber's `on_failure`); the call goes on."""
