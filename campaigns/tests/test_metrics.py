"""A live campaign's figures in /metrics, from the database at scrape time."""

import datetime

import pytest
from django.utils import timezone

from calls.models import Call, CallStatus
from campaigns.models import Campaign

pytestmark = pytest.mark.django_db


def make_call(campaign, contact, status: str, *, answered: bool = False, outcome: str = "") -> Call:
    now = timezone.now()
    ended = now if status in {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER} else None
    return Call.objects.create(
        campaign=campaign,
        contact=contact,
        agent=campaign.agent,
        to_phone=contact.phone,
        provider="simulated",
        status=status,
        answered_at=now if answered else None,
        ended_at=ended,
        outcome=outcome,
    )


def metric_lines(client) -> set[str]:
    return set(client.get("/metrics").content.decode().splitlines())


def test_a_running_campaigns_calls_connect_rate_and_pace_are_served(client, campaign, contact):
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING, calls_per_second=2)
    make_call(campaign, contact, CallStatus.COMPLETED, answered=True, outcome="paid")
    make_call(campaign, contact, CallStatus.BUSY)
    make_call(campaign, contact, CallStatus.NO_ANSWER)
    make_call(campaign, contact, CallStatus.COMPLETED, answered=True, outcome="paid")
    make_call(campaign, contact, CallStatus.RINGING)
    lines = metric_lines(client)
    c = f'campaign="{campaign.pk}"'
    assert f'callwright_campaign_calls{{{c},outcome="paid",status="completed"}} 2.0' in lines
    assert f'callwright_campaign_calls{{{c},outcome="none",status="busy"}} 1.0' in lines
    assert f"callwright_campaign_connect_ratio{{{c}}} 0.5" in lines  # 2 answered of 4 ended
    assert f"callwright_campaign_calls_per_second{{{c}}} {5 / 60}" in lines
    assert f'callwright_campaign_calls_per_second_cap{{{c},name="Reminders"}} 2.0' in lines
    assert f"callwright_campaign_open_calls{{{c}}} 1.0" in lines
    assert f"callwright_campaign_max_concurrent_calls{{{c}}} 5.0" in lines


def test_a_draft_campaign_without_recent_calls_is_not_served(client, campaign, contact):
    call = make_call(campaign, contact, CallStatus.COMPLETED)
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - datetime.timedelta(days=3))
    assert not any(line.startswith("callwright_campaign_") for line in metric_lines(client))
