"""Whole calls whose speech to text streams while the callee speaks (the simulated STT, then OpenAI's Realtime
API through the real SDK against the fake server), and what happens when the stream fails."""

import asyncio

import pytest
import pytest_asyncio

from voice.pipeline import fallback
from voice.pipeline.host import StaticHost
from voice.providers.base import ProviderError
from voice.providers.openai import OpenAIOptions, openai_client
from voice.providers.openai_realtime import OpenAIRealtimeSpeechToText
from voice.providers.simulated_speech import SimulatedSpeechStream, SimulatedSpeechToText
from voice.providers.speech import SpeechStream, Transcript
from voice.tests.pipeline.test_conversation import agent_done, context, providers, say, started, turns
from voice.tests.providers.fake_realtime import FakeRealtimeServer
from voice.tests.waiting import within

pytestmark = pytest.mark.asyncio
LINES = ("Yes, this is me speaking.", "Sorry to cut you off, who is this?", "No, that's all. Thank you, bye.")


@pytest.fixture(autouse=True)
def no_phrase_cache():
    fallback.clear_cache()
    yield
    fallback.clear_cache()


class CountingSpeechToText(SimulatedSpeechToText):
    """Counts what reaches each path: the stream's utterances (bytes) and whole utterances (bytes)."""

    def __init__(self, lines, **options) -> None:
        super().__init__(lines, **options)
        self.whole: list[int] = []
        self.stream: SimulatedSpeechStream | None = None

    async def transcribe(self, ulaw, *, language=None, prompt=""):
        self.whole.append(len(ulaw))
        return await super().transcribe(ulaw, language=language, prompt=prompt)

    def open_stream(self, *, language=None, prompt=""):
        self.stream = super().open_stream(language=language, prompt=prompt)
        return self.stream


async def converse(stt) -> StaticHost:
    """The opener, then the callee says LINES (the last one ends the call)."""
    host = StaticHost(context())
    session, carrier = await started(host, providers(stt=stt))
    await agent_done(host)
    for count, line in enumerate(LINES, start=2):
        await say(session, line)
        await agent_done(host, count)
    await within(carrier.hung_up.wait(), what="the session to hang up after the last line")
    await session.stop()
    return host


async def test_a_whole_call_is_transcribed_from_the_stream_with_exactly_the_audio_of_each_utterance():
    streaming = CountingSpeechToText(LINES, streaming=True)
    streamed = await converse(streaming)
    whole = CountingSpeechToText(LINES)
    per_utterance = await converse(whole)

    said = [turn.text for turn in turns(streamed) if turn.role == "contact"]
    assert said == list(LINES)
    assert [(t.role, t.text) for t in turns(streamed)] == [(t.role, t.text) for t in turns(per_utterance)]
    assert streaming.whole == []  # no utterance needed the per-utterance path
    assert streaming.stream is not None
    assert streaming.stream.pushed == whole.whole  # pre-roll to endpoint: the very audio STT gets whole
    assert streamed.failures == []


class BrokenStream(SpeechStream):
    name = "broken-stream"

    def __init__(self) -> None:
        self.closed = False

    def push(self, ulaw: bytes) -> None:
        pass

    def discard(self) -> None:
        pass

    def finish(self) -> "asyncio.Future[Transcript]":
        result = asyncio.get_running_loop().create_future()
        result.set_exception(ProviderError("broken-stream: connection reset", permanent=False))
        return result

    async def aclose(self) -> None:
        self.closed = True


class BrokenStreamingSpeechToText(CountingSpeechToText):
    def open_stream(self, *, language=None, prompt=""):
        self.stream = BrokenStream()  # type: ignore[assignment]
        return self.stream


async def test_a_failing_stream_loses_nothing_the_same_audio_is_transcribed_whole_and_the_failure_reported():
    stt = BrokenStreamingSpeechToText(LINES, streaming=True)
    host = await converse(stt)
    assert [turn.text for turn in turns(host) if turn.role == "contact"] == list(LINES)
    assert len(stt.whole) == len(LINES)  # every utterance, through the per-utterance path
    assert [failure[:2] for failure in host.failures] == [("stt", "broken-stream")] * len(LINES)
    assert host.summary is not None
    assert host.summary.outcome == "ended_by_agent"
    assert stt.stream.closed  # type: ignore[union-attr]


@pytest_asyncio.fixture
async def realtime():
    server = await FakeRealtimeServer().start()
    yield server
    await server.stop()


async def test_a_whole_call_over_the_realtime_api_uses_one_connection_and_closes_it(realtime):
    realtime.transcripts = list(LINES)
    options = OpenAIOptions(api_key="sk-test", base_url=realtime.url)
    host = await converse(OpenAIRealtimeSpeechToText(openai_client(options), options))
    assert [turn.text for turn in turns(host) if turn.role == "contact"] == list(LINES)
    assert len(realtime.paths) == 1
    assert realtime.closed == 1  # by the session's stop
    assert len(realtime.committed) == len(LINES)
    assert host.failures == []
    contact = [turn for turn in turns(host) if turn.role == "contact"]
    assert all("stt_final" in turn.latency_ms for turn in contact)
