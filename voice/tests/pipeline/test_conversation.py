"""The conversation session against a fake carrier (a MediaSender that plays in real time and echoes marks)
and the simulated speech providers; failing providers are faked at the port boundary only.

The tests run on virtual time (voice/tests/virtual_time.py): pacing, timeouts and latencies on the loop
clock are what the session scheduled, whatever else the machine is doing."""

import asyncio
import json
from dataclasses import replace

import pytest

from voice import codec
from voice.pipeline import fallback
from voice.pipeline.breaker import CircuitBreaker
from voice.pipeline.conversation import ConversationSession, SessionConfig
from voice.pipeline.host import ConversationContext, StaticHost
from voice.pipeline.turn_taking import TurnTakingConfig
from voice.providers.base import ProviderError
from voice.providers.simulated_speech import SimulatedLanguageModel, SimulatedSpeechToText, SimulatedTextToSpeech
from voice.providers.speech import ChatMessage, LanguageModel, TextDelta, ToolCall
from voice.providers.speech_selection import SpeechProviders
from voice.sessions import StreamInfo
from voice.synthetic_audio import silence_ulaw, speech_like_ulaw
from voice.tests.virtual_time import on_virtual_time
from voice.tests.waiting import until, within

SCALE = 0.1  # the carrier plays ten times faster than real time
ALL_TOOLS = frozenset({"end_call", "opt_out", "transfer_to_human", "schedule_callback", "record_outcome"})


