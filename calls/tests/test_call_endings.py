"""However a call ends, its record is whole: outcome, the transcript heard so far, latency stats, the end event.

The callee hangs up at each point of a turn (a test per point) through the real media consumer, conversation
session and calls-side host, on the database. The line drops as a real server sees it: from that moment a
send on the socket raises (as uvicorn's does once the peer is gone), then the disconnect arrives. Speech
providers are faked at the port boundary only, with gates that hold them at a chosen point.
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from calls.conversation_host import CallConversationHost
from calls.media_tokens import media_token_for
from calls.models import Call, CallEvent, TranscriptTurn
from calls.tests.conftest import sign
from calls.tests.test_media_consumer import path_for, start
from config.asgi import application
from voice import codec
from voice import media_streams as ms
from voice.pipeline import fallback
from voice.pipeline.conversation import ConversationSession
from voice.pipeline.session_config import SessionConfig
from voice.providers.base import ProviderError
from voice.providers.simulated_speech import SimulatedLanguageModel, SimulatedSpeechToText, SimulatedTextToSpeech
from voice.providers.speech_selection import SpeechProviders
from voice.synthetic_audio import silence_ulaw, speech_like_ulaw
from voice.tests.waiting import until, within

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

FIRST_LINE = "Yes, this is me speaking."


class Gate:
    """Holds a provider at one point while armed: `reached` once it waits there, until `release()`."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = asyncio.Event()
        self._open = asyncio.Event()

    async def passing(self) -> None:
        if self.armed:
            self.reached.set()
            await self._open.wait()

    def release(self) -> None:
        self._open.set()


class GatedSpeechToText(SimulatedSpeechToText):
    async def transcribe(self, ulaw, *, language=None, prompt=""):
        await PROVIDERS["stt_gate"].passing()
        return await super().transcribe(ulaw, language=language, prompt=prompt)


class GatedLanguageModel(SimulatedLanguageModel):
    async def stream_reply(self, request):
        await PROVIDERS["llm_gate"].passing()
        if PROVIDERS["llm_fails"]:
            raise ProviderError("503 the model is overloaded", permanent=False)
        async for event in super().stream_reply(request):
            yield event


PROVIDERS: dict = {}


def gated_session() -> ConversationSession:
    """The `VOICE_SESSION_FACTORY` of these tests: the production session and host, gated providers."""
    speech = SpeechProviders(PROVIDERS["stt"], GatedLanguageModel(), SimulatedTextToSpeech(), None)
    return ConversationSession(CallConversationHost(), providers=speech, config=SessionConfig(stop_grace_s=1.0))


@pytest.fixture(autouse=True)
def gated(settings):
    settings.VOICE_SESSION_FACTORY = "calls.tests.test_call_endings.gated_session"
    settings.TELEPHONY_PROVIDER = "simulated"
    settings.SIMULATED_CARRIER_TIME_SCALE = 0.1
    fallback.clear_cache()
    PROVIDERS.clear()
    PROVIDERS.update(stt_gate=Gate(), llm_gate=Gate(), llm_fails=False)
    return PROVIDERS


def caller_says(*lines: str) -> None:
    PROVIDERS["stt"] = GatedSpeechToText(lines)


class Line:
    """The server side of the socket: once `drop()`ped, every send raises, as on a closed connection."""

    def __init__(self) -> None:
        self.dropped = False
        self.failed_sends = 0

    async def __call__(self, scope, receive, send):
        async def guarded(message):
            if self.dropped:
                self.failed_sends += 1
                raise OSError("the connection is closed")
            await send(message)

        await application(scope, receive, guarded)

    def drop(self) -> None:
        self.dropped = True


