"""The dial-time gate: may this target be called at this instant, and if not, when or never?

One service for the dispatcher (at the moment of dialling) and the preview (admin page and
`manage.py campaign_preview`). `load_gate_context` reads everything a batch needs in a few queries;
`evaluate` is then pure, so the rules are easy to test over tables of zones and instants.

Rules, in order: campaign end; an erased contact; do-not-call; consent for the campaign's purpose (when required);
lifetime attempts on the target; a known time zone; the contact's calls across *all* campaigns in the
last 24 h and 7 days against the campaign's caps; Reg F's 7-in-7 (≤ 7 calls in 7 days, none within
7 days after a conversation) when the campaign enforces it; then the callee-local window, taken in
the strictest of the contact's candidate zones when the number spans several.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import models
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls.models import AnsweredBy, Call, CallStatus
from campaigns.calling_hours import CallingWindow, is_known_zone, next_open, zone
from campaigns.models import Campaign, CampaignTarget
from contacts.selectors import contact_ids_with_active_consent, suppressed_phones

DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(days=7)
REG_F_MAX_CALLS_IN_7_DAYS = 7
CONVERSATION_ANSWERS = {AnsweredBy.HUMAN, AnsweredBy.UNKNOWN, ""}


class Reason(models.TextChoices):
    CAMPAIGN_ENDED = "campaign_ended", _("Campaign has ended")
    ERASED = "erased", _("Contact's data was erased")
    SUPPRESSED = "suppressed", _("On the do-not-call list")
    NO_CONSENT = "no_consent", _("No consent for the campaign's purpose")
    LIFETIME_CAP = "lifetime_cap", _("Lifetime attempts used up")
    UNKNOWN_TIME_ZONE = "unknown_time_zone", _("Time zone unknown")
    NO_CALLING_WINDOW = "no_calling_window", _("No calling window in the contact's zones")
    DAILY_CAP = "daily_cap", _("24-hour attempt cap reached")
    WEEKLY_CAP = "weekly_cap", _("7-day attempt cap reached")
    SEVEN_IN_SEVEN = "seven_in_seven", _("7 calls in 7 days (Reg F)")
    RECENT_CONVERSATION = "recent_conversation", _("Conversation in the last 7 days (Reg F)")
    OUTSIDE_CALLING_HOURS = "outside_calling_hours", _("Outside callee-local calling hours")


@dataclass(frozen=True)
class GateDecision:
    target_id: int
    contact_id: int
    allowed: bool
    reason: str = ""
    detail: str = ""
    next_attempt_at: datetime.datetime | None = None
    close_as: str | None = None  # a closed CampaignTarget.State, or None to keep it pending


@dataclass(frozen=True)
class GateTarget:
    """What the gate needs of one target and its contact."""

    target_id: int
    contact_id: int
    phone: str
    time_zone: str
    time_zone_candidates: Sequence[str]
    attempts: int
    erased: bool = False


@dataclass
class ContactHistory:
    call_times: list[datetime.datetime] = field(default_factory=list)  # last 7 days, ascending
    last_conversation_at: datetime.datetime | None = None


@dataclass(frozen=True)
class GateContext:
    campaign: Campaign
    window: CallingWindow
    now: datetime.datetime
    suppressed: frozenset[str]
    consented: frozenset[int] | None  # None when the campaign does not require consent
    history: dict[int, ContactHistory]
    # A batch shares one `now` and few zones, so most targets ask the same question: answer it once.
    _openings: dict[tuple[datetime.datetime, tuple[str, ...]], datetime.datetime | None] = field(
        default_factory=dict, repr=False
    )

    def next_open(self, instant: datetime.datetime, zones: Sequence[ZoneInfo]) -> datetime.datetime | None:
        """`calling_hours.next_open` in this context's window, memoised for the batch."""
        key = (instant, tuple(tz.key for tz in zones))
        if key not in self._openings:
            self._openings[key] = next_open(instant, self.window, zones)
        return self._openings[key]


