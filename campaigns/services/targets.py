"""Targets: created once per contact from a campaign's lists, and settled when their call ends."""

import datetime
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from calls.models import TERMINAL_STATUSES, AnsweredBy, Call, CallStatus
from calls.selectors import callee_heard_agent, conversation_still_recording
from campaigns.calling_hours import CallingWindow, callback_instant, is_known_zone, zone
from campaigns.models import Campaign, CampaignTarget
from contacts.models import Contact

logger = logging.getLogger(__name__)
State = CampaignTarget.State
SYNC_BATCH = 2000
HUMAN_ANSWERS = {AnsweredBy.HUMAN, AnsweredBy.UNKNOWN, ""}
# Far past the settle batch window (50 ms) and the conversation's last writes; a settle task that turns up
# later still finds the target settled (settling is a conditional UPDATE on `in_progress`).
STRAGGLER_GRACE = datetime.timedelta(seconds=30)
CALLBACK_REQUESTED = "callback_requested"  # the Call.outcome the conversation's schedule_callback tool sets
OPTED_OUT = "opted_out"  # the Call.outcome the conversation's opt-out tool sets (the number is suppressed too)


def campaign_sync_targets(*, campaign_id: int, now: datetime.datetime | None = None) -> int:
    """Create a pending target for every contact in the campaign's lists that has none; return how many.

    Safe to run again and concurrently: the unique (campaign, contact) constraint drops repeats.
    """
    now = now or timezone.now()
    existing_before = CampaignTarget.objects.filter(campaign_id=campaign_id).count()
    contact_ids = (
        Contact.objects.filter(lists__campaigns=campaign_id).values_list("id", flat=True).distinct().order_by("id")
    )
    batch: list[CampaignTarget] = []
    for contact_id in contact_ids.iterator(chunk_size=SYNC_BATCH):
        batch.append(CampaignTarget(campaign_id=campaign_id, contact_id=contact_id, next_attempt_at=now))
        if len(batch) >= SYNC_BATCH:
            CampaignTarget.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        CampaignTarget.objects.bulk_create(batch, ignore_conflicts=True)
    return CampaignTarget.objects.filter(campaign_id=campaign_id).count() - existing_before


def call_outcome(status: str, answered_by: str, heard: bool = True) -> str:
    """The retry-policy outcome of a finished call: answered, voicemail, busy, no_answer or failed.

    Answered means the callee heard the agent (`calls.selectors.callee_heard_agent`); a call picked up
    by a person who then heard nothing (no TwiML, no media stream, the line gone before the opener
    played) is a failed attempt, retried under the failed policy.
    """
    if status == CallStatus.COMPLETED:
        if answered_by not in HUMAN_ANSWERS:
            return "voicemail"
        return "answered" if heard else "failed"
    return {CallStatus.BUSY: "busy", CallStatus.NO_ANSWER: "no_answer"}.get(status, "failed")


def target_schedule_callback(call_id: uuid.UUID | str, at: datetime.datetime) -> bool:
    """calls' callback-requested hook: dial the target of call `call_id` again at `at`; False if it has none.

    `at` is kept when the campaign's window is open then; otherwise the callback moves to the same
    callee-local time on the campaign's next allowed day ("tomorrow at five" said on a Friday, for a
    weekdays campaign, is Monday at five), or to the window's next opening. The target stays `in_progress`
    until its call ends; `target_settle` then keeps this time (the call's outcome says a callback was requested).
    """
    target = (
        CampaignTarget.objects.select_related("campaign", "contact")
        .filter(calls__pk=call_id)
        .only(
            "campaign__window_start",
            "campaign__window_end",
            "campaign__days_of_week",
            "contact__time_zone",
            "contact__time_zone_candidates",
        )
        .first()
    )
    if target is None:
        return False
    campaign, contact = target.campaign, target.contact
    window = CallingWindow.clamped(campaign.window_start, campaign.window_end, campaign.days_of_week)
    keys = [contact.time_zone] if contact.time_zone else list(contact.time_zone_candidates or [])
    zones = [zone(key) for key in keys if is_known_zone(key)]
    when = callback_instant(at, window, zones) or at
    return CampaignTarget.objects.filter(pk=target.pk).update(next_attempt_at=when) == 1


