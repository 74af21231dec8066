"""Writes to calls. Every status change is a conditional UPDATE: a call only moves forward.

Provider callbacks are recorded once each (an insert that relies on the CallEvent unique constraint,
never check-then-insert) and applied monotonically in the same transaction.
"""

import datetime
import enum
import logging
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from calls.hooks import notify_call_finished_on_commit
from calls.live_events import publish_call_event
from calls.models import STATUS_RANK, TERMINAL_STATUSES, Call, CallEvent, CallStatus
from monitoring.metrics import CALL_STATUS_TRANSITIONS
from voice.providers.base import MachineDetection, PlaceCallRequest, ProviderError
from voice.providers.selection import telephony

logger = logging.getLogger(__name__)


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

    Sets the timestamp the status implies (started, answered, ended) and any extra `fields`
    (duration, answered_by, price…) in the same UPDATE; nothing is written when the call is already
    at or past `status`. With `provider_call_id`, only a call with that id (or none yet, which then
    gets it) moves: a callback for another CallSid moves nothing. A stage's time is never earlier than
    the stages before it: carriers stamp callbacks to the whole second, so "answered" may read a few
    hundred ms before our own "started".
    """
    status = CallStatus(status)
    at = at or timezone.now()
    changes: dict[str, object] = {"status": status.value, **(fields or {})}
    if status == CallStatus.INITIATED:
        changes.setdefault("started_at", at)
    elif status == CallStatus.IN_PROGRESS:
        changes.setdefault("answered_at", _not_before(at, "started_at"))
    elif status in TERMINAL_STATUSES:
        changes.setdefault("ended_at", _not_before(at, "started_at", "answered_at"))
    calls = Call.objects.filter(pk=call_id, status__in=allowed_predecessors(status))
    if provider_call_id:
        calls = calls.filter(provider_call_id__in=["", provider_call_id])
        changes["provider_call_id"] = provider_call_id
    moved = calls.update(**changes) == 1
    if moved:
        CALL_STATUS_TRANSITIONS.labels(status=status.value).inc()
        if status in TERMINAL_STATUSES:
            notify_call_finished_on_commit(call_id)
    return moved


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
) -> Call:
    """Create a queued Call row. It exists before any provider request, so a call is never placed untracked."""
    return Call.objects.create(
        contact_id=contact_id,
        to_phone=to_phone,
        from_phone=from_phone,
        provider=provider,
        campaign_id=campaign_id,
        agent_id=agent_id,
        target_id=target_id,
    )


# Provider callbacks ----------------------------------------------------------------------------------


class CallbackOutcome(enum.Enum):
    APPLIED = "applied"  # stored, and it moved the call
    RECORDED = "recorded"  # stored (or a replay of a stored one); the call was already at or past it
    UNKNOWN_CALL = "unknown_call"  # no such call, or it belongs to another CallSid: nothing written


def _claim_provider_call(*, call_id: uuid.UUID, call_sid: str) -> bool:
    """Whether callbacks for `call_sid` may touch call `call_id`.

    The first callback can beat `place_call` to storing the CallSid (Twilio may call back before its
    API answer arrives); it then stores it, conditionally, so both writers agree.
    """
    stored = Call.objects.filter(pk=call_id).values_list("provider_call_id", flat=True).first()
    if stored is None:
        return False
    if stored == "":
        Call.objects.filter(pk=call_id, provider_call_id="").update(provider_call_id=call_sid)
        return True
    return stored == call_sid


def call_event_record(
    *,
    call_id: uuid.UUID,
    kind: str,
    provider_event_id: str,
    payload: dict,
    occurred_at: datetime.datetime | None = None,
) -> None:
    """Store one provider event; a replay of a stored one is ignored by the unique constraint."""
    CallEvent.objects.bulk_create(
        [
            CallEvent(
                call_id=call_id,
                kind=kind,
                provider_event_id=provider_event_id[:128],
                payload=payload,
                occurred_at=occurred_at,
            )
        ],
        ignore_conflicts=True,
    )


def call_record_status(
    *,
    call_id: uuid.UUID,
    call_sid: str,
    status: CallStatus,
    provider_event_id: str,
    payload: dict,
    occurred_at: datetime.datetime | None = None,
    duration_seconds: int | None = None,
    answered_by: str = "",
    price: Decimal | None = None,
    price_unit: str = "",
) -> CallbackOutcome:
    """Record a status callback once and move the call forward if it is news.

    A terminal status also stores duration, answered-by and price when the callback carries them.
    Replays and late, out-of-order callbacks are stored (once) but never move the call back. The
    provider's Timestamp is kept on the event (`occurred_at`).
    """
    fields: dict[str, object] = {}
    if status in TERMINAL_STATUSES:
        fields = {"duration_seconds": duration_seconds, "price": price, "price_unit": price_unit}
        if answered_by:
            fields["answered_by"] = answered_by
        fields = {name: value for name, value in fields.items() if value not in (None, "")}
    # The common case costs two statements: the insert-or-ignore and the conditional UPDATE (which also
    # checks the CallSid). Only a callback that moves nothing pays a third, to tell a replay from an
    # unknown call; an unknown call's event is rolled back with the transaction (its FK check is
    # deferred to commit), so nothing is written.
    try:
        with transaction.atomic():
            call_event_record(
                call_id=call_id,
                kind=CallEvent.Kind.STATUS,
                provider_event_id=provider_event_id,
                payload=payload,
                occurred_at=occurred_at,
            )
            # The call's own timestamps are our clock at arrival: Twilio's Timestamp has whole seconds
            # only and would put answered_at before the started_at we set when placing the call.
            moved = call_transition(call_id=call_id, status=status, fields=fields, provider_call_id=call_sid)
            if not moved and not _claim_provider_call(call_id=call_id, call_sid=call_sid):
                raise _UnknownCall
    except _UnknownCall:
        return CallbackOutcome.UNKNOWN_CALL
    return CallbackOutcome.APPLIED if moved else CallbackOutcome.RECORDED


class _UnknownCall(Exception):
    """Raised inside a callback's transaction to roll it back."""


