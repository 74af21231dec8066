"""English word lists (see voice/languages/__init__.py)."""

# fmt: off
WORDS = {
    "code": "en",
    "name": "English",
    "backchannels": frozenset(
        {
            "mhm", "mm", "mmhm", "hm", "hmm", "uh-huh", "uhhuh", "uh", "huh", "um", "yeah", "yep", "yup", "yes",
            "yea", "ok", "okay", "right", "sure", "aha", "ah", "oh", "alright", "i", "see", "got", "it", "cool",
            "great", "nice", "wow", "really",
        }
    ),
    "fillers": frozenset({"uh", "um", "er", "erm", "hm", "hmm", "mm", "ah", "eh"}),
    "stop_words": frozenset({"stop", "wait", "no", "hold", "sorry", "excuse", "pardon", "what", "hello"}),
    "greeting_words": frozenset({"hello", "hi", "hey", "yes", "yeah", "hallo", "speaking", "who", "is", "this", "it"}),
    "hour_words": {
        "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
        "ten": 10, "eleven": 11, "twelve": 12, "noon": 12,
    },
    "at_hour": r"\b(?P<at>at) (?P<hour>\w+)(?::(?P<minute>\d\d))?(?!:)(?: o'clock)?\b(?! ?[ap]\.?m)",
    "parts_of_day": {
        "in the morning": "10:00", "in the afternoon": "15:00", "in the evening": "18:00",
        "morning": "10:00", "afternoon": "15:00", "evening": "18:00", "noon": "12:00",
    },
    "lead_ins": (
        "can you call me back", "could you call me back", "please call me back", "call me back", "call me",
        "try me", "ring me", "please", "maybe", "next", "this coming", "on",
    ),
    # "in two hours": number words before these become digits
    "units": ("minute", "minutes", "hour", "hours", "day", "days", "week", "weeks"),
    "replacements": {"half an hour": "30 minutes", "an hour": "1 hour", "a quarter of an hour": "15 minutes"},
    "relative_days": {"the day after tomorrow": 2, "day after tomorrow": 2},
    "am_words": ("in the morning",),
    "pm_words": ("in the afternoon", "in the evening", "at night", "tonight"),
}
# fmt: on
