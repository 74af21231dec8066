"""Spanish word lists (Spain and Latin America; see voice/languages/__init__.py)."""

# fmt: off
WORDS = {
    "code": "es",
    "name": "Spanish",
    "backchannels": frozenset(
        {
            "mhm", "mm", "ajá", "aja", "ah", "eh", "sí", "si", "vale", "ok", "okey", "claro", "bueno", "ya",
            "entiendo", "de", "acuerdo", "órale", "sale", "perfecto", "exacto", "ándale", "uhum",
        }
    ),
    "fillers": frozenset({"eh", "em", "este", "mm", "hmm", "ah", "pues", "uhm"}),
    "stop_words": frozenset(
        {"espere", "espera", "para", "pare", "no", "perdón", "perdone", "disculpe", "oiga", "cómo", "qué", "alto"}
    ),
    "greeting_words": frozenset(
        {"hola", "diga", "dígame", "bueno", "aló", "alo", "sí", "si", "quién", "quien", "es", "habla", "soy", "yo"}
    ),
    "hour_words": {
        "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
        "nueve": 9, "diez": 10, "once": 11, "doce": 12, "mediodía": 12,
    },
    "at_hour": r"\b(?P<at>a (?:las|la)) (?P<hour>\w+)(?::(?P<minute>\d\d))?(?!:)\b(?! ?[ap]\.?m)",
    "parts_of_day": {
        "esta mañana": "10:00", "esta tarde": "15:00", "esta noche": "19:00",
        "por la mañana": "10:00", "por la tarde": "15:00", "por la noche": "19:00", "en la mañana": "10:00",
        "en la tarde": "15:00", "en la noche": "19:00", "a mediodía": "12:00", "al mediodía": "12:00",
    },
    "lead_ins": (
        "puede llamarme", "podría llamarme", "vuelva a llamarme", "vuelve a llamarme", "llámeme", "llámame",
        "llameme", "llamame", "llámenme", "márqueme", "mejor", "por favor", "el próximo", "la próxima", "el",
        "este", "que viene",
    ),
    "units": ("minuto", "minutos", "hora", "horas", "día", "días", "semana", "semanas"),
    "replacements": {"media hora": "30 minutos", "una hora": "1 hora", "un cuarto de hora": "15 minutos"},
    "relative_days": {"pasado mañana": 2},
    "am_words": ("de la mañana", "de la madrugada", "por la mañana", "en la mañana"),
    "pm_words": ("de la tarde", "de la noche", "por la tarde", "por la noche", "en la tarde", "en la noche"),
}
# fmt: on
