"""Simulated STT, LLM and TTS: the offline default, deterministic, so whole conversations run with no keys.

How the simulated caller's words reach the simulated STT — through plain strings only, no import of the
simulated carrier: the media stream's custom parameters (`StreamInfo.parameters`) may carry

- `caller_script`: the caller's lines, separated by `|` ("Yes, speaking.|Stop calling me."), or
- `persona`: the name of a built-in script (`CALLER_SCRIPTS`; e.g. `answers`, `opts_out`, `interrupts`).

The simulated carrier speaks line k with `voice.synthetic_audio.speech_like_ulaw` (its length follows the
text), and `SimulatedSpeechToText` transcribes the k-th real utterance as line k. Shorter than
`min_utterance_ms` is noise (empty text); once the script is spent, utterances transcribe as empty.

`SimulatedLanguageModel` answers by rules on the caller's last words (opt-out, goodbye, callback, human,
a question, DTMF), in English or Spanish (the request's `language`), and calls a tool when one of those
names is offered: `opt_out`, `end_call`, `schedule_callback` (with the callee's own words when they name a
clock time), `transfer_to_human`. `SimulatedTextToSpeech` streams speech-like μ-law for the text.
Each has fixed, configurable delays, which is what the benchmarks' "fake providers of fixed delay" are.
"""

import asyncio
import functools
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from voice import codec
from voice.providers.base import ProviderError
from voice.providers.speech import (
    ChatMessage,
    LanguageModel,
    ReplyEvent,
    ReplyRequest,
    SpeechStream,
    SpeechToText,
    TextDelta,
    TextToSpeech,
    ToolCall,
    Transcript,
    Usage,
    VoiceSpec,
)
from voice.synthetic_audio import iter_speech_like_ulaw

CALLER_SCRIPTS: Mapping[str, tuple[str, ...]] = {
    "answers": ("Yes, this is me speaking.", "Okay, that sounds good to me.", "No, that's all. Thank you, bye."),
    "opts_out": ("Who is this?", "Please stop calling me and take me off your list."),
    "interrupts": ("Hello?", "Sorry to cut you off, but I already paid that last week.", "Okay, goodbye."),
    "callback": ("I'm driving right now.", "Can you call me back tomorrow afternoon?"),
    "callback_at": ("I'm driving right now.", "Call me tomorrow at five."),
    "wants_human": ("Can I talk to a real person please?",),
    "silent": (),
}
DEFAULT_PERSONA = "answers"
# The same callers in other languages, chosen by the stream's `language` parameter (a browser test call with a
# Spanish agent hears a Spanish caller; phone calls get their lines from the carrier's persona).
CALLER_SCRIPTS_BY_LANGUAGE: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "es": {
        "answers": ("Sí, soy yo.", "Vale, me parece bien.", "No, eso es todo. Gracias, adiós."),
        "opts_out": ("¿Quién es?", "Por favor, no me llame más y quíteme de su lista."),
        "callback": ("Ahora estoy conduciendo.", "Llámeme mañana a las cinco."),
    },
}


def caller_script(parameters: Mapping[str, str]) -> tuple[str, ...]:
    """The simulated caller's lines for a call, from its stream parameters (see the module docstring)."""
    script = parameters.get("caller_script", "").strip()
    if script:
        return tuple(line.strip() for line in script.split("|") if line.strip())
    persona = parameters.get("persona", DEFAULT_PERSONA)
    language = parameters.get("language", "").replace("_", "-").split("-")[0].lower()
    spoken = CALLER_SCRIPTS_BY_LANGUAGE.get(language, {}).get(persona)
    return spoken or CALLER_SCRIPTS.get(persona, CALLER_SCRIPTS[DEFAULT_PERSONA])


class SimulatedSpeechToText(SpeechToText):
    """One per call: the k-th utterance (long enough to be speech) is the k-th line of the caller's script.

    With `streaming=True` it also offers a `SimulatedSpeechStream`, so offline calls take the streaming path.
    """

    name = "simulated"

    def __init__(
        self, script: Sequence[str], *, delay_s: float = 0.0, min_utterance_ms: int = 250, streaming: bool = False
    ) -> None:
        self._lines = list(script)
        self._next = 0
        self.delay_s = delay_s
        self.min_utterance_ms = min_utterance_ms
        self.streaming = streaming

    async def transcribe(self, ulaw: bytes, *, language: str | None = None, prompt: str = "") -> Transcript:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return Transcript(self.line_for(len(ulaw)), language)

    def open_stream(self, *, language: str | None = None, prompt: str = "") -> SpeechStream | None:
        return SimulatedSpeechStream(self, language) if self.streaming else None

    def line_for(self, ulaw_bytes: int) -> str:
        """The next line for an utterance of this much audio ("" for noise, or once the script is spent)."""
        if ulaw_bytes * 1000 // codec.SAMPLE_RATE < self.min_utterance_ms or self._next >= len(self._lines):
            return ""
        line = self._lines[self._next]
        self._next += 1
        return line


