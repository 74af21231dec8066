"""The dispatcher: each tick, dial what every running campaign may dial now, exactly once.

Per campaign, inside one transaction:
1. lock the campaign row (`FOR UPDATE SKIP LOCKED`): one worker dispatches a campaign at a time and
   the others move on to other campaigns, so concurrency and pacing are computed against one truth;
2. free capacity = max concurrent − its open calls, then up to that many tokens from its CPS bucket
   (in Redis, shared by every worker);
3. claim due pending targets `FOR UPDATE SKIP LOCKED` ordered by `next_attempt_at`, run the dial-time
   gate on each *now*, reschedule or close the ones it turns away (with the reason), and move the
   allowed ones to `in_progress` with a queued Call each;
4. after commit, enqueue `calls.place_call` for each new Call (`enqueue_call`, replaceable so races
   and benchmarks can measure the dialer alone); unused tokens go back to the bucket.

The target claim is also a conditional UPDATE (`state = pending`), so even without the campaign lock
a target cannot be dialled twice.
"""

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from calls.models import AnsweringMachinePolicy, Call
from calls.services import call_create_batch
from calls.tasks import place_call as place_call_task
from campaigns.exceptions import CampaignError
from campaigns.gate import (
    GATE_TARGET_FIELDS,
    GateDecision,
    GateTarget,
    evaluate,
    gate_target_from_row,
    load_gate_context,
)
from campaigns.models import Campaign, CampaignTarget
from campaigns.pacing import TokenBucket, campaign_bucket_key, token_bucket
from campaigns.services.lifecycle import campaign_complete, campaign_launch
from monitoring.metrics import CALLS_PLACED, DIAL_GATE_DECISIONS

logger = logging.getLogger(__name__)
State = CampaignTarget.State
CLAIM_BATCH = 500
MAX_BATCHES_PER_TICK = 20  # bounds one tick's work when most due targets are turned away


CallEnqueuer = Callable[[str], None]


# What the carrier does about answering machines, per campaign policy, on each call the campaign makes.
MACHINE_POLICY_FOR_CALL = {
    Campaign.AnsweringMachinePolicy.OFF: AnsweringMachinePolicy.OFF,
    Campaign.AnsweringMachinePolicy.HANG_UP: AnsweringMachinePolicy.HANG_UP,
    Campaign.AnsweringMachinePolicy.LEAVE_VOICEMAIL: AnsweringMachinePolicy.LEAVE_VOICEMAIL,
}


def enqueue_place_call(call_id: str) -> None:
    """Place the call once the transaction that created it has committed.

    A broker that refuses the message (down, or full) costs this call only: it is logged in one line and
    the call stays queued, and the reaper's sweep cancels it and gives its target the attempt back
    (calls/services/reaping.py). The other calls of the tick are still queued.
    """
    transaction.on_commit(partial(_publish_place_call, call_id))


def _publish_place_call(call_id: str) -> None:
    try:
        place_call_task.delay(call_id)
    except Exception as error:  # kombu's and redis' connection errors, whichever transport is configured
        logger.warning(
            "could not queue call %s (%s); the reaper will cancel it and give the attempt back", call_id, error
        )


def call_settings(campaign: Campaign) -> dict[str, object]:
    """What each call of `campaign` needs of it, copied onto the Call: calls never reads the campaign."""
    return {
        "from_phone": campaign.caller_id or settings.TWILIO_FROM_NUMBER,
        "ring_timeout_seconds": campaign.ring_timeout_seconds,
        "max_duration_seconds": campaign.max_call_duration_seconds,
        "answering_machine_policy": MACHINE_POLICY_FOR_CALL[
            Campaign.AnsweringMachinePolicy(campaign.answering_machine_policy)
        ],
        "record": campaign.record_calls,
    }


@dataclass
class DispatchResult:
    campaign_id: int
    call_ids: list[str] = field(default_factory=list)
    turned_away: dict[str, int] = field(default_factory=dict)
    capacity: int = 0
    tokens: int = 0
    skipped_reason: str = ""


def campaigns_dispatch_due(
    *,
    now: datetime.datetime | None = None,
    bucket: TokenBucket | None = None,
    enqueue_call: CallEnqueuer = enqueue_place_call,
) -> list[DispatchResult]:
    """One dispatcher tick over every campaign: start scheduled ones, dial running ones, finish ended ones."""
    now = now or timezone.now()
    bucket = bucket or token_bucket()
    due_to_start = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, starts_at__lte=now)
    for campaign_id in due_to_start.values_list("pk", flat=True):
        try:
            campaign_launch(campaign_id=campaign_id, now=now)
        except CampaignError as error:
            logger.warning("scheduled campaign %s cannot start: %s", campaign_id, error)
    results = []
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", flat=True):
        results.append(campaign_dispatch(campaign_id=campaign_id, now=now, bucket=bucket, enqueue_call=enqueue_call))
        _complete_if_finished(campaign_id, now)
    return results


