"""What campaigns answers through calls' hooks: an agent's script, and a callback the callee asked for."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone

from calls.hooks import call_script, request_callback
from calls.models import Call
from campaigns.models import CampaignTarget

pytestmark = pytest.mark.django_db


def test_a_calls_script_is_its_agents(agent):
    agent.can_transfer, agent.transfer_number = True, "+12025550199"
    agent.outcome_schema = {"type": "object", "properties": {"paid": {"type": "boolean"}, "amount": {}}}
    agent.save()
    script = call_script(agent.pk)
    assert (script.system_prompt, script.first_message) == (agent.system_prompt, agent.first_message)
    assert (script.can_transfer, script.transfer_number) == (True, "+12025550199")
    assert script.outcome_fields == ("paid", "amount")


def test_an_agents_silence_timeouts_reach_the_calls_conversation(call, agent):
    from calls.conversation_host import conversation_context

    agent.silence_reprompt_seconds, agent.silence_hang_up_seconds = 5, 12
    agent.save()
    context, _ = conversation_context(call_id=call.pk)
    assert (context.silence_reprompt_s, context.silence_hang_up_s) == (5.0, 12.0)


def test_an_agent_hangs_up_on_silence_only_after_its_reprompt(agent):
    from django.core.exceptions import ValidationError

    agent.silence_reprompt_seconds, agent.silence_hang_up_seconds = 10, 10
    with pytest.raises(ValidationError) as raised:
        agent.validate_constraints()
    assert raised.value.message_dict == {
        "silence_hang_up_seconds": [
            "Reprompt after at least 2 seconds of silence, and hang up later than the reprompt."
        ]
    }


def test_an_unknown_agent_has_no_script(agent):
    assert call_script(agent.pk + 1000) is None


def test_a_callback_asked_for_on_a_campaign_call_moves_its_targets_next_attempt(campaign, contact):
    target = CampaignTarget.objects.create(campaign=campaign, contact=contact, state=CampaignTarget.State.IN_PROGRESS)
    call = Call.objects.create(contact=contact, campaign=campaign, target=target, to_phone=contact.phone, provider="x")
    # Noon at the callee's on a Wednesday to come: inside the campaign's hours and days whatever the hour the
    # test runs (a time outside them is moved to the window's next opening, tested in the gate's tests).
    local = timezone.now().astimezone(zoneinfo.ZoneInfo(contact.time_zone)) + datetime.timedelta(days=1)
    wednesday = local + datetime.timedelta(days=(2 - local.weekday()) % 7)
    at = wednesday.replace(hour=12, minute=0, second=0, microsecond=0)
    assert request_callback(call.pk, at) is True
    assert CampaignTarget.objects.get(pk=target.pk).next_attempt_at == at


def test_a_callback_asked_for_on_a_call_outside_any_campaign_is_refused(call):
    Call.objects.filter(pk=call.pk).update(target=None)
    assert request_callback(call.pk, timezone.now()) is False