class SimulatedSpeechStream(SpeechStream):
    """Counts each utterance's audio as it is pushed; `finish` gives the script's next line `delay_s` later."""

    name = "simulated-stream"

    def __init__(self, stt: SimulatedSpeechToText, language: str | None) -> None:
        self._stt, self._language = stt, language
        self._bytes = 0
        self.pushed: list[int] = []  # bytes per finished utterance (tests)
        self._waiting: dict[asyncio.TimerHandle, asyncio.Future[Transcript]] = {}

    def push(self, ulaw: bytes) -> None:
        self._bytes += len(ulaw)

    def discard(self) -> None:
        self._bytes = 0

    def finish(self) -> "asyncio.Future[Transcript]":
        size, self._bytes = self._bytes, 0
        self.pushed.append(size)
        loop = asyncio.get_running_loop()
        result: asyncio.Future[Transcript] = loop.create_future()
        transcript = Transcript(self._stt.line_for(size), self._language)  # lines follow the endpoints' order
        if not self._stt.delay_s:
            result.set_result(transcript)
            return result

        def deliver() -> None:
            self._waiting.pop(timer, None)
            if not result.done():
                result.set_result(transcript)

        timer = loop.call_later(self._stt.delay_s, deliver)
        self._waiting[timer] = result
        return result

    async def aclose(self) -> None:
        for timer, result in self._waiting.items():
            timer.cancel()
            if not result.done():
                result.set_exception(ProviderError("simulated-stream: closed", permanent=False))
                result.exception()  # nobody may be waiting any more: not "never retrieved"
        self._waiting.clear()


@dataclass(frozen=True)
class _Rules:
    """What the simulated model recognises in the callee's words, and what it says, in one language."""

    opt_out: re.Pattern[str]
    goodbye: re.Pattern[str]
    callback: re.Pattern[str]
    human: re.Pattern[str]
    said_a_time: re.Pattern[str]  # the words name a clock time: they go to schedule_callback as said
    default_callback: str
    replies: Mapping[str, str]


_RULES = {
    "en": _Rules(
        opt_out=re.compile(
            r"\b(stop calling|take me off|do not call|don't call|remove me|unsubscribe|opt out)\b", re.I
        ),
        goodbye=re.compile(r"\b(bye|goodbye|that's all|hang up)\b", re.I),
        callback=re.compile(r"\b(call (me )?back|later|tomorrow|another time|busy|driving)\b", re.I),
        human=re.compile(r"\b(real person|human|operator|representative|agent)\b", re.I),
        said_a_time=re.compile(r"\bat \w+|\d:\d\d", re.I),
        default_callback="tomorrow afternoon",
        replies={
            "hello": "Hello, this is an automated assistant. How can I help you today?",
            "opt_out": "Understood. I'll make sure we don't call you again. Goodbye.",
            "human": "Of course, let me connect you with a colleague now.",
            "goodbye": "Thank you for your time. Goodbye!",
            "callback": "No problem, I'll call you back then. Have a good day!",
            "callback_tomorrow": "No problem, I'll call you back tomorrow afternoon. Have a good day!",
            "key": "Thanks, you pressed {digit}. Let me note that.",
            "question": "That's a good question. I'm an automated assistant, and I'm calling with a quick reminder.",
            "unheard": "Sorry, I didn't catch that. Could you say it again?",
            "other": "Great, thank you. Is there anything else I can help you with?",
        },
    ),
    "es": _Rules(
        opt_out=re.compile(
            r"(no me (vuelva[ns]? a )?llame[ns]? más|no me llames más|quíteme|quítenme|bórreme|no quiero que me "
            r"llamen|dejen de llamar|darme de baja)",
            re.I,
        ),
        goodbye=re.compile(r"\b(adiós|hasta luego|eso es todo|chao|cuelgue)\b", re.I),
        callback=re.compile(r"(llám[ea]me|más tarde|mañana|otro momento|ocupad[oa]|conduciendo|manejando)", re.I),
        human=re.compile(r"\b(persona real|un humano|operador|operadora|agente)\b", re.I),
        said_a_time=re.compile(r"\ba las? \w+|\d:\d\d", re.I),
        default_callback="mañana por la tarde",
        replies={
            "hello": "Hola, soy un asistente automatizado. ¿En qué puedo ayudarle?",
            "opt_out": "Entendido. Nos aseguraremos de no volver a llamarle. Adiós.",
            "human": "Por supuesto, le paso ahora mismo con un compañero.",
            "goodbye": "Gracias por su tiempo. ¡Adiós!",
            "callback": "Sin problema, le llamaremos entonces. ¡Que tenga un buen día!",
            "callback_tomorrow": "Sin problema, le llamaremos mañana por la tarde. ¡Que tenga un buen día!",
            "key": "Gracias, ha pulsado {digit}. Lo anoto.",
            "question": "Buena pregunta. Soy un asistente automatizado y le llamo con un breve recordatorio.",
            "unheard": "Perdone, no le he entendido. ¿Puede repetirlo?",
            "other": "Muy bien, gracias. ¿Hay algo más en lo que pueda ayudarle?",
        },
    ),
}
_DTMF = re.compile(r"pressed\s+([0-9*#]+)", re.I)


