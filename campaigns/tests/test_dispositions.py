"""A disposition's next step on the call's target: callback inside the window, wrong number, do-not-call, close."""

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus, TranscriptTurn
from campaigns.dispositions import target_apply_disposition
from campaigns.models import CampaignTarget
from campaigns.policies import validate_dispositions
from contacts.models import Suppression

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
State = CampaignTarget.State


@pytest.fixture
def ended(call, campaign, contact) -> Call:
    campaign.days_of_week = [1, 2, 3, 4, 5, 6, 7]
    campaign.status = "running"
    campaign.save()
    target = CampaignTarget.objects.create(campaign=campaign, contact=contact, state=State.IN_PROGRESS, attempts=1)
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        target=target, status=CallStatus.COMPLETED, answered_by="human", started_at=now, ended_at=now
    )
    # A conversation the callee heard (the opener played), recorded to its end: settled as answered.
    CallEvent.objects.create(call=call, kind=CallEvent.Kind.MEDIA, provider_event_id="start:MZ1")
    TranscriptTurn.objects.create(
        call=call, index=0, role=TranscriptTurn.Role.AGENT, text="Hello", first_audio_heard_ms=240
    )
    CallEvent.objects.create(call=call, kind=CallEvent.Kind.SYSTEM, provider_event_id="conversation-end")
    call.refresh_from_db()
    return call


def target_of(call: Call) -> CampaignTarget:
    return CampaignTarget.objects.get(pk=call.target_id)


def local_day(days_ahead: int, hour: int, minute: int = 0) -> datetime.datetime:
    day = timezone.now().astimezone(NEW_YORK).date() + datetime.timedelta(days=days_ahead)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=NEW_YORK)


def test_a_callback_at_a_time_inside_the_window_is_dialled_then(ended):
    asked = local_day(2, 15, 30)

    assert target_apply_disposition(call_id=ended.pk, disposition="callback_requested", callback_at=asked) == "callback"

    target = target_of(ended)
    assert target.state == State.PENDING
    assert target.next_attempt_at == asked
    assert target.last_outcome == "callback_requested"
    assert "Callback requested for" in target.state_reason


def test_a_callback_asked_for_late_at_night_waits_for_the_window_to_open(ended):
    asked = local_day(2, 22, 30)  # after the campaign's 20:00 (and the legal 21:00) in the callee's zone

    target_apply_disposition(call_id=ended.pk, disposition="callback_requested", callback_at=asked)

    assert target_of(ended).next_attempt_at == local_day(3, 9)  # the window's 09:00 the next morning


def test_a_callback_with_no_time_asked_comes_a_day_later_inside_the_window(ended):
    target_apply_disposition(call_id=ended.pk, disposition="callback_requested", callback_at=None)

    target = target_of(ended)
    assert target.state == State.PENDING
    local = target.next_attempt_at.astimezone(NEW_YORK)
    assert datetime.time(9) <= local.time() <= datetime.time(20)
    assert target.next_attempt_at >= ended.ended_at + datetime.timedelta(days=1)


def test_a_time_the_conversation_already_scheduled_is_kept(ended):
    scheduled = local_day(1, 11)
    Call.objects.filter(pk=ended.pk).update(outcome="callback_requested")
    CampaignTarget.objects.filter(pk=ended.target_id).update(next_attempt_at=scheduled)

    target_apply_disposition(call_id=ended.pk, disposition="callback_requested", callback_at=local_day(5, 12))

    assert target_of(ended).next_attempt_at == scheduled


def test_a_wrong_number_closes_the_target(ended):
    assert target_apply_disposition(call_id=ended.pk, disposition="wrong_number") == "wrong_number"

    target = target_of(ended)
    assert (target.state, target.next_attempt_at, target.last_outcome) == (State.SKIPPED, None, "wrong_number")
    assert target.state_reason == "Closed after the call: Wrong number"


def test_do_not_call_suppresses_the_number_and_the_target(ended, contact):
    assert target_apply_disposition(call_id=ended.pk, disposition="do_not_call") == "do_not_call"

    assert target_of(ended).state == State.SUPPRESSED
    suppression = Suppression.objects.active().get(phone=contact.phone)
    assert "post-call analysis" in suppression.reason


def test_close_marks_a_retrying_target_done(ended):
    Call.objects.filter(pk=ended.pk).update(answered_by="machine_end_beep")  # settled as voicemail: a retry

    target_apply_disposition(call_id=ended.pk, disposition="not_interested")

    assert target_of(ended).state == State.DONE


def test_none_leaves_the_settlement_as_it_is(ended):
    assert target_apply_disposition(call_id=ended.pk, disposition="reached") == ""

    target = target_of(ended)
    assert (target.state, target.state_reason) == (State.DONE, "Answered by a person")


def test_a_newer_attempt_has_its_own_say(ended, contact, campaign):
    Call.objects.create(contact=contact, campaign=campaign, target_id=ended.target_id, to_phone=contact.phone,
                        provider="simulated")  # fmt: skip

    assert target_apply_disposition(call_id=ended.pk, disposition="wrong_number") == ""
    assert target_of(ended).state != State.SKIPPED


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([], "at least one disposition"),
        ([{"code": "Paid!", "label": "Paid", "next_step": "close"}], "must be lower_snake_case"),
        ([{"code": "paid", "label": "Paid", "next_step": "celebrate"}], "next_step 'celebrate' is not one of"),
        ([{"code": "paid", "label": "Paid", "next_step": "close"}] * 2, "appears twice"),
        ([{"code": "paid", "next_step": "close"}], "give code, label and next_step"),
    ],
)
def test_a_campaigns_dispositions_are_checked_in_words(value, words):
    with pytest.raises(ValidationError, match=words):
        validate_dispositions(value)
