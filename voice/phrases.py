"""The phrases the pipeline speaks by itself, in the agent's language, from Django's gettext catalogues.

Every phrase here is a gettext message (`locale/<code>/LC_MESSAGES/django.po`, compiled to `.mo`), looked up
under `translation.override(<the agent's language>)` once per call, when the call's context is loaded; the
session then only reads the resulting plain `Phrases`. An agent may override any of them (its `phrases`, by
key). A language without a catalogue speaks English. The keys (`PHRASE_KEYS`) are what an override names.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from django.utils import translation
from django.utils.translation import gettext, pgettext_lazy


@dataclass(frozen=True)
class Phrases:
    """The English text is each message's msgid; `phrases_for` gives them translated."""

    disclosure: str = "Hello, this is an automated assistant calling from Callwright. This is a test call."
    hold: str = "One moment, please."
    repeat: str = "Sorry, I didn't catch that. Could you say it again?"
    technical_goodbye: str = "I'm sorry, we're having technical trouble. We'll call you back another time. Goodbye."
    goodbye: str = "Thank you for your time. Goodbye."
    opted_out: str = "Understood, we won't call you again. Goodbye."
    transfer: str = "Please hold while I connect you with a colleague."
    voicemail: str = "Hello, this is an automated assistant from Callwright. We'll try to reach you again. Goodbye."
    silence_reprompt: str = "Are you still there?"
    silence_goodbye: str = "It seems this isn't a good time. I'll let you go now. Goodbye."
    cut_short: str = "I'm sorry, I have to end our call now. We'll call you back. Goodbye."


PHRASE_KEYS = tuple(field.name for field in fields(Phrases))

# What each phrase is for, shown beside an agent's overrides (and as the translators' context).
PHRASE_PURPOSES = {
    "disclosure": pgettext_lazy("voice phrase purpose", "Opener of a test call with no agent (says it is automated)"),
    "hold": pgettext_lazy("voice phrase purpose", "While the answer is slow to come"),
    "repeat": pgettext_lazy("voice phrase purpose", "When the callee's words could not be transcribed"),
    "technical_goodbye": pgettext_lazy("voice phrase purpose", "When a provider failure ends the call"),
    "goodbye": pgettext_lazy("voice phrase purpose", "When the agent ends the call without words of its own"),
    "opted_out": pgettext_lazy("voice phrase purpose", "After an opt-out, without words of the agent's own"),
    "transfer": pgettext_lazy("voice phrase purpose", "Before a transfer to a human"),
    "voicemail": pgettext_lazy("voice phrase purpose", "Voicemail message of a test call with no agent"),
    "silence_reprompt": pgettext_lazy("voice phrase purpose", "After the callee's silence"),
    "silence_goodbye": pgettext_lazy("voice phrase purpose", "Hanging up on a silent callee"),
    "cut_short": pgettext_lazy("voice phrase purpose", "Said by the carrier when the server stops mid-call"),
}


def _catalogue() -> dict[str, str]:
    # Literal calls, one per phrase, so `makemessages` finds every msgid.
    return {
        "disclosure": gettext("Hello, this is an automated assistant calling from Callwright. This is a test call."),
        "hold": gettext("One moment, please."),
        "repeat": gettext("Sorry, I didn't catch that. Could you say it again?"),
        "technical_goodbye": gettext(
            "I'm sorry, we're having technical trouble. We'll call you back another time. Goodbye."
        ),
        "goodbye": gettext("Thank you for your time. Goodbye."),
        "opted_out": gettext("Understood, we won't call you again. Goodbye."),
        "transfer": gettext("Please hold while I connect you with a colleague."),
        "voicemail": gettext(
            "Hello, this is an automated assistant from Callwright. We'll try to reach you again. Goodbye."
        ),
        "silence_reprompt": gettext("Are you still there?"),
        "silence_goodbye": gettext("It seems this isn't a good time. I'll let you go now. Goodbye."),
        "cut_short": gettext("I'm sorry, I have to end our call now. We'll call you back. Goodbye."),
    }


def phrases_for(language: str, overrides: Mapping[str, str] | None = None) -> Phrases:
    """The phrases in `language` (a BCP 47 tag, "es-MX"; its catalogue, else English), then `overrides`
    (by key; empty values and unknown keys are ignored)."""
    with translation.override(language.replace("_", "-") or "en"):
        phrases = Phrases(**_catalogue())
    chosen = {key: str(text).strip() for key, text in (overrides or {}).items() if key in PHRASE_KEYS}
    return replace(phrases, **{key: text for key, text in chosen.items() if text})
