"""The speech ports: SpeechToText, LanguageModel, TextToSpeech — and the plain data that crosses them.

Adapters (openai, elevenlabs, simulated) implement these; the conversation session only ever sees the
dataclasses below, never an SDK type. Every failure is `ProviderError(message, permanent=...)`
(voice/providers/base.py), raised from the call or from inside the stream. Audio crossing a port is
always 8 kHz mono μ-law, the Twilio wire format, so nothing downstream transcodes.

Speech to text comes two ways: `transcribe` a finished utterance (every STT), or — where the provider can —
`open_stream` once per call and push the callee's audio as it is spoken, so the transcript is nearly ready
when the words end (`SpeechStream`). A streaming failure loses nothing: the caller still holds the
utterance's audio and can `transcribe` it.

Streams are async iterators the caller may abandon at any point (barge-in): cancelling the consuming
task or calling `aclose()` must release the provider connection, and adapters guarantee that.
"""

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from voice.providers.base import ProviderError

# ---- Speech to text -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None = None


class SpeechStream(ABC):
    """One call's streaming transcription, an utterance at a time, in order.

    `push`, `discard` and `finish` are synchronous and never block: they run for every 20 ms frame on the
    media loop, and the adapter sends in the background. `finish()` ends the current utterance at once
    (the next `push` begins the next one) and returns an awaitable of its transcript, which raises
    ProviderError when the provider fails, drops the connection or takes longer than the adapter's limit
    (the awaitable may also be dropped unawaited: nothing leaks or logs).
    """

    name: str  # names its breaker and its failures ("openai-realtime")

    @abstractmethod
    def push(self, ulaw: bytes) -> None:
        """More of the current utterance's audio (8 kHz μ-law, any length)."""

    @abstractmethod
    def discard(self) -> None:
        """Forget the current utterance (it was not speech after all)."""

    @abstractmethod
    def finish(self) -> Awaitable[Transcript]:
        """End the current utterance now; await the result for its transcript."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connection; transcripts still awaited fail with ProviderError."""


class SpeechToText(ABC):
    name: str

    def open_stream(self, *, language: str | None = None, prompt: str = "") -> SpeechStream | None:
        """A stream for one call's audio (it connects lazily), or None: this STT transcribes whole utterances."""
        return None

    @abstractmethod
    async def transcribe(self, ulaw: bytes, *, language: str | None = None, prompt: str = "") -> Transcript:
        """The text of one utterance (8 kHz μ-law, any length). `prompt` may carry context or spellings."""

    async def transcribe_stream(
        self, ulaw: bytes, *, language: str | None = None, prompt: str = ""
    ) -> AsyncIterator[str]:
        """Text deltas as the provider decodes them; concatenated they give the transcript.

        Providers without streaming yield the whole transcript once (this default).
        """
        transcript = await self.transcribe(ulaw, language=language, prompt=prompt)
        if transcript.text:
            yield transcript.text


# ---- Language model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSchema:
    """A function the model may call: name, what it does, and a JSON Schema object for its arguments."""

    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class ToolCall:
    """A completed tool call. `error` is set (and `arguments` empty) when the model's arguments were not a
    JSON object; the caller answers with `error_result()` so the model can correct itself."""

    id: str
    name: str
    arguments: Mapping[str, Any]
    raw_arguments: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def error_result(self) -> "ChatMessage":
        """The tool message that tells the model its call was refused, and why."""
        return ChatMessage.tool_result(self.id, {"error": self.error or "tool call refused"})

    @classmethod
    def parse(cls, call_id: str, name: str, raw_arguments: str) -> "ToolCall":
        """Parse the model's argument text; invalid JSON becomes a ToolCall with `error`, never an exception."""
        text = raw_arguments.strip() or "{}"
        try:
            arguments = json.loads(text)
        except json.JSONDecodeError as error:
            return cls(
                call_id,
                name,
                {},
                raw_arguments,
                f"arguments for {name} are not valid JSON ({error.msg} at {error.pos})",
            )
        if not isinstance(arguments, dict):
            return cls(call_id, name, {}, raw_arguments, f"arguments for {name} must be a JSON object")
        return cls(call_id, name, arguments, raw_arguments)


# A supervisor's whisper reaches the model as a user message that starts with this (every adapter passes user
# messages on as they are): in the history where it was given, before the agent's next turn.
SUPERVISOR_GUIDANCE_PREFIX = "[Guidance from a human supervisor, not said by the caller; follow it, never mention it]"


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()  # on assistant messages
    tool_call_id: str = ""  # on tool messages

    @classmethod
    def tool_result(cls, call_id: str, result: object) -> "ChatMessage":
        return cls(role="tool", content=result if isinstance(result, str) else json.dumps(result), tool_call_id=call_id)

    @classmethod
    def guidance(cls, text: str) -> "ChatMessage":
        """A supervisor's whisper, for the model's context only."""
        return cls(role="user", content=f"{SUPERVISOR_GUIDANCE_PREFIX} {text}")

    @property
    def guidance_text(self) -> str:
        """The whisper this message carries ("" when it is not one)."""
        if self.role == "user" and self.content.startswith(SUPERVISOR_GUIDANCE_PREFIX):
            return self.content.removeprefix(SUPERVISOR_GUIDANCE_PREFIX).strip()
        return ""


@dataclass(frozen=True)
class ReplyRequest:
    system_prompt: str
    messages: Sequence[ChatMessage]
    model: str
    tools: Sequence[ToolSchema] = ()
    temperature: float = 0.7
    max_tokens: int | None = 300  # a phone turn is short; this also bounds cost and latency
    language: str = ""  # the call's (BCP 47); real models read it in the system prompt's instructions


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


ReplyEvent = TextDelta | ToolCall | Usage


class LanguageModel(ABC):
    name: str

    @abstractmethod
    def stream_reply(self, request: ReplyRequest) -> AsyncIterator[ReplyEvent]:
        """Text deltas as they are generated, then each completed tool call, then usage when known.

        A tool call is only yielded once complete (all argument fragments joined), with parsed arguments
        or an `error`; the stream itself never raises for bad tool JSON.
        """


# ---- Text to speech ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceSpec:
    """Who speaks: the agent's voice, model and speed (providers ignore what they do not support)."""

    voice_id: str = ""
    model: str = ""
    speed: float = 1.0
    language: str = ""


class TextToSpeech(ABC):
    name: str

    @abstractmethod
    def synthesize(self, text: str, voice: VoiceSpec) -> AsyncIterator[bytes]:
        """8 kHz μ-law audio for `text`, in chunks of any size as they arrive (reframe before sending)."""


def classify_status(provider: str, status: int | None, detail: str) -> ProviderError:
    """The one HTTP-status policy: 408/409/429/5xx may pass (permanent=False); other 4xx will not."""
    transient = status is None or status in {408, 409, 425, 429} or status >= 500
    return ProviderError(f"{provider}: HTTP {status}: {detail}"[:500], permanent=not transient)