class FakeCarrier:
    """The carrier side as Twilio behaves: plays 160-byte frames at (scaled) real time, echoes a mark once the
    audio before it has played, and on `clear` drops unplayed audio and echoes the marks behind it at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, object]] = []
        self.session: ConversationSession | None = None
        self.hung_up = asyncio.Event()
        self.cleared = 0
        self._loop = asyncio.get_running_loop()
        self._play_until = 0.0
        self._pending: list[tuple[asyncio.TimerHandle, str]] = []  # each mark's echo, with its name
        self._echoes: set[asyncio.Task] = set()

    async def send_audio(self, payload: bytes) -> None:
        now = self._loop.time()
        self.sent.append((now, "media", payload))
        self._play_until = max(self._play_until, now) + codec.FRAME_MS / 1000 * SCALE

    async def send_mark(self, name: str) -> None:
        self.sent.append((self._loop.time(), "mark", name))
        handle = self._loop.call_at(self._play_until, self._echo, name)
        self._pending.append((handle, name))

    def _echo(self, name: str) -> None:
        task = asyncio.ensure_future(self.session.on_mark(name))
        self._echoes.add(task)
        task.add_done_callback(self._echoes.discard)

    async def clear(self) -> None:
        self.cleared += 1
        self.sent.append((self._loop.time(), "clear", None))
        self._play_until = self._loop.time()
        for handle, name in self._pending:
            if not handle.cancelled() and handle.when() > self._loop.time():
                handle.cancel()
                self._echo(name)  # Twilio returns the cleared marks at once
        self._pending.clear()

    async def hang_up(self) -> None:
        self.sent.append((self._loop.time(), "hangup", None))
        self.hung_up.set()

    def events(self, kind: str) -> list:
        return [item for item in self.sent if item[1] == kind]

    def frames_after_mark(self, name: str) -> int:
        """How many frames were sent after the mark `name` (0 while it has not been sent)."""
        kinds = [(kind, payload) for _, kind, payload in self.sent]
        if ("mark", name) not in kinds:
            return 0
        return sum(1 for kind, _ in kinds[kinds.index(("mark", name)) + 1 :] if kind == "media")


def context(**overrides) -> ConversationContext:
    values = {
        "system_prompt": "You remind {{first_name}} of an appointment.",
        "first_message": "Hi {{first_name}}, this is an automated assistant from Acme Dental. "
        "I'm calling about your appointment tomorrow. Do you have a minute?",
        "voicemail_message": "Hi {{first_name}}, this is an automated assistant from Acme Dental. Please call us back.",
        "variables": {"first_name": "Maria"},
        "tools": ALL_TOOLS,
        "time_scale": SCALE,
        "time_zone": "America/New_York",
    }
    return ConversationContext(**(values | overrides))


def providers(lines=(), *, llm=None, tts=None, secondary=None, stt=None) -> SpeechProviders:
    return SpeechProviders(
        stt or SimulatedSpeechToText(lines),
        llm or SimulatedLanguageModel(),
        tts or SimulatedTextToSpeech(),
        secondary,
    )


def fresh_breaker(name: str) -> CircuitBreaker:
    return CircuitBreaker(name)


@pytest.fixture(autouse=True)
def no_phrase_cache():
    fallback.clear_cache()
    yield
    fallback.clear_cache()


async def started(host, speech, config=None) -> tuple[ConversationSession, FakeCarrier]:
    carrier = FakeCarrier()
    session = ConversationSession(host, providers=speech, config=config or SessionConfig(), breakers=fresh_breaker)
    carrier.session = session
    await session.start(StreamInfo("call-1", "MZ1", "CA1", {}), carrier)
    return session, carrier


async def say(session: ConversationSession, text: str, *, trailing_silence_ms: int = 800) -> None:
    """The callee speaks `text` (frames delivered at the scaled real-time rate), then is silent."""
    audio = speech_like_ulaw(text) + silence_ulaw(trailing_silence_ms)
    for frame in codec.reframe([audio]):
        await session.on_media(frame)
        await asyncio.sleep(codec.FRAME_MS / 1000 * SCALE)


async def quiet(session: ConversationSession, ms: int) -> None:
    await say(session, "", trailing_silence_ms=ms)


def turns(host: StaticHost) -> list:
    return sorted(host.turns, key=lambda turn: turn.index)


async def agent_done(host: StaticHost, count: int = 1) -> None:
    await until(lambda: len([t for t in host.turns if t.role == "agent"]) >= count, what=f"{count} agent turn(s)")


@on_virtual_time
async def test_the_opener_is_rendered_with_variables_and_sent_as_paced_160_byte_frames_with_a_mark_per_chunk():
    host = StaticHost(context())
    session, carrier = await started(host, providers())
    await agent_done(host)
    opener = turns(host)[0]
    assert opener.index == 0
    assert opener.role == "agent"
    assert opener.text.startswith("Hi Maria, this is an automated assistant from Acme Dental.")
    assert not opener.interrupted
    frames = carrier.events("media")
    assert {len(payload) for _, _, payload in frames} == {160}
    # Paced: after the lead, one frame per (scaled) 20 ms, on an absolute schedule.
    times = [at for at, _, _ in frames]
    assert times[-1] - times[3] == pytest.approx((len(times) - 4) * 0.02 * SCALE)
    marks = [name for _, _, name in carrier.events("mark")]
    chunk_marks = [m for m in marks if not m.endswith(":start")]
    assert len(chunk_marks) == 4  # "Hi Maria," early, then three sentences: a mark after each chunk
    assert set(opener.latency_ms) >= {"tts_first_byte", "first_audio_sent", "first_audio_heard"}
    await session.stop()


@on_virtual_time
async def test_a_turn_gets_a_reply_and_the_latency_breakdown_from_the_end_of_speech():
    host = StaticHost(context())
    session, _carrier = await started(host, providers(["Yes, this is me speaking."]))
    await agent_done(host)
    await say(session, "Yes, this is me speaking.")
    await agent_done(host, 2)
    roles = [(t.index, t.role) for t in turns(host)]
    assert roles == [(0, "agent"), (1, "contact"), (2, "agent")]
    reply = turns(host)[2]
    assert reply.text == "Great, thank you. Is there anything else I can help you with?"
    stages = reply.latency_ms
    assert set(stages) == {
        "endpoint", "stt_final", "llm_first_token", "tts_first_byte", "first_audio_sent", "first_audio_heard"
    }  # fmt: skip
    assert (
        stages["endpoint"]
        <= stages["stt_final"]
        <= stages["llm_first_token"]
        <= stages["first_audio_sent"]
        <= stages["first_audio_heard"]
    )
    await session.stop()
    assert host.summary.outcome == "completed"
    assert host.summary.latency["first_audio_sent"]["n"] == 1


@on_virtual_time
async def test_a_supervisors_whisper_is_followed_in_the_agents_next_turn_and_kept_in_the_transcript():
    host = StaticHost(context())
    session, _carrier = await started(host, providers(["Yes, this is me speaking."]))
    await agent_done(host)
    host.on_supervisor("whisper", "Offer the payment plan.")  # the host relays what a supervisor whispered
    await say(session, "Yes, this is me speaking.")
    await agent_done(host, 2)
    assert [(t.role, t.text) for t in turns(host)][1:] == [
        ("system", "Supervisor whispered: Offer the payment plan."),
        ("contact", "Yes, this is me speaking."),
        ("agent", "Offer the payment plan."),  # the simulated model follows guidance to the letter
    ]
    await session.stop()


@on_virtual_time
async def test_a_supervisor_takes_over_speaks_in_the_agents_place_and_hands_back():
    host = StaticHost(context())
    session, carrier = await started(host, providers(["Yes, this is me speaking.", "Okay, that sounds good to me."]))
    await agent_done(host)
    host.on_supervisor("take_over")
    voice = [bytes([n]) * codec.FRAME_BYTES for n in range(1, 11)]
    for frame in voice:
        host.on_supervisor("audio", frame)
    await until(lambda: [p for _, _, p in carrier.events("media")][-10:] == voice, what="the supervisor's voice sent")
    await say(session, "Yes, this is me speaking.")
    await quiet(session, 1500)
    assert [t.role for t in turns(host)][-1] == "contact"  # heard, and not answered by the agent

    host.on_supervisor("hand_back")
    await agent_done(host, 2)  # the agent goes on from the callee's latest words
    assert [(t.role, t.text) for t in turns(host)][1:] == [
        ("system", "A supervisor took over the call."),
        ("contact", "Yes, this is me speaking."),
        ("system", "The supervisor handed the call back to the agent."),
        ("agent", "Great, thank you. Is there anything else I can help you with?"),
    ]
    await session.stop()


@on_virtual_time
async def test_what_a_taken_over_supervisor_says_is_transcribed_and_the_agent_goes_on_from_it():
    """The callee heard the supervisor in the agent's place: their words are in the transcript and in the
    model's history; handed back after speaking last, the agent waits for the callee instead of answering."""
    host = StaticHost(context())
    supervisor_stt = SimulatedSpeechToText(["I can offer you a payment plan of three months."])
    speech = providers(["Yes, this is me speaking."])
    session, _carrier = await started(host, replace(speech, supervisor_speech_to_text=supervisor_stt))
    await agent_done(host)
    host.on_supervisor("take_over")
    for frame in codec.reframe([speech_like_ulaw("I can offer you a payment plan") + silence_ulaw(800)]):
        host.on_supervisor("audio", frame)
        await asyncio.sleep(codec.FRAME_MS / 1000 * SCALE)
    await until(lambda: any(t.text.startswith("Supervisor said") for t in host.turns), what="the supervisor's words")

    host.on_supervisor("hand_back")
    await until(lambda: turns(host)[-1].text.startswith("The supervisor handed"), what="the hand-back")
    await quiet(session, 1500)
    assert [(t.role, t.text) for t in turns(host)][1:] == [
        ("system", "A supervisor took over the call."),
        ("system", "Supervisor said: I can offer you a payment plan of three months."),
        ("system", "The supervisor handed the call back to the agent."),
    ]  # and no agent turn: the supervisor spoke last
    assert session.replies.history[-1] == ChatMessage("assistant", "I can offer you a payment plan of three months.")
    await session.stop()


