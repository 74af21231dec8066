"""Reads of campaigns: API lists, the operator's progress panel, and the dial preview."""

import datetime
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from calls.hooks import CallScript
from calls.models import TERMINAL_STATUSES, Call
from campaigns.gate import GateTarget, evaluate, gate_targets, load_gate_context
from campaigns.models import Agent, Campaign, CampaignTarget
from contacts.models import Contact

PREVIEW_CHUNK = 1000
PREVIEW_LIST_LIMIT = 50
RETRY_DELAY = "retry_delay"


def agent_call_script(agent_id: int) -> CallScript | None:
    """calls' call-script hook: what agent `agent_id` says and may do on a call; None if it does not exist."""
    agent = Agent.objects.filter(pk=agent_id).first()
    if agent is None:
        return None
    schema = agent.outcome_schema if isinstance(agent.outcome_schema, dict) else {}
    properties = schema.get("properties")
    return CallScript(
        system_prompt=agent.system_prompt,
        first_message=agent.first_message,
        voicemail_message=agent.voicemail_message,
        language=agent.language,
        voice_id=agent.voice_id,
        voice_model=agent.voice_model,
        voice_speed=float(agent.voice_speed),
        llm_model=agent.llm_model,
        llm_temperature=float(agent.llm_temperature),
        can_end_call=agent.can_end_call,
        can_opt_out=agent.can_opt_out,
        can_transfer=agent.can_transfer,
        transfer_number=agent.transfer_number,
        can_record_outcome=agent.can_record_outcome,
        can_schedule_callback=agent.can_schedule_callback,
        outcome_fields=tuple(properties) if isinstance(properties, dict) else (),
        outcome_schema=schema,
        silence_reprompt_s=float(agent.silence_reprompt_seconds),
        silence_hang_up_s=float(agent.silence_hang_up_seconds),
        phrases=dict(agent.phrases) if isinstance(agent.phrases, dict) else {},
    )


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("agent").prefetch_related("contact_lists").order_by("-created_at")


@dataclass
class CampaignProgress:
    targets_by_state: dict[str, int]
    calls_by_status: dict[str, int]
    dials_last_hour: int
    waiting_reasons: list[tuple[str, int, datetime.datetime | None]]  # reason, targets, soonest next attempt

    @property
    def total_targets(self) -> int:
        return sum(self.targets_by_state.values())


def campaign_progress(*, campaign_id: int, now: datetime.datetime | None = None) -> CampaignProgress:
    now = now or timezone.now()
    targets = CampaignTarget.objects.filter(campaign_id=campaign_id)
    by_state = dict(targets.values_list("state").annotate(n=Count("pk")).order_by())
    calls = Call.objects.filter(campaign_id=campaign_id)
    by_status = dict(calls.values_list("status").annotate(n=Count("pk")).order_by())
    waiting = (
        targets.filter(state=CampaignTarget.State.PENDING)
        .values("state_reason")
        .annotate(n=Count("pk"), soonest=Min("next_attempt_at"))
        .order_by("-n")
    )
    return CampaignProgress(
        targets_by_state={str(state.label): by_state.get(state.value, 0) for state in CampaignTarget.State},
        calls_by_status=by_status,
        dials_last_hour=calls.filter(created_at__gte=now - datetime.timedelta(hours=1)).count(),
        waiting_reasons=[(row["state_reason"] or gettext("Due now"), row["n"], row["soonest"]) for row in waiting],
    )


