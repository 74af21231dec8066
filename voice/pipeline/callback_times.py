"""When the callee wants to be called back, read from their words in their language and their time zone.

"call me tomorrow at five", "llámeme mañana a las cinco", "in 2 hours", "el lunes por la tarde" or ISO
8601, alone or inside a sentence (the last time named wins). The calendar arithmetic is dateparser's
(relative days, weekdays, "in N hours", in 200+ languages); what it does not read as people say it on the
phone is normalised first, from the language's word lists
(voice/languages/): the lead-in ("call me", "llámeme") is dropped, an hour word becomes digits ("cinco" →
5), a part of the day becomes a clock time ("por la tarde" → 15:00), and an hour said without am/pm is
read inside the legal calling hours — "at five" is 17:00, never 05:00. A time that still falls outside
the legal 08:00–21:00 in the callee's zone, or in the past, is an error the model hears and can correct.
"""

import contextlib
import datetime
import re
import zoneinfo

import dateparser
from dateparser.search import search_dates

from voice.languages import LANGUAGES, Language, language_for

# Callee-local hours no call may leave (TCPA 64.1200(c)(1)); the campaign's own window narrows them further.
LEGAL_START = datetime.time(8, 0)
LEGAL_END = datetime.time(21, 0)
# Hours said without am/pm below this are afternoon ones: nobody asks to be called at 05:00.
FIRST_MORNING_HOUR = 8


def _zone(time_zone: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(time_zone) if time_zone else datetime.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _iso(text: str, zone: datetime.tzinfo) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(text.upper() if "t" in text else text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


_CLOCK = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})")


def _clock(hour: int, minute: str | None, half: str = "") -> str:
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    elif not half and hour < FIRST_MORNING_HOUR:
        hour += 12
    return f"{hour}:{minute or '00'}"


def _phrase(words: str) -> str:
    return rf"(?<!\w){re.escape(words)}(?!\w)"


def normalise(text: str, language: Language, *, today: datetime.date | None = None) -> str:
    """The words as dateparser reads them best: the language's replacements made ("media hora" → "30
    minutos"), a day named relative to `today` as its date ("pasado mañana"), lead-ins dropped, "at <hour>"
    as a clock time inside the legal hours unless the words say morning or evening ("a las diez de la
    noche"), parts of the day as clock times, number words before a unit as digits."""
    text = " ".join(text.lower().replace("¿", " ").replace("?", " ").replace("¡", " ").split()).strip(" .,!")
    for words, replacement in language.replacements.items():
        text = re.sub(_phrase(words), f" {replacement} ", text)
    if today is not None:
        for words, days in language.relative_days.items():
            text = re.sub(_phrase(words), f" {today + datetime.timedelta(days=days):%Y-%m-%d} ", text)
    for lead_in in language.lead_ins:
        text = re.sub(_phrase(lead_in), " ", text)
    if language.at_hour:
        halves = {**dict.fromkeys(language.am_words, "am"), **dict.fromkeys(language.pm_words, "pm")}
        said_half = "|".join(re.escape(words) for words in sorted(halves, key=len, reverse=True)) or "(?!)"

        def at(match: re.Match[str]) -> str:
            word = match.group("hour")
            hour = language.hour_words.get(word) or (int(word) if word.isdigit() else None)
            if hour is None or not 1 <= hour <= 12:
                return match.group(0)
            half = halves.get(match.group("half") or "", "")
            return f" {match.group('at')} {_clock(hour, match.group('minute'), half)} "

        text = re.sub(rf"{language.at_hour}(?: (?P<half>{said_half})(?!\w))?", at, text)
    for phrase, clock in language.parts_of_day.items():
        text = re.sub(_phrase(phrase), f" {clock} ", text)
    # A date followed by words and a clock time ("2026-11-25 a las 11:00"): dateparser reads the two alone.
    text = re.sub(r"(\d{4}-\d\d-\d\d) (?:[^\W\d]+ ){0,2}(\d{1,2}:\d\d)", r"\1 \2", " ".join(text.split()))
    if language.units:
        units = "|".join(map(re.escape, language.units))
        text = re.sub(
            rf"(?<!\w)(?P<n>\w+) (?=(?:{units})(?!\w))",
            lambda m: f"{language.hour_words.get(m.group('n'), m.group('n'))} ",
            text,
        )
    return " ".join(text.split()).strip(" .,")


def warm_up() -> None:
    """Load dateparser's data for every language with word lists (its first parse in a language takes ~0.1 s
    here): at server start, not under a call."""
    now = datetime.datetime.now(datetime.UTC)
    for code in LANGUAGES:
        with contextlib.suppress(ValueError):
            callback_time("tomorrow at 10:00", now=now, language=code)


def callback_time(when: str, *, now: datetime.datetime, time_zone: str = "", language: str = "en") -> datetime.datetime:
    """When to call back, as an aware datetime in the callee's zone; ValueError with a message for the model
    if the words say no time, a past one, or one outside the legal 08:00–21:00 callee-local."""
    zone = _zone(time_zone)
    text = " ".join(str(when).split())
    if not text:
        raise ValueError("'when' is required")
    moment = _iso(text, zone)
    if moment is None:
        spoken = language_for(language)
        words = normalise(text, spoken, today=now.astimezone(zone).date())
        languages = list(dict.fromkeys([spoken.code, "en"]))
        settings = {
            "PREFER_DATES_FROM": "future",
            "TIMEZONE": str(zone),
            "RETURN_AS_TIMEZONE_AWARE": True,
            "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
        }
        moment = dateparser.parse(words, languages=languages, settings=settings) if words else None
        if moment is None and words:  # a sentence around the time ("I'm driving. Tomorrow at five."): its last date
            found = search_dates(words, languages=languages, settings=settings) or []
            if found:
                words, moment = found[-1]
        if moment is None:
            raise ValueError(
                f"could not read the time {when!r}: give ISO 8601 or e.g. 'tomorrow at 17:00', 'in 2 hours'"
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        said = _CLOCK.search(words)
        if said and (int(said.group(1)) % 12, int(said.group(2))) != (moment.hour % 12, moment.minute):
            raise ValueError(f"no such time of day in {when!r}")  # dateparser dropped it ("25:00")
    if moment <= now:
        raise ValueError(f"{when!r} is in the past")
    local = moment.astimezone(zone)
    if not LEGAL_START <= local.time() < LEGAL_END:
        raise ValueError(
            f"{when!r} is {local:%H:%M} for the callee, outside the legal calling hours 08:00–21:00: "
            "ask for a time between them"
        )
    return local
