"""The real `openai` SDK's Realtime client against a fake Realtime server (websockets) on loopback."""

import asyncio

import pytest
import pytest_asyncio
from aiohttp.web import json_response as web_json

from voice import codec
from voice.pipeline.breaker import CircuitBreaker
from voice.pipeline.transcription import Transcriber
from voice.providers.base import ProviderError
from voice.providers.openai import OpenAIOptions, openai_client
from voice.providers.openai_realtime import OpenAIRealtimeSpeechToText
from voice.synthetic_audio import speech_like_ulaw
from voice.tests.providers.fake_realtime import FakeRealtimeServer
from voice.tests.waiting import until, within

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def realtime():
    server = await FakeRealtimeServer().start()
    yield server
    await server.stop()


def speech_to_text(url: str, *, http_url: str = "", **overrides) -> OpenAIRealtimeSpeechToText:
    """The adapter as production builds it; `http_url` (if any) serves the per-utterance fallback."""
    opts = OpenAIOptions(api_key="sk-test", base_url=url, **{"realtime_transcript_timeout_s": 1.0, **overrides})
    client = openai_client(opts)
    if http_url:
        client = client.with_options(base_url=http_url, websocket_base_url=url)
    return OpenAIRealtimeSpeechToText(client, opts)


def frames(text: str) -> list[bytes]:
    return list(codec.reframe([speech_like_ulaw(text)]))


async def settled(pending):
    """The awaitable's outcome — and if the adapter never gives one, a failure in words instead of a hung test."""
    return await within(asyncio.ensure_future(pending), what="the transcript or its error")


async def stream_utterance(stream, text: str):
    """Push an utterance frame by frame, as the session does while the callee speaks; then finish it."""
    audio = frames(text)
    for frame in audio:
        stream.push(frame)
        await asyncio.sleep(0)
    return b"".join(audio), stream.finish()


async def test_the_session_is_pcmu_without_turn_detection_and_the_audio_is_appended_in_order_then_committed(
    realtime,
):
    realtime.transcripts = ["Yes, this is Maria."]
    stream = speech_to_text(realtime.url).open_stream(language="en-US", prompt="Maria")
    assert (stream.connections, stream.connected) == (0, False)  # opening does not connect: the first audio does
    audio, pending = await stream_utterance(stream, "yes this is maria")
    transcript = await settled(pending)
    await stream.aclose()

    assert transcript.text == "Yes, this is Maria."
    assert realtime.paths == ["/v1/realtime?intent=transcription"]  # http → ws, one connection
    (update,) = realtime.of_type("session.update")
    assert update["session"] == {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},  # μ-law passed through
                "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en", "prompt": "Maria"},
                "turn_detection": None,  # our endpointer decides
            }
        },
    }
    assert realtime.events[0]["type"] == "session.update"  # before any audio
    assert len(realtime.of_type("input_audio_buffer.commit")) == 1
    assert realtime.committed == [audio]  # every frame, in order, unchanged


async def test_the_transcript_is_assembled_from_the_deltas_when_the_completion_carries_none(realtime):
    async def deltas_only(websocket, commit, item_id):
        from voice.tests.providers.fake_realtime import acknowledge, send

        await acknowledge(websocket, item_id)
        for piece in ("Call me ", "tomorrow ", "afternoon."):
            await send(websocket, {"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id,
                                   "delta": piece})  # fmt: skip
        await send(websocket, {"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id,
                               "content_index": 0, "transcript": "",
                               "usage": {"type": "duration", "seconds": 1}})  # fmt: skip

    realtime.on_commit = deltas_only
    stream = speech_to_text(realtime.url).open_stream()
    _, pending = await stream_utterance(stream, "call me tomorrow afternoon")
    assert (await settled(pending)).text == "Call me tomorrow afternoon."
    await stream.aclose()


async def test_utterances_share_one_connection_and_each_gets_its_own_transcript(realtime):
    realtime.transcripts = ["Who is this?", "Okay, go on."]
    stream = speech_to_text(realtime.url).open_stream()
    first_audio, first = await stream_utterance(stream, "who is this")
    second_audio, second = await stream_utterance(stream, "okay go on")  # before the first is awaited
    assert [(await settled(first)).text, (await settled(second)).text] == ["Who is this?", "Okay, go on."]
    assert realtime.committed == [first_audio, second_audio]
    assert len(realtime.paths) == 1
    await stream.aclose()


