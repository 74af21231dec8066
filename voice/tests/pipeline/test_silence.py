"""A silent callee: a reprompt in the agent's language after N seconds, a polite goodbye and hang-up after M.

On virtual time: the silence is timed on the loop clock, scaled like the carrier's pacing."""

import pytest

from voice.phrases import phrases_for
from voice.pipeline.host import StaticHost
from voice.pipeline.silence import SilenceWatch, silence_phrases
from voice.providers.speech import VoiceSpec
from voice.tests.pipeline.test_conversation import SCALE, agent_done, context, providers, quiet, say, started, turns
from voice.tests.virtual_time import on_virtual_time
from voice.tests.waiting import within


def agent_said(host: StaticHost) -> list[str]:
    return [turn.text for turn in turns(host) if turn.role == "agent"]


@on_virtual_time
async def test_silence_gets_a_reprompt_then_a_polite_goodbye_and_outcome_no_response():
    host = StaticHost(context(silence_reprompt_s=8, silence_hang_up_s=20))
    session, carrier = await started(host, providers())
    await agent_done(host)
    opener_heard = carrier.events("mark")[-1][0]
    await within(carrier.hung_up.wait(), what="the hang-up")
    said = agent_said(host)
    assert said[1:] == ["Are you still there?", "It seems this isn't a good time. I'll let you go now. Goodbye."]
    frames = [at for at, kind, _ in carrier.sent if kind == "media" and at > opener_heard]
    reprompt_at = frames[0] - opener_heard
    tick = 8 * SCALE / 40  # how precisely the silence is counted
    assert 8 * SCALE - tick <= reprompt_at <= 8 * SCALE + 2 * tick
    await session.stop()
    assert host.summary.outcome == "no_response"
    assert "first_audio_sent" not in host.summary.latency  # a reprompt is no reply to anyone


@on_virtual_time
async def test_the_phrases_follow_the_agents_language():
    spanish = VoiceSpec(language="es-MX")
    host = StaticHost(context(silence_reprompt_s=3, silence_hang_up_s=6, voice=spanish, phrases=phrases_for("es-MX")))
    session, carrier = await started(host, providers())
    await within(carrier.hung_up.wait(), what="the hang-up")
    assert agent_said(host)[1:] == ["¿Sigue ahí?", "Parece que no es un buen momento. Lo dejo por ahora. Adiós."]
    await session.stop()


@on_virtual_time
async def test_an_answer_after_the_reprompt_restarts_the_count():
    host = StaticHost(context(silence_reprompt_s=3, silence_hang_up_s=6))
    session, carrier = await started(host, providers(["Yes, sorry, I'm here."]))
    await agent_done(host)
    await agent_done(host, 2)
    assert agent_said(host)[-1] == "Are you still there?"
    await say(session, "Yes, sorry, I'm here.")
    await agent_done(host, 3)
    await quiet(session, 4000)  # more than the time left before the old hang-up
    assert not carrier.hung_up.is_set()
    await session.stop()
    assert host.summary.outcome == "completed"


def test_the_reprompt_must_come_before_the_hang_up():
    with pytest.raises(ValueError, match="before the hang-up"):
        SilenceWatch(reprompt_s=20, hang_up_s=8, time_scale=1, busy=bool, reprompt=print, give_up=print)
    assert silence_phrases("pt-BR").reprompt == "Ainda está aí?"
    assert silence_phrases("xx").reprompt == "Are you still there?"
