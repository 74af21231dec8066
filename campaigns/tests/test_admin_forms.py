"""The agent and campaign forms answer bad input in words, on the field, with the allowed range.

Each test posts the admin's own form as an operator would and asserts the exact words shown beside
the field (and that they are on the page), never a constraint's name.
"""

import datetime
import json

import pytest
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from campaigns.models import Agent, Campaign
from contacts.models import Contact

pytestmark = pytest.mark.django_db

AGENT_ADD = reverse("admin:campaigns_agent_add")
CAMPAIGN_ADD = reverse("admin:campaigns_campaign_add")
KNOWN = "{{first_name}}, {{last_name}}, {{full_name}}, {{email}}, {{language}}"
DISCLOSURE = (
    "The first message must tell the callee the call is automated: say “automated”, “AI”, “virtual assistant” "
    "or “artificial intelligence” (in Spanish: “automatizado”, “IA”, “asistente virtual” or "
    "“inteligencia artificial”)."
)


def agent_data(**changes: object) -> dict[str, object]:
    data = {
        "name": "Reminders",
        "language": "en-US",
        "system_prompt": "Remind {{first_name}} politely.",
        "first_message": "Hello {{first_name}}, this is an automated assistant.",
        "voicemail_message": "",
        "voice_provider": "elevenlabs",
        "voice_id": "",
        "voice_model": "eleven_flash_v2_5",
        "voice_speed": "1",
        "llm_model": "gpt-4o-mini",
        "llm_temperature": "0.7",
        "can_end_call": "on",
        "can_opt_out": "on",
        "transfer_number": "",
        "can_record_outcome": "on",
        "can_schedule_callback": "on",
        "outcome_schema": "{}",
        "silence_reprompt_seconds": "8",
        "silence_hang_up_seconds": "20",
    }
    return {key: value for key, value in (data | changes).items() if value is not None}


def campaign_data(agent: Agent, **changes: object) -> dict[str, object]:
    data = {
        "name": "November reminders",
        "agent": agent.pk,
        "caller_id": "",
        "purpose": "informational",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "window_start": "09:00",
        "window_end": "20:00",
        "days_of_week": ["1", "2", "3", "4", "5"],
        "max_concurrent_calls": "5",
        "calls_per_second": "1",
        "max_attempts": "3",
        "max_attempts_per_24h": "2",
        "max_attempts_per_7d": "3",
        "retry_policy": json.dumps(Campaign._meta.get_field("retry_policy").get_default()),
        "answering_machine_policy": "leave_voicemail",
        "ring_timeout_seconds": "30",
        "max_call_duration_seconds": "600",
    }
    return {key: value for key, value in (data | changes).items() if value is not None}


def field_errors(response, field: str) -> list[str]:
    """The messages the page shows beside `field` (asserting they are on the page as well)."""
    assert response.status_code == 200, "the form was accepted"
    errors = response.context["adminform"].form.errors.get(field, [])
    content = response.content.decode()
    for message in errors:
        assert escape(message) in content
    assert "is violated" not in content
    return list(errors)


# ---- Agent ------------------------------------------------------------------------------------------


def test_a_valid_agent_is_saved(admin_client):
    response = admin_client.post(AGENT_ADD, agent_data())
    assert response.status_code == 302
    assert Agent.objects.get().name == "Reminders"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("llm_temperature", "2.5", "Temperature is between 0 and 2 (0 = most predictable)."),
        ("llm_temperature", "-0.1", "Temperature is between 0 and 2 (0 = most predictable)."),
        ("voice_speed", "0.4", "Voice speed is between 0.5 and 2 (1 = normal)."),
        ("voice_speed", "3", "Voice speed is between 0.5 and 2 (1 = normal)."),
    ],
)
def test_agent_ranges_are_said_on_their_field(admin_client, field, value, message):
    response = admin_client.post(AGENT_ADD, agent_data(**{field: value}))
    assert field_errors(response, field) == [message]


def test_a_transfer_needs_a_number(admin_client):
    response = admin_client.post(AGENT_ADD, agent_data(can_transfer="on"))
    assert field_errors(response, "transfer_number") == [
        "To transfer, give the human's number (e.g. +14155550123), or untick “transfer to a human”."
    ]


def test_a_transfer_number_is_stored_as_e164(admin_client):
    response = admin_client.post(AGENT_ADD, agent_data(can_transfer="on", transfer_number="(415) 555-0123"))
    assert response.status_code == 302
    assert Agent.objects.get().transfer_number == "+14155550123"


def test_a_transfer_number_that_is_no_number_is_refused_in_words(admin_client):
    response = admin_client.post(AGENT_ADD, agent_data(can_transfer="on", transfer_number="555-1234"))
    assert field_errors(response, "transfer_number") == [
        "'555-1234' is not a valid number for region US. Write it as E.164, e.g. +14155550123."
    ]