@dataclass
class PreviewReport:
    """Who the gate would let through at `at`, and for the rest, how many per reason and from when."""

    campaign_id: int
    campaign_status: str
    at: datetime.datetime
    evaluated: int = 0
    would_dial: int = 0
    would_dial_sample: list[dict[str, object]] = field(default_factory=list)
    by_reason: Counter = field(default_factory=Counter)
    next_allowed: dict[str, datetime.datetime] = field(default_factory=dict)  # reason → soonest

    def as_dict(self) -> dict[str, object]:
        return {
            "campaign": self.campaign_id,
            "status": self.campaign_status,
            "at": self.at.isoformat(),
            "evaluated": self.evaluated,
            "would_dial": self.would_dial,
            "would_dial_sample": self.would_dial_sample,
            "not_now": [
                {"reason": reason, "targets": count, "next_allowed_at": _iso(self.next_allowed.get(reason))}
                for reason, count in self.by_reason.most_common()
            ],
        }


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def campaign_preview(*, campaign_id: int, at: datetime.datetime | None = None) -> PreviewReport:
    """Run the dial-time gate, without writing anything, over the campaign's pending targets at `at`.

    Before launch (draft or scheduled) the campaign has no targets yet: its lists' contacts are
    previewed as fresh targets. Capacity and pacing are not applied: this says who *may* be called.
    """
    at = at or timezone.now()
    campaign = Campaign.objects.get(pk=campaign_id)
    report = PreviewReport(campaign_id, campaign.status, at)
    for chunk in _preview_chunks(campaign, at, report):
        context = load_gate_context(campaign=campaign, targets=chunk, now=at)
        for target in chunk:
            decision = evaluate(target, context)
            report.evaluated += 1
            if decision.allowed:
                report.would_dial += 1
                if len(report.would_dial_sample) < PREVIEW_LIST_LIMIT:
                    report.would_dial_sample.append({"contact": target.contact_id, "phone": target.phone})
            else:
                _tally_reason(report, decision.detail or decision.reason, decision.next_attempt_at)
    return report


def _tally_reason(report: PreviewReport, reason: str, next_at: datetime.datetime | None) -> None:
    report.by_reason[reason] += 1
    if next_at and (reason not in report.next_allowed or next_at < report.next_allowed[reason]):
        report.next_allowed[reason] = next_at


def _preview_chunks(campaign: Campaign, at: datetime.datetime, report: PreviewReport) -> Iterator[list[GateTarget]]:
    if campaign.status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        contacts = Contact.objects.filter(lists__campaigns=campaign).distinct().order_by("pk")
        chunk: list[GateTarget] = []
        for contact in contacts.iterator(chunk_size=PREVIEW_CHUNK):
            chunk.append(
                GateTarget(
                    0, contact.pk, contact.phone or "", contact.time_zone, contact.time_zone_candidates, 0,
                    erased=contact.erased_at is not None or not contact.phone,
                )
            )  # fmt: skip
            if len(chunk) == PREVIEW_CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
        return
    pending = CampaignTarget.objects.filter(campaign=campaign, state=CampaignTarget.State.PENDING)
    for target in pending.filter(next_attempt_at__gt=at).only("next_attempt_at").iterator(chunk_size=PREVIEW_CHUNK):
        report.evaluated += 1
        _tally_reason(report, gettext("Waiting for its retry delay"), target.next_attempt_at)
    due = pending.exclude(next_attempt_at__gt=at).select_related("contact").order_by("next_attempt_at", "pk")
    chunk_targets: list[CampaignTarget] = []
    for target in due.iterator(chunk_size=PREVIEW_CHUNK):
        chunk_targets.append(target)
        if len(chunk_targets) == PREVIEW_CHUNK:
            yield gate_targets(chunk_targets)
            chunk_targets = []
    if chunk_targets:
        yield gate_targets(chunk_targets)


def unsettled_finished_calls(*, ended_before: datetime.datetime, limit: int) -> list:
    """Ids of calls that ended before `ended_before` while their target still waits `in_progress`.

    Each is the target's latest call, and the target has no open call: its settlement was lost (a
    publish that failed, a process killed between commit and publish). Targets are found through the
    partial index on in-progress targets, so the sweep reads only those.
    """
    calls = Call.objects.filter(target=OuterRef("pk"))
    latest = calls.order_by("-created_at")
    return list(
        CampaignTarget.objects.filter(state=CampaignTarget.State.IN_PROGRESS)
        .exclude(Exists(calls.exclude(status__in=TERMINAL_STATUSES)))
        .annotate(last_call=Subquery(latest.values("pk")[:1]), last_ended=Subquery(latest.values("ended_at")[:1]))
        .filter(last_ended__lt=ended_before)
        .order_by("updated_at")
        .values_list("last_call", flat=True)[:limit]
    )
