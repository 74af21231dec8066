"""A Spanish conversation end to end on the simulated carrier: the agent speaks Spanish, the callee answers in
Spanish (the stream's `language` parameter), the pipeline's own phrases and tools work in Spanish."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from calls.models import Call, CallEvent, CallStatus, TranscriptTurn
from calls.services import call_create, call_place
from calls.tests.test_simulated_calls import settled
from campaigns.models import Agent, Campaign, CampaignTarget
from campaigns.services.dispatch import call_settings
from contacts.models import Contact, Suppression
from voice.tests.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("carrier_settings")]
MADRID = ZoneInfo("Europe/Madrid")
OPENER = "Hola {{first_name}}, le habla un asistente virtual de la clínica Acme. Le llamo por su cita."


@pytest.fixture
def spanish_target(db) -> CampaignTarget:
    contact = Contact.objects.create(
        first_name="Lucía", last_name="Martín", phone="+34600000006", time_zone="Europe/Madrid", country="ES",
        language="es-ES",
    )  # fmt: skip
    agent = Agent.objects.create(
        name="Recordatorios", language="es-ES", system_prompt="Recuerde la cita a {{first_name}}.", first_message=OPENER
    )
    campaign = Campaign.objects.create(name="Recordatorios de citas", agent=agent)
    return CampaignTarget.objects.create(campaign=campaign, contact=contact, state="in_progress")


def converse(target: CampaignTarget, *, persona: str, settings) -> Call:
    contact, campaign = target.contact, target.campaign
    call = call_create(
        contact_id=contact.pk, to_phone=contact.phone, provider="simulated", campaign_id=campaign.pk,
        agent_id=campaign.agent_id, target_id=target.pk, **call_settings(campaign),
    )  # fmt: skip
    settings.SIMULATED_CARRIER_PERSONA = persona
    call_place(call_id=call.pk)
    call = settled(call)
    wait_until(
        CallEvent.objects.filter(call=call, provider_event_id="conversation-end").exists,
        what="the conversation to record its end",
    )
    return Call.objects.get(pk=call.pk)


def transcript(call: Call) -> list[tuple[str, str]]:
    return [(turn.role, turn.text) for turn in TranscriptTurn.objects.filter(call=call).order_by("index")]


def test_the_opener_and_its_disclosure_are_spanish_and_the_callee_answers_in_spanish(settings, spanish_target):
    call = converse(spanish_target, persona="answers_and_talks", settings=settings)
    assert call.status == CallStatus.COMPLETED
    turns = transcript(call)
    role, opener = turns[0]
    assert role == "agent"
    assert "Hola Lucía, le habla un asistente virtual de la clínica Acme.".startswith(opener.rstrip("—")[:40]), turns
    assert ("contact", "Sí, soy yo. Gracias por avisarme.") in turns
    replies = [text for role, text in turns[1:] if role == "agent"]
    assert replies
    assert all("Gracias" in text or "¿" in text or "Adiós" in text for text in replies), replies


def test_no_me_llame_mas_suppresses_the_number_before_the_call_ends(settings, spanish_target):
    call = converse(spanish_target, persona="asks_removal", settings=settings)
    assert call.outcome == "opted_out"
    suppression = Suppression.objects.get(phone=spanish_target.contact.phone)
    assert suppression.source == Suppression.Source.OPT_OUT
    assert suppression.created_at < call.ended_at  # suppressed during the call, not after it
    turns = transcript(call)
    assert any(text.startswith("No me llame más.") for role, text in turns if role == "contact"), turns
    # The agent's Spanish goodbye, as far as it was heard before the callee hung up.
    assert any(role == "agent" and text.startswith("Entendido.") for role, text in turns), turns


def test_llameme_manana_a_las_cinco_schedules_the_callback_at_17_local_on_the_next_allowed_day(
    settings, spanish_target
):
    asked_at = datetime.datetime.now(MADRID)
    call = converse(spanish_target, persona="asks_callback", settings=settings)
    assert call.outcome == "callback_requested"
    assert ("contact", "Ahora estoy conduciendo. Llámeme mañana a las cinco.") in transcript(call)
    day = asked_at.date() + datetime.timedelta(days=1)
    while day.isoweekday() not in spanish_target.campaign.days_of_week:
        day += datetime.timedelta(days=1)
    expected = datetime.datetime.combine(day, datetime.time(17, 0), tzinfo=MADRID)
    spanish_target.refresh_from_db()
    assert spanish_target.next_attempt_at == expected
    event = CallEvent.objects.get(call=call, provider_event_id__startswith="callback:")
    assert event.payload["when"] == "Ahora estoy conduciendo. Llámeme mañana a las cinco."
