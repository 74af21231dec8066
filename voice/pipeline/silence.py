"""A callee who says nothing: a reprompt after `reprompt_s` of silence, a polite goodbye after `hang_up_s`.

Silence is timed on the loop clock (scaled like the carrier's pacing) from the last moment anyone had the
floor: the callee speaking or being transcribed, a key press, or the agent speaking — except the reprompt
itself, which does not restart the count. Anything the callee does restarts it and re-arms the reprompt.
The phrases are said in the agent's language (its BCP 47 tag's primary subtag; English when unknown).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SilencePhrases:
    reprompt: str
    goodbye: str
    cut_short: str  # said by the carrier when the server stops mid-call


PHRASES: dict[str, SilencePhrases] = {
    "en": SilencePhrases(
        "Are you still there?",
        "It seems this isn't a good time. I'll let you go now. Goodbye.",
        "I'm sorry, I have to end our call now. We'll call you back. Goodbye.",
    ),
    "es": SilencePhrases(
        "¿Sigue ahí?",
        "Parece que no es un buen momento. Lo dejo por ahora. Adiós.",
        "Lo siento, tengo que terminar la llamada. Le volveremos a llamar. Adiós.",
    ),
    "fr": SilencePhrases(
        "Vous êtes toujours là ?",
        "Ce n'est visiblement pas le bon moment. Je vous laisse. Au revoir.",
        "Désolé, je dois mettre fin à notre appel. Nous vous rappellerons. Au revoir.",
    ),
    "de": SilencePhrases(
        "Sind Sie noch da?",
        "Es scheint gerade nicht zu passen. Ich lasse Sie jetzt. Auf Wiederhören.",
        "Entschuldigung, ich muss unser Gespräch jetzt beenden. Wir rufen Sie zurück. Auf Wiederhören.",
    ),
    "pt": SilencePhrases(
        "Ainda está aí?",
        "Parece que não é um bom momento. Vou desligar agora. Até logo.",
        "Desculpe, preciso encerrar a nossa chamada. Ligaremos de volta. Até logo.",
    ),
}


def silence_phrases(language: str) -> SilencePhrases:
    """The phrases for a language tag ("es-MX" → Spanish); English for a language without its own."""
    return PHRASES.get(language.split("-")[0].split("_")[0].lower(), PHRASES["en"])


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