class Carrier:
    """Twilio's side: reads what we send, echoes each mark at once while `echo` is on (the audio played)."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.messages: list[dict] = []
        self.echo = True
        self._sequence = 100
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            output = await self.communicator.receive_output(timeout=120)
            if output["type"] != "websocket.send":
                return
            message = json.loads(output["text"])
            self.messages.append(message)
            if message["event"] == "mark" and self.echo:
                self._sequence += 1
                name = message["mark"]["name"]
                echo = ms.mark_echo_message(sequence_number=self._sequence, stream_sid="MZ1", name=name)
                await self.communicator.send_to(text_data=echo)

    def marks(self) -> list[str]:
        return [m["mark"]["name"] for m in self.messages if m["event"] == "mark"]

    def media_after(self, mark: str) -> int:
        names = [m["mark"]["name"] if m["event"] == "mark" else None for m in self.messages]
        if mark not in names:
            return 0
        return sum(1 for m in self.messages[names.index(mark) + 1 :] if m["event"] == "media")

    async def say(self, text: str, *, trailing_silence_ms: int = 800, fraction: float = 1.0) -> None:
        audio = speech_like_ulaw(text)
        audio = audio[: int(len(audio) * fraction)] + silence_ulaw(trailing_silence_ms)
        for index, frame in enumerate(codec.reframe([audio])):
            self._sequence += 1
            message = ms.inbound_media_message(
                sequence_number=self._sequence, stream_sid="MZ1", chunk=index, timestamp_ms=20 * index, payload=frame
            )
            await self.communicator.send_to(text_data=message)

    async def closed_by_us(self) -> None:
        """Until we close the stream."""
        await asyncio.shield(self._reader)

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def turns(call: Call) -> list[tuple[str, str]]:
    rows = TranscriptTurn.objects.filter(call=call).order_by("index").values_list("role", "text")
    return await database_sync_to_async(list)(rows)


async def agent_turns_stored(call: Call, count: int) -> None:
    async def stored() -> int:
        return await database_sync_to_async(TranscriptTurn.objects.filter(call=call, role="agent").count)()

    async with asyncio.timeout(30):
        while await stored() < count:
            await asyncio.sleep(0.02)


async def connected(call: Call, line: Line, headers: list | None = None) -> tuple[WebsocketCommunicator, Carrier]:
    communicator = WebsocketCommunicator(line, path_for(call.pk), headers=headers or [])
    ok, _ = await communicator.connect()
    assert ok
    await communicator.send_to(text_data=start(call.pk))
    return communicator, Carrier(communicator)


async def after_one_exchange(call: Call, line: Line) -> tuple[WebsocketCommunicator, Carrier]:
    """The opener heard, the callee's first line answered and heard: the call has latency to report."""
    communicator, carrier = await connected(call, line)
    await agent_turns_stored(call, 1)
    await carrier.say(FIRST_LINE)
    await agent_turns_stored(call, 2)
    return communicator, carrier


async def hang_up(communicator: WebsocketCommunicator, carrier: Carrier, line: Line) -> None:
    """The line drops: sends fail from now on, then the server tells the consumer; it must end cleanly."""
    line.drop()
    await carrier.close()
    await communicator.disconnect(code=1006, timeout=20)  # raises if the consumer raised


async def record(call: Call) -> tuple[Call, list[str]]:
    fresh = await database_sync_to_async(Call.objects.get)(pk=call.pk)
    ids = CallEvent.objects.filter(call=call).values_list("provider_event_id", flat=True)
    return fresh, await database_sync_to_async(list)(ids)


async def assert_whole_record(call: Call, outcome: str) -> Call:
    fresh, ids = await record(call)
    assert fresh.outcome == outcome
    assert fresh.latency_stats["first_audio_sent"]["n"] >= 1, fresh.latency_stats
    assert ids.count("conversation-end") == 1
    assert ids.count("stop:MZ1") == 1
    return fresh


async def test_hang_up_mid_word_keeps_the_words_said_so_far(call):
    caller_says(FIRST_LINE, "Actually I wanted to ask")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    await carrier.say("Actually I wanted to ask about my bill", trailing_silence_ms=0, fraction=0.6)
    await hang_up(communicator, carrier, line)
    await assert_whole_record(call, "completed")
    assert (await turns(call))[-1] == ("contact", "Actually I wanted to ask")


async def test_hang_up_while_the_words_are_transcribed(call):
    caller_says(FIRST_LINE, "Can you repeat the date?")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    PROVIDERS["stt_gate"].armed = True
    await carrier.say("Can you repeat the date?")
    await within(PROVIDERS["stt_gate"].reached.wait(), what="the transcription to start")
    await hang_up(communicator, carrier, line)  # the transcript never comes: the grace runs out
    await assert_whole_record(call, "completed")
    assert [role for role, _ in await turns(call)] == ["agent", "contact", "agent"]


