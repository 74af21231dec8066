"""What a call's disposition leads to: the next step the campaign sets for it (Campaign.dispositions).

Taken once the call's analysis is stored (campaigns/analysis.py), on the target the call belongs to, and only
while that call is still the target's latest (a newer attempt has its own say). The target is settled first
(`target_settle` is a no-op when it already is), so the step always applies to a settled target whichever of
the settlement and the analysis ran first.

- `none`: the settlement stands.
- `close`: the target is done ("Closed after the call: <label>").
- `callback`: the target is dialled again at the time the callee asked (`callback_at`), moved to the next
  instant the campaign's window is open in the callee's zone (never outside 08:00–21:00 there); a time the
  conversation's schedule_callback tool already set is kept. No time asked: the same time the next day.
- `wrong_number`: the target is skipped ("Wrong number"): the number is not this contact's.
- `do_not_call`: the number goes on the do-not-call list and the target is closed as suppressed.
"""

import datetime
import uuid

from django.db import transaction
from django.utils import timezone

from calls.models import Call
from campaigns.calling_hours import CallingWindow, is_known_zone, next_open, zone
from campaigns.models import CampaignTarget
from campaigns.services.targets import CALLBACK_REQUESTED, target_settle
from contacts.models import Suppression
from contacts.services import suppression_add

State = CampaignTarget.State
CLOSABLE = [State.PENDING, State.DONE, State.EXHAUSTED]


def callback_instant(target: CampaignTarget, asked: datetime.datetime) -> datetime.datetime | None:
    """`asked`, or the next instant after it when the campaign's window is open in the callee's zone(s)."""
    campaign, contact = target.campaign, target.contact
    keys = [contact.time_zone] if contact.time_zone else list(contact.time_zone_candidates or [])
    zones = [zone(key) for key in keys if is_known_zone(key)] or [datetime.UTC]
    window = CallingWindow.clamped(campaign.window_start, campaign.window_end, campaign.days_of_week)
    return next_open(asked, window, zones)  # type: ignore[arg-type]


@transaction.atomic
def target_apply_disposition(
    *, call_id: uuid.UUID | str, disposition: str, callback_at: datetime.datetime | None = None
) -> str:
    """Take the next step of `disposition` for the call's target; returns the step taken ("" for none)."""
    call = Call.objects.filter(pk=call_id).only("id", "target_id", "outcome", "ended_at", "to_phone").first()
    if call is None or call.target_id is None:
        return ""
    target_settle(call_id=call.pk)
    target = (
        CampaignTarget.objects.select_related("campaign", "contact")
        .select_for_update(of=("self",))
        .get(pk=call.target_id)
    )
    latest = Call.objects.filter(target_id=target.pk).order_by("-created_at").values_list("pk", flat=True).first()
    if latest != call.pk:
        return ""
    items = {item["code"]: item for item in target.campaign.dispositions or [] if isinstance(item, dict)}
    item = items.get(disposition)
    step = item["next_step"] if item else "none"
    label = item["label"] if item else disposition
    changes: dict[str, object] = {}
    if step == "close":
        changes = {"state": State.DONE, "next_attempt_at": None, "state_reason": f"Closed after the call: {label}"}
    elif step == "wrong_number":
        changes = {"state": State.SKIPPED, "next_attempt_at": None, "state_reason": f"Closed after the call: {label}"}
    elif step == "do_not_call":
        phone = target.contact.phone or call.to_phone
        if phone:
            suppression_add(
                phone=phone, reason=f"Asked not to be called again ({label}, post-call analysis)",
                source=Suppression.Source.OPT_OUT,
            )  # fmt: skip
        changes = {
            "state": State.SUPPRESSED,
            "next_attempt_at": None,
            "state_reason": f"Closed after the call: {label}",
        }
    elif step == "callback":
        if call.outcome == CALLBACK_REQUESTED and target.state == State.PENDING and target.next_attempt_at:
            return "callback"  # the conversation's schedule_callback tool already set when
        asked = callback_at or (call.ended_at or timezone.now()) + datetime.timedelta(days=1)
        at = callback_instant(target, max(asked, timezone.now()))
        if at is None:
            return ""
        local = timezone.localtime(
            at, zone(target.contact.time_zone) if is_known_zone(target.contact.time_zone) else datetime.UTC
        )
        changes = {"state": State.PENDING, "next_attempt_at": at,
                   "state_reason": f"Callback requested for {local:%Y-%m-%d %H:%M %Z} (callee-local)"}  # fmt: skip
    else:
        return ""
    changes["last_outcome"] = disposition[:32]
    moved = CampaignTarget.objects.filter(pk=target.pk, state__in=CLOSABLE).update(**changes)
    return step if moved else ""