def gate_targets(targets: Iterable[CampaignTarget]) -> list[GateTarget]:
    return [
        GateTarget(
            target_id=t.pk,
            contact_id=t.contact_id,
            phone=t.contact.phone or "",
            time_zone=t.contact.time_zone,
            time_zone_candidates=t.contact.time_zone_candidates or [],
            attempts=t.attempts,
            erased=t.contact.erased_at is not None or not t.contact.phone,
        )
        for t in targets
    ]


# The columns of a claimed target the gate reads, in `gate_target_from_row`'s order (plain rows are
# several times cheaper than model instances on the dispatcher's hot path).
GATE_TARGET_FIELDS = (
    "pk",
    "contact_id",
    "attempts",
    "contact__phone",
    "contact__time_zone",
    "contact__time_zone_candidates",
    "contact__erased_at",
)


def gate_target_from_row(row: tuple) -> GateTarget:
    target_id, contact_id, attempts, phone, time_zone, candidates, erased_at = row
    return GateTarget(
        target_id=target_id,
        contact_id=contact_id,
        phone=phone or "",
        time_zone=time_zone,
        time_zone_candidates=candidates or [],
        attempts=attempts,
        erased=erased_at is not None or not phone,
    )


def load_gate_context(*, campaign: Campaign, targets: Sequence[GateTarget], now: datetime.datetime) -> GateContext:
    """Read suppressions, consents and recent calls for a batch of targets (a few queries, not one per target)."""
    contact_ids = [t.contact_id for t in targets]
    consented = None
    if campaign.requires_consent:
        consented = frozenset(
            contact_ids_with_active_consent(contact_ids=contact_ids, purpose=campaign.purpose, at=now)
        )
    history: dict[int, ContactHistory] = defaultdict(ContactHistory)
    recent_calls = (
        Call.objects.filter(contact_id__in=contact_ids, created_at__gte=now - WEEK, created_at__lte=now)
        # A call withdrawn before it was placed reached nobody: it counts against no cap.
        .exclude(status=CallStatus.CANCELED, started_at__isnull=True)
        .order_by("created_at")
        .values_list("contact_id", "created_at", "status", "answered_by", "ended_at")
    )
    for contact_id, created_at, status, answered_by, ended_at in recent_calls:
        entry = history[contact_id]
        entry.call_times.append(created_at)
        if status == CallStatus.COMPLETED and answered_by in CONVERSATION_ANSWERS and ended_at:
            entry.last_conversation_at = max(entry.last_conversation_at or ended_at, ended_at)
    return GateContext(
        campaign=campaign,
        window=CallingWindow.clamped(campaign.window_start, campaign.window_end, campaign.days_of_week),
        now=now,
        suppressed=frozenset(suppressed_phones(t.phone for t in targets if t.phone)),
        consented=consented,
        history=dict(history),
    )


def _zones_of(target: GateTarget) -> list[ZoneInfo]:
    keys = [target.time_zone] if target.time_zone else list(target.time_zone_candidates)
    return [zone(key) for key in keys if is_known_zone(key)]


def _cap_release(times: list[datetime.datetime], cap: int, period: datetime.timedelta) -> datetime.datetime | None:
    """When the count of `times` within `period` drops below `cap` again; None if it already is.

    With n ≥ cap calls in the period (ascending), the (n − cap)-th must age out first.
    """
    if len(times) < cap:
        return None
    return times[len(times) - cap] + period


def _close(target: GateTarget, reason: Reason, state: str, detail: str = "") -> GateDecision:
    return GateDecision(
        target.target_id, target.contact_id, False, reason.value, detail or str(reason.label), None, state
    )


