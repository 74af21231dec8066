"""End to end: real conversations on the simulated carrier, served by uvicorn, with simulated STT/LLM/TTS.

The carrier tells the simulated STT what its persona says (`caller_script`); everything else is the
production path: the media consumer, the conversation session, the calls-side host and the database.
"""

import pytest

from calls.models import Call, CallEvent, CallStatus, TranscriptTurn
from calls.services import call_create, call_place
from calls.tests.test_simulated_calls import settled
from campaigns.services.dispatch import call_settings
from contacts.models import Suppression
from voice.tests.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("carrier_settings")]


def converse(contact, campaign, *, persona: str, settings) -> Call:
    call = call_create(
        contact_id=contact.pk,
        to_phone=contact.phone,
        provider="simulated",
        campaign_id=campaign.pk,
        agent_id=campaign.agent_id,
        **call_settings(campaign),
    )
    settings.SIMULATED_CARRIER_PERSONA = persona
    call_place(call_id=call.pk)
    call = settled(call)
    # The conversation's last writes follow the stream's end.
    wait_until(
        CallEvent.objects.filter(call=call, provider_event_id="conversation-end").exists,
        what="the conversation to record its end",
    )
    return Call.objects.get(pk=call.pk)


def transcript(call: Call) -> list[tuple[str, str]]:
    return [(turn.role, turn.text) for turn in TranscriptTurn.objects.filter(call=call).order_by("index")]


def test_a_callee_who_talks_holds_a_conversation_with_the_opener_first_and_latency_stored(settings, contact, campaign):
    call = converse(contact, campaign, persona="answers_and_talks", settings=settings)
    assert call.status == CallStatus.COMPLETED
    turns = transcript(call)
    role, opener = turns[0]
    # First, and as far as it was heard (the callee may talk over its last words: then it is cut there).
    assert role == "agent", turns
    assert "Hello, this is an automated assistant calling.".startswith(opener.rstrip("—")), turns
    assert ("contact", "Hello?") in turns
    assert ("contact", "Yes, that's me. Thanks for letting me know.") in turns
    said = [role for role, _ in turns]
    assert said.count("agent") >= 2  # the opener and at least one reply
    reply = TranscriptTurn.objects.filter(call=call, role="agent", index__gt=0).order_by("index").first()
    assert reply.stt_final_ms is not None
    assert reply.llm_first_token_ms is not None
    assert reply.tts_first_byte_ms is not None
    assert reply.first_audio_sent_ms is not None
    assert reply.first_audio_heard_ms is not None
    assert reply.first_audio_sent_ms <= reply.first_audio_heard_ms
    assert call.latency_stats["first_audio_sent"]["n"] >= 1
    assert call.failure_reason == ""
    # The post-call analysis (the simulated model) and the cost follow, as under `make run`.
    wait_until(lambda: Call.objects.get(pk=call.pk).cost is not None, what="the after-call work")
    analysed = Call.objects.get(pk=call.pk)
    assert analysed.analysis_status == "done"
    assert analysed.summary.startswith("The callee said")
    assert analysed.disposition == "reached"
    assert analysed.sentiment in {"positive", "neutral", "negative"}
    assert analysed.cost > 0


def test_a_callee_who_asks_to_be_removed_ends_up_suppressed(settings, contact, campaign):
    call = converse(contact, campaign, persona="asks_removal", settings=settings)
    assert call.status == CallStatus.COMPLETED
    assert call.outcome == "opted_out"
    suppression = Suppression.objects.get(phone=contact.phone)
    assert suppression.source == Suppression.Source.OPT_OUT
    # The key press after the words reaches the model with them, or on its own: either way it is recorded.
    turns = transcript(call)
    assert any(text.startswith("Stop calling me. Take me off your list.") for role, text in turns if role == "contact")
    assert any("pressed 9" in text for _, text in turns)
    assert CallEvent.objects.filter(call=call, provider_event_id__endswith=":opt_out").exists()


def test_a_voicemail_gets_the_agents_message_after_the_beep(settings, contact, campaign):
    campaign.answering_machine_policy = "leave_voicemail"
    campaign.save()
    agent = campaign.agent
    agent.voicemail_message = "Hi {{first_name}}, this is an automated assistant. Please call us back."
    agent.save()
    call = converse(contact, campaign, persona="voicemail", settings=settings)
    assert call.answered_by == "machine_end_beep"
    assert call.outcome == "voicemail"
    said = [text for role, text in transcript(call) if role == "agent"]
    assert said[-1] == "Hi Ada, this is an automated assistant. Please call us back."
    assert call.duration_seconds < 20  # we hung up after the message, not the mailbox's 20 s


def test_a_callee_who_talks_over_the_agent_interrupts_it(settings, contact, campaign):
    call = converse(contact, campaign, persona="interrupts", settings=settings)
    assert call.status == CallStatus.COMPLETED
    turns = transcript(call)
    assert ("contact", "Sorry, who is this?") in turns
    last_words = turns.index(("contact", "No, I already paid that."))
    assert any(role == "agent" for role, _ in turns[last_words + 1 :])  # the agent answered the interruption
    # Whatever was cut short (by the callee talking over it, or hanging up) is stored as far as it was heard.
    cut = TranscriptTurn.objects.filter(call=call, role="agent").exclude(interrupted=False, text__endswith=".")
    assert cut.exists()