def call_record_amd(*, call_id: uuid.UUID, call_sid: str, answered_by: str, payload: dict) -> CallbackOutcome:
    """Record the answering-machine verdict; a machine on a hang-up campaign is hung up after commit."""
    with transaction.atomic():
        if not _claim_provider_call(call_id=call_id, call_sid=call_sid):
            return CallbackOutcome.UNKNOWN_CALL
        call_event_record(call_id=call_id, kind=CallEvent.Kind.AMD, provider_event_id=answered_by, payload=payload)
        moved = Call.objects.filter(pk=call_id, answered_by="").update(answered_by=answered_by) == 1
        if moved:
            # A conversation already under way hears the verdict (a voicemail greeting ends with a beep).
            transaction.on_commit(lambda: publish_call_event(call_id, {"kind": "amd", "answered_by": answered_by}))
        policy = Call.objects.filter(pk=call_id).values_list("campaign__answering_machine_policy", flat=True).first()
        if moved and answered_by.startswith("machine") and policy == "hang_up":
            from calls.tasks import hang_up_call

            hang_up_call.delay_on_commit(str(call_id))
    return CallbackOutcome.APPLIED if moved else CallbackOutcome.RECORDED


def call_record_recording(
    *, call_id: uuid.UUID, call_sid: str, recording_sid: str, status: str, url: str, payload: dict
) -> CallbackOutcome:
    """Record a recording callback; a completed recording's URL is stored (recordings can outlive the call)."""
    with transaction.atomic():
        if not _claim_provider_call(call_id=call_id, call_sid=call_sid):
            return CallbackOutcome.UNKNOWN_CALL
        call_event_record(
            call_id=call_id,
            kind=CallEvent.Kind.RECORDING,
            provider_event_id=f"{recording_sid}:{status}",
            payload=payload,
        )
        moved = bool(url) and status == "completed"
        if moved:
            moved = Call.objects.filter(pk=call_id, recording_url="").update(recording_url=url) == 1
    return CallbackOutcome.APPLIED if moved else CallbackOutcome.RECORDED


def call_record_media_start(*, call_id: uuid.UUID, call_sid: str, stream_sid: str, payload: dict) -> bool:
    """Record that a media stream started; False (nothing written) unless the call exists and is open."""
    with transaction.atomic():
        if not Call.objects.filter(pk=call_id).open().exists():
            return False
        if not _claim_provider_call(call_id=call_id, call_sid=call_sid):
            return False
        call_event_record(
            call_id=call_id, kind=CallEvent.Kind.MEDIA, provider_event_id=f"start:{stream_sid}", payload=payload
        )
    return True


def call_record_media_stop(*, call_id: uuid.UUID, stream_sid: str, payload: dict) -> None:
    call_event_record(
        call_id=call_id, kind=CallEvent.Kind.MEDIA, provider_event_id=f"stop:{stream_sid}", payload=payload
    )


# Placing, hanging up and reaping -----------------------------------------------------------------------

MACHINE_DETECTION_BY_POLICY = {
    "off": MachineDetection.OFF,
    "hang_up": MachineDetection.ENABLE,
    "leave_voicemail": MachineDetection.DETECT_MESSAGE_END,
}


def call_limits(call: Call) -> tuple[int, int]:
    """(ring timeout, max duration) in seconds: the campaign's, or the defaults for test calls."""
    if call.campaign is not None:
        return call.campaign.ring_timeout_seconds, call.campaign.max_call_duration_seconds
    return settings.CALLS_DEFAULT_RING_TIMEOUT_SECONDS, settings.CALLS_DEFAULT_MAX_DURATION_SECONDS


