"""After a crash, nothing is lost and nothing is stuck: dead calls give their slots back, and calls never placed
give their targets the attempt back — through the real dispatcher, reaper and settlement."""

import datetime
import time
import uuid

import pytest
from django.core.cache import cache
from django.utils import timezone

from calls.models import Call, CallStatus
from calls.tasks import place_call, reap_stale_calls
from calls.tests.conftest import twilio_settings  # noqa: F401 - a fixture: the real adapter, its fake API
from campaigns.gate import load_gate_context
from campaigns.models import CampaignTarget
from campaigns.services import campaign_dispatch
from campaigns.tests.test_dispatch import MONDAY_10_NEW_YORK, fresh_bucket, make_campaign, numbers
from voice.providers.simulated.carrier import LIVE_TTL_SECONDS, missing_key

pytestmark = pytest.mark.django_db
State = CampaignTarget.State
A_MINUTE_AGO = datetime.timedelta(minutes=1)


def dispatch(campaign, **options) -> list[str]:
    options.setdefault("enqueue_call", lambda _id: None)  # the process dies before queueing place_call
    return campaign_dispatch(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=fresh_bucket(), **options).call_ids


def test_a_call_whose_carrier_process_died_is_closed_and_frees_its_campaigns_slot(
    agent, contact_list, django_capture_on_commit_callbacks
):
    campaign = make_campaign(agent, contact_list, phones=numbers(2), max_concurrent_calls=1)
    (first,) = dispatch(campaign)
    sid = "CA" + uuid.uuid4().hex
    then = timezone.now() - A_MINUTE_AGO
    Call.objects.filter(pk=first).update(status=CallStatus.IN_PROGRESS, provider_call_id=sid, started_at=then)
    assert dispatch(campaign) == []  # the one slot is held by the call in progress
    cache.set(missing_key(sid), time.time() - LIVE_TTL_SECONDS)  # no heartbeat for a whole time-to-live

    with django_capture_on_commit_callbacks(execute=True):
        assert reap_stale_calls() == 1

    dead = Call.objects.get(pk=first)
    assert dead.status == CallStatus.FAILED
    assert CampaignTarget.objects.get(pk=dead.target_id).state == State.PENDING  # retried under the failed policy
    assert len(dispatch(campaign)) == 1  # the slot is free again


@pytest.mark.usefixtures("twilio_settings")
def test_a_call_left_queued_by_a_crash_after_the_commit_is_cancelled_and_the_attempt_given_back(
    agent, contact_list, fake_twilio, django_capture_on_commit_callbacks
):
    campaign = make_campaign(agent, contact_list, phones=numbers(1), max_concurrent_calls=5)
    (call_id,) = dispatch(campaign)
    Call.objects.filter(pk=call_id).update(created_at=timezone.now() - A_MINUTE_AGO)

    with django_capture_on_commit_callbacks(execute=True):
        assert reap_stale_calls() == 1

    call = Call.objects.get(pk=call_id)
    assert (call.status, call.started_at) == (CallStatus.CANCELED, None)
    target = CampaignTarget.objects.get(pk=call.target_id)
    assert (target.state, target.attempts) == (State.PENDING, 0)
    context = load_gate_context(campaign=campaign, targets=[], now=timezone.now())
    assert context.history == {}  # a call that reached nobody counts against no cap
    place_call(call_id)  # the lost message turns up after all: nothing is dialled
    assert fake_twilio.requests == []
    assert Call.objects.get(pk=call_id).status == CallStatus.CANCELED


def test_a_call_queued_moments_ago_is_left_to_its_place_call(agent, contact_list):
    campaign = make_campaign(agent, contact_list, phones=numbers(1))
    (call_id,) = dispatch(campaign)
    assert reap_stale_calls() == 0
    assert Call.objects.get(pk=call_id).status == CallStatus.QUEUED


def test_a_broker_error_when_queueing_costs_only_that_call_which_the_sweep_then_gives_back(
    agent, contact_list, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from kombu.exceptions import OperationalError

    from campaigns.services import dispatch as dispatcher

    def broker_down(*_args: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(dispatcher.place_call_task, "delay", broker_down)
    campaign = make_campaign(agent, contact_list, phones=numbers(2), max_concurrent_calls=5)
    with django_capture_on_commit_callbacks(execute=True):
        call_ids = dispatch(campaign, enqueue_call=dispatcher.enqueue_place_call)
    assert len(call_ids) == 2
    assert [r.getMessage().startswith("could not queue call") for r in caplog.records] == [True, True]
    assert all(record.exc_info is None for record in caplog.records)  # one line each, no traceback
    Call.objects.update(created_at=timezone.now() - A_MINUTE_AGO)
    with django_capture_on_commit_callbacks(execute=True):
        assert reap_stale_calls() == 2
    assert set(CampaignTarget.objects.values_list("state", "attempts")) == {(State.PENDING, 0)}