def evaluate(target: GateTarget, context: GateContext) -> GateDecision:
    campaign, now = context.campaign, context.now
    skipped = CampaignTarget.State.SKIPPED
    if campaign.ends_at and now >= campaign.ends_at:
        return _close(target, Reason.CAMPAIGN_ENDED, skipped)
    if target.erased:
        return _close(target, Reason.ERASED, skipped)
    if target.phone in context.suppressed:
        return _close(target, Reason.SUPPRESSED, CampaignTarget.State.SUPPRESSED)
    if context.consented is not None and target.contact_id not in context.consented:
        return _close(
            target,
            Reason.NO_CONSENT,
            skipped,
            gettext("No consent for %(purpose)s") % {"purpose": campaign.get_purpose_display()},
        )
    if target.attempts >= campaign.max_attempts:
        return _close(target, Reason.LIFETIME_CAP, CampaignTarget.State.EXHAUSTED)
    zones = _zones_of(target)
    if not zones:
        return _close(target, Reason.UNKNOWN_TIME_ZONE, skipped)

    # The earliest instant every attempt cap allows, and the cap that sets it.
    history = context.history.get(target.contact_id, ContactHistory())
    earliest, binding = now, Reason.OUTSIDE_CALLING_HOURS
    releases = [
        (
            _cap_release([t for t in history.call_times if t > now - DAY], campaign.max_attempts_per_24h, DAY),
            Reason.DAILY_CAP,
        ),
        (_cap_release(history.call_times, campaign.max_attempts_per_7d, WEEK), Reason.WEEKLY_CAP),
    ]
    if campaign.enforce_seven_in_seven:
        releases.append((_cap_release(history.call_times, REG_F_MAX_CALLS_IN_7_DAYS, WEEK), Reason.SEVEN_IN_SEVEN))
        if history.last_conversation_at and history.last_conversation_at > now - WEEK:
            releases.append((history.last_conversation_at + WEEK, Reason.RECENT_CONVERSATION))
    for release, reason in releases:
        if release is not None and release > earliest:
            earliest, binding = release, reason

    opening = context.next_open(earliest, zones)
    if opening is None:
        return _close(target, Reason.NO_CALLING_WINDOW, skipped, _no_window_detail(target, zones))
    if campaign.ends_at and opening >= campaign.ends_at:
        return _close(target, Reason.CAMPAIGN_ENDED, skipped, gettext("Next allowed time is after the campaign ends"))
    if opening == now:
        return GateDecision(target.target_id, target.contact_id, True)
    return GateDecision(target.target_id, target.contact_id, False, binding.value, str(binding.label), opening, None)


def _no_window_detail(target: GateTarget, zones: list[ZoneInfo]) -> str:
    if len(zones) > 1:
        return gettext("No hour is inside the window in all of %(count)d candidate zones; set the contact's zone") % {
            "count": len(zones)
        }
    return gettext("The campaign allows no weekday")


def refusals_for_test_calls(contact_ids: Sequence[int], now: datetime.datetime) -> dict[int, str]:
    """calls' test-call gate: for each contact a test call may not reach at `now`, the rule and when it
    opens, in words ("Outside callee-local calling hours; opens Mon 2026-12-07 08:00 PST").

    A test call belongs to no campaign, so it is held to the rules that bind every call: the legal
    08:00–21:00 in the callee's zone on any day, the do-not-call list, an erased contact, a known zone,
    and the 24-hour and 7-day attempt caps of a default campaign over the contact's calls everywhere
    (test calls included). Consent and lifetime attempts belong to a campaign and do not apply.
    """
    from contacts.models import Contact

    campaign = Campaign(window_start=datetime.time(8, 0), window_end=datetime.time(21, 0),
                        days_of_week=[1, 2, 3, 4, 5, 6, 7])  # fmt: skip  # unsaved: only read
    rows = Contact.objects.filter(pk__in=list(contact_ids)).values_list(
        "pk", "phone", "time_zone", "time_zone_candidates", "erased_at"
    )
    targets = [
        GateTarget(target_id=0, contact_id=pk, phone=phone or "", time_zone=time_zone,
                   time_zone_candidates=candidates or [], attempts=0, erased=erased_at is not None or not phone)
        for pk, phone, time_zone, candidates, erased_at in rows
    ]  # fmt: skip
    context = load_gate_context(campaign=campaign, targets=targets, now=now)
    refusals = {}
    for target in targets:
        decision = evaluate(target, context)
        if decision.allowed:
            continue
        words = decision.detail or str(Reason(decision.reason).label)
        if decision.next_attempt_at:
            zones = _zones_of(target)
            local = decision.next_attempt_at.astimezone(zones[0]) if zones else decision.next_attempt_at
            opens = f"{date_format(local, 'D')} {date_format(local, 'SHORT_DATE_FORMAT')} {local:%H:%M %Z}"
            words += gettext("; opens %(when)s") % {"when": opens}
        refusals[target.contact_id] = words
    return refusals