def place_call_request(call: Call) -> PlaceCallRequest:
    from calls.twiml import webhook_url

    ring_timeout, max_duration = call_limits(call)
    campaign = call.campaign
    return PlaceCallRequest(
        to=call.to_phone,
        from_=call.from_phone or (campaign.caller_id if campaign else "") or settings.TWILIO_FROM_NUMBER,
        twiml_url=webhook_url("voice", call.pk),
        status_callback_url=webhook_url("status", call.pk),
        amd_callback_url=webhook_url("amd", call.pk),
        recording_callback_url=webhook_url("recording", call.pk),
        ring_timeout_seconds=ring_timeout,
        time_limit_seconds=max_duration,
        machine_detection=MACHINE_DETECTION_BY_POLICY[campaign.answering_machine_policy]
        if campaign
        else MachineDetection.OFF,
        record=bool(campaign and campaign.record_calls),
    )


# Campaign statuses (by value: calls does not import campaigns) in which no new call may start.
STOPPED_CAMPAIGN_STATUSES = ("paused", "cancelled", "completed")


def _withdraw_if_campaign_stopped(call_id: uuid.UUID) -> bool:
    campaign_status = (
        Call.objects.filter(pk=call_id, status=CallStatus.QUEUED, campaign__isnull=False)
        .values_list("campaign__status", flat=True)
        .first()
    )
    if campaign_status not in STOPPED_CAMPAIGN_STATUSES:
        return False
    return call_transition(
        call_id=call_id,
        status=CallStatus.CANCELED,
        fields={"failure_reason": f"Withdrawn before it was placed: the campaign is {campaign_status}"},
    )


def call_place(*, call_id: uuid.UUID) -> None:
    """Hand a queued call to the carrier, once.

    The claim (queued → initiated, a conditional UPDATE) makes a redelivered task a no-op. A permanent
    provider error fails the call (the call-finished hook fires). Any other error leaves it open with
    the reason: the carrier may have placed it, so its callbacks — or else the reaper — settle it.
    A campaign call whose campaign stopped running (paused, cancelled) since it was queued is
    withdrawn instead: cancelled with no provider request, so a pause takes effect at once.
    """
    if _withdraw_if_campaign_stopped(call_id):
        return
    if not call_transition(call_id=call_id, status=CallStatus.INITIATED):
        return
    call = Call.objects.select_related("campaign").get(pk=call_id)
    try:
        placed = telephony().place(place_call_request(call))
    except ProviderError as error:
        reason = error.message[:255]
        call_event_record(
            call_id=call_id,
            kind=CallEvent.Kind.SYSTEM,
            provider_event_id="place-error",
            payload={"error": error.message, "permanent": error.permanent},
        )
        if error.permanent:
            call_transition(call_id=call_id, status=CallStatus.FAILED, fields={"failure_reason": reason})
        else:
            Call.objects.filter(pk=call_id).update(failure_reason=reason)
        return
    Call.objects.filter(pk=call_id, provider_call_id="").update(provider_call_id=placed.provider_call_id)


def call_hang_up(*, call_id: uuid.UUID) -> None:
    """Ask the carrier to end an open call; its status callbacks then close it."""
    sid = Call.objects.open().filter(pk=call_id).values_list("provider_call_id", flat=True).first()
    if not sid:
        return
    try:
        telephony().hang_up(sid)
    except ProviderError as error:
        logger.warning("could not hang up call %s: %s", call_id, error.message)


def call_create_test(*, contact_id: int, to_phone: str) -> Call:
    """A one-off call to a contact outside any campaign (the admin's "Place a test call"), placed on commit."""
    from calls.tasks import place_call

    call = call_create(
        contact_id=contact_id,
        to_phone=to_phone,
        provider=settings.TELEPHONY_PROVIDER,
        from_phone=settings.TWILIO_FROM_NUMBER,
    )
    place_call.delay_on_commit(str(call.pk))
    return call


def call_reap(*, call_id: uuid.UUID) -> bool:
    """Close a call a lost callback left open, from the carrier's own account of it; True if it closed."""
    call = Call.objects.get(pk=call_id)
    if call.is_terminal:
        return False
    if not call.provider_call_id:
        return _reap(call, CallStatus.FAILED, {"failure_reason": "The carrier never confirmed this call."})
    try:
        report = telephony().fetch_status(call.provider_call_id)
    except ProviderError as error:
        if not error.permanent:
            return False  # try again on the next pass
        return _reap(call, CallStatus.FAILED, {"failure_reason": f"Unknown to the carrier: {error.message}"[:255]})
    if not report.state.terminal:
        # Past its time limit and still up at the carrier: end it; the next pass records the end.
        call_hang_up(call_id=call.pk)
        return False
    fields = {
        "duration_seconds": report.duration_seconds,
        "answered_by": report.answered_by,
        "price": report.price,
        "price_unit": report.price_unit,
    }
    return _reap(call, CallStatus(report.state.value), {k: v for k, v in fields.items() if v not in (None, "")})


def _reap(call: Call, status: CallStatus, fields: dict[str, object]) -> bool:
    with transaction.atomic():
        moved = call_transition(call_id=call.pk, status=status, fields=fields)
        if moved:
            call_event_record(
                call_id=call.pk,
                kind=CallEvent.Kind.SYSTEM,
                provider_event_id="reaped",
                payload={"status": status.value, **{k: str(v) for k, v in fields.items()}},
            )
    return moved