async def test_hang_up_while_the_model_thinks(call):
    caller_says(FIRST_LINE, "Can you repeat the date?")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    PROVIDERS["llm_gate"].armed = True
    await carrier.say("Can you repeat the date?")
    await within(PROVIDERS["llm_gate"].reached.wait(), what="the model to be asked")
    await hang_up(communicator, carrier, line)
    await assert_whole_record(call, "completed")
    assert (await turns(call))[-1] == ("contact", "Can you repeat the date?")


async def test_hang_up_while_the_agent_speaks_lost_sends_and_all(call):
    """The send on the closed socket used to escape the playout and end the session's stop early."""
    caller_says(FIRST_LINE, "Can you repeat the date?")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    reply_marks = len(carrier.marks())
    await carrier.say("Can you repeat the date?")
    await until(lambda: len(carrier.marks()) > reply_marks + 1, what="the reply's first chunk to be heard")
    first_chunk = carrier.marks()[reply_marks + 1]
    await until(lambda: carrier.media_after(first_chunk) >= 5, what="a few frames of its second chunk")
    line.drop()
    await until(lambda: line.failed_sends, what="a send on the closed socket")
    await hang_up(communicator, carrier, line)
    await assert_whole_record(call, "completed")
    role, text = (await turns(call))[-1]
    assert role == "agent"
    assert text.startswith("That's a good question.")
    assert not text.endswith("quick reminder.")  # only what was heard


async def test_hang_up_before_the_reply_was_heard(call):
    caller_says(FIRST_LINE, "Can you repeat the date?")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    carrier.echo = False  # the reply is sent whole, but its marks never come back
    sent = len(carrier.marks())
    await carrier.say("Can you repeat the date?")
    await until(lambda: sum(1 for m in carrier.marks()[sent:] if not m.endswith(":start")) >= 2, what="the reply")
    await hang_up(communicator, carrier, line)
    fresh = await assert_whole_record(call, "completed")
    assert fresh.latency_stats["first_audio_sent"]["n"] == 2  # the cut reply counts too


async def test_hang_up_during_the_agents_goodbye_keeps_its_outcome(call):
    caller_says(FIRST_LINE, "No, that's all. Thank you, bye.")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    carrier.echo = False
    sent = len(carrier.marks())
    await carrier.say("No, that's all. Thank you, bye.")
    await until(lambda: len(carrier.marks()) > sent, what="the goodbye to start playing")
    await hang_up(communicator, carrier, line)
    await assert_whole_record(call, "ended_by_agent")


async def test_hang_up_mid_tool_lets_the_tool_finish_into_the_record(call, agent, settings, fake_twilio):
    """The transfer (a tool, at the carrier) is under way when the callee hangs up: it still completes,
    and its outcome is the call's."""
    settings.TELEPHONY_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "twilio-test-token"
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    agent.can_transfer, agent.transfer_number = True, "+12025550199"
    await database_sync_to_async(agent.save)()
    fake_twilio.then(200, {"sid": "CA1", "status": "in-progress"}, held=True)
    caller_says("Can I talk to a real person please?")
    line = Line()
    signature = sign(f"ws://testserver{path_for(call.pk)}", {}, "twilio-test-token").encode()
    communicator, carrier = await connected(call, line, headers=[(b"x-twilio-signature", signature)])
    await agent_turns_stored(call, 1)
    await carrier.say("Can I talk to a real person please?")
    await until(lambda: fake_twilio.requests, what="the transfer request", poll_s=0.05)
    line.drop()
    hanging_up = asyncio.ensure_future(hang_up(communicator, carrier, line))
    await asyncio.sleep(0.2)  # the consumer is winding down while the tool is still under way
    fake_twilio.stopping.set()  # the carrier answers the transfer
    await within(hanging_up, what="the consumer to end")
    await assert_whole_record(call, "transferred")


