"""An answering machine, and a callee who says nothing: the voicemail message, a reprompt, a polite goodbye."""

from voice.pipeline.conversation.speaking import Speaking
from voice.pipeline.host import VOICEMAIL_VERDICTS
from voice.pipeline.templating import render


class Unanswered(Speaking):
    """AMD verdicts and the silence watch's calls (reprompt after N seconds, goodbye after M)."""

    def set_answered_by(self, verdict: str) -> None:
        """An AMD verdict arrived mid-call: a machine after its greeting gets the voicemail message."""
        if verdict in VOICEMAIL_VERDICTS and not self._ending and self.started:
            self._begin_voicemail()

    def _begin_voicemail(self) -> None:
        self._ending, self.recorder.outcome = True, "voicemail"
        self._cancel_reply(interrupted=False)
        message = render(self.context.voicemail_message, self.context.variables).text
        self._start_reply(self._speak_text(message, then_hang_up=True), reference=self.loop.time(), force=True)

    # ---- A silent callee -------------------------------------------------------------------------

    def _reprompt(self) -> None:
        if self._turn is not None or self._ending or self._stopped:
            return
        self._start_reply(self._speak_text(self.context.phrases.silence_reprompt), reference=self.loop.time())
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
        goodbye = self._speak_text(self.context.phrases.silence_goodbye, then_hang_up=True)
        self._start_reply(goodbye, reference=self.loop.time(), force=True)
        if self._turn is not None:
            self._turn.unprompted = True
