"""The blocks composed the way a conversation session will: caller audio in, agent frames out, no keys."""

import pytest

from voice import codec
from voice.pipeline.chunker import SentenceChunker
from voice.pipeline.templating import render, template_variables
from voice.pipeline.turn_taking import SpeechEnded, TurnDetector, Utterance, classify_utterance
from voice.providers.simulated_speech import (
    SimulatedLanguageModel,
    SimulatedSpeechToText,
    SimulatedTextToSpeech,
    caller_script,
)
from voice.providers.speech import ChatMessage, ReplyRequest, TextDelta, ToolCall, ToolSchema, VoiceSpec
from voice.synthetic_audio import silence_ulaw, speech_like_ulaw


@pytest.mark.asyncio
async def test_a_scripted_caller_who_opts_out_gets_a_goodbye_and_an_opt_out_tool_call():
    parameters = {"persona": "opts_out"}
    stt, llm, tts = SimulatedSpeechToText(caller_script(parameters)), SimulatedLanguageModel(), SimulatedTextToSpeech()
    opener = render("Hi {{first_name}}, this is an automated assistant from {{clinic}}.",
                    template_variables({"first_name": "Maria"}, {"clinic": "Acme Dental"}))  # fmt: skip
    messages = [ChatMessage("assistant", opener.text)]
    detector = TurnDetector()
    tools = [ToolSchema("opt_out", "Opt the callee out."), ToolSchema("end_call", "End the call.")]
    called: list[ToolCall] = []
    frames_out: list[bytes] = []

    for line in caller_script(parameters):
        caller_audio = silence_ulaw(300) + speech_like_ulaw(line) + silence_ulaw(700)
        ended = [e for f in codec.reframe([caller_audio]) for e in detector.feed(f) if isinstance(e, SpeechEnded)]
        assert len(ended) == 1
        heard = (await stt.transcribe(ended[0].audio)).text
        assert classify_utterance(heard, agent_speaking=False) is Utterance.TURN
        messages.append(ChatMessage("user", heard))
        chunker, reply = SentenceChunker(), []
        async for event in llm.stream_reply(ReplyRequest("Be brief.", messages, "sim", tools)):
            if isinstance(event, TextDelta):
                reply.extend(chunker.push(event.text))
            elif isinstance(event, ToolCall):
                called.append(event)
        reply.extend(filter(None, [chunker.flush()]))
        for sentence in reply:
            frames_out.extend([frame async for frame in codec.areframe(tts.synthesize(sentence, VoiceSpec()))])
        messages.append(ChatMessage("assistant", " ".join(reply)))

    assert [call.name for call in called] == ["opt_out"]
    assert "don't call you again" in messages[-1].content
    assert frames_out
    assert {len(frame) for frame in frames_out} == {160}