async def test_the_carrier_drops_the_line_between_turns(call):
    """No `stop`, no goodbye: the socket just goes (1006) while both sides are quiet."""
    caller_says(FIRST_LINE)
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    await carrier.say("", trailing_silence_ms=400)  # the line, quiet
    await hang_up(communicator, carrier, line)
    await assert_whole_record(call, "completed")
    assert [role for role, _ in await turns(call)] == ["agent", "contact", "agent"]


async def test_hang_up_during_the_goodbye_after_a_provider_failure_keeps_the_failure(call):
    """The model fails: the cached goodbye plays, and the callee hangs up during it."""
    caller_says(FIRST_LINE, "Can you repeat the date?")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    PROVIDERS["llm_fails"] = True
    carrier.echo = False  # the goodbye is sent, never heard to its end
    sent = len(carrier.marks())
    await carrier.say("Can you repeat the date?")
    await until(lambda: len(carrier.marks()) > sent, what="the goodbye to start playing")
    await hang_up(communicator, carrier, line)
    fresh = await assert_whole_record(call, "provider_failure")
    assert fresh.failure_reason.startswith("llm:simulated: 503 the model is overloaded")
    _, ids = await record(call)
    assert [i for i in ids if i.startswith("provider-error:")] == ["provider-error:1"]


async def test_a_provider_failure_ends_the_call_itself_once(call):
    """The model fails and the callee stays: the goodbye is heard, then we end the stream; one record."""
    caller_says(FIRST_LINE, "Can you repeat the date?")
    line = Line()
    communicator, carrier = await after_one_exchange(call, line)
    PROVIDERS["llm_fails"] = True
    await carrier.say("Can you repeat the date?")
    async with asyncio.timeout(20):
        await carrier.closed_by_us()
    await communicator.disconnect(timeout=20)
    fresh = await assert_whole_record(call, "provider_failure")
    assert fresh.failure_reason.startswith("llm:simulated: 503")
    _, ids = await record(call)
    assert [i for i in ids if i.startswith("provider-error:")] == ["provider-error:1"]
    assert line.failed_sends == 0


async def test_a_session_that_cannot_start_still_records_the_streams_end(call, settings):
    settings.VOICE_SESSION_FACTORY = "calls.tests.test_call_endings.BrokenSession"
    communicator, carrier = await connected(call, Line())
    async with asyncio.timeout(10):
        await carrier.closed_by_us()
    await communicator.disconnect(timeout=10)
    _, ids = await record(call)
    assert ids == ["start:MZ1", "stop:MZ1"]


class BrokenSession(ConversationSession):
    def __init__(self) -> None:
        super().__init__(CallConversationHost())

    async def start(self, info, sender) -> None:
        raise RuntimeError("the speech providers are misconfigured")