@on_virtual_time
async def test_a_supervisors_last_words_are_kept_when_the_call_ends_while_taken_over():
    host = StaticHost(context())
    supervisor_stt = SimulatedSpeechToText(["Thank you, goodbye."])
    session, _carrier = await started(host, replace(providers(), supervisor_speech_to_text=supervisor_stt))
    await agent_done(host)
    host.on_supervisor("take_over")
    for frame in codec.reframe([speech_like_ulaw("Thank you goodbye")]):  # still speaking as the line drops
        host.on_supervisor("audio", frame)
        await asyncio.sleep(codec.FRAME_MS / 1000 * SCALE)
    await session.stop()
    assert ("system", "Supervisor said: Thank you, goodbye.") in [(t.role, t.text) for t in turns(host)]
    assert host.summary is not None


@on_virtual_time
async def test_a_supervisors_voice_is_dropped_unless_they_took_the_call_over():
    host = StaticHost(context())
    session, carrier = await started(host, providers())
    await agent_done(host)
    sent = len(carrier.events("media"))
    host.on_supervisor("audio", b"\x01" * codec.FRAME_BYTES)
    await quiet(session, 200)
    assert len(carrier.events("media")) == sent
    await session.stop()


@on_virtual_time
async def test_barge_in_clears_the_carrier_and_keeps_only_what_was_heard():
    host = StaticHost(context())
    session, carrier = await started(host, providers(["Sorry, who is this?"]))
    await until(lambda: carrier.frames_after_mark("1:0"), what="the opener's second chunk to play")
    await say(session, "Sorry, who is this?")
    await agent_done(host, 2)
    opener = turns(host)[0]
    assert opener.interrupted
    assert carrier.cleared == 1
    full = context().first_message.replace("{{first_name}}", "Maria")
    assert opener.text.startswith("Hi Maria,")
    assert len(opener.text) < len(full)
    assert "Do you have a minute?" not in opener.text
    assert turns(host)[1].role == "contact"
    assert turns(host)[1].text == "Sorry, who is this?"
    assert turns(host)[2].text.startswith("That's a good question.")
    await session.stop()


