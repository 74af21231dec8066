"""A finished call settles its target: done, a retry at the policy's delay, or exhausted."""

import datetime

import pytest
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus, TranscriptTurn
from campaigns.models import Campaign, CampaignTarget
from campaigns.services import target_settle, targets_settle_stragglers
from contacts.models import Contact

pytestmark = pytest.mark.django_db
State = CampaignTarget.State


@pytest.fixture
def target(campaign, contact) -> CampaignTarget:
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    return CampaignTarget.objects.create(campaign=campaign, contact=contact, state=State.IN_PROGRESS, attempts=1)


def finished_call(
    target: CampaignTarget, status: str, answered_by: str = "", *, placed: bool = True, heard: bool = True
) -> Call:
    """A finished call of `target`; an answered one whose callee heard the agent's opener unless `heard` is off."""
    call = Call.objects.create(
        contact=target.contact,
        campaign=target.campaign,
        target=target,
        to_phone=target.contact.phone,
        provider="simulated",
    )
    ended = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        status=status, answered_by=answered_by, ended_at=ended, started_at=ended if placed else None
    )
    if status == CallStatus.COMPLETED and heard:
        record_conversation(call, opener_heard=True)
    return call


def record_conversation(call: Call, *, opener_heard: bool, ended: bool = True) -> None:
    """What a media stream leaves: its start, the opener's turn (played to the callee or not), its end."""
    CallEvent.objects.create(call=call, kind=CallEvent.Kind.MEDIA, provider_event_id="start:MZ1")
    TranscriptTurn.objects.create(
        call=call, index=0, role=TranscriptTurn.Role.AGENT, text="Hello, this is an automated call",
        first_audio_heard_ms=240 if opener_heard else None,
    )  # fmt: skip
    if ended:
        CallEvent.objects.create(call=call, kind=CallEvent.Kind.SYSTEM, provider_event_id="conversation-end")


def settle(call: Call) -> CampaignTarget:
    target_settle(call_id=call.pk)
    return CampaignTarget.objects.get(pk=call.target_id)


def test_a_person_answering_closes_the_target_as_done(target):
    settled = settle(finished_call(target, CallStatus.COMPLETED, "human"))
    assert (settled.state, settled.last_outcome) == (State.DONE, "answered")


@pytest.mark.parametrize("opener_played", [False, True], ids=["no-media-stream", "opener-never-played"])
def test_a_person_answering_who_heard_nothing_is_retried_under_the_failed_policy(target, opener_played):
    call = finished_call(target, CallStatus.COMPLETED, "human", heard=False)
    if opener_played:  # the stream came, but the line dropped before a frame of the opener played
        record_conversation(call, opener_heard=False)
    settled = settle(call)
    assert (settled.state, settled.last_outcome) == (State.PENDING, "failed")
    delay = target.campaign.retry_policy["failed"]["delay_minutes"]
    assert settled.next_attempt_at == Call.objects.get(pk=call.pk).ended_at + datetime.timedelta(minutes=delay)


def test_an_answered_call_whose_conversation_is_still_recording_waits_for_the_sweep(target):
    call = ended_minutes_ago(finished_call(target, CallStatus.COMPLETED, "human", heard=False), 5)
    record_conversation(call, opener_heard=False, ended=False)  # its end (and turns) not yet written
    assert target_settle(call_id=call.pk) is None
    assert CampaignTarget.objects.get(pk=target.pk).state == State.IN_PROGRESS
    assert targets_settle_stragglers() == 1  # the sweep settles with what was recorded by then
    assert CampaignTarget.objects.get(pk=target.pk).last_outcome == "failed"


def test_failed_attempts_count_answered_calls_nobody_heard(target):
    for _ in range(target.campaign.retry_policy["failed"]["max_attempts"]):
        CampaignTarget.objects.filter(pk=target.pk).update(state=State.IN_PROGRESS)
        settled = settle(finished_call(target, CallStatus.COMPLETED, "human", heard=False))
    assert (settled.state, settled.last_outcome) == (State.EXHAUSTED, "failed")


@pytest.mark.parametrize(
    ("status", "answered_by", "outcome"),
    [
        (CallStatus.BUSY, "", "busy"),
        (CallStatus.NO_ANSWER, "", "no_answer"),
        (CallStatus.FAILED, "", "failed"),
        (CallStatus.COMPLETED, "machine_end_beep", "voicemail"),
    ],
)
def test_each_outcome_retries_after_its_own_delay(target, status, answered_by, outcome):
    call = finished_call(target, status, answered_by)
    settled = settle(call)
    delay = target.campaign.retry_policy[outcome]["delay_minutes"]
    assert (settled.state, settled.last_outcome) == (State.PENDING, outcome)
    call.refresh_from_db()
    assert settled.next_attempt_at == call.ended_at + datetime.timedelta(minutes=delay)


def test_campaign_time_scale_shortens_the_retry_delay_and_the_reason_keeps_the_policys_words(target, settings):
    settings.CAMPAIGN_TIME_SCALE = 1 / 60  # a minute of campaign time per second
    call = finished_call(target, CallStatus.BUSY)
    settled = settle(call)
    call.refresh_from_db()
    delay = target.campaign.retry_policy["busy"]["delay_minutes"]
    assert settled.next_attempt_at == call.ended_at + datetime.timedelta(seconds=delay)
    assert settled.state_reason == f"Retry after busy in {delay} min"


