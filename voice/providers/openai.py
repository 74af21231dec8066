"""OpenAI adapters on the official `openai` 3.x SDK (AsyncOpenAI over httpx2): STT, LLM, secondary TTS.

- `OpenAILanguageModel`: chat completions streaming with tools and `stream_options.include_usage`; tool
  call fragments are joined by `index` and yielded once complete, arguments parsed (bad JSON → a
  ToolCall with `error`, see voice/providers/speech.py).
- `OpenAISpeechToText`: one utterance, wrapped as WAV (the API takes files, not raw μ-law), model
  configurable (default gpt-4o-mini-transcribe); `transcribe_stream` asks for SSE text deltas on models
  that support it (not whisper-1).
- `OpenAITextToSpeech`: the secondary voice. It asks for `pcm` (24 kHz PCM16 LE, headerless) and turns it
  into 8 kHz μ-law with the codec's low-pass decimator, so no audio library is needed.

Real-time bounds: the SDK's 600 s default timeout and 2 retries with back-off suit batch jobs, not a
caller waiting on the line. Requests here get a 2 s connect timeout and no SDK retry on streams (the
breaker and the fallback path decide what happens next); stream stalls are caught by our own
first-item/idle timeouts, which close the HTTP stream. Every SDK or transport error leaves as ProviderError.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from voice import codec
from voice.pipeline.breaker import stream_with_timeouts, with_timeout
from voice.providers.base import ProviderError
from voice.providers.speech import (
    ChatMessage,
    LanguageModel,
    ReplyEvent,
    ReplyRequest,
    SpeechToText,
    TextDelta,
    TextToSpeech,
    ToolCall,
    Transcript,
    Usage,
    VoiceSpec,
    classify_status,
)

OPENAI_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse", "marin", "cedar"}
)


@dataclass(frozen=True)
class OpenAIOptions:
    api_key: str
    base_url: str = ""  # empty: the SDK's default (OPENAI_BASE_URL or api.openai.com)
    transcription_model: str = "gpt-4o-mini-transcribe"
    tts_model: str = "gpt-4o-mini-tts"
    tts_voice: str = "alloy"
    connect_timeout_s: float = 2.0
    first_token_timeout_s: float = 4.0  # chat: request sent → first chunk
    first_audio_timeout_s: float = 2.5  # tts: request sent → first bytes
    idle_timeout_s: float = 2.0  # any stream: longest gap between chunks
    transcription_timeout_s: float = 6.0
    transcription_retries: int = 1  # an utterance is small and idempotent: one quick retry is worth it
    realtime_transcript_timeout_s: float = 2.5  # realtime STT: commit → transcript (then the HTTP fallback)


def openai_client(options: OpenAIOptions) -> openai.AsyncOpenAI:
    """One AsyncOpenAI per process: it pools connections, so reuse saves a TLS handshake per turn."""
    return openai.AsyncOpenAI(
        api_key=options.api_key,
        base_url=options.base_url or None,
        # A backstop only: our asyncio timeouts fire first and name the stage that stalled.
        timeout=httpx2.Timeout(30.0, connect=options.connect_timeout_s),
        max_retries=0,
    )


def _provider_error(error: Exception, what: str) -> ProviderError:
    if isinstance(error, openai.APIStatusError):
        return classify_status(f"openai {what}", error.status_code, error.message)
    if isinstance(error, openai.APITimeoutError | httpx2.TimeoutException):
        return ProviderError(f"openai {what}: timed out", permanent=False)
    return ProviderError(f"openai {what}: {type(error).__name__}: {error}"[:500], permanent=False)


_SDK_ERRORS = (openai.OpenAIError, httpx2.HTTPError)


class OpenAILanguageModel(LanguageModel):
    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI, options: OpenAIOptions) -> None:
        self._client = client
        self._options = options

    def stream_reply(self, request: ReplyRequest) -> AsyncIterator[ReplyEvent]:
        return stream_with_timeouts(
            self._events(request),
            first_item_s=self._options.first_token_timeout_s,
            idle_s=self._options.idle_timeout_s,
            what="openai chat",
        )

    async def _events(self, request: ReplyRequest) -> AsyncIterator[ReplyEvent]:
        parameters: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": "system", "content": request.system_prompt}, *map(_message, request.messages)],
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.max_tokens:
            parameters["max_completion_tokens"] = request.max_tokens
        if request.tools:
            parameters["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
                }
                for t in request.tools
            ]
        calls: dict[int, dict[str, Any]] = {}
        usage: Usage | None = None
        try:
            stream = await self._client.chat.completions.create(**parameters)
            try:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        delta = choice.delta
                        if delta.content:
                            yield TextDelta(delta.content)
                        for fragment in delta.tool_calls or ():
                            call = calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": []})
                            call["id"] = fragment.id or call["id"]
                            if fragment.function is not None:
                                call["name"] = fragment.function.name or call["name"]
                                call["arguments"].append(fragment.function.arguments or "")
            finally:
                await stream.close()
        except _SDK_ERRORS as error:
            raise _provider_error(error, "chat") from error
        for index in sorted(calls):
            call = calls[index]
            yield ToolCall.parse(call["id"] or f"call_{index}", call["name"], "".join(call["arguments"]))
        if usage is not None:
            yield usage


def _message(message: ChatMessage) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    payload: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        payload["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.raw_arguments or "{}"},
            }
            for call in message.tool_calls
        ]
    return payload


class OpenAISpeechToText(SpeechToText):
    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI, options: OpenAIOptions) -> None:
        self._client = client.with_options(max_retries=options.transcription_retries)
        self._options = options

    def _parameters(self, ulaw: bytes, language: str | None, prompt: str) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "model": self._options.transcription_model,
            "file": ("utterance.wav", codec.ulaw_wav(ulaw), "audio/wav"),
        }
        if language:
            parameters["language"] = language.split("-")[0].lower()  # the API wants ISO-639-1 ("en")
        if prompt:
            parameters["prompt"] = prompt
        return parameters

    async def transcribe(self, ulaw: bytes, *, language: str | None = None, prompt: str = "") -> Transcript:
        if not ulaw:
            return Transcript("", language)
        try:
            result = await with_timeout(
                self._client.audio.transcriptions.create(**self._parameters(ulaw, language, prompt)),
                self._options.transcription_timeout_s,
                "openai transcription",
            )
        except _SDK_ERRORS as error:
            raise _provider_error(error, "transcription") from error
        return Transcript(result.text.strip(), language)

    async def transcribe_stream(
        self, ulaw: bytes, *, language: str | None = None, prompt: str = ""
    ) -> AsyncIterator[str]:
        if self._options.transcription_model.startswith("whisper"):  # whisper-1 ignores stream=True
            async for text in super().transcribe_stream(ulaw, language=language, prompt=prompt):
                yield text
            return
        if not ulaw:
            return
        deltas = stream_with_timeouts(
            self._deltas(ulaw, language, prompt),
            first_item_s=self._options.transcription_timeout_s,
            idle_s=self._options.idle_timeout_s,
            what="openai transcription stream",
        )
        async for text in deltas:
            yield text

    async def _deltas(self, ulaw: bytes, language: str | None, prompt: str) -> AsyncIterator[str]:
        try:
            stream = await self._client.audio.transcriptions.create(
                **self._parameters(ulaw, language, prompt), stream=True
            )
            try:
                async for event in stream:
                    if event.type == "transcript.text.delta" and event.delta:
                        yield event.delta
            finally:
                await stream.close()
        except _SDK_ERRORS as error:
            raise _provider_error(error, "transcription") from error


class OpenAITextToSpeech(TextToSpeech):
    """The secondary voice: `pcm` at 24 kHz, decimated to 8 kHz and encoded as μ-law here."""

    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI, options: OpenAIOptions) -> None:
        self._client = client
        self._options = options

    def synthesize(self, text: str, voice: VoiceSpec) -> AsyncIterator[bytes]:
        return stream_with_timeouts(
            self._ulaw(text, voice),
            first_item_s=self._options.first_audio_timeout_s,
            idle_s=self._options.idle_timeout_s,
            what="openai tts",
        )

    async def _ulaw(self, text: str, voice: VoiceSpec) -> AsyncIterator[bytes]:
        # The agent's voice fields usually name an ElevenLabs voice; use them only if they are OpenAI's.
        voice_name = voice.voice_id if voice.voice_id in OPENAI_VOICES else self._options.tts_voice
        model = voice.model if voice.model.startswith(("gpt-", "tts-")) else self._options.tts_model
        extra: dict[str, Any] = {}
        if voice.language and not model.startswith("tts-"):  # tts-1 takes no instructions; it follows the text
            extra["instructions"] = f"Speak in the language of the text, as spoken in {voice.language}."
        downsampler = codec.Downsampler24kTo8k()
        try:
            async with self._client.audio.speech.with_streaming_response.create(
                model=model,
                voice=voice_name,
                input=text,
                response_format="pcm",
                speed=min(4.0, max(0.25, voice.speed)),
                **extra,
            ) as response:
                async for chunk in response.iter_bytes(4800):  # 100 ms of 24 kHz PCM16
                    ulaw = downsampler.push_ulaw(chunk)
                    if ulaw:
                        yield ulaw
        except _SDK_ERRORS as error:
            raise _provider_error(error, "tts") from error
