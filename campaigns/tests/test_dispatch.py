"""The dispatcher dials what may be dialled now, at the allowed pace, and never a target twice."""

import datetime
import threading

import pytest
from django.db import connection, connections, transaction
from django.db.models import Count

from calls.models import Call, CallStatus
from campaigns.models import Campaign, CampaignTarget
from campaigns.pacing import InProcessTokenBucket
from campaigns.services import (
    campaign_cancel,
    campaign_dispatch,
    campaign_launch,
    campaign_pause,
    campaigns_dispatch_due,
)
from campaigns.services.dispatch import DispatchResult, _dispatch_batch
from contacts.models import Contact, Suppression

UTC = datetime.UTC
MONDAY_10_NEW_YORK = datetime.datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
State = CampaignTarget.State


class FrozenClock:
    def __call__(self) -> float:
        return 0.0


def fresh_bucket() -> InProcessTokenBucket:
    return InProcessTokenBucket(FrozenClock())  # full at first, never refills: one tick's worth


def make_campaign(agent, contact_list, *, phones: list[str], zone: str = "America/New_York", **fields) -> Campaign:
    for phone in phones:
        Contact.objects.create(phone=phone, time_zone=zone).lists.add(contact_list)
    campaign = Campaign.objects.create(name=f"Dial {len(phones)}", agent=agent, **fields)
    campaign.contact_lists.add(contact_list)
    campaign_launch(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK)
    return campaign


def numbers(count: int, start: int = 100) -> list[str]:
    return [f"+1202555{n:04d}" for n in range(start, start + count)]


@pytest.mark.django_db
def test_a_tick_dials_due_targets_and_enqueues_each_call_after_commit(
    agent, contact_list, django_capture_on_commit_callbacks
):
    campaign = make_campaign(agent, contact_list, phones=numbers(3), max_concurrent_calls=10, calls_per_second=5)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [result] = campaigns_dispatch_due(now=MONDAY_10_NEW_YORK, bucket=fresh_bucket())
    assert len(result.call_ids) == 3
    assert len(callbacks) == 3  # one place_call per Call, only after commit
    assert set(Call.objects.values_list("status", flat=True)) == {CallStatus.QUEUED}
    assert list(CampaignTarget.objects.values_list("state", "attempts").distinct()) == [(State.IN_PROGRESS, 1)]
    call = Call.objects.first()
    assert (call.campaign_id, call.agent_id, call.provider) == (campaign.pk, agent.pk, "simulated")


@pytest.mark.django_db
def test_each_call_carries_its_campaigns_placing_settings(agent, contact_list, settings):
    campaign = make_campaign(
        agent,
        contact_list,
        phones=numbers(1),
        caller_id="+12025550100",
        ring_timeout_seconds=20,
        max_call_duration_seconds=120,
        answering_machine_policy=Campaign.AnsweringMachinePolicy.HANG_UP,
        record_calls=True,
    )
    campaign_dispatch(
        campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=fresh_bucket(), enqueue_call=lambda _id: None
    )
    call = Call.objects.get()
    assert (call.from_phone, call.ring_timeout_seconds, call.max_duration_seconds) == ("+12025550100", 20, 120)
    assert (call.answering_machine_policy, call.record) == ("hang_up", True)


@pytest.mark.django_db
def test_without_a_caller_id_calls_come_from_the_default_number(agent, contact_list, settings):
    settings.TWILIO_FROM_NUMBER = "+12025550111"
    campaign = make_campaign(agent, contact_list, phones=numbers(1))
    campaign_dispatch(
        campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=fresh_bucket(), enqueue_call=lambda _id: None
    )
    assert Call.objects.get().from_phone == "+12025550111"


@pytest.mark.django_db
def test_a_paused_campaign_dials_nothing(agent, contact_list, django_capture_on_commit_callbacks):
    campaign = make_campaign(agent, contact_list, phones=numbers(2))
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert campaigns_dispatch_due(now=MONDAY_10_NEW_YORK, bucket=fresh_bucket()) == []
    assert not Call.objects.exists()
    assert not callbacks