def test_an_outcome_out_of_retries_exhausts_the_target(target):
    policy = target.campaign.retry_policy | {"busy": {"delay_minutes": 30, "max_attempts": 2}}
    Campaign.objects.filter(pk=target.campaign_id).update(retry_policy=policy)
    finished_call(target, CallStatus.BUSY)  # an earlier busy attempt
    settled = settle(finished_call(target, CallStatus.BUSY))
    assert settled.state == State.EXHAUSTED
    assert "busy (2×)" in settled.state_reason


def test_lifetime_attempts_exhaust_the_target_whatever_the_outcome(target):
    CampaignTarget.objects.filter(pk=target.pk).update(attempts=target.campaign.max_attempts)
    assert settle(finished_call(target, CallStatus.NO_ANSWER)).state == State.EXHAUSTED


def test_settling_twice_changes_nothing(target):
    call = finished_call(target, CallStatus.BUSY)
    first = settle(call)
    assert target_settle(call_id=call.pk) is None
    assert CampaignTarget.objects.get(pk=target.pk).next_attempt_at == first.next_attempt_at


def test_a_call_still_open_settles_nothing(target):
    call = Call.objects.create(
        contact=target.contact, target=target, to_phone=target.contact.phone, provider="simulated"
    )
    assert target_settle(call_id=call.pk) is None
    assert CampaignTarget.objects.get(pk=target.pk).state == State.IN_PROGRESS


def test_a_dial_withdrawn_before_placement_gives_the_attempt_back(target):
    settled = settle(finished_call(target, CallStatus.CANCELED, placed=False))
    assert (settled.state, settled.attempts) == (State.PENDING, 0)


def test_after_cancellation_a_failed_call_is_not_retried(target):
    Campaign.objects.filter(pk=target.campaign_id).update(status=Campaign.Status.CANCELLED)
    assert settle(finished_call(target, CallStatus.NO_ANSWER)).state == State.SKIPPED


def test_a_callback_the_callee_asked_for_keeps_the_target_pending_at_that_time(target):
    asked_for = timezone.now() + datetime.timedelta(days=1)
    CampaignTarget.objects.filter(pk=target.pk).update(next_attempt_at=asked_for)
    call = finished_call(target, CallStatus.COMPLETED, "human")
    Call.objects.filter(pk=call.pk).update(outcome="callback_requested")
    settled = settle(call)
    assert (settled.state, settled.next_attempt_at, settled.last_outcome) == (
        State.PENDING, asked_for, "callback_requested"
    )  # fmt: skip


def test_a_callee_who_opted_out_is_shown_as_opted_out_not_done(target, admin_client):
    call = finished_call(target, CallStatus.COMPLETED, "human")
    Call.objects.filter(pk=call.pk).update(outcome="opted_out")
    settled = settle(call)
    assert (settled.state, settled.last_outcome, settled.state_reason) == (
        State.SUPPRESSED, "opted_out", "Opted out during the call"
    )  # fmt: skip
    page = admin_client.get("/admin/campaigns/campaigntarget/").content.decode()
    assert "Opted out during the call" in page
    assert '<td class="field-outcome">Opted out</td>' in page
    assert "Answered by a person" not in page


@pytest.fixture
def other_contact() -> Contact:
    return Contact.objects.create(first_name="Grace", phone="+12025550144", time_zone="America/New_York", country="US")


def ended_minutes_ago(call: Call, minutes: float) -> Call:
    Call.objects.filter(pk=call.pk).update(ended_at=timezone.now() - datetime.timedelta(minutes=minutes))
    return call


def test_the_sweep_settles_a_target_whose_settlement_was_lost(target):
    ended_minutes_ago(finished_call(target, CallStatus.COMPLETED, "human"), 5)  # and no settle task ran
    assert targets_settle_stragglers() == 1
    assert CampaignTarget.objects.get(pk=target.pk).state == State.DONE
    assert targets_settle_stragglers() == 0  # settled once


def test_the_sweep_leaves_targets_whose_call_is_open_or_just_ended(target, campaign, other_contact):
    earlier = ended_minutes_ago(finished_call(target, CallStatus.BUSY), 30)
    Call.objects.create(  # the retry, still ringing
        contact=target.contact, campaign=campaign, target=target, to_phone=target.contact.phone, provider="simulated"
    )
    other = CampaignTarget.objects.create(campaign=campaign, contact=other_contact, state=State.IN_PROGRESS, attempts=1)
    finished_call(other, CallStatus.NO_ANSWER)  # ended now: its own settlement is still on its way
    assert targets_settle_stragglers() == 0
    assert set(CampaignTarget.objects.values_list("state", flat=True)) == {State.IN_PROGRESS}
    assert earlier.target_id == target.pk


def test_the_settle_task_settles_every_call_it_is_given_even_after_one_fails(target, campaign, other_contact):
    from campaigns.tasks import settle_targets

    other = CampaignTarget.objects.create(campaign=campaign, contact=other_contact, state=State.IN_PROGRESS, attempts=1)
    calls = [finished_call(target, CallStatus.COMPLETED, "human"), finished_call(other, CallStatus.BUSY)]
    settle_targets.delay(["not-a-uuid", *(str(call.pk) for call in calls)])
    assert CampaignTarget.objects.get(pk=target.pk).state == State.DONE
    assert CampaignTarget.objects.get(pk=other.pk).state == State.PENDING