@on_virtual_time
async def test_a_greeting_over_the_opener_does_not_stop_it():
    host = StaticHost(context())
    session, carrier = await started(host, providers(["Hello?"]))
    await until(lambda: carrier.events("media"), what="the first frame")
    await say(session, "Hello?")
    await agent_done(host)
    assert not turns(host)[0].interrupted
    assert turns(host)[0].text.endswith("Do you have a minute?")
    assert carrier.cleared == 0
    await session.stop()


@on_virtual_time
async def test_dtmf_reaches_the_model_as_text():
    class Recording(SimulatedLanguageModel):
        seen: list[str] = []

        def stream_reply(self, request):
            self.seen.append(request.messages[-1].content)
            return super().stream_reply(request)

    llm = Recording()
    host = StaticHost(context())
    session, _ = await started(host, providers(llm=llm))
    await agent_done(host)
    await session.on_dtmf("5")
    await agent_done(host, 2)
    assert llm.seen[-1] == "The caller pressed 5."
    assert turns(host)[-1].text.startswith("Thanks, you pressed 5.")
    await session.stop()


@on_virtual_time
async def test_opt_out_suppresses_says_a_short_goodbye_and_hangs_up():
    host = StaticHost(context())
    session, carrier = await started(host, providers(["Please stop calling me and take me off your list."]))
    await agent_done(host)
    await say(session, "Please stop calling me and take me off your list.")
    await within(carrier.hung_up.wait(), what="the session to hang up")
    assert [name for name, _ in host.tools] == ["opt_out"]
    assert "don't call you again" in turns(host)[-1].text
    await session.stop()
    assert host.summary.outcome == "opted_out"


@on_virtual_time
async def test_end_call_says_goodbye_then_hangs_up():
    host = StaticHost(context())
    session, carrier = await started(host, providers(["No, that's all. Thank you, bye."]))
    await agent_done(host)
    await say(session, "No, that's all. Thank you, bye.")
    await within(carrier.hung_up.wait(), what="the session to hang up")
    assert host.tools == [("end_call", {"reason": "caller said goodbye"})]
    hangup_at = carrier.events("hangup")[0][0]
    last_mark_at = carrier.events("mark")[-1][0]
    assert hangup_at >= last_mark_at  # the goodbye was sent (and heard) first
    await session.stop()