@pytest.mark.django_db
def test_open_calls_use_up_the_concurrency(agent, contact_list, django_capture_on_commit_callbacks):
    campaign = make_campaign(agent, contact_list, phones=numbers(5), max_concurrent_calls=2, calls_per_second=10)
    other = Contact.objects.create(phone="+12025559999", time_zone="America/New_York")
    Call.objects.create(contact=other, campaign=campaign, to_phone=other.phone, provider="simulated")  # still ringing
    with django_capture_on_commit_callbacks(execute=False):
        result = campaign_dispatch(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=fresh_bucket())
    assert (result.capacity, len(result.call_ids)) == (1, 1)


@pytest.mark.django_db
def test_calls_per_second_limit_the_dials_of_a_tick(agent, contact_list, django_capture_on_commit_callbacks, settings):
    settings.DIALER_BURST_SECONDS = 2
    campaign = make_campaign(agent, contact_list, phones=numbers(10), max_concurrent_calls=50, calls_per_second=1.5)
    bucket = fresh_bucket()
    with django_capture_on_commit_callbacks(execute=False):
        first = campaign_dispatch(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=bucket)
        second = campaign_dispatch(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=bucket)
    assert len(first.call_ids) == 3  # 1.5 CPS × 2 s of burst
    assert len(second.call_ids) == 0  # the bucket has not refilled


@pytest.mark.django_db
def test_the_gate_runs_at_dial_time_and_records_why(agent, contact_list, django_capture_on_commit_callbacks):
    campaign = make_campaign(agent, contact_list, phones=numbers(2))
    Contact.objects.create(phone="+14155550123", time_zone="America/Los_Angeles").lists.add(contact_list)
    Suppression.objects.create(phone=numbers(1)[0], source=Suppression.Source.OPT_OUT)  # suppressed after launch
    from campaigns.services import campaign_sync_targets

    campaign_sync_targets(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK)
    with django_capture_on_commit_callbacks(execute=False):
        result = campaign_dispatch(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=fresh_bucket())
    assert len(result.call_ids) == 1
    assert result.turned_away == {"suppressed": 1, "outside_calling_hours": 1}
    suppressed = CampaignTarget.objects.get(contact__phone=numbers(1)[0])
    assert (suppressed.state, suppressed.state_reason) == (State.SUPPRESSED, "On the do-not-call list")
    waiting = CampaignTarget.objects.get(contact__phone="+14155550123")
    assert waiting.state == State.PENDING
    assert waiting.next_attempt_at == datetime.datetime(2026, 11, 23, 17, tzinfo=UTC)
    assert not Call.objects.filter(to_phone__in=[numbers(1)[0], "+14155550123"]).exists()


@pytest.mark.django_db
def test_a_campaign_completes_when_no_target_is_left(agent, contact_list):
    campaign = make_campaign(agent, contact_list, phones=numbers(1))
    CampaignTarget.objects.update(state=State.DONE)
    campaigns_dispatch_due(now=MONDAY_10_NEW_YORK, bucket=fresh_bucket())
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED


@pytest.mark.django_db
def test_a_campaign_completes_at_its_end_time(agent, contact_list):
    campaign = make_campaign(
        agent, contact_list, phones=numbers(2), ends_at=MONDAY_10_NEW_YORK + datetime.timedelta(hours=1)
    )
    campaigns_dispatch_due(now=MONDAY_10_NEW_YORK + datetime.timedelta(hours=2), bucket=fresh_bucket())
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert set(CampaignTarget.objects.values_list("state", flat=True)) == {State.SKIPPED}


@pytest.mark.django_db
def test_a_scheduled_campaign_starts_at_its_start_time(agent, contact_list, django_capture_on_commit_callbacks):
    Contact.objects.create(phone=numbers(1)[0], time_zone="America/New_York").lists.add(contact_list)
    campaign = Campaign.objects.create(
        name="Later", agent=agent, status=Campaign.Status.SCHEDULED, starts_at=MONDAY_10_NEW_YORK
    )
    campaign.contact_lists.add(contact_list)
    with django_capture_on_commit_callbacks(execute=False):
        campaigns_dispatch_due(now=MONDAY_10_NEW_YORK - datetime.timedelta(minutes=1), bucket=fresh_bucket())
        assert not CampaignTarget.objects.exists()
        campaigns_dispatch_due(now=MONDAY_10_NEW_YORK, bucket=fresh_bucket())
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.RUNNING
    assert Call.objects.count() == 1


