"""A callee who says nothing: a reprompt after `reprompt_s` of silence, a polite goodbye after `hang_up_s`.

Silence is timed on the loop clock (scaled like the carrier's pacing) from the last moment anyone had the
floor: the callee speaking or being transcribed, a key press, or the agent speaking — except the reprompt
itself, which does not restart the count. Anything the callee does restarts it and re-arms the reprompt.
The phrases are said in the agent's language: they are gettext messages (voice/phrases.py).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from voice.phrases import phrases_for


@dataclass(frozen=True)
class SilencePhrases:
    reprompt: str
    goodbye: str
    cut_short: str  # said by the carrier when the server stops mid-call


def silence_phrases(language: str) -> SilencePhrases:
    """The phrases for a language tag ("es-MX" → Spanish); English for a language without a catalogue."""
    phrases = phrases_for(language)
    return SilencePhrases(phrases.silence_reprompt, phrases.silence_goodbye, phrases.cut_short)


class SilenceWatch:
    """One per call. `busy()` says whether someone has the floor now (not counting the reprompt)."""

    def __init__(
        self,
        *,
        reprompt_s: float,
        hang_up_s: float,
        time_scale: float,
        busy: Callable[[], bool],
        reprompt: Callable[[], None],
        give_up: Callable[[], None],
    ) -> None:
        if not 0 < reprompt_s < hang_up_s:
            raise ValueError(f"the reprompt ({reprompt_s}s) must come before the hang-up ({hang_up_s}s), both > 0")
        self.reprompt_after, self.hang_up_after = reprompt_s * time_scale, hang_up_s * time_scale
        self.tick = min(0.1, self.reprompt_after / 40)  # the count is this precise
        self._busy, self._reprompt, self._give_up = busy, reprompt, give_up

    async def run(self) -> None:
        """Until the call gives up on the callee (or the task is cancelled)."""
        loop = asyncio.get_running_loop()
        quiet_since, reprompted = loop.time(), False
        while True:
            await asyncio.sleep(self.tick)
            now = loop.time()
            if self._busy():
                quiet_since, reprompted = now, False
            elif now - quiet_since >= self.hang_up_after:
                self._give_up()
                return
            elif now - quiet_since >= self.reprompt_after and not reprompted:
                reprompted = True
                self._reprompt()