@on_virtual_time
async def test_schedule_callback_passes_a_resolved_time_to_the_host():
    host = StaticHost(context())
    session, _ = await started(host, providers(["I'm driving right now, can you call me back tomorrow afternoon?"]))
    await agent_done(host)
    await say(session, "I'm driving right now, can you call me back tomorrow afternoon?")
    await until(lambda: host.tools, what="a tool call")
    name, arguments = host.tools[0]
    assert name == "schedule_callback"
    assert arguments["when"] == "tomorrow afternoon"
    assert arguments["at"].endswith(("-05:00", "-04:00"))  # 15:00 in the callee's zone
    assert "T15:00:00" in arguments["at"]
    await session.stop()


@on_virtual_time
async def test_transfer_is_carried_out_by_the_host_after_the_words_are_heard():
    host = StaticHost(context())
    session, carrier = await started(host, providers(["Can I talk to a real person please?"]))
    await agent_done(host)
    await say(session, "Can I talk to a real person please?")
    await until(lambda: host.tools, what="a tool call")
    assert host.tools == [("transfer_to_human", {})]
    assert not carrier.hung_up.is_set()  # the carrier takes the call over; we do not hang up
    await session.stop()
    assert host.summary.outcome == "transferred"


class ScriptedLanguageModel(LanguageModel):
    """Faked at the port: replies with the given events, in turn, and records each request."""

    name = "scripted"

    def __init__(self, *replies) -> None:
        self.replies = list(replies)
        self.requests = []

    async def stream_reply(self, request):
        self.requests.append(request)
        for event in self.replies.pop(0) if self.replies else [TextDelta("Okay.")]:
            yield event


@on_virtual_time
async def test_invalid_tool_json_goes_back_to_the_model_as_an_error_and_the_call_goes_on():
    llm = ScriptedLanguageModel(
        [ToolCall.parse("c1", "record_outcome", '{"field": "paid", "value": ')],
        [TextDelta("Sorry about that. Noted.")],
    )
    host = StaticHost(context())
    session, carrier = await started(host, providers(["I paid yesterday."], llm=llm))
    await agent_done(host)
    await say(session, "I paid yesterday.")
    await agent_done(host, 2)
    tool_messages = [m for m in llm.requests[1].messages if m.role == "tool"]
    assert "not valid JSON" in json.loads(tool_messages[0].content)["error"]
    assert turns(host)[-1].text == "Sorry about that. Noted."
    assert host.tools == []  # nothing was recorded from bad arguments
    assert not carrier.hung_up.is_set()
    await session.stop()


@on_virtual_time
async def test_record_outcome_reaches_the_host_and_bad_fields_are_refused():
    llm = ScriptedLanguageModel(
        [ToolCall.parse("c1", "record_outcome", '{"field": "colour", "value": "red"}')],
        [ToolCall.parse("c2", "record_outcome", '{"field": "paid", "value": "yes"}')],
        [TextDelta("Thank you, noted.")],
    )
    host = StaticHost(context(outcome_fields=("paid",)))
    session, _ = await started(host, providers(["I paid yesterday."], llm=llm))
    await agent_done(host)
    await say(session, "I paid yesterday.")
    await agent_done(host, 2)
    assert host.tools == [("record_outcome", {"field": "paid", "value": "yes"})]
    first_result = json.loads(next(m for m in llm.requests[1].messages if m.role == "tool").content)
    assert "unknown field 'colour'" in first_result["error"]
    await session.stop()


class StallingTTS(SimulatedTextToSpeech):
    """A primary voice that stalls before its first byte (faked at the port)."""

    name = "stalling"

    def __init__(self) -> None:
        super().__init__()
        self.stalled = False

    async def synthesize(self, text, voice):
        if self.stalled:
            await asyncio.sleep(3600)
        async for piece in super().synthesize(text, voice):
            yield piece


