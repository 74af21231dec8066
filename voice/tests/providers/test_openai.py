"""The real `openai` SDK against a fake OpenAI API on loopback."""

import json
import math
import struct

import pytest

from voice import codec
from voice.providers.base import ProviderError
from voice.providers.openai import (
    OpenAILanguageModel,
    OpenAIOptions,
    OpenAISpeechToText,
    OpenAITextToSpeech,
    openai_client,
)
from voice.providers.speech import ChatMessage, ReplyRequest, TextDelta, ToolCall, ToolSchema, Usage, VoiceSpec
from voice.synthetic_audio import speech_like_ulaw
from voice.tests.providers.fake_servers import json_error, sse, stream_bytes
from voice.tests.waiting import within

END_CALL = ToolSchema(
    "end_call", "End the call.", {"type": "object", "properties": {"reason": {"type": "string"}}, "required": []}
)


def options(server, **overrides) -> OpenAIOptions:
    defaults = {"first_token_timeout_s": 1.0, "first_audio_timeout_s": 1.0, "idle_timeout_s": 0.3}
    return OpenAIOptions(api_key="sk-test", base_url=f"{server.url}/v1", **{**defaults, **overrides})


def language_model(server, **overrides) -> OpenAILanguageModel:
    opts = options(server, **overrides)
    return OpenAILanguageModel(openai_client(opts), opts)


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip


def tool_fragment(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict:
    fragment: dict = {"index": index, "function": {"arguments": arguments}}
    if call_id:
        fragment.update(id=call_id, type="function")
        fragment["function"]["name"] = name
    return chunk({"tool_calls": [fragment]})


USAGE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
         "choices": [], "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}}  # fmt: skip


def request(**overrides) -> ReplyRequest:
    defaults = {
        "system_prompt": "You remind Maria about her visit.",
        "messages": [
            ChatMessage("assistant", "Hi Maria, this is an automated assistant."),
            ChatMessage("user", "Hi, I can't talk now."),
        ],
        "model": "gpt-4o-mini",
        "tools": [END_CALL],
        "temperature": 0.3,
    }
    return ReplyRequest(**{**defaults, **overrides})


async def collect(stream):
    return [event async for event in stream]


@pytest.mark.asyncio
async def test_chat_streams_text_then_a_tool_call_joined_from_fragments_then_usage(fake_server):
    events = sse([
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "No problem, "}),
        chunk({"content": "I'll call back."}),
        tool_fragment(0, "", call_id="call_1", name="end_call"),
        tool_fragment(0, '{"rea'),
        tool_fragment(0, 'son": "busy'),
        tool_fragment(0, '"}'),
        chunk({}, finish="tool_calls"),
        USAGE,
    ])  # fmt: skip

    async def handler(req):
        return await stream_bytes(req, events, "text/event-stream")

    fake_server.handler = handler
    result = await collect(language_model(fake_server).stream_reply(request()))

    assert result == [
        TextDelta("No problem, "),
        TextDelta("I'll call back."),
        ToolCall("call_1", "end_call", {"reason": "busy"}, '{"reason": "busy"}'),
        Usage(42, 7),
    ]
    sent = fake_server.requests[0]
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["Authorization"] == "Bearer sk-test"
    body = sent.json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0.3
    assert body["messages"][0] == {"role": "system", "content": "You remind Maria about her visit."}
    assert [m["role"] for m in body["messages"]] == ["system", "assistant", "user"]
    assert body["tools"][0]["function"]["name"] == "end_call"
    assert body["tools"][0]["function"]["parameters"]["properties"] == {"reason": {"type": "string"}}


@pytest.mark.asyncio
async def test_tool_results_and_earlier_tool_calls_go_back_in_the_openai_shape(fake_server):
    async def handler(req):
        return await stream_bytes(req, sse([chunk({"content": "Done."}), USAGE]), "text/event-stream")

    fake_server.handler = handler
    earlier = ToolCall("call_9", "end_call", {"reason": "x"}, '{"reason": "x"}')
    messages = [ChatMessage("assistant", "", tool_calls=(earlier,)), ChatMessage.tool_result("call_9", {"ok": True})]
    await collect(language_model(fake_server).stream_reply(request(messages=messages)))
    sent = fake_server.requests[0].json()["messages"]
    assert sent[1]["tool_calls"] == [
        {"id": "call_9", "type": "function", "function": {"name": "end_call", "arguments": '{"reason": "x"}'}}
    ]
    assert sent[2] == {"role": "tool", "tool_call_id": "call_9", "content": '{"ok": true}'}