class SimulatedLanguageModel(LanguageModel):
    """Rule-based replies streamed word by word, in the call's language (English or Spanish; English for
    others); tools are called only when offered by name."""

    name = "simulated"

    def __init__(self, *, first_token_delay_s: float = 0.0, token_delay_s: float = 0.0) -> None:
        self.first_token_delay_s = first_token_delay_s
        self.token_delay_s = token_delay_s

    async def stream_reply(self, request: ReplyRequest) -> AsyncIterator[ReplyEvent]:
        text, tool = self._decide(request)
        if self.first_token_delay_s:
            await asyncio.sleep(self.first_token_delay_s)
        words = re.findall(r"\S+\s*", text)
        for index, word in enumerate(words):
            if index and self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            yield TextDelta(word)
        if tool is not None:
            yield tool
        yield Usage(prompt_tokens=sum(len(m.content.split()) for m in request.messages), completion_tokens=len(words))

    def _decide(self, request: ReplyRequest) -> tuple[str, ToolCall | None]:
        offered = {tool.name for tool in request.tools}
        last: ChatMessage | None = request.messages[-1] if request.messages else None
        turn = sum(1 for m in request.messages if m.role == "assistant")
        rules = _RULES.get((request.language or "en").split("-")[0].lower(), _RULES["en"])
        reply = rules.replies

        def call(name: str, arguments: Mapping[str, str]) -> ToolCall | None:
            return ToolCall.parse(f"sim_call_{turn}", name, json.dumps(arguments)) if name in offered else None

        if last is None:
            return reply["hello"], None
        if last.role == "tool":  # after a tool result: a short acknowledgement, or nothing to add
            return "", None
        since_reply = request.messages[max((i for i, m in enumerate(request.messages) if m.role == "assistant"),
                                           default=-1) + 1:]  # fmt: skip
        guidance = [m.guidance_text for m in since_reply if m.guidance_text]
        if guidance and last.role == "user" and not last.guidance_text:
            return guidance[-1], None  # a supervisor's whisper since the last reply: followed to the letter
        said = last.content
        if rules.opt_out.search(said):
            return reply["opt_out"], call("opt_out", {"reason": "caller asked"})
        if rules.human.search(said) and "transfer_to_human" in offered:
            return reply["human"], call("transfer_to_human", {})
        if rules.goodbye.search(said):
            return reply["goodbye"], call("end_call", {"reason": "caller said goodbye"})
        if rules.callback.search(said):
            if rules.said_a_time.search(said):  # the callee's own words, as a real model is told to pass them
                return reply["callback"], call("schedule_callback", {"when": said})
            return reply["callback_tomorrow"], call("schedule_callback", {"when": rules.default_callback})
        if match := _DTMF.search(said):
            return reply["key"].format(digit=match.group(1)), None
        if said.rstrip().endswith("?"):
            return reply["question"], None
        if not said.strip():
            return reply["unheard"], None
        return reply["other"], None


class SimulatedTextToSpeech(TextToSpeech):
    """Speech-like μ-law whose length follows the text, in chunks that are not multiples of 160 bytes."""

    name = "simulated"

    def __init__(self, *, first_byte_delay_s: float = 0.0, fail_with: ProviderError | None = None) -> None:
        self.first_byte_delay_s = first_byte_delay_s
        self.fail_with = fail_with  # inject an outage (tests, demos of the fallback path)

    async def synthesize(self, text: str, voice: VoiceSpec) -> AsyncIterator[bytes]:
        if self.first_byte_delay_s:
            await asyncio.sleep(self.first_byte_delay_s)
        if self.fail_with is not None:
            raise self.fail_with
        for ulaw in _spoken(text):
            yield ulaw
            await asyncio.sleep(0)  # a word at a time: never hold the event loop for a whole sentence


@functools.lru_cache(maxsize=512)
def _spoken(text: str) -> tuple[bytes, ...]:
    """The synthetic μ-law of `text`, a word or pause per item. Cached: the same lines recur across calls,
    and a fake voice should cost the process next to nothing, as a real one (audio from the network) does."""
    return tuple(iter_speech_like_ulaw(text))