def campaign_dispatch(
    *,
    campaign_id: int,
    now: datetime.datetime,
    bucket: TokenBucket,
    enqueue_call: CallEnqueuer = enqueue_place_call,
) -> DispatchResult:
    result = DispatchResult(campaign_id)
    burst = 0.0
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(pk=campaign_id, status=Campaign.Status.RUNNING)
            .select_related("agent")
            .first()
        )
        if campaign is None:
            result.skipped_reason = "not running, or another worker is dispatching it"
            return result
        active = Call.objects.open().filter(campaign_id=campaign_id).count()
        result.capacity = max(0, campaign.max_concurrent_calls - active)
        rate = float(campaign.calls_per_second)
        burst = max(1.0, rate * settings.DIALER_BURST_SECONDS)
        result.tokens = bucket.take(campaign_bucket_key(campaign_id), rate=rate, burst=burst, want=result.capacity)
        for _ in range(MAX_BATCHES_PER_TICK):
            wanted = result.tokens - len(result.call_ids)
            if wanted <= 0 or not _dispatch_batch(campaign, now, wanted, result, enqueue_call):
                break
    bucket.give_back(campaign_bucket_key(campaign_id), burst=burst, count=result.tokens - len(result.call_ids))
    return result


def _dispatch_batch(
    campaign: Campaign, now: datetime.datetime, wanted: int, result: DispatchResult, enqueue_call: CallEnqueuer
) -> bool:
    """Claim one batch of due targets and act on the gate's verdicts; False when none were due."""
    claimed = list(
        CampaignTarget.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(campaign_id=campaign.pk, state=State.PENDING, next_attempt_at__lte=now)
        # A few more than wanted, since the gate may turn some away; never more than one batch.
        .order_by("next_attempt_at", "pk")
        .values_list(*GATE_TARGET_FIELDS)[: min(CLAIM_BATCH, max(wanted * 4, 50))]
    )
    if not claimed:
        return False
    targets = [gate_target_from_row(row) for row in claimed]
    context = load_gate_context(campaign=campaign, targets=targets, now=now)
    decisions = [evaluate(target, context) for target in targets]
    by_id = {target.target_id: target for target in targets}
    _apply_refusals([d for d in decisions if not d.allowed], result)
    allowed = [by_id[d.target_id] for d in decisions if d.allowed][:wanted]
    if allowed:
        _start_dials(campaign, allowed, result, enqueue_call)
    return True


def _apply_refusals(decisions: list[GateDecision], result: DispatchResult) -> None:
    """Reschedule or close the targets the gate turned away: one UPDATE per distinct outcome.

    Targets refused alike (same zone, same reason) share their new state, time and reason, so a batch
    needs a handful of statements rather than one per target (or Django's quadratic CASE bulk_update).
    """
    groups: dict[tuple[str, datetime.datetime | None, str], list[int]] = {}
    for decision in decisions:
        state = decision.close_as or State.PENDING
        groups.setdefault((state, decision.next_attempt_at, decision.detail), []).append(decision.target_id)
        result.turned_away[decision.reason] = result.turned_away.get(decision.reason, 0) + 1
        DIAL_GATE_DECISIONS.labels(verdict="closed" if decision.close_as else "deferred", reason=decision.reason).inc()
    now = timezone.now()
    for (state, next_attempt_at, reason), target_ids in groups.items():
        CampaignTarget.objects.filter(pk__in=target_ids).update(
            state=state, next_attempt_at=next_attempt_at, state_reason=reason, updated_at=now
        )


def _start_dials(
    campaign: Campaign, targets: list[GateTarget], result: DispatchResult, enqueue_call: CallEnqueuer
) -> None:
    """Move the allowed targets to in_progress and create their queued Calls: two statements per batch.

    The targets are ours: claimed FOR UPDATE SKIP LOCKED in this transaction (on SQLite the
    IMMEDIATE transaction serialises writers), so no other worker can have moved them; the
    `state = pending` condition still guards the UPDATE, and any difference aborts the batch.
    """
    ids = [target.target_id for target in targets]
    moved = CampaignTarget.objects.filter(pk__in=ids, state=State.PENDING).update(
        state=State.IN_PROGRESS, attempts=F("attempts") + 1, state_reason="Dialling", updated_at=timezone.now()
    )
    if moved != len(ids):
        raise RuntimeError(f"{len(ids) - moved} claimed targets changed under the dispatcher; batch rolled back")
    per_call = call_settings(campaign)
    calls = call_create_batch(
        calls=[
            {
                **per_call,
                "contact_id": target.contact_id,
                "to_phone": target.phone,
                "provider": settings.TELEPHONY_PROVIDER,
                "campaign_id": campaign.pk,
                "agent_id": campaign.agent_id,
                "target_id": target.target_id,
            }
            for target in targets
        ]
    )
    DIAL_GATE_DECISIONS.labels(verdict="dial", reason="").inc(len(calls))
    CALLS_PLACED.labels(provider=settings.TELEPHONY_PROVIDER).inc(len(calls))
    for call in calls:
        result.call_ids.append(str(call.pk))
        enqueue_call(str(call.pk))


def _complete_if_finished(campaign_id: int, now: datetime.datetime) -> None:
    campaign = Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.RUNNING).first()
    if campaign is None:
        return
    if campaign.ends_at and now >= campaign.ends_at:
        campaign_complete(campaign_id=campaign_id, reason="Campaign ended before it could be dialled", now=now)
        return
    open_targets = CampaignTarget.objects.filter(campaign_id=campaign_id).aggregate(
        open=Count("pk", filter=Q(state__in=[State.PENDING, State.IN_PROGRESS]))
    )["open"]
    if open_targets == 0:
        campaign_complete(campaign_id=campaign_id, reason="", now=now)