@pytest.mark.asyncio
async def test_a_tool_call_with_invalid_json_becomes_an_error_result_not_an_exception(fake_server):
    events = sse([
        tool_fragment(0, "", call_id="call_1", name="end_call"),
        tool_fragment(0, '{"reason": "bu'),  # the model stops mid-string
        chunk({}, finish="tool_calls"),
        tool_fragment(1, "[1, 2]", call_id="call_2", name="end_call"),  # JSON, but not an object
    ])  # fmt: skip

    async def handler(req):
        return await stream_bytes(req, events, "text/event-stream")

    fake_server.handler = handler
    calls = [e for e in await collect(language_model(fake_server).stream_reply(request())) if isinstance(e, ToolCall)]
    assert [call.ok for call in calls] == [False, False]
    assert "not valid JSON" in calls[0].error
    assert calls[0].raw_arguments == '{"reason": "bu'
    assert "must be a JSON object" in calls[1].error
    reply = calls[0].error_result()
    assert (reply.role, reply.tool_call_id) == ("tool", "call_1")
    assert "not valid JSON" in json.loads(reply.content)["error"]


@pytest.mark.asyncio
async def test_a_chat_stream_that_stalls_mid_stream_fails_within_the_idle_timeout(fake_server):
    async def handler(req):
        events = sse([chunk({"content": "Let me "}), chunk({"content": "check"})], done=False)
        return await stream_bytes(req, events, "text/event-stream", stall_after=1, server=fake_server)

    fake_server.handler = handler
    received = []

    async def consume():
        async for event in language_model(fake_server, idle_timeout_s=0.3).stream_reply(request()):
            received.append(event)

    # The server stalls until teardown: only the adapter's own bound can end this, and its message names it.
    with pytest.raises(ProviderError, match=r"no data \(stalled mid-stream\) within 0.3s") as caught:
        await within(consume(), what="the idle timeout to fire")
    assert caught.value.permanent is False
    assert received == [TextDelta("Let me ")]


@pytest.mark.asyncio
async def test_a_chat_that_never_answers_fails_within_the_first_token_timeout(fake_server):
    async def handler(req):
        await fake_server.stall()

    fake_server.handler = handler
    stream = language_model(fake_server, first_token_timeout_s=0.4).stream_reply(request())
    with pytest.raises(ProviderError, match=r"no first item within 0.4s") as caught:
        await within(collect(stream), what="the first-token timeout to fire")
    assert caught.value.permanent is False


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "permanent"), [(500, False), (503, False), (429, False), (401, True), (400, True), (404, True)]
)
async def test_http_errors_become_provider_errors_with_the_right_permanence_and_no_retry(
    fake_server, status, permanent
):
    async def handler(req):
        return json_error(status, f"failure {status}")

    fake_server.handler = handler
    with pytest.raises(ProviderError) as caught:
        await collect(language_model(fake_server).stream_reply(request()))
    assert caught.value.permanent is permanent
    assert str(status) in caught.value.message
    assert len(fake_server.requests) == 1  # no SDK retry while a caller waits


@pytest.mark.asyncio
async def test_an_unreachable_server_is_a_transient_provider_error():
    opts = OpenAIOptions(api_key="sk-test", base_url="http://127.0.0.1:9/v1", first_token_timeout_s=2)
    with pytest.raises(ProviderError) as caught:
        await collect(OpenAILanguageModel(openai_client(opts), opts).stream_reply(request()))
    assert caught.value.permanent is False


# ---- transcription ----


def speech_to_text(server, **overrides) -> OpenAISpeechToText:
    opts = options(server, **overrides)
    return OpenAISpeechToText(openai_client(opts), opts)


