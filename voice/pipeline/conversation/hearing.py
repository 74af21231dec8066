"""What the listener heard, as its `Floor` (listening.py): a barge-in candidate, words, a key, a failed STT."""

from voice import codec
from voice.pipeline.call_record import elapsed_ms
from voice.pipeline.conversation.speaking import Speaking
from voice.pipeline.fallback import HOLD, REPEAT
from voice.pipeline.listening import SpokenUtterance, classify
from voice.pipeline.turn_taking import Utterance
from voice.providers.base import ProviderError
from voice.providers.speech import ChatMessage


class Hearing(Speaking):
    """The session's side of the `Floor`: each of the callee's utterances and keys becomes a turn, an
    interruption, a backchannel or nothing."""

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
            language=self.language,
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
