"""What the conversation engine knows of each language it speaks: word lists and how people say a time.

One small module per language (`en.py`, `es.py`), each defining a `LANGUAGE` (`Language`). The phrases the
pipeline speaks by itself are not here: they are Django gettext messages (voice/phrases.py), translated in
`locale/<code>/LC_MESSAGES/django.po`. To add a language (say French, "fr"): copy `es.py` to `fr.py`, fill in
its word lists, add it to `LANGUAGES` below, and add its catalogue (`python manage.py makemessages -l fr`,
translate, `python manage.py compilemessages`). The README's "Languages" section says the same, in full.

A tag is looked up by its primary subtag ("es-MX" → "es"); a language without a module gets English's lists.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from voice.languages import en, es


@dataclass(frozen=True)
class Language:
    """Word lists of one language (lower case, accents kept: the transcripts carry them)."""

    code: str  # ISO 639-1, what OpenAI's transcription `language` and ElevenLabs' `language_code` take
    name: str  # in English, for the model's instructions ("Spanish")
    backchannels: frozenset[str]  # over the agent: "I'm listening", not "stop"
    fillers: frozenset[str]  # alone, no answer to anything
    stop_words: frozenset[str]  # even alone and over the agent: stop
    greeting_words: frozenset[str]  # said over the opener as the phone is picked up: not an interruption
    # How a callee says a callback time, turned into what dateparser reads (voice/pipeline/callback_times.py):
    hour_words: Mapping[str, int] = field(default_factory=dict)  # "five" → 5
    at_hour: str = ""  # regex of "at <hour>": groups "at" (kept) and "hour" ("at five", "a las cinco")
    parts_of_day: Mapping[str, str] = field(default_factory=dict)  # "afternoon" → "15:00", longest first
    lead_ins: tuple[str, ...] = ()  # words dateparser must not see ("call me", "next" before a weekday)
    units: tuple[str, ...] = ()  # "hours": a number word before one becomes digits ("in two hours")
    replacements: Mapping[str, str] = field(default_factory=dict)  # said → what dateparser reads ("half an hour")
    relative_days: Mapping[str, int] = field(default_factory=dict)  # "the day after tomorrow" → 2 (days from today)
    am_words: tuple[str, ...] = ()  # after an hour: morning ("in the morning", "de la mañana")
    pm_words: tuple[str, ...] = ()  # after an hour: afternoon or evening ("in the evening", "de la tarde")


def _language(module: object) -> Language:
    return Language(**module.WORDS)  # type: ignore[attr-defined]


LANGUAGES: Mapping[str, Language] = {code: _language(module) for code, module in (("en", en), ("es", es))}
ENGLISH = LANGUAGES["en"]


def primary_subtag(tag: str) -> str:
    """ "es-MX" → "es", "pt_BR" → "pt", "" → "en"."""
    return (tag or "en").replace("_", "-").split("-")[0].lower()


def with_language_instructions(system_prompt: str, tag: str) -> str:
    """The agent's prompt with the call's language said plainly, so the model answers in it whatever language
    the prompt is written in, and passes callback times in the callee's own words."""
    if not tag:
        return system_prompt
    known = LANGUAGES.get(primary_subtag(tag))
    name = known.name if known is not None else tag
    return (
        f"{system_prompt.rstrip()}\n\nThis call is in {name} ({tag}): speak only {name}, as people of that "
        "region speak it on the phone. For schedule_callback, pass the time as the callee said it, in their words."
    )


def language_for(tag: str) -> Language:
    """The word lists for a BCP 47 tag; English's for a language without its own module."""
    return LANGUAGES.get(primary_subtag(tag), ENGLISH)
