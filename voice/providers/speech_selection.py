"""The speech adapters for the current settings: which STT, LLM and TTS a call uses, and its secondary voice.

The only module of voice/ that reads Django settings (SPEECH_TO_TEXT_PROVIDER, LANGUAGE_MODEL_PROVIDER,
TEXT_TO_SPEECH_PROVIDER, OPENAI_STT_MODE and the keys, chosen in config/settings/components/providers.py).
OpenAI's STT streams over the Realtime API unless OPENAI_STT_MODE=utterance. Real adapters are
built once per process and shared by every call (they pool connections); simulated STT is built per
call because it follows that call's caller script (`StreamInfo.parameters`); the simulated ones wait the
fixed delays of SIMULATED_STT_DELAY_MS, SIMULATED_LLM_FIRST_TOKEN_MS and SIMULATED_TTS_FIRST_BYTE_MS.
"""

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from voice.providers.analysis import CallAnalyzer
from voice.providers.base import ProviderError
from voice.providers.speech import LanguageModel, SpeechToText, TextToSpeech


@dataclass(frozen=True)
class SpeechProviders:
    speech_to_text: SpeechToText
    language_model: LanguageModel
    text_to_speech: TextToSpeech
    secondary_text_to_speech: TextToSpeech | None  # takes over when the primary voice fails
    # Transcribes a supervisor who took the call over; None: the speech-to-text above (a real one is stateless
    # per utterance; a simulated one answers from the callee's script, so it gets its own).
    supervisor_speech_to_text: SpeechToText | None = None


def speech_providers(parameters: Mapping[str, str] | None = None) -> SpeechProviders:
    """Adapters for one call; `parameters` are the media stream's custom parameters (for simulated callers)."""
    from voice.providers.simulated_speech import (
        SimulatedLanguageModel,
        SimulatedSpeechToText,
        SimulatedTextToSpeech,
        caller_script,
    )

    stt: SpeechToText
    supervisor_stt: SpeechToText | None = None
    if settings.SPEECH_TO_TEXT_PROVIDER == "openai":
        stt = _openai_speech_to_text()
    else:
        # Streaming, like the real STT: the offline calls and the demo take the same path.
        stt = SimulatedSpeechToText(
            caller_script(parameters or {}), delay_s=settings.SIMULATED_STT_DELAY_MS / 1000, streaming=True
        )
        supervisor_stt = SimulatedSpeechToText(
            itertools.repeat(SIMULATED_SUPERVISOR_WORDS, SIMULATED_SUPERVISOR_UTTERANCES),
            delay_s=settings.SIMULATED_STT_DELAY_MS / 1000,
        )
    llm: LanguageModel = (
        _openai_language_model()
        if settings.LANGUAGE_MODEL_PROVIDER == "openai"
        else SimulatedLanguageModel(first_token_delay_s=settings.SIMULATED_LLM_FIRST_TOKEN_MS / 1000)
    )
    tts: TextToSpeech
    secondary: TextToSpeech | None = None
    if settings.TEXT_TO_SPEECH_PROVIDER == "elevenlabs":
        tts = _elevenlabs_text_to_speech()
        secondary = _openai_text_to_speech() if settings.OPENAI_API_KEY else None
    elif settings.TEXT_TO_SPEECH_PROVIDER == "openai":
        tts = _openai_text_to_speech()
    else:
        tts = SimulatedTextToSpeech(
            first_byte_delay_s=settings.SIMULATED_TTS_FIRST_BYTE_MS / 1000, fail_with=simulated_voice_outage()
        )
    return SpeechProviders(stt, llm, tts, secondary, supervisor_stt)


# The simulated speech-to-text cannot hear real words: a supervisor's utterance is recorded as this.
SIMULATED_SUPERVISOR_WORDS = "(words of the supervisor: the simulated speech-to-text does not transcribe speech)"
SIMULATED_SUPERVISOR_UTTERANCES = 1000


# `manage.py simulate_outage on|off`: the simulated voice fails for the calls that start meanwhile, in every
# process (the flag is in the shared cache), so the fallback, the metrics and the alerts can be seen at work.
SIMULATED_OUTAGE_CACHE_KEY = "callwright:simulated-voice-outage"