@on_virtual_time
async def test_a_stalled_voice_gets_the_hold_phrase_within_a_second_then_the_secondary_voice():
    secondary = SimulatedTextToSpeech()
    secondary.name = "secondary"
    tts = StallingTTS()
    host = StaticHost(context())
    config = SessionConfig(tts_first_byte_s=1.5)
    session, carrier = await started(host, providers(["Okay, that sounds good to me."], tts=tts, secondary=secondary),
                                     config)  # fmt: skip
    await agent_done(host)
    tts.stalled = True  # after the opener
    await say(session, "Okay, that sounds good to me.")
    await agent_done(host, 2)
    reply = turns(host)[-1]
    assert reply.text.startswith("One moment, please.")
    assert reply.latency_ms["first_audio_sent"] < 1000
    assert "Great, thank you." in reply.text  # said by the secondary voice
    assert host.failures
    assert host.failures[0][:2] == ("tts", "stalling")
    assert not carrier.hung_up.is_set()
    await session.stop()
    assert host.summary.failures
    assert "stalling" in host.summary.failures[0]


class StallingSpeechToText(SimulatedSpeechToText):
    name = "stalling-stt"

    async def transcribe(self, ulaw, *, language=None, prompt=""):
        await asyncio.sleep(3600)


@on_virtual_time
async def test_a_stalled_transcription_gets_the_hold_phrase_within_a_second_then_a_request_to_repeat():
    host = StaticHost(context())
    config = SessionConfig(stt_timeout_s=1.5)
    session, carrier = await started(host, providers(stt=StallingSpeechToText(())), config)
    await agent_done(host)
    before = len(carrier.events("media"))
    await say(session, "Yes, this is me speaking.")
    ended = asyncio.get_running_loop().time()
    await until(lambda: len(carrier.events("media")) > before, what="the hold phrase")
    assert carrier.events("media")[before][0] - ended < 1.0
    await agent_done(host, 3)
    said = [turn.text for turn in turns(host) if turn.role == "agent"]
    assert said[1:] == ["One moment, please.", fallback.DEFAULT_PHRASES["repeat"]]
    assert host.failures[0][:2] == ("stt", "stalling-stt")
    await session.stop()


class FailingLanguageModel(LanguageModel):
    name = "down"

    async def stream_reply(self, request):
        raise ProviderError("down: HTTP 500: internal error", permanent=False)
        yield  # pragma: no cover


@on_virtual_time
async def test_an_unrecoverable_provider_gets_the_goodbye_and_a_clean_hang_up():
    host = StaticHost(context())
    session, carrier = await started(host, providers(["Yes, this is me speaking."], llm=FailingLanguageModel()))
    await agent_done(host)
    await say(session, "Yes, this is me speaking.")
    await within(carrier.hung_up.wait(), what="the session to hang up")
    assert turns(host)[-1].text == fallback.DEFAULT_PHRASES["goodbye"]
    await session.stop()
    assert host.summary.outcome == "provider_failure"
    assert host.failures[0][:2] == ("llm", "down")


@on_virtual_time
async def test_a_machine_after_the_beep_gets_the_voicemail_message_and_a_hang_up():
    host = StaticHost(context(answered_by="machine_end_beep"))
    session, carrier = await started(host, providers())
    await within(carrier.hung_up.wait(), what="the session to hang up")
    assert [t.text for t in turns(host)] == [
        "Hi Maria, this is an automated assistant from Acme Dental. Please call us back."
    ]
    await session.stop()
    assert host.summary.outcome == "voicemail"


@on_virtual_time
async def test_a_verdict_arriving_mid_opener_switches_to_the_voicemail_message():
    host = StaticHost(context())
    session, carrier = await started(host, providers())
    await until(lambda: carrier.events("media"), what="the first frame")
    host.on_answered_by("machine_end_beep")
    await within(carrier.hung_up.wait(), what="the session to hang up")
    assert turns(host)[-1].text.endswith("Please call us back.")
    assert carrier.cleared == 1
    await session.stop()
    assert host.summary.outcome == "voicemail"


@on_virtual_time
async def test_a_human_verdict_changes_nothing():
    host = StaticHost(context(answered_by="human"))
    session, carrier = await started(host, providers())
    host.on_answered_by("human")
    await agent_done(host)
    assert turns(host)[0].text.startswith("Hi Maria")
    assert not carrier.hung_up.is_set()
    await session.stop()