@pytest.mark.parametrize(
    "message",
    [
        "Hi {{first_name}}, this is Example Utilities calling about your bill.",
        "Hi, I'm Kai from the clinic.",  # "ai" inside a word is no disclosure
        "Hola, le llamamos de la clínica.",
    ],
)
def test_a_first_message_without_an_ai_disclosure_is_refused(admin_client, message):
    response = admin_client.post(AGENT_ADD, agent_data(first_message=message))
    assert field_errors(response, "first_message") == [DISCLOSURE]


@pytest.mark.parametrize(
    "message",
    [
        "Hello, this is an automated call from the clinic.",
        "Hi! I'm an AI assistant calling for Example Utilities.",
        "Hello, I am a virtual assistant.",
        "Hola, le habla un asistente virtual de la clínica.",
        "Hola, esta es una llamada automatizada.",
        "Hola, soy una IA de la clínica.",
    ],
)
def test_a_first_message_that_discloses_is_accepted(admin_client, message):
    response = admin_client.post(AGENT_ADD, agent_data(first_message=message))
    assert response.status_code == 302


def test_an_outcome_schema_that_is_no_json_schema_is_refused(admin_client):
    response = admin_client.post(AGENT_ADD, agent_data(outcome_schema='{"type": "bogus"}'))
    assert field_errors(response, "outcome_schema") == [
        "Not a valid JSON Schema (draft 2020-12): at type, 'bogus' is not valid under any of the given schemas."
    ]


def test_an_outcome_schema_must_be_an_object(admin_client):
    response = admin_client.post(AGENT_ADD, agent_data(outcome_schema="[1, 2]"))
    assert field_errors(response, "outcome_schema") == [
        'The outcome schema is a JSON object, e.g. {"type": "object", "properties": {"paid": {"type": '
        '"boolean"}}}; {} extracts nothing.'
    ]


def test_a_valid_outcome_schema_is_kept(admin_client):
    schema = {"type": "object", "properties": {"paid": {"type": "boolean"}}, "required": ["paid"]}
    assert admin_client.post(AGENT_ADD, agent_data(outcome_schema=json.dumps(schema))).status_code == 302
    assert Agent.objects.get().outcome_schema == schema


def test_a_mistyped_variable_is_named_with_the_known_ones(admin_client):
    response = admin_client.post(
        AGENT_ADD, agent_data(first_message="Hello {{frist_name}}, this is an automated assistant.")
    )
    assert field_errors(response, "first_message") == [
        f"Unknown variable {{{{frist_name}}}}: no contact has such a field, so it would be spoken as nothing. "
        f"Known: {KNOWN}. For a field only some contacts have, give a fallback: {{{{name | text}}}}."
    ]


def test_custom_fields_of_imported_contacts_are_known_variables(admin_client):
    Contact.objects.create(phone="+12025550143", custom_fields={"Amount Due": "120.00", "clinic": "Acme"})
    prompt = "Tell {{first_name}} that {{amount_due}} is due at {{clinik}} and {{plan}}."
    response = admin_client.post(AGENT_ADD, agent_data(system_prompt=prompt))
    assert field_errors(response, "system_prompt") == [
        "Unknown variables {{clinik}}, {{plan}}: no contact has such a field, so it would be spoken as nothing. "
        f"Known: {KNOWN}, {{{{Amount Due}}}}, {{{{clinic}}}}. For a field only some contacts have, give a "
        "fallback: {{name | text}}."
    ]


def test_a_variable_with_a_fallback_may_be_unknown(admin_client):
    message = "Hello {{nickname | there}}, this is an automated assistant."
    assert admin_client.post(AGENT_ADD, agent_data(first_message=message)).status_code == 302


# ---- Campaign ---------------------------------------------------------------------------------------


def test_a_new_campaign_starts_with_monday_to_friday_ticked(admin_client):
    form = admin_client.get(CAMPAIGN_ADD).context["adminform"].form
    assert form["days_of_week"].value() == [1, 2, 3, 4, 5]
    content = admin_client.get(CAMPAIGN_ADD).content.decode()
    assert content.count('name="days_of_week"') == 7
    assert content.count('name="days_of_week" value="') == 7
    assert all(f'value="{day}" id="id_days_of_week_{day - 1}" checked' in content for day in range(1, 6))


def test_number_inputs_carry_the_rule_so_the_browser_agrees(admin_client):
    content = admin_client.get(CAMPAIGN_ADD).content.decode()
    assert 'name="max_concurrent_calls" value="5" class="vIntegerField" min="1" required' in content
    assert 'name="max_attempts" value="3" class="vIntegerField" min="1" required' in content
    assert 'name="ring_timeout_seconds" value="30" class="vIntegerField" min="5" max="600" required' in content
    assert 'name="calls_per_second" value="1" step="0.01" min="0.01" required' in content
    assert (
        'name="llm_temperature" value="0.7" step="0.01" min="0" max="2"' in admin_client.get(AGENT_ADD).content.decode()
    )