def simulated_voice_outage() -> ProviderError | None:
    if cache.get(SIMULATED_OUTAGE_CACHE_KEY):
        return ProviderError("simulated voice outage (manage.py simulate_outage off ends it)", permanent=False)
    return None


@functools.cache
def _openai():  # type: ignore[no-untyped-def]
    from voice.providers.openai import OpenAIOptions, openai_client

    options = OpenAIOptions(
        api_key=settings.OPENAI_API_KEY,
        base_url=settings.OPENAI_BASE_URL,
        transcription_model=settings.OPENAI_TRANSCRIPTION_MODEL,
        tts_model=settings.OPENAI_TTS_MODEL,
        tts_voice=settings.OPENAI_TTS_VOICE,
    )
    return openai_client(options), options


@functools.cache
def _openai_speech_to_text() -> SpeechToText:
    from voice.providers.openai import OpenAISpeechToText
    from voice.providers.openai_realtime import OpenAIRealtimeSpeechToText

    if settings.OPENAI_STT_MODE == "realtime":
        return OpenAIRealtimeSpeechToText(*_openai())  # one Realtime connection per call, opened by the call
    return OpenAISpeechToText(*_openai())


@functools.cache
def _openai_language_model() -> LanguageModel:
    from voice.providers.openai import OpenAILanguageModel

    return OpenAILanguageModel(*_openai())


@functools.cache
def _openai_text_to_speech() -> TextToSpeech:
    from voice.providers.openai import OpenAITextToSpeech

    return OpenAITextToSpeech(*_openai())


@functools.cache
def _elevenlabs_text_to_speech() -> TextToSpeech:
    from voice.providers.elevenlabs import ElevenLabsOptions, ElevenLabsTextToSpeech

    return ElevenLabsTextToSpeech(
        ElevenLabsOptions(
            api_key=settings.ELEVENLABS_API_KEY,
            default_voice_id=settings.ELEVENLABS_VOICE_ID,
            base_url=settings.ELEVENLABS_BASE_URL,
        )
    )


def call_analyzer() -> CallAnalyzer:
    """The post-call analysis model: OpenAI's structured outputs when LANGUAGE_MODEL_PROVIDER is openai, else the
    deterministic simulated one (OPENAI_ANALYSIS_MODEL, ANALYSIS_TIMEOUT_SECONDS)."""
    if settings.LANGUAGE_MODEL_PROVIDER == "openai":
        return _openai_call_analyzer()
    from voice.providers.simulated_analysis import SimulatedCallAnalyzer

    return SimulatedCallAnalyzer()


@functools.cache
def _openai_call_analyzer() -> CallAnalyzer:
    from voice.providers.openai_analysis import OpenAIAnalysisOptions, OpenAICallAnalyzer

    return OpenAICallAnalyzer(
        OpenAIAnalysisOptions(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            model=settings.OPENAI_ANALYSIS_MODEL,
            timeout_s=settings.ANALYSIS_TIMEOUT_SECONDS,
        )
    )


def adapter_modules() -> tuple[str, ...]:
    """The modules of the adapters the settings choose, for `import_module` at server start (nothing built).

    `speech_providers` imports them on the first call otherwise: on the event loop, while other calls talk.
    """
    modules = {"voice.providers.simulated_speech"}  # `speech_providers` imports it whatever the settings
    chosen = (settings.SPEECH_TO_TEXT_PROVIDER, settings.LANGUAGE_MODEL_PROVIDER, settings.TEXT_TO_SPEECH_PROVIDER)
    if "openai" in chosen:
        modules |= {"voice.providers.openai", "voice.providers.openai_realtime"}
    if settings.TEXT_TO_SPEECH_PROVIDER == "elevenlabs":
        modules |= {"voice.providers.elevenlabs", "voice.providers.openai"}
    return tuple(sorted(modules))


def reset_cache() -> None:
    """Forget the shared adapters (tests that change settings)."""
    for cached in (_openai, _openai_speech_to_text, _openai_language_model, _openai_text_to_speech,
                   _elevenlabs_text_to_speech, _openai_call_analyzer):  # fmt: skip
        cached.cache_clear()
