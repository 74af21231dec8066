"""Who picks up a simulated call, and what they do on it.

The persona is chosen deterministically from the dialled number's last digit (voice/ cannot read
Contact rows), so the same contact always behaves the same way; `SIMULATED_CARRIER_PERSONA` forces one
persona for every call. The utterance texts are what the callee "says"; the audio is a procedurally
generated voice-band stand-in of the same length (no recordings are downloaded).

| last digit | persona |
| --- | --- |
| 0 | busy |
| 1 | no_answer (rings until the ring timeout) |
| 2 | voicemail (greeting, beep, records until we hang up) |
| 4 | asks_removal ("stop calling me", then presses 9) |
| 5 | hangs_up_mid_call |
| 6 | asks_callback ("call me tomorrow at five") |
| 7 | interrupts (talks over the agent's audio) |
| 3, 8, 9 | answers_and_talks |

A callee speaks the agent's language: the stream's `language` parameter (the TwiML's, calls/twiml.py) picks
the persona's script in that language (`spoken_in`; Spanish in `SCRIPTS_BY_LANGUAGE`, English otherwise).
"""

from dataclasses import dataclass, replace

from voice.providers.base import CallState


@dataclass(frozen=True)
class Say:
    text: str
    seconds: float


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Beep:
    seconds: float = 0.5


@dataclass(frozen=True)
class PressKey:
    digit: str


@dataclass(frozen=True)
class Interrupt:
    """Wait until the agent's audio has played for `after_seconds` (or `give_up_seconds`), then talk over it."""

    say: Say
    after_seconds: float = 0.6
    give_up_seconds: float = 6.0


Step = Say | Pause | Beep | PressKey | Interrupt


@dataclass(frozen=True)
class Persona:
    name: str
    answers: bool = True
    unanswered_state: CallState = CallState.NO_ANSWER
    ring_seconds: float = 2.0
    answered_by: str = "human"
    amd_seconds: float = 1.5  # how long detection takes before its verdict
    script: tuple[Step, ...] = ()  # the callee hangs up when the script ends


PERSONAS: dict[str, Persona] = {
    persona.name: persona
    for persona in (
        Persona(
            "answers_and_talks",
            script=(
                Pause(0.8),
                Say("Hello?", 1.0),
                Pause(4.0),
                Say("Yes, that's me. Thanks for letting me know.", 2.5),
                Pause(4.0),
                Say("Okay, goodbye.", 1.0),
                Pause(0.5),
            ),
        ),
        Persona("busy", answers=False, unanswered_state=CallState.BUSY, ring_seconds=1.0),
        Persona("no_answer", answers=False, unanswered_state=CallState.NO_ANSWER, ring_seconds=600.0),
        Persona(
            "voicemail",
            ring_seconds=4.0,
            answered_by="machine_end_beep",
            amd_seconds=5.0,
            script=(
                Say("Hi, you've reached Sam. Please leave a message after the tone.", 4.0),
                Beep(0.5),
                Pause(20.0),  # the mailbox records until we hang up or this runs out
            ),
        ),
        Persona("hangs_up_mid_call", script=(Pause(0.5), Say("Hello?", 1.0), Pause(2.0))),
        Persona(
            "asks_removal",
            script=(
                Pause(0.8),
                Say("Hello?", 1.0),
                Pause(3.0),
                Say("Stop calling me. Take me off your list.", 2.5),
                PressKey("9"),
                Pause(3.0),
            ),
        ),
        Persona(
            "asks_callback",
            script=(
                Pause(0.8),
                Say("Hello?", 1.0),
                Pause(3.0),
                Say("I'm driving right now. Call me tomorrow at five.", 2.5),
                Pause(8.0),  # hears the agent out: the callback is booked once its answer is said
            ),
        ),
        Persona(
            "interrupts",
            script=(
                Pause(0.8),
                Say("Hello?", 1.0),
                Interrupt(Say("Sorry, who is this?", 1.5)),
                Pause(1.5),
                Interrupt(Say("No, I already paid that.", 2.0)),
                Pause(3.0),
            ),
        ),
    )
}
BY_LAST_DIGIT = {
    "0": "busy",
    "1": "no_answer",
    "2": "voicemail",
    "4": "asks_removal",
    "5": "hangs_up_mid_call",
    "6": "asks_callback",
    "7": "interrupts",
}
DEFAULT_PERSONA = "answers_and_talks"


# The same personas in other languages: the same steps and timing, other words.
SCRIPTS_BY_LANGUAGE: dict[str, dict[str, tuple[Step, ...]]] = {
    "es": {
        "answers_and_talks": (
            Pause(0.8),
            Say("¿Diga?", 1.0),
            Pause(4.0),
            Say("Sí, soy yo. Gracias por avisarme.", 2.5),
            Pause(4.0),
            Say("Vale, adiós.", 1.0),
            Pause(0.5),
        ),
        "voicemail": (
            Say("Hola, ha llamado a Sam. Deje su mensaje después de la señal.", 4.0),
            Beep(0.5),
            Pause(20.0),
        ),
        "hangs_up_mid_call": (Pause(0.5), Say("¿Diga?", 1.0), Pause(2.0)),
        "asks_removal": (
            Pause(0.8),
            Say("¿Diga?", 1.0),
            Pause(3.0),
            Say("No me llame más. Quíteme de su lista.", 2.5),
            PressKey("9"),
            Pause(3.0),
        ),
        "asks_callback": (
            Pause(0.8),
            Say("¿Diga?", 1.0),
            Pause(3.0),
            Say("Ahora estoy conduciendo. Llámeme mañana a las cinco.", 2.5),
            Pause(8.0),
        ),
        "interrupts": (
            Pause(0.8),
            Say("¿Diga?", 1.0),
            Interrupt(Say("Perdone, ¿quién es usted?", 1.5)),
            Pause(1.5),
            Interrupt(Say("No, eso ya lo pagué.", 2.0)),
            Pause(3.0),
        ),
    },
}


def spoken_in(persona: Persona, language: str) -> Persona:
    """`persona` speaking `language` (a BCP 47 tag; "es-MX" → Spanish), or as it is for a language it lacks."""
    code = (language or "en").replace("_", "-").split("-")[0].lower()
    script = SCRIPTS_BY_LANGUAGE.get(code, {}).get(persona.name)
    return replace(persona, script=script) if script is not None else persona


def persona_for(number: str, *, forced: str = "") -> Persona:
    """The persona answering `number`; `forced` (a persona name) wins when given."""
    if forced:
        if forced not in PERSONAS:
            raise ValueError(f"unknown simulated persona {forced!r}; choose from {', '.join(PERSONAS)}")
        return PERSONAS[forced]
    digits = [c for c in number if c.isdigit()]
    return PERSONAS[BY_LAST_DIGIT.get(digits[-1] if digits else "", DEFAULT_PERSONA)]
