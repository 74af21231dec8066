"""The real `elevenlabs` SDK against a fake ElevenLabs API on loopback."""

import pytest
from aiohttp import web

from voice.providers.base import ProviderError
from voice.providers.elevenlabs import ElevenLabsOptions, ElevenLabsTextToSpeech
from voice.providers.speech import VoiceSpec
from voice.synthetic_audio import speech_like_ulaw
from voice.tests.providers.fake_servers import stream_bytes
from voice.tests.waiting import within

AUDIO = speech_like_ulaw("Hello Maria, this is an automated call from Acme Dental.")


def tts(server, **overrides) -> ElevenLabsTextToSpeech:
    defaults = {"api_key": "xi-test", "base_url": server.url, "first_byte_timeout_s": 1.0, "idle_timeout_s": 0.3}
    return ElevenLabsTextToSpeech(ElevenLabsOptions(**{**defaults, **overrides}))


def odd_chunks(audio: bytes) -> list[bytes]:
    sizes, chunks, at = (1, 333, 160, 4096, 77), [], 0
    while at < len(audio):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(audio[at : at + size])
        at += size
    return chunks


async def collect(stream):
    return [chunk async for chunk in stream]


@pytest.mark.asyncio
async def test_it_streams_ulaw_8000_untouched_with_the_agents_voice_and_model(fake_server):
    async def handler(request):
        return await stream_bytes(request, odd_chunks(AUDIO), "audio/basic")

    fake_server.handler = handler
    voice = VoiceSpec(voice_id="voice-ava", model="eleven_flash_v2_5", speed=1.0)
    chunks = await collect(tts(fake_server).synthesize("Hello Maria.", voice))

    assert b"".join(chunks) == AUDIO  # nothing transcoded
    assert len(chunks) > 1  # passed on as it arrives, not buffered to the end
    sent = fake_server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/text-to-speech/voice-ava/stream")
    assert sent.query["output_format"] == "ulaw_8000"
    assert sent.headers["xi-api-key"] == "xi-test"
    body = sent.json()
    assert body["text"] == "Hello Maria."
    assert body["model_id"] == "eleven_flash_v2_5"
    assert "voice_settings" not in body


@pytest.mark.asyncio
async def test_defaults_fill_in_a_missing_voice_and_a_foreign_model_and_speed_goes_in_voice_settings(fake_server):
    async def handler(request):
        return await stream_bytes(request, [AUDIO[:800]], "audio/basic")

    fake_server.handler = handler
    engine = tts(fake_server, default_voice_id="voice-default", default_model="eleven_turbo_v2_5")
    await collect(engine.synthesize("Hi.", VoiceSpec(model="gpt-4o-mini-tts", speed=1.1)))
    sent = fake_server.requests[0]
    assert sent.path == "/v1/text-to-speech/voice-default/stream"
    assert sent.json()["model_id"] == "eleven_turbo_v2_5"
    assert sent.json()["voice_settings"]["speed"] == 1.1


@pytest.mark.asyncio
async def test_a_stream_that_stalls_mid_stream_fails_within_the_idle_timeout(fake_server):
    async def handler(request):
        return await stream_bytes(
            request, [AUDIO[:320], AUDIO[320:640]], "audio/basic", stall_after=1, server=fake_server
        )

    fake_server.handler = handler
    received = []

    async def consume():
        async for chunk in tts(fake_server, idle_timeout_s=0.3).synthesize("Hello.", VoiceSpec(voice_id="v")):
            received.append(chunk)

    # The server stalls until teardown: only the adapter's own bound can end this, and its message names it.
    with pytest.raises(ProviderError, match=r"no data \(stalled mid-stream\) within 0.3s") as caught:
        await within(consume(), what="the idle timeout to fire")
    assert caught.value.permanent is False
    assert b"".join(received) == AUDIO[:320]


@pytest.mark.asyncio
async def test_no_first_byte_within_the_bound_is_a_transient_error(fake_server):
    async def handler(request):
        await fake_server.stall()

    fake_server.handler = handler
    stream = tts(fake_server, first_byte_timeout_s=0.4).synthesize("Hello.", VoiceSpec(voice_id="v"))
    with pytest.raises(ProviderError, match=r"no first item within 0.4s") as caught:
        await within(collect(stream), what="the first-byte timeout to fire")
    assert caught.value.permanent is False


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (500, {"detail": "internal"}, False),
        (429, {"detail": {"status": "too_many_concurrent_requests", "message": "Too many requests"}}, False),
        (401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, True),
        (422, {"detail": [{"loc": ["body", "text"], "msg": "field required"}]}, True),
    ],
)
async def test_http_errors_become_provider_errors_with_the_right_permanence_and_no_retry(
    fake_server, status, body, permanent
):
    async def handler(request):
        return web.json_response(body, status=status)

    fake_server.handler = handler
    with pytest.raises(ProviderError) as caught:
        await collect(tts(fake_server).synthesize("Hello.", VoiceSpec(voice_id="v")))
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in caught.value.message
    assert len(fake_server.requests) == 1


@pytest.mark.asyncio
async def test_the_error_message_carries_the_apis_reason(fake_server):
    async def handler(request):
        return web.json_response({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}, status=401)

    fake_server.handler = handler
    with pytest.raises(ProviderError, match="Invalid API key"):
        await collect(tts(fake_server).synthesize("Hello.", VoiceSpec(voice_id="v")))


@pytest.mark.asyncio
async def test_no_voice_at_all_is_a_permanent_error_without_a_request(fake_server):
    with pytest.raises(ProviderError, match="no voice id") as caught:
        await collect(tts(fake_server).synthesize("Hello.", VoiceSpec()))
    assert caught.value.permanent is True
    assert fake_server.requests == []


@pytest.mark.asyncio
async def test_closing_the_stream_early_releases_it(fake_server):
    async def handler(request):
        return await stream_bytes(request, odd_chunks(AUDIO), "audio/basic")

    fake_server.handler = handler
    stream = tts(fake_server).synthesize("Hello.", VoiceSpec(voice_id="v"))
    first = await anext(stream)
    await stream.aclose()  # barge-in: the caller spoke
    assert first
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
