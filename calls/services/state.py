"""A call's life as conditional UPDATEs: it is created queued and only ever moves forward."""

import datetime

from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from calls.hooks import notify_call_event_on_commit, notify_call_finished_on_commit
from calls.live_events import publish_status_change_on_commit
from calls.models import STATUS_RANK, TERMINAL_STATUSES, Call, CallStatus
from monitoring.metrics import CALL_STATUS_TRANSITIONS


def allowed_predecessors(status: CallStatus) -> list[str]:
    """Open statuses a call may move to `status` from: those strictly earlier in the progression.

    Terminal statuses never move, and a late `ringing` after `in_progress` is ignored, so callbacks
    that arrive out of order cannot move a call backwards.
    """
    return [
        previous.value
        for previous in CallStatus
        if previous not in TERMINAL_STATUSES and STATUS_RANK[previous] < STATUS_RANK[status]
    ]


def _not_before(at: datetime.datetime, *earlier_fields: str) -> Greatest:
    """`at`, or the latest of the call's earlier stage times if one is later (NULLs ignored on every database)."""
    moment = Value(at, output_field=DateTimeField())
    return Greatest(moment, *(Coalesce(F(name), moment) for name in earlier_fields))


def call_transition(
    *,
    call_id: object,
    status: CallStatus,
    at: datetime.datetime | None = None,
    fields: dict[str, object] | None = None,
    provider_call_id: str = "",
) -> bool:
    """Move call `call_id` to `status` if that is forward; return whether it moved.

    One conditional UPDATE (`filter(pk=…, status__in=allowed_predecessors(status)).update(...)`): it
    sets the timestamp the status implies (started, answered, ended) and any extra `fields`
    (duration, answered_by, price…) in the same statement; nothing is written when the call is
    already at or past `status`; a move is published to the live board after commit. With
    `provider_call_id`, only a call with that id (or none yet, which then gets it) moves: a callback for
    another CallSid moves nothing. A stage's time is never earlier than the stages before it: carriers
    stamp callbacks to the whole second, so "answered" may read a few hundred ms before our own "started".
    """
    status = CallStatus(status)
    predecessors = _PREDECESSORS[status]
    if not predecessors:
        return False  # nothing moves to the first status
    at = at or timezone.now()
    changes: dict[str, object] = {"status": status.value, **(fields or {})}
    if status == CallStatus.INITIATED:
        changes.setdefault("started_at", at)
    elif status == CallStatus.IN_PROGRESS:
        changes.setdefault("answered_at", _not_before(at, "started_at"))
    elif status in TERMINAL_STATUSES:
        changes.setdefault("ended_at", _not_before(at, "started_at", "answered_at"))
    conditions: dict[str, object] = {"pk": call_id, "status__in": predecessors}
    if provider_call_id:
        conditions["provider_call_id__in"] = ["", provider_call_id]
        changes["provider_call_id"] = provider_call_id
    moved = Call.objects.filter(**conditions).update(**changes) == 1
    if moved:
        CALL_STATUS_TRANSITIONS.labels(status=status.value).inc()
        publish_status_change_on_commit(call_id, status=status.value, at=at, moment=MOMENT_FIELD.get(status, ""),
                                        answered_by=str(changes.get("answered_by", "")))  # fmt: skip
        if status in TERMINAL_STATUSES:
            notify_call_finished_on_commit(call_id)
            notify_call_event_on_commit(call_id, "ended")
        elif status == CallStatus.IN_PROGRESS:
            notify_call_event_on_commit(call_id, "started")
    return moved


_PREDECESSORS = {status: allowed_predecessors(status) for status in CallStatus}
# The Call field each status sets (for the live board's event).
MOMENT_FIELD = {
    CallStatus.INITIATED: "started_at", CallStatus.IN_PROGRESS: "answered_at",
    **dict.fromkeys(TERMINAL_STATUSES, "ended_at"),
}  # fmt: skip


def call_create_batch(*, calls: list[dict[str, object]]) -> list[Call]:
    """Create many queued Calls in one INSERT; each dict holds `call_create`'s keyword arguments."""
    return Call.objects.bulk_create([Call(**fields) for fields in calls])


def call_create(
    *,
    contact_id: int,
    to_phone: str,
    provider: str,
    campaign_id: int | None = None,
    agent_id: int | None = None,
    target_id: int | None = None,
    from_phone: str = "",
    ring_timeout_seconds: int | None = None,
    max_duration_seconds: int | None = None,
    answering_machine_policy: str | None = None,
    record: bool = False,
) -> Call:
    """Create a queued Call row. It exists before any provider request, so a call is never placed untracked.

    How it is placed (ring timeout, duration, answering machines, recording) is the caller's to say;
    what is not given takes `Call`'s defaults, those of a call outside any campaign.
    """
    placing = {
        "ring_timeout_seconds": ring_timeout_seconds,
        "max_duration_seconds": max_duration_seconds,
        "answering_machine_policy": answering_machine_policy,
    }
    return Call.objects.create(
        contact_id=contact_id,
        to_phone=to_phone,
        from_phone=from_phone,
        provider=provider,
        campaign_id=campaign_id,
        agent_id=agent_id,
        target_id=target_id,
        record=record,
        **{name: value for name, value in placing.items() if value is not None},
    )