async def test_a_discarded_burst_is_cleared_and_not_committed(realtime):
    realtime.transcripts = ["Hello?"]
    stream = speech_to_text(realtime.url).open_stream()
    stream.push(frames("k")[0])
    stream.discard()
    audio, pending = await stream_utterance(stream, "hello")
    assert (await settled(pending)).text == "Hello?"
    assert realtime.committed == [audio]
    assert len(realtime.of_type("input_audio_buffer.clear")) == 1
    await stream.aclose()


async def test_a_server_error_event_is_a_provider_error_for_that_utterance(realtime):
    realtime.on_commit = realtime.refuse
    stream = speech_to_text(realtime.url).open_stream()
    _, pending = await stream_utterance(stream, "hello there")
    with pytest.raises(ProviderError, match="server_error: The server had an error"):
        await settled(pending)
    # The connection stays usable: the next utterance is transcribed on it.
    realtime.on_commit, realtime.transcripts = realtime.transcribe, ["Hello again."]
    _, pending = await stream_utterance(stream, "hello again")
    assert (await settled(pending)).text == "Hello again."
    assert len(realtime.paths) == 1
    await stream.aclose()


async def test_an_error_naming_no_event_fails_what_is_in_flight(realtime):
    realtime.on_commit = realtime.fail_generally
    stream = speech_to_text(realtime.url).open_stream()
    _, pending = await stream_utterance(stream, "hello there")
    with pytest.raises(ProviderError, match="overloaded"):
        await settled(pending)
    await stream.aclose()


async def test_a_stalled_server_times_out_within_the_configured_limit_and_the_next_utterance_reconnects(realtime):
    realtime.on_commit = realtime.stall
    stream = speech_to_text(realtime.url, realtime_transcript_timeout_s=0.3).open_stream()
    _, pending = await stream_utterance(stream, "hello there")
    with pytest.raises(ProviderError, match=r"no transcript within 0.3s") as caught:  # the bound that fired
        await settled(pending)
    assert caught.value.permanent is False
    realtime.on_commit, realtime.transcripts = realtime.transcribe, ["Are you there?"]
    _, pending = await stream_utterance(stream, "are you there")
    assert (await settled(pending)).text == "Are you there?"
    assert len(realtime.paths) == 2  # the stalled connection was closed, a new one opened
    await stream.aclose()


async def test_a_dropped_connection_fails_the_utterance_and_the_next_one_reconnects(realtime):
    realtime.on_commit = realtime.drop
    stream = speech_to_text(realtime.url).open_stream()
    _, pending = await stream_utterance(stream, "hello there")
    with pytest.raises(ProviderError):
        await settled(pending)
    realtime.on_commit, realtime.transcripts = realtime.transcribe, ["Sorry, you dropped."]
    audio, pending = await stream_utterance(stream, "sorry you dropped")
    assert (await settled(pending)).text == "Sorry, you dropped."
    assert len(realtime.paths) == 2
    assert realtime.committed[-1] == audio  # the new connection got the whole utterance
    assert len(realtime.of_type("session.update")) == 2  # and was configured again
    await stream.aclose()


async def test_a_connection_that_drops_mid_utterance_fails_that_utterance_at_its_end(realtime):
    realtime.transcripts = ["First.", "Second."]
    stream = speech_to_text(realtime.url).open_stream()
    _, first = await stream_utterance(stream, "first")
    assert (await settled(first)).text == "First."
    appended = len(realtime.of_type("input_audio_buffer.append"))
    stream.push(frames("second")[0])
    await until(lambda: len(realtime.of_type("input_audio_buffer.append")) > appended, what="the second's first frame")
    await realtime.stop()  # the server goes away while the callee is speaking
    await until(lambda: not stream.connected, what="the stream to notice its connection is gone")
    for frame in frames("second")[1:]:
        stream.push(frame)
    with pytest.raises(ProviderError, match=r"\(mid-utterance\)"):
        await settled(stream.finish())
    await stream.aclose()