class WatchedLine(Line):
    """Notes every message the application sends, and whether the carrier's `stop` had reached it by then."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_received = False
        self.sent: list[tuple[bool, dict]] = []

    async def __call__(self, scope, receive, send):
        async def watched_receive():
            message = await receive()
            if message.get("text") and json.loads(message["text"]).get("event") == "stop":
                self.stop_received = True
            return message

        async def watched_send(message):
            if message["type"] == "websocket.send":
                self.sent.append((self.stop_received, json.loads(message["text"])))
            await send(message)

        await application(scope, watched_receive, watched_send)


async def test_after_the_callers_stop_nothing_is_sent_and_everything_before_carries_the_stream_sid(call):
    """The agent is mid-reply, with a transcript still coming, when Twilio's `stop` arrives."""
    caller_says(FIRST_LINE, "Can you repeat the date?", "Wait, one more thing")
    line = WatchedLine()
    communicator, carrier = await after_one_exchange(call, line)
    sent = len(carrier.marks())
    await carrier.say("Can you repeat the date?")
    await until(lambda: len(carrier.marks()) > sent, what="the reply to start playing")
    PROVIDERS["stt_gate"].armed = True  # the next words are still being transcribed at the stop
    await carrier.say("Wait, one more thing")
    await within(PROVIDERS["stt_gate"].reached.wait(), what="the transcription to start")
    stop = ms.stop_message(sequence_number=900, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    await asyncio.sleep(0.3)  # what the playout and the hold phrase would have sent meanwhile
    PROVIDERS["stt_gate"].release()
    async with asyncio.timeout(20):
        await carrier.closed_by_us()
    await communicator.disconnect(timeout=20)  # the server confirms the close
    assert line.stop_received
    assert [message for after_stop, message in line.sent if after_stop] == []
    assert {message["streamSid"] for _, message in line.sent} == {"MZ1"}
    await assert_whole_record(call, "completed")


def twilio_line(settings, fake_twilio) -> list:
    """Twilio settings with REST requests to the local fake; the handshake headers that sign the stream."""
    settings.TELEPHONY_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "twilio-test-token"
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    return []


async def test_a_stopping_server_ends_the_call_with_a_goodbye_and_writes_its_record(call, agent, settings, fake_twilio):
    """uvicorn, on SIGTERM, closes every WebSocket with 1012 and waits for the connections' tasks."""
    twilio_line(settings, fake_twilio)
    agent.language = "es-ES"
    await database_sync_to_async(agent.save)()
    caller_says()
    signature = sign(f"ws://testserver{path_for(call.pk)}", {}, "twilio-test-token").encode()
    communicator, carrier = await connected(call, Line(), headers=[(b"x-twilio-signature", signature)])
    await until(lambda: carrier.messages, what="the opener to start")
    await carrier.close()
    await communicator.disconnect(code=1012, timeout=20)
    (request,) = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Calls/CA1.json"
    twiml = request.value("Twiml")
    assert '<Say language="es-ES">Lo siento, tengo que terminar la llamada.' in twiml
    assert twiml.endswith("<Hangup /></Response>")
    fresh, ids = await record(call)
    assert fresh.outcome == "server_stopped"
    assert ids.count("conversation-end") == 1
    assert ids.count("stop:MZ1") == 1


async def test_a_server_that_cancels_its_connections_still_writes_every_calls_record(call, contact, campaign, agent):
    """A server that will not wait (or whose grace ran out) cancels the connections' tasks; the lifespan's
    shutdown then waits for the records, which are written by tasks of their own."""
    from calls.consumers import finish_live_streams
    from calls.lifespan import CallsLifespan

    other = await database_sync_to_async(Call.objects.create)(
        contact=contact, campaign=campaign, agent=agent, to_phone=contact.phone, provider="simulated"
    )
    caller_says(FIRST_LINE)
    first, first_carrier = await connected(call, Line())
    await agent_turns_stored(call, 1)
    await first_carrier.say(FIRST_LINE)
    await agent_turns_stored(call, 2)
    second = WebsocketCommunicator(Line(), path_for(other.pk))
    assert (await second.connect())[0]
    token = {"token": media_token_for(other.pk)}
    second_start = ms.start_message(
        sequence_number=1, stream_sid="MZ2", account_sid="AC1", call_sid="CA2", custom_parameters=token
    )
    await second.send_to(text_data=second_start)
    await agent_turns_stored(other, 0)
    second_carrier = Carrier(second)
    await until(lambda: second_carrier.messages, what="the second call to speak")
    await second_carrier.close()
    await first_carrier.close()
    for communicator in (first, second):
        await communicator.wait(timeout=0.01)  # the connection's task is cancelled
        assert communicator.future.cancelled()
    lifespan = WebsocketCommunicator(CallsLifespan(grace_s=20), "/")  # any communicator drives a scope
    lifespan.scope = {"type": "lifespan"}
    await lifespan.send_input({"type": "lifespan.startup"})
    assert (await lifespan.receive_output())["type"] == "lifespan.startup.complete"
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert (await lifespan.receive_output(timeout=30))["type"] == "lifespan.shutdown.complete"
    assert await finish_live_streams(0) == 0
    fresh, ids = await record(call)
    assert fresh.outcome == "server_stopped"
    assert fresh.latency_stats["first_audio_sent"]["n"] == 1
    assert ids.count("conversation-end") == ids.count("stop:MZ1") == 1
    fresh, ids = await record(other)
    assert fresh.outcome == "server_stopped"
    assert ids.count("conversation-end") == ids.count("stop:MZ2") == 1