@on_virtual_time
async def test_words_still_being_said_when_the_line_drops_are_transcribed():
    host = StaticHost(context())
    session, _ = await started(host, providers(["Okay, goodbye."]))
    await agent_done(host)
    await say(session, "Okay, goodbye.", trailing_silence_ms=0)
    await session.stop()
    assert turns(host)[-1].role == "contact"
    assert turns(host)[-1].text == "Okay, goodbye."


@on_virtual_time
async def test_frames_of_the_wrong_size_are_reframed_not_fatal():
    host = StaticHost(context())
    session, _ = await started(host, providers())
    await session.on_media(b"\xff" * 100)
    await session.on_media(b"\xff" * 333)
    await session.on_mark("not-a-mark-of-ours")
    await session.stop()
    assert host.summary is not None


class CountingHost(StaticHost):
    def __init__(self, context) -> None:
        super().__init__(context)
        self.ends = 0

    async def call_ended(self, summary) -> None:
        self.ends += 1
        await super().call_ended(summary)


@on_virtual_time
async def test_a_send_on_a_closed_line_never_stops_the_end_from_being_reported_once():
    host = CountingHost(context())
    session, carrier = await started(host, providers())
    await until(lambda: carrier.events("media"), what="the first frame")

    async def gone(payload: bytes) -> None:
        raise OSError("the connection is closed")

    carrier.send_audio = gone  # the callee hung up mid-opener: the socket refuses what the playout sends
    await asyncio.sleep(0.1)
    await asyncio.gather(session.stop(), session.stop())
    await session.stop()
    assert host.ends == 1
    assert host.summary.outcome == "completed"


def white_noise_ulaw(ms: int, dbfs: float, *, seed: int = 7) -> bytes:
    import random

    rng = random.Random(seed)  # noqa: S311 - reproducible noise, not a secret
    sigma = 32768 * 10 ** (dbfs / 20)
    samples = [max(-32768, min(32767, round(rng.gauss(0, sigma)))) for _ in range(ms * codec.SAMPLE_RATE // 1000)]
    return codec.pcm16_to_ulaw(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))


def mix_ulaw(a: bytes, b: bytes) -> bytes:
    """Sum two μ-law signals (the shorter padded with silence)."""
    n = max(len(a), len(b))
    a, b = a.ljust(n, bytes([codec.ULAW_SILENCE])), b.ljust(n, bytes([codec.ULAW_SILENCE]))
    table = codec.ULAW_TO_LINEAR
    pcm = b"".join(
        max(-32768, min(32767, table[x] + table[y])).to_bytes(2, "little", signed=True)
        for x, y in zip(a, b, strict=True)
    )
    return codec.pcm16_to_ulaw(pcm)


@on_virtual_time
async def test_a_late_endpoint_shows_as_a_slow_turn_timed_from_the_last_frame_of_speech():
    """Line noise that the detector takes for speech delays the endpoint: the reply's latency counts that delay
    (from the end of the words, not from the detector's late decision), and says how much of it was the endpoint."""
    host = StaticHost(context())
    config = SessionConfig(turn_taking=TurnTakingConfig(silence_ms=1500))  # a slow endpoint, whatever the VAD
    session, _ = await started(host, providers(["Yes, this is me speaking."]), config)
    await agent_done(host)
    words = speech_like_ulaw("Yes, this is me speaking.")
    line = mix_ulaw(words + silence_ulaw(3000), white_noise_ulaw(len(words) // 8 + 3000, -40))
    for frame in codec.reframe([line]):
        await session.on_media(frame)
        await asyncio.sleep(codec.FRAME_MS / 1000 * SCALE)
    await agent_done(host, 2)
    reply = turns(host)[2]
    assert reply.latency_ms["endpoint"] >= 1500 * SCALE
    assert reply.latency_ms["first_audio_sent"] >= reply.latency_ms["endpoint"]
    assert reply.latency_ms["first_audio_heard"] >= reply.latency_ms["first_audio_sent"]  # beside it, from marks
    await session.stop()
    assert host.summary.latency["endpoint"]["n"] == 1