# ---- Races: several workers at once, against PostgreSQL ---------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SKIP LOCKED races need PostgreSQL (CI sets DATABASE_URL)"
)


def run_in_threads(count: int, work) -> list[Exception]:
    errors: list[Exception] = []
    barrier = threading.Barrier(count)

    def worker() -> None:
        try:
            barrier.wait()
            work()
        except Exception as error:  # reported below, never swallowed
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_workers_dispatching_one_campaign_at_once_dial_each_target_once(agent, contact_list):
    campaign = make_campaign(agent, contact_list, phones=numbers(60), max_concurrent_calls=1000, calls_per_second=500)
    bucket = InProcessTokenBucket()  # shared, generous: the claim is what is under test
    enqueued: list[str] = []

    def work() -> None:
        for _ in range(200):  # until nothing is pending: a worker that finds the campaign locked skips it
            if not CampaignTarget.objects.filter(campaign=campaign, state=State.PENDING).exists():
                return
            campaign_dispatch(
                campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=bucket, enqueue_call=enqueued.append
            )

    assert run_in_threads(4, work) == []
    assert sorted(enqueued) == sorted(str(pk) for pk in Call.objects.values_list("pk", flat=True))
    per_target = Call.objects.values("target_id").annotate(n=Count("pk"))
    assert {row["n"] for row in per_target} == {1}
    assert Call.objects.count() == 60


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_target_claims_never_overlap_even_without_the_campaign_lock(agent, contact_list):
    """Bypass the per-campaign lock: SKIP LOCKED and the conditional UPDATE alone keep dials unique."""
    campaign = make_campaign(agent, contact_list, phones=numbers(80), max_concurrent_calls=1000)

    def work() -> None:
        # SKIP LOCKED lets a worker find every due target locked by the others and claim nothing, so
        # each keeps going until none is pending (bounded), rather than for a fixed number of rounds.
        for _ in range(200):
            if not CampaignTarget.objects.filter(campaign=campaign, state=State.PENDING).exists():
                return
            with transaction.atomic():
                _dispatch_batch(
                    Campaign.objects.get(pk=campaign.pk),
                    MONDAY_10_NEW_YORK,
                    10,
                    DispatchResult(campaign.pk),
                    lambda _id: None,
                )

    assert run_in_threads(4, work) == []
    assert Call.objects.count() == 80
    assert Call.objects.values("target_id").distinct().count() == 80


@pytest.mark.django_db
def test_a_dial_queued_before_a_pause_is_withdrawn_and_its_attempt_given_back(
    agent, contact_list, django_capture_on_commit_callbacks
):
    from calls.services import call_place

    campaign = make_campaign(agent, contact_list, phones=numbers(1))
    with django_capture_on_commit_callbacks(execute=False):
        [call_id] = campaign_dispatch(campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=fresh_bucket()).call_ids
    with django_capture_on_commit_callbacks(execute=True):
        campaign_pause(campaign_id=campaign.pk)
    call_place(call_id=call_id)  # the place-call task, queued before the pause, runs after it
    call = Call.objects.get(pk=call_id)
    assert (call.status, call.provider_call_id, call.started_at) == (CallStatus.CANCELED, "", None)
    assert "campaign is paused" in call.failure_reason
    target = CampaignTarget.objects.get()
    assert (target.state, target.attempts) == (State.PENDING, 0)


@pytest.mark.django_db
def test_cancelling_withdraws_queued_calls_and_leaves_placed_ones_to_finish(agent, contact_list):
    from calls.services import call_transition

    campaign = make_campaign(agent, contact_list, phones=numbers(2))
    result = campaign_dispatch(
        campaign_id=campaign.pk, now=MONDAY_10_NEW_YORK, bucket=fresh_bucket(), enqueue_call=lambda _id: None
    )
    placed, queued = result.call_ids
    call_transition(call_id=placed, status=CallStatus.INITIATED)
    campaign_cancel(campaign_id=campaign.pk)
    assert Call.objects.get(pk=placed).status == CallStatus.INITIATED
    withdrawn = Call.objects.get(pk=queued)
    assert withdrawn.status == CallStatus.CANCELED
    assert withdrawn.failure_reason == "Withdrawn before it was placed: the campaign is cancelled"