async def test_a_refused_session_configuration_is_a_permanent_error_for_the_utterance(realtime):
    realtime.refuse_sessions = True
    stream = speech_to_text(realtime.url).open_stream()
    _, pending = await stream_utterance(stream, "hello there")
    with pytest.raises(ProviderError, match="Invalid transcription model") as caught:
        await settled(pending)
    assert caught.value.permanent is True
    await stream.aclose()


async def test_the_api_key_is_sent_and_a_refused_one_is_a_permanent_error(realtime):
    realtime.reject_status = 401
    stream = speech_to_text(realtime.url).open_stream()
    _, pending = await stream_utterance(stream, "hello")
    with pytest.raises(ProviderError, match="HTTP 401") as caught:
        await settled(pending)
    assert caught.value.permanent is True
    assert realtime.headers[0]["Authorization"] == "Bearer sk-test"
    await stream.aclose()


async def test_no_server_is_a_provider_error():
    stream = speech_to_text("http://127.0.0.1:9/v1").open_stream()
    _, pending = await stream_utterance(stream, "hello")
    with pytest.raises(ProviderError):
        await settled(pending)
    await stream.aclose()


# ---- With the session's transcriber: the per-utterance fallback -------------------------------------


async def transcribe_through(transcriber: Transcriber, text: str) -> tuple[bytes, str]:
    """What the listener does: begin with the pre-roll, push the frames, end at the endpoint, transcribe."""
    audio = frames(text)
    transcriber.begin(b"".join(audio[:3]))
    for frame in audio[3:]:
        transcriber.push(frame)
        await asyncio.sleep(0)
    streamed = transcriber.end()
    return b"".join(audio), await transcriber.transcribe(b"".join(audio), streamed)


async def test_a_realtime_failure_falls_back_to_transcribing_the_same_audio_over_http(realtime, fake_server):
    async def http_transcription(request):
        return web_json({"text": "Yes, this is Maria."})

    fake_server.handler = http_transcription
    realtime.on_commit = realtime.refuse
    breakers: dict[str, CircuitBreaker] = {}
    failures: list[tuple[str, str, str]] = []
    transcriber = Transcriber(
        speech_to_text(realtime.url, http_url=f"{fake_server.url}/v1"),
        breakers=lambda name: breakers.setdefault(name, CircuitBreaker(name)),
        timeout_s=2.0,
        on_failure=lambda role, provider, error: failures.append((role, provider, error.message)),
    )
    audio, text = await transcribe_through(transcriber, "yes this is maria")
    await transcriber.aclose()

    assert text == "Yes, this is Maria."
    assert realtime.committed == [audio]  # streamed first...
    (upload,) = fake_server.requests  # ...then the same audio, whole, over HTTP
    assert upload.path == "/v1/audio/transcriptions"
    assert codec.ulaw_wav(audio) in upload.body
    assert failures == [("stt", "openai-realtime", "openai realtime: server_error: The server had an error.")]
    assert breakers["stt:openai-realtime"].last_error is not None  # the breaker counted it
    assert breakers["stt:openai"].last_error is None


async def test_while_the_realtime_breaker_is_open_utterances_go_straight_to_http(realtime, fake_server):
    async def http_transcription(request):
        return web_json({"text": "Hello."})

    fake_server.handler = http_transcription
    open_breaker = CircuitBreaker("stt:openai-realtime", failure_threshold=1)
    open_breaker.record_failure(ProviderError("down", permanent=False))
    transcriber = Transcriber(
        speech_to_text(realtime.url, http_url=f"{fake_server.url}/v1"),
        breakers=lambda name: open_breaker if name == "stt:openai-realtime" else CircuitBreaker(name),
        timeout_s=2.0,
        on_failure=lambda *failure: pytest.fail(f"unexpected failure {failure}"),
    )
    _, text = await transcribe_through(transcriber, "hello")
    await transcriber.aclose()
    assert text == "Hello."
    assert realtime.paths == []  # not even connected
