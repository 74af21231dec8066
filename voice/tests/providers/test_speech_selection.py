import pytest

from voice.providers import speech_selection
from voice.providers.elevenlabs import ElevenLabsTextToSpeech
from voice.providers.openai import OpenAILanguageModel, OpenAISpeechToText, OpenAITextToSpeech
from voice.providers.openai_realtime import OpenAIRealtimeSpeechToText
from voice.providers.simulated_speech import SimulatedLanguageModel, SimulatedSpeechToText, SimulatedTextToSpeech


@pytest.fixture(autouse=True)
def fresh_adapters():
    speech_selection.reset_cache()
    yield
    speech_selection.reset_cache()


def test_with_no_keys_every_role_is_simulated_and_stt_follows_the_callers_script(settings):
    settings.SPEECH_TO_TEXT_PROVIDER = settings.LANGUAGE_MODEL_PROVIDER = settings.TEXT_TO_SPEECH_PROVIDER = "simulated"
    providers = speech_selection.speech_providers({"caller_script": "Hi.|Bye."})
    assert isinstance(providers.speech_to_text, SimulatedSpeechToText)
    assert isinstance(providers.language_model, SimulatedLanguageModel)
    assert isinstance(providers.text_to_speech, SimulatedTextToSpeech)
    assert providers.secondary_text_to_speech is None
    assert providers.speech_to_text is not speech_selection.speech_providers().speech_to_text  # per call


def test_real_providers_are_built_once_and_openai_backs_up_elevenlabs(settings):
    settings.SPEECH_TO_TEXT_PROVIDER = settings.LANGUAGE_MODEL_PROVIDER = "openai"
    settings.TEXT_TO_SPEECH_PROVIDER = "elevenlabs"
    settings.OPENAI_API_KEY, settings.ELEVENLABS_API_KEY = "sk-test", "xi-test"
    settings.OPENAI_BASE_URL, settings.ELEVENLABS_BASE_URL = "http://127.0.0.1:9/v1", "http://127.0.0.1:9"
    providers = speech_selection.speech_providers()
    assert isinstance(providers.speech_to_text, OpenAISpeechToText)
    assert isinstance(providers.language_model, OpenAILanguageModel)
    assert isinstance(providers.text_to_speech, ElevenLabsTextToSpeech)
    assert isinstance(providers.secondary_text_to_speech, OpenAITextToSpeech)
    assert speech_selection.speech_providers().text_to_speech is providers.text_to_speech


def test_openai_can_be_the_only_voice(settings):
    settings.TEXT_TO_SPEECH_PROVIDER = "openai"
    settings.OPENAI_API_KEY = "sk-test"
    providers = speech_selection.speech_providers()
    assert isinstance(providers.text_to_speech, OpenAITextToSpeech)
    assert providers.secondary_text_to_speech is None


def test_openai_transcribes_over_the_realtime_api_unless_told_per_utterance(settings):
    settings.SPEECH_TO_TEXT_PROVIDER, settings.OPENAI_API_KEY = "openai", "sk-test"
    settings.OPENAI_STT_MODE = "realtime"
    stt = speech_selection.speech_providers().speech_to_text
    assert isinstance(stt, OpenAIRealtimeSpeechToText)
    assert stt.open_stream() is not stt.open_stream()  # a stream (a connection) per call
    speech_selection.reset_cache()
    settings.OPENAI_STT_MODE = "utterance"
    stt = speech_selection.speech_providers().speech_to_text
    assert type(stt) is OpenAISpeechToText
    assert stt.open_stream() is None


def test_the_simulated_stt_streams_too_so_offline_calls_take_the_same_path(settings):
    settings.SPEECH_TO_TEXT_PROVIDER = "simulated"
    assert speech_selection.speech_providers().speech_to_text.open_stream() is not None


def test_simulated_providers_wait_the_configured_fixed_delays(settings):
    settings.SPEECH_TO_TEXT_PROVIDER = settings.LANGUAGE_MODEL_PROVIDER = settings.TEXT_TO_SPEECH_PROVIDER = "simulated"
    settings.SIMULATED_STT_DELAY_MS, settings.SIMULATED_LLM_FIRST_TOKEN_MS = 150, 200
    settings.SIMULATED_TTS_FIRST_BYTE_MS = 100
    providers = speech_selection.speech_providers()
    assert providers.speech_to_text.delay_s == 0.15
    assert providers.language_model.first_token_delay_s == 0.2
    assert providers.text_to_speech.first_byte_delay_s == 0.1


def test_simulated_providers_are_instant_by_default():
    providers = speech_selection.speech_providers()
    assert providers.speech_to_text.delay_s == providers.language_model.first_token_delay_s == 0
    assert providers.text_to_speech.first_byte_delay_s == 0