@pytest.mark.asyncio
async def test_transcription_uploads_the_utterance_as_wav_with_the_configured_model(fake_server):
    async def handler(req):
        return web_json({"text": "  Yes, this is Maria.  "})

    fake_server.handler = handler
    utterance = speech_like_ulaw("yes this is maria")
    transcript = await speech_to_text(fake_server).transcribe(utterance, language="en-US", prompt="Maria")
    assert transcript.text == "Yes, this is Maria."
    sent = fake_server.requests[0]
    assert sent.path == "/v1/audio/transcriptions"
    assert sent.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="model"\r\n\r\ngpt-4o-mini-transcribe' in sent.body
    assert b'name="language"\r\n\r\nen\r\n' in sent.body
    assert b'filename="utterance.wav"' in sent.body
    assert codec.ulaw_wav(utterance) in sent.body


@pytest.mark.asyncio
async def test_streamed_transcription_yields_text_deltas(fake_server):
    events = [
        {"type": "transcript.text.delta", "delta": "Call me "},
        {"type": "transcript.text.delta", "delta": "tomorrow."},
        {"type": "transcript.text.done", "text": "Call me tomorrow."},
    ]

    async def handler(req):
        return await stream_bytes(req, sse(events), "text/event-stream")

    fake_server.handler = handler
    deltas = await collect(speech_to_text(fake_server).transcribe_stream(speech_like_ulaw("call me tomorrow")))
    assert deltas == ["Call me ", "tomorrow."]
    assert b'name="stream"\r\n\r\ntrue' in fake_server.requests[0].body


@pytest.mark.asyncio
async def test_transcription_errors_are_provider_errors(fake_server):
    async def handler(req):
        return json_error(401, "Incorrect API key provided")

    fake_server.handler = handler
    with pytest.raises(ProviderError, match="401") as caught:
        await speech_to_text(fake_server).transcribe(speech_like_ulaw("hello"))
    assert caught.value.permanent is True


@pytest.mark.asyncio
async def test_an_empty_utterance_is_not_sent():
    opts = OpenAIOptions(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert (await OpenAISpeechToText(openai_client(opts), opts).transcribe(b"")).text == ""


# ---- secondary voice ----


@pytest.mark.asyncio
async def test_openai_tts_asks_for_pcm_and_returns_8khz_ulaw(fake_server):
    count = 24000 // 2  # 0.5 s at 24 kHz
    pcm = struct.pack(f"<{count}h", *(round(8000 * math.sin(2 * math.pi * 440 * n / 24000)) for n in range(count)))

    async def handler(req):
        pieces = [pcm[i : i + 1001] for i in range(0, len(pcm), 1001)]  # odd sizes split samples
        return await stream_bytes(req, pieces, "audio/pcm")

    fake_server.handler = handler
    opts = options(fake_server)
    tts = OpenAITextToSpeech(openai_client(opts), opts)
    ulaw = b"".join(await collect(tts.synthesize("Hello there.", VoiceSpec(voice_id="21m00Tcm4", speed=1.1))))
    assert len(ulaw) == count // 3
    assert ulaw == codec.Downsampler24kTo8k().push_ulaw(pcm)
    body = fake_server.requests[0].json()
    assert fake_server.requests[0].path == "/v1/audio/speech"
    assert body["response_format"] == "pcm"
    assert body["voice"] == "alloy"  # an ElevenLabs voice id is not an OpenAI voice
    assert body["model"] == "gpt-4o-mini-tts"
    assert body["input"] == "Hello there."
    assert body["speed"] == 1.1


@pytest.mark.asyncio
async def test_openai_tts_server_error_is_transient(fake_server):
    async def handler(req):
        return json_error(500, "The server had an error")

    fake_server.handler = handler
    opts = options(fake_server)
    with pytest.raises(ProviderError) as caught:
        await collect(OpenAITextToSpeech(openai_client(opts), opts).synthesize("Hi", VoiceSpec()))
    assert caught.value.permanent is False


def web_json(payload: dict):
    from aiohttp import web

    return web.json_response(payload)
