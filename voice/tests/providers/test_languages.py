"""The call's language reaches the real providers: a Spanish conversation's speech-to-text and voice requests,
sent by the real SDKs to fake OpenAI and ElevenLabs servers on loopback, carry it."""

import pytest
from aiohttp import web

from voice.phrases import phrases_for
from voice.pipeline.conversation import ConversationSession, SessionConfig
from voice.pipeline.host import StaticHost
from voice.providers.elevenlabs import ElevenLabsOptions, ElevenLabsTextToSpeech, model_and_language
from voice.providers.openai import OpenAISpeechToText, OpenAITextToSpeech, openai_client
from voice.providers.simulated_speech import SimulatedLanguageModel
from voice.providers.speech import VoiceSpec
from voice.providers.speech_selection import SpeechProviders
from voice.sessions import StreamInfo
from voice.synthetic_audio import speech_like_ulaw
from voice.tests.pipeline.test_conversation import FakeCarrier, context, fresh_breaker, say
from voice.tests.providers.fake_servers import stream_bytes
from voice.tests.providers.test_openai import options
from voice.tests.waiting import until

SPANISH = VoiceSpec(voice_id="voz-lucia", model="eleven_flash_v2", language="es-ES")


async def providers_api(request: web.Request) -> web.StreamResponse:
    """OpenAI's transcriptions and ElevenLabs' stream on one fake server, as their SDKs call them."""
    if request.path == "/v1/audio/transcriptions":
        return web.json_response({"text": "Sí, soy yo."})
    if request.path.startswith("/v1/text-to-speech/"):
        return await stream_bytes(request, [speech_like_ulaw("hola")], "audio/basic")
    return web.Response(status=404)


@pytest.mark.asyncio
async def test_a_spanish_calls_transcription_and_voice_requests_carry_its_language(fake_server):
    fake_server.handler = providers_api
    opts = options(fake_server)
    speech = SpeechProviders(
        OpenAISpeechToText(openai_client(opts), opts),
        SimulatedLanguageModel(),
        ElevenLabsTextToSpeech(ElevenLabsOptions(api_key="xi-test", base_url=fake_server.url)),
        None,
    )
    opener = "Hola María, le habla un asistente automatizado de la clínica Acme."
    host = StaticHost(context(first_message=opener, voice=SPANISH, phrases=phrases_for("es-ES"), time_scale=1.0))
    carrier = FakeCarrier()
    session = ConversationSession(host, providers=speech, config=SessionConfig(), breakers=fresh_breaker)
    carrier.session = session
    await session.start(StreamInfo("call-es", "MZ1", "CA1", {}), carrier)
    await say(session, "Sí, soy yo.")  # paced at the test module's scale: it only needs to be heard as speech
    transcriptions = lambda: [r for r in fake_server.requests if r.path == "/v1/audio/transcriptions"]  # noqa: E731
    await until(lambda: transcriptions(), what="the utterance to be transcribed")
    await session.stop()

    assert b'name="language"\r\n\r\nes\r\n' in transcriptions()[0].body
    voices = [r.json() for r in fake_server.requests if r.path.startswith("/v1/text-to-speech/voz-lucia")]
    assert {"text": "Hola María,", "model_id": "eleven_flash_v2_5", "language_code": "es"} in voices  # the opener
    assert {(v["model_id"], v["language_code"]) for v in voices} == {("eleven_flash_v2_5", "es")}  # every request
    assert any(v["text"] == "Un momento, por favor." for v in voices)  # the hold phrase, rendered in Spanish


@pytest.mark.asyncio
async def test_the_secondary_voice_is_told_the_language(fake_server):
    async def handler(request):
        return await stream_bytes(request, [b"\x00\x00" * 2400], "audio/pcm")

    fake_server.handler = handler
    opts = options(fake_server)
    tts = OpenAITextToSpeech(openai_client(opts), opts)
    [chunk async for chunk in tts.synthesize("¿Sigue ahí?", SPANISH)]
    body = fake_server.requests[0].json()
    assert body["input"] == "¿Sigue ahí?"
    assert "es-ES" in body["instructions"]


@pytest.mark.parametrize(
    ("model", "language", "expected"),
    [
        ("eleven_flash_v2", "es-MX", ("eleven_flash_v2_5", "es")),  # English-only → its multilingual sibling
        ("eleven_flash_v2_5", "es-ES", ("eleven_flash_v2_5", "es")),
        ("eleven_multilingual_v2", "es-ES", ("eleven_multilingual_v2", None)),  # infers it from the text
        ("eleven_flash_v2", "en-US", ("eleven_flash_v2", None)),
        ("eleven_flash_v2_5", "", ("eleven_flash_v2_5", None)),
    ],
)
def test_elevenlabs_model_and_language_code_follow_the_calls_language(model, language, expected):
    assert model_and_language(model, language) == expected
