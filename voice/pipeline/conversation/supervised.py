"""A supervisor on the call (relayed by the host from the live view): a whisper, a take-over, a hand-back."""

from voice.pipeline.conversation.speaking import Speaking
from voice.pipeline.conversation.supervisor_voice import SupervisorVoice
from voice.providers.speech import ChatMessage


class Supervised(Speaking):
    """What a supervisor does to the conversation; `taken_over` keeps the agent silent while they speak."""

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
            self.supervisor_voice.feed(bytes(value))  # and transcribed: the record says what the callee heard
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
        words are still transcribed and kept in the model's history, and so are the supervisor's."""
        if self.taken_over or self._ending:
            return
        self.taken_over = True
        self._cancel_reply(interrupted=False)
        now = self.loop.time()
        self.recorder.record("system", "A supervisor took over the call.", now, now)
        self.supervisor_voice = SupervisorVoice(self, breakers=self._breaker)

    def hand_back(self) -> None:
        """The agent speaks again, going on from the transcript: once the supervisor's last words are
        recorded, it answers the callee if they spoke last, else waits for them."""
        if not self.taken_over:
            return
        self.taken_over = False
        voice, self.supervisor_voice = self.supervisor_voice, None
        self._spawn(self._handed_back(voice, self.loop.time()))

    async def _handed_back(self, voice: SupervisorVoice, at: float) -> None:
        await voice.finish(self.config.stop_grace_s)
        self.recorder.record("system", "The supervisor handed the call back to the agent.", at, at)
        if self.taken_over or self._ending or self._stopped:
            return
        if self.replies.history and self.replies.history[-1].role == "user":
            self._start_reply(self._speak_reply, reference=at)
