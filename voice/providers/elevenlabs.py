"""ElevenLabs text-to-speech on the official `elevenlabs` SDK (AsyncElevenLabs, HTTP streaming).

It asks for `output_format=ulaw_8000` — exactly Twilio's wire format — so the bytes go to the caller as
they come: no decode, no resample, no encode (the chunks are only re-framed to 160 bytes downstream).
The model comes from the agent (default `eleven_flash_v2_5`, ~75 ms model latency); `base_url` is
configurable, which is also how the tests reach a local fake. The call's language goes as `language_code`
(ISO 639-1), and an English-only model (`eleven_flash_v2`, `eleven_turbo_v2`, `eleven_monolingual_v1`) asked
to speak another language is replaced by its multilingual sibling, which reads "¿Sigue ahí?" as Spanish.

Real-time bounds: the SDK's defaults (240 s timeout, 2 retries with back-off) would leave a caller in
silence; here there is no SDK retry (the breaker and the secondary voice decide), a first-byte and an
idle timeout of our own (both close the HTTP stream), and a small read chunk so the first 20 ms of audio
is passed on as soon as it arrives rather than after the SDK's default 1 KiB.
"""

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.types import VoiceSettings

from voice import codec
from voice.pipeline.breaker import stream_with_timeouts
from voice.providers.base import ProviderError
from voice.providers.speech import TextToSpeech, VoiceSpec, classify_status

OUTPUT_FORMAT = "ulaw_8000"
# English-only models → the multilingual model of the same latency class (ElevenLabs "Models overview").
MULTILINGUAL = {
    "eleven_flash_v2": "eleven_flash_v2_5",
    "eleven_turbo_v2": "eleven_turbo_v2_5",
    "eleven_monolingual_v1": "eleven_multilingual_v2",
}
# Models that take `language_code` (the others infer the language from the text).
TAKES_LANGUAGE_CODE = frozenset({"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3"})


def model_and_language(model: str, language: str) -> tuple[str, str | None]:
    """(model to ask for, `language_code` or None) for a call in `language` (BCP 47; "" = the model's own)."""
    code = language.replace("_", "-").split("-")[0].lower() if language else ""
    if code and code != "en":
        model = MULTILINGUAL.get(model, model)
    return model, (code if code and model in TAKES_LANGUAGE_CODE else None)


@dataclass(frozen=True)
class ElevenLabsOptions:
    api_key: str
    default_voice_id: str = ""
    default_model: str = "eleven_flash_v2_5"
    base_url: str = ""  # empty: the SDK's production environment
    first_byte_timeout_s: float = 2.0
    idle_timeout_s: float = 2.0
    request_timeout_s: float = 20.0  # a backstop for the whole HTTP exchange
    max_retries: int = 0
    optimize_streaming_latency: int | None = None  # 0–4; None leaves the service default


def _detail(body: object) -> str:
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, dict):
            return str(detail.get("message") or detail.get("status") or detail)
        return str(detail)
    return str(body)


class ElevenLabsTextToSpeech(TextToSpeech):
    name = "elevenlabs"

    def __init__(self, options: ElevenLabsOptions) -> None:
        self._options = options
        self._client = AsyncElevenLabs(
            api_key=options.api_key, base_url=options.base_url or None, timeout=options.request_timeout_s
        )

    def synthesize(self, text: str, voice: VoiceSpec) -> AsyncIterator[bytes]:
        return stream_with_timeouts(
            self._chunks(text, voice),
            first_item_s=self._options.first_byte_timeout_s,
            idle_s=self._options.idle_timeout_s,
            what="elevenlabs tts",
        )

    async def _chunks(self, text: str, voice: VoiceSpec) -> AsyncIterator[bytes]:
        voice_id = voice.voice_id or self._options.default_voice_id
        if not voice_id:
            raise ProviderError(
                "elevenlabs: no voice id (set the agent's voice or ELEVENLABS_VOICE_ID)", permanent=True
            )
        model, language_code = model_and_language(
            voice.model if voice.model.startswith("eleven_") else self._options.default_model, voice.language
        )
        parameters: dict[str, Any] = {
            "text": text,
            "model_id": model,
            "output_format": OUTPUT_FORMAT,
            "request_options": {
                "max_retries": self._options.max_retries,
                "timeout_in_seconds": math.ceil(self._options.request_timeout_s),
                "chunk_size": codec.FRAME_BYTES,
            },
        }
        if language_code:
            parameters["language_code"] = language_code
        if voice.speed != 1.0:
            parameters["voice_settings"] = VoiceSettings(speed=min(1.2, max(0.7, voice.speed)))  # the API's range
        if self._options.optimize_streaming_latency is not None:
            parameters["optimize_streaming_latency"] = self._options.optimize_streaming_latency
        try:
            async for chunk in self._client.text_to_speech.stream(voice_id, **parameters):
                if chunk:
                    yield chunk
        except ApiError as error:
            raise classify_status("elevenlabs tts", error.status_code, _detail(error.body)) from error
        except httpx.TimeoutException as error:
            raise ProviderError("elevenlabs tts: timed out", permanent=False) from error
        except httpx.HTTPError as error:
            raise ProviderError(f"elevenlabs tts: {type(error).__name__}: {error}"[:500], permanent=False) from error