def test_a_valid_campaign_is_saved_with_its_caller_id_in_e164(admin_client, agent):
    response = admin_client.post(CAMPAIGN_ADD, campaign_data(agent, caller_id="(202) 555-0143"))
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.caller_id, campaign.days_of_week) == ("+12025550143", [1, 2, 3, 4, 5])


def test_a_caller_id_that_is_no_number_is_refused_in_words(admin_client, agent):
    response = admin_client.post(CAMPAIGN_ADD, campaign_data(agent, caller_id="555-1234"))
    assert field_errors(response, "caller_id") == [
        "'555-1234' is not a valid number for region US. Write it as E.164, e.g. +14155550123."
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"window_start": "07:30"},
            "window_start",
            "Calls may start at 08:00 callee-local time at the earliest (allowed: 08:00–21:00).",
        ),
        (
            {"window_end": "21:30"},
            "window_end",
            "Calls may end at 21:00 callee-local time at the latest (allowed: 08:00–21:00).",
        ),
        (
            {"window_start": "15:00", "window_end": "10:00"},
            "window_end",
            "The window must end after it starts (15:00).",
        ),
        ({"max_attempts": "0"}, "max_attempts", "At least 1 attempt, or no one is ever called."),
        ({"max_attempts_per_24h": "0"}, "max_attempts_per_24h", "At least 1 attempt, or no one is ever called."),
        ({"max_attempts_per_7d": "0"}, "max_attempts_per_7d", "At least 1 attempt, or no one is ever called."),
        ({"max_concurrent_calls": "0"}, "max_concurrent_calls", "At least 1 call at a time."),
        (
            {"calls_per_second": "0"},
            "calls_per_second",
            "Calls per second must be more than 0, e.g. 0.5 (one call every 2 seconds) or 1.",
        ),
        ({"ring_timeout_seconds": "3"}, "ring_timeout_seconds", "Ring for 5 to 600 seconds."),
        ({"ring_timeout_seconds": "601"}, "ring_timeout_seconds", "Ring for 5 to 600 seconds."),
        ({"max_call_duration_seconds": "5"}, "max_call_duration_seconds", "A call may last at least 10 seconds."),
        ({"days_of_week": []}, "days_of_week", "Tick at least one weekday."),
    ],
)
def test_campaign_rules_are_said_on_their_field(admin_client, agent, changes, field, message):
    response = admin_client.post(CAMPAIGN_ADD, campaign_data(agent, **changes))
    assert field_errors(response, field) == [message]
    assert not Campaign.objects.exists()


def test_the_end_must_come_after_the_start(admin_client, agent):
    start = timezone.now() + datetime.timedelta(days=3)
    end = start - datetime.timedelta(days=1)
    response = admin_client.post(
        CAMPAIGN_ADD,
        campaign_data(agent, starts_at_0=f"{start:%Y-%m-%d}", starts_at_1="09:00", ends_at_0=f"{end:%Y-%m-%d}",
                      ends_at_1="09:00"),
    )  # fmt: skip
    assert field_errors(response, "ends_at") == ["The end must come after the start."]


def test_an_end_in_the_past_is_refused(admin_client, agent):
    response = admin_client.post(CAMPAIGN_ADD, campaign_data(agent, ends_at_0="2020-01-31", ends_at_1="18:00"))
    assert field_errors(response, "ends_at") == [
        "The end (01/31/2020 18:00) is in the past: choose a later time, or leave it empty to run until done."
    ]


def test_a_past_end_may_stay_when_it_is_not_changed(admin_client, agent):
    ended = timezone.make_aware(datetime.datetime(2020, 1, 31, 18))
    campaign = Campaign.objects.create(name="Old", agent=agent, ends_at=ended)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    response = admin_client.post(url, campaign_data(agent, name="Old, renamed", ends_at_0="2020-01-31",
                                                    ends_at_1="18:00:00"))  # fmt: skip
    assert response.status_code == 302
    assert Campaign.objects.get().name == "Old, renamed"


def test_every_check_constraint_speaks_in_words_on_a_field():
    for model in (Agent, Campaign):
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint):
                assert constraint.violation_error_message != constraint.default_violation_error_message
                assert constraint.name not in constraint.violation_error_message
                assert model.CONSTRAINT_FIELDS[constraint.violation_error_code] in {
                    field.name for field in model._meta.fields
                }


def test_a_constraint_error_is_reported_on_its_field_by_model_validation(agent):
    campaign = Campaign(name="x", agent=agent, calls_per_second=0)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the message is asserted below
        campaign.validate_constraints()
    assert raised.value.message_dict == {
        "calls_per_second": ["Calls per second must be more than 0, e.g. 0.5 (one call every 2 seconds) or 1."]
    }
