"""A campaign end to end: launch, dispatch, the simulated carrier over the real server, settlement.

The carrier places each call from this process against the app served as in production (uvicorn,
config.server) on the test database; status callbacks there settle the targets (Celery runs eagerly
in that process).
"""

import datetime
import time

import pytest
from django.utils import timezone

from calls.models import Call, CallStatus
from campaigns.models import Campaign, CampaignTarget
from campaigns.pacing import InProcessTokenBucket
from campaigns.services import campaign_launch, campaigns_dispatch_due
from contacts.models import Contact, Suppression

pytestmark = pytest.mark.django_db(transaction=True)
State = CampaignTarget.State


def zone_at_noon(now: datetime.datetime) -> str:
    """An IANA zone where it is about noon right now, so the test runs inside the window at any hour."""
    offset = 12 - now.hour
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs


def wait_for_settlement(campaign: Campaign, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not CampaignTarget.objects.filter(campaign=campaign, state=State.IN_PROGRESS).exists():
            return
        time.sleep(0.2)
    targets = list(CampaignTarget.objects.values_list("contact__phone", "state", "state_reason"))
    calls = [
        (call.to_phone, call.status, call.failure_reason, list(call.events.values_list("provider_event_id", flat=True)))
        for call in Call.objects.all()
    ]
    raise AssertionError(f"targets {targets}; calls {calls}")


def test_a_launched_campaign_dials_settles_and_retries_by_outcome(carrier_settings, agent, contact_list):
    now = timezone.now()
    zone = zone_at_noon(now)
    phones = {"+12025550143": "answers", "+12025550110": "busy", "+12025550121": "no answer", "+12025550199": "dnc"}
    for phone in phones:
        Contact.objects.create(phone=phone, time_zone=zone).lists.add(contact_list)
    Suppression.objects.create(phone="+12025550199", source=Suppression.Source.ADMIN, reason="asked by letter")
    campaign = Campaign.objects.create(
        name="End to end", agent=agent, days_of_week=[1, 2, 3, 4, 5, 6, 7], ring_timeout_seconds=20,
        max_concurrent_calls=10, calls_per_second=10,
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    campaign_launch(campaign_id=campaign.pk)

    [result] = campaigns_dispatch_due(bucket=InProcessTokenBucket())
    assert len(result.call_ids) == 3
    assert result.turned_away == {"suppressed": 1}
    wait_for_settlement(campaign)

    by_phone = {t.contact.phone: t for t in CampaignTarget.objects.select_related("contact")}
    assert by_phone["+12025550143"].state == State.DONE
    assert by_phone["+12025550199"].state == State.SUPPRESSED
    for phone, outcome in (("+12025550110", "busy"), ("+12025550121", "no_answer")):
        target = by_phone[phone]
        call = Call.objects.get(target=target)
        delay = campaign.retry_policy[outcome]["delay_minutes"]
        assert (target.state, target.last_outcome, target.attempts) == (State.PENDING, outcome, 1)
        assert target.next_attempt_at == call.ended_at + datetime.timedelta(minutes=delay)
    assert sorted(Call.objects.values_list("status", flat=True)) == sorted(
        [CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER]
    )
    # Nothing is due again yet: the next tick dials no one, and the campaign keeps running.
    [again] = campaigns_dispatch_due(bucket=InProcessTokenBucket())
    assert again.call_ids == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
