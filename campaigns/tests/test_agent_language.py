"""An agent's language and its own wording of the pipeline's phrases reach the call; a callback the callee
asks for on a day the campaign does not call moves to the same time on its next allowed day."""

import datetime
import json
from zoneinfo import ZoneInfo

import pytest

from calls.conversation_host import conversation_context
from calls.models import Call
from campaigns.calling_hours import CallingWindow, callback_instant
from campaigns.models import Agent
from campaigns.tests.test_admin_forms import AGENT_ADD, agent_data, field_errors
from contacts.models import Contact

pytestmark = pytest.mark.django_db
MADRID = ZoneInfo("Europe/Madrid")


def test_a_spanish_agents_call_gets_its_language_and_spanish_phrases_with_its_own_overrides(agent, contact):
    agent.language = "es-ES"
    agent.phrases = {"hold": "Un segundito, por favor."}
    agent.save()
    call = Call.objects.create(contact=contact, agent=agent, to_phone=contact.phone, provider="simulated")
    context, _ = conversation_context(call_id=str(call.pk))
    assert context.voice.language == "es-ES"
    assert context.phrases.hold == "Un segundito, por favor."  # the agent's own
    assert context.phrases.silence_reprompt == "¿Sigue ahí?"  # the Spanish catalogue's
    assert context.phrases.technical_goodbye.startswith("Lo siento, tenemos problemas técnicos.")


def test_a_test_call_without_an_agent_discloses_in_the_contacts_language(contact):
    Contact.objects.filter(pk=contact.pk).update(language="es-MX")
    call = Call.objects.create(contact=contact, to_phone=contact.phone, provider="simulated")
    context, _ = conversation_context(call_id=str(call.pk))
    assert (
        context.first_message
        == "Hola, le habla un asistente automatizado de Callwright. Esta es una llamada de prueba."
    )
    assert context.voice.language == "es-MX"


def test_the_agent_form_refuses_unknown_phrase_keys_and_bad_language_tags(admin_client):
    response = admin_client.post(AGENT_ADD, agent_data(language="Spanish", phrases=json.dumps({"holdd": "Un momento"})))
    assert field_errors(response, "language") == [
        "A language tag such as en-US, es-ES or es-MX (language, then region)."
    ]
    [message] = field_errors(response, "phrases")
    assert message.startswith("Unknown phrase keys holdd; the keys are: disclosure, hold, repeat,")


def test_the_agent_form_keeps_known_phrases(admin_client):
    data = agent_data(
        name="Recordatorios", language="es_mx", phrases=json.dumps({"hold": " Un momento. ", "goodbye": ""})
    )
    response = admin_client.post(AGENT_ADD, data)
    assert response.status_code == 302
    agent = Agent.objects.get(name="Recordatorios")
    assert (agent.language, agent.phrases) == ("es-mx", {"hold": "Un momento."})


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ((2026, 12, 11, 17, 0), (2026, 12, 11, 17, 0)),  # Friday at five: open, kept
        ((2026, 12, 12, 17, 0), (2026, 12, 14, 17, 0)),  # Saturday at five: Monday at five
        ((2026, 12, 11, 20, 30), (2026, 12, 14, 9, 0)),  # after the window every day: its next opening
    ],
)
def test_a_callback_outside_the_campaigns_days_moves_to_the_same_time_on_the_next_allowed_day(requested, expected):
    window = CallingWindow.clamped(datetime.time(9), datetime.time(20), [1, 2, 3, 4, 5])
    at = datetime.datetime(*requested, tzinfo=MADRID)
    assert callback_instant(at, window, [MADRID]) == datetime.datetime(*expected, tzinfo=MADRID)
