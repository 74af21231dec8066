import pytest

from voice import codec
from voice.pipeline.chunker import SentenceChunker
from voice.pipeline.turn_taking import SpeechEnded, TurnDetector
from voice.providers.base import ProviderError
from voice.providers.simulated_speech import (
    CALLER_SCRIPTS,
    SimulatedLanguageModel,
    SimulatedSpeechToText,
    SimulatedTextToSpeech,
    caller_script,
)
from voice.providers.speech import ChatMessage, ReplyRequest, TextDelta, ToolCall, ToolSchema, Usage, VoiceSpec
from voice.synthetic_audio import silence_ulaw, speech_like_ulaw

TOOLS = [ToolSchema(name, name) for name in ("end_call", "opt_out", "schedule_callback", "transfer_to_human")]


def test_the_caller_script_comes_from_the_stream_parameters():
    assert caller_script({"caller_script": "Hi.| Stop calling me. |"}) == ("Hi.", "Stop calling me.")
    assert caller_script({"persona": "opts_out"}) == CALLER_SCRIPTS["opts_out"]
    assert caller_script({"persona": "unknown"}) == CALLER_SCRIPTS["answers"]
    assert caller_script({}) == CALLER_SCRIPTS["answers"]


@pytest.mark.asyncio
async def test_simulated_stt_hears_the_scripted_lines_in_order_and_ignores_noise():
    stt = SimulatedSpeechToText(["Hello?", "Stop calling me."])
    assert (await stt.transcribe(speech_like_ulaw("Hello?"))).text == "Hello?"
    assert (await stt.transcribe(silence_ulaw(100))).text == ""  # a click, not a turn: the script waits
    assert (await stt.transcribe(speech_like_ulaw("Stop calling me."))).text == "Stop calling me."
    assert (await stt.transcribe(speech_like_ulaw("more"))).text == ""


async def reply(llm, said: str, tools=TOOLS):
    request = ReplyRequest("You are a reminder agent.", [ChatMessage("user", said)], "sim", tools)
    return [event async for event in llm.stream_reply(request)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("said", "tool"),
    [
        ("Please stop calling me.", "opt_out"),
        ("No, that's all. Bye.", "end_call"),
        ("Can you call me back tomorrow?", "schedule_callback"),
        ("Can I talk to a real person please?", "transfer_to_human"),
        ("Yes, this is me.", None),
    ],
)
async def test_simulated_llm_replies_by_rule_and_calls_the_offered_tool(said, tool):
    events = await reply(SimulatedLanguageModel(), said)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert text
    assert [c.name for c in calls] == ([tool] if tool else [])
    assert all(c.ok for c in calls)
    assert isinstance(events[-1], Usage)


@pytest.mark.asyncio
async def test_simulated_llm_calls_no_tool_that_was_not_offered():
    events = await reply(SimulatedLanguageModel(), "Stop calling me.", tools=[])
    assert not [e for e in events if isinstance(e, ToolCall)]


@pytest.mark.asyncio
async def test_simulated_llm_streams_word_by_word_so_the_chunker_can_cut_early():
    events = await reply(SimulatedLanguageModel(), "Yes, this is me.")
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3
    chunker = SentenceChunker()
    chunks = [c for d in deltas for c in chunker.push(d)]
    assert chunks  # the first sentence is ready before the stream ends


@pytest.mark.asyncio
async def test_simulated_tts_audio_length_follows_the_text_and_reads_as_speech():
    tts = SimulatedTextToSpeech()
    short = b"".join([c async for c in tts.synthesize("Okay.", VoiceSpec())])
    long = b"".join(
        [c async for c in tts.synthesize("Thank you for your time, we will call you back tomorrow.", VoiceSpec())]
    )
    assert len(long) > 4 * len(short)
    detector = TurnDetector()
    events = [e for f in codec.reframe([silence_ulaw(300) + long + silence_ulaw(800)]) for e in detector.feed(f)]
    assert any(isinstance(e, SpeechEnded) for e in events)


@pytest.mark.asyncio
async def test_the_simulated_stream_hears_the_script_in_endpoint_order_and_fails_what_is_pending_on_close():
    stt = SimulatedSpeechToText(["Hello?", "Who is this?", "Bye."], streaming=True, delay_s=0.01)
    stream = stt.open_stream()
    assert stream is not None
    assert SimulatedSpeechToText(["Hello?"]).open_stream() is None  # streaming is asked for
    stream.push(speech_like_ulaw("hello"))
    first = stream.finish()
    stream.push(b"\xff" * 160)  # 20 ms: noise
    noise = stream.finish()
    stream.push(speech_like_ulaw("who is this"))
    stream.discard()  # not speech after all
    stream.push(speech_like_ulaw("who is this"))
    second = stream.finish()
    assert [(await first).text, (await noise).text, (await second).text] == ["Hello?", "", "Who is this?"]
    stream.push(speech_like_ulaw("bye"))
    last = stream.finish()
    await stream.aclose()
    with pytest.raises(ProviderError):
        await last


def test_without_a_script_the_simulated_caller_speaks_the_calls_language():
    from voice.providers.simulated_speech import caller_script

    assert caller_script({"language": "es-MX"})[0] == "Sí, soy yo."
    assert caller_script({"language": "es-ES", "persona": "callback"})[-1] == "Llámeme mañana a las cinco."
    assert caller_script({"language": "de-DE"})[0] == "Yes, this is me speaking."  # no German caller: English
    assert caller_script({"language": "es", "caller_script": "Hola|Adiós"}) == ("Hola", "Adiós")


@pytest.mark.asyncio
async def test_simulated_llm_follows_a_supervisors_guidance_once():
    llm = SimulatedLanguageModel()
    guided = [ChatMessage.guidance("Mention the discount."), ChatMessage("user", "Yes, this is me.")]
    events = await llm.stream_reply(ReplyRequest("Agent.", guided, "sim", TOOLS)).__anext__()
    assert events.text.startswith("Mention")
    later = [*guided, ChatMessage("assistant", "Mention the discount."), ChatMessage("user", "Yes, this is me.")]
    text = "".join(e.text for e in [e async for e in llm.stream_reply(ReplyRequest("A.", later, "sim", TOOLS))]
                   if isinstance(e, TextDelta))  # fmt: skip
    assert text == "Great, thank you. Is there anything else I can help you with?"