@transaction.atomic
def target_settle(*, call_id: uuid.UUID, final: bool = False) -> str | None:
    """Apply a finished call to its target: done, opted out (suppressed), retry later, or exhausted.

    Returns the new state (None: nothing settled).

    Idempotent: only a target still `in_progress` is settled, by a conditional UPDATE. A call
    cancelled before it was ever placed gives its attempt back. An answered call whose conversation is
    still writing its record (what the callee heard decides the outcome) is left to the straggler sweep
    (`final=True`), which settles it with whatever was recorded by then.
    """
    call = (
        Call.objects.select_related("campaign", "target")
        .annotate(heard=callee_heard_agent())
        .filter(pk=call_id)
        .first()
    )
    if call is None or call.target is None or not call.is_terminal:
        return None
    target, campaign = call.target, call.campaign
    outcome = call_outcome(call.status, call.answered_by, call.heard)
    if outcome == "failed" and call.status == CallStatus.COMPLETED:
        if not final and conversation_still_recording(call.pk):
            return None
        logger.info("call %s was answered but the callee heard nothing: settled as failed", call.pk)
    changes: dict[str, object] = {"last_outcome": outcome}

    if call.status == CallStatus.CANCELED and call.started_at is None:
        changes |= {"state": State.PENDING, "attempts": max(0, target.attempts - 1), "next_attempt_at": timezone.now(),
                    "state_reason": "Dial withdrawn before it was placed"}  # fmt: skip
        changes.pop("last_outcome")
    elif call.outcome == OPTED_OUT:
        # The callee asked not to be called again: closed as suppressed, never "done", whoever answered.
        changes |= {"state": State.SUPPRESSED, "last_outcome": OPTED_OUT, "next_attempt_at": None,
                    "state_reason": "Opted out during the call"}  # fmt: skip
    elif outcome == "answered" and call.outcome == CALLBACK_REQUESTED and target.next_attempt_at:
        # The callee asked to be called back: the conversation already set when.
        changes |= {"state": State.PENDING, "last_outcome": CALLBACK_REQUESTED,
                    "state_reason": f"Callback requested for {target.next_attempt_at:%Y-%m-%d %H:%M %Z}"}  # fmt: skip
    elif outcome == "answered":
        changes |= {"state": State.DONE, "state_reason": "Answered by a person", "next_attempt_at": None}
    elif campaign.status not in (Campaign.Status.RUNNING, Campaign.Status.PAUSED, Campaign.Status.SCHEDULED):
        changes |= {"state": State.SKIPPED, "state_reason": f"Campaign {campaign.status}", "next_attempt_at": None}
    else:
        changes |= _retry_or_exhaust(call, campaign, target, outcome)

    updated = CampaignTarget.objects.filter(pk=target.pk, state=State.IN_PROGRESS).update(**changes)
    return changes["state"] if updated else None


def targets_settle_stragglers(*, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Settle targets whose call ended over STRAGGLER_GRACE ago without being settled; returns how many.

    The call-finished hook settles a target within a second; this sweep is what makes a lost
    settlement (campaigns/settlement.py) cost minutes instead of a target stuck forever.
    """
    from campaigns.selectors import unsettled_finished_calls

    now = now or timezone.now()
    settled = 0
    for call_id in unsettled_finished_calls(ended_before=now - STRAGGLER_GRACE, limit=limit):
        if target_settle(call_id=call_id, final=True) is not None:
            settled += 1
    if settled:
        logger.warning("settled %d targets whose settlement had been lost", settled)
    return settled


def _retry_or_exhaust(call: Call, campaign: Campaign, target: CampaignTarget, outcome: str) -> dict[str, object]:
    rule = campaign.retry_policy.get(outcome)
    finished = Call.objects.filter(target_id=target.pk, status__in=TERMINAL_STATUSES).annotate(
        heard=callee_heard_agent()
    )
    same_outcome = sum(
        1 for status, answered_by, heard in finished.values_list("status", "answered_by", "heard")
        if call_outcome(status, answered_by, heard) == outcome
    )  # fmt: skip
    if rule is None or same_outcome >= rule["max_attempts"]:
        return {"state": State.EXHAUSTED, "next_attempt_at": None,
                "state_reason": f"No retry left after {outcome.replace('_', ' ')} ({same_outcome}×)"}  # fmt: skip
    if target.attempts >= campaign.max_attempts:
        return {"state": State.EXHAUSTED, "next_attempt_at": None, "state_reason": "Lifetime attempts used up"}
    delay = datetime.timedelta(minutes=rule["delay_minutes"]) * settings.CAMPAIGN_TIME_SCALE
    retry_at = (call.ended_at or timezone.now()) + delay
    return {"state": State.PENDING, "next_attempt_at": retry_at,
            "state_reason": f"Retry after {outcome.replace('_', ' ')} in {rule['delay_minutes']} min"}  # fmt: skip
