import pytest

from voice.pipeline import fallback
from voice.pipeline.fallback import GOODBYE, HOLD, FallbackPhrases, render_offline
from voice.providers.base import ProviderError
from voice.providers.simulated_speech import SimulatedTextToSpeech
from voice.providers.speech import VoiceSpec


class CountingTTS(SimulatedTextToSpeech):
    name = "counting"

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.requests: list[str] = []

    def synthesize(self, text, voice):
        self.requests.append(text)
        return super().synthesize(text, voice)


@pytest.fixture(autouse=True)
def empty_cache():
    fallback.clear_cache()
    yield
    fallback.clear_cache()


@pytest.mark.asyncio
async def test_phrases_are_rendered_once_per_process_and_voice_and_then_served_from_the_cache():
    tts = CountingTTS()
    voice = VoiceSpec(voice_id="ava")
    first = FallbackPhrases(tts, voice)
    second = FallbackPhrases(tts, voice)
    await first.prepare()
    await second.prepare()
    assert sorted(tts.requests) == sorted(fallback.DEFAULT_PHRASES.values())
    assert first.audio(HOLD) == second.audio(HOLD)
    assert len(first.audio(HOLD)) > 8000 * 0.5  # "One moment, please." is more than half a second


@pytest.mark.asyncio
async def test_a_failing_voice_falls_back_to_the_offline_rendering_and_is_tried_again_later():
    broken = CountingTTS(fail_with=ProviderError("tts: HTTP 503", permanent=False))
    phrases = FallbackPhrases(broken, VoiceSpec(voice_id="ava"))
    await phrases.prepare()
    assert phrases.audio(GOODBYE) == render_offline(fallback.DEFAULT_PHRASES[GOODBYE])
    await FallbackPhrases(broken, VoiceSpec(voice_id="ava")).prepare()
    assert len(broken.requests) == 2 * len(fallback.DEFAULT_PHRASES)  # failures are not cached


@pytest.mark.asyncio
async def test_a_stalled_voice_is_abandoned_within_the_timeout():
    slow = CountingTTS(first_byte_delay_s=5)
    phrases = FallbackPhrases(slow, timeout_s=0.05, phrases={HOLD: "One moment."})
    await phrases.prepare()
    assert phrases.audio(HOLD) == render_offline("One moment.")


def test_audio_never_waits_even_before_prepare_and_without_a_voice():
    phrases = FallbackPhrases(None)
    assert phrases.audio(HOLD) == render_offline(fallback.DEFAULT_PHRASES[HOLD])
    with pytest.raises(KeyError):
        phrases.audio("unknown")
