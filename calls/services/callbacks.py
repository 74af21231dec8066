"""Provider callbacks: each recorded once and applied monotonically, in one transaction.

A callback is stored by an insert that relies on the CallEvent unique constraint (never
check-then-insert), so a replay is a no-op; the status it carries moves the call only forward.
"""

import datetime
import enum
import uuid
from decimal import Decimal

from celery import signature
from django.db import transaction

from calls.live_events import call_snapshot, publish_call_event, publish_call_status_on_commit
from calls.models import TERMINAL_STATUSES, AnsweringMachinePolicy, Call, CallEvent, CallStatus
from calls.services.state import call_transition


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
    """Store one provider event; a replay of a stored one is ignored by the unique constraint.

    An insert-or-ignore (`INSERT … ON CONFLICT DO NOTHING`; `INSERT OR IGNORE` on SQLite), never
    check-then-insert, so two copies of one callback racing each other still store it once.
    """
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
    provider's Timestamp is kept on the event (`occurred_at`). A callback for an unknown call, or
    for a CallSid that is not the call's, writes nothing.
    """
    fields: dict[str, object] = {}
    if status in TERMINAL_STATUSES:
        fields = {"duration_seconds": duration_seconds, "price": price, "price_unit": price_unit}
        if answered_by:
            fields["answered_by"] = answered_by
        fields = {name: value for name, value in fields.items() if value not in (None, "")}
    # The common case is two statements in one transaction: the call's conditional UPDATE (which also
    # checks the CallSid, so a move proves the call is this callback's) and then the event's
    # insert-or-ignore. Only a callback that moves nothing pays a SELECT, to tell a replay or a late
    # status (stored) from an unknown call (nothing written).
    with transaction.atomic():
        # The call's own timestamps are our clock at arrival: Twilio's Timestamp has whole seconds
        # only and would put answered_at before the started_at we set when placing the call.
        moved = call_transition(call_id=call_id, status=status, fields=fields, provider_call_id=call_sid)
        if not moved and not _claim_provider_call(call_id=call_id, call_sid=call_sid):
            return CallbackOutcome.UNKNOWN_CALL
        call_event_record(
            call_id=call_id,
            kind=CallEvent.Kind.STATUS,
            provider_event_id=provider_event_id,
            payload=payload,
            occurred_at=occurred_at,
        )
        if not moved and status == CallStatus.INITIATED:
            # The carrier's own `initiated` reaches the web process, where the board's layer is, even when the
            # move was made by a worker whose layer is another process's memory (the demo's): republished here.
            publish_call_status_on_commit(call_id)
    return CallbackOutcome.APPLIED if moved else CallbackOutcome.RECORDED


def call_record_amd(*, call_id: uuid.UUID, call_sid: str, answered_by: str, payload: dict) -> CallbackOutcome:
    """Record the answering-machine verdict; a machine on a call whose policy is hang-up is hung up after commit."""
    with transaction.atomic():
        if not _claim_provider_call(call_id=call_id, call_sid=call_sid):
            return CallbackOutcome.UNKNOWN_CALL
        call_event_record(call_id=call_id, kind=CallEvent.Kind.AMD, provider_event_id=answered_by, payload=payload)
        moved = Call.objects.filter(pk=call_id, answered_by="").update(answered_by=answered_by) == 1
        if moved:
            # A conversation already under way hears the verdict (a voicemail greeting ends with a beep).
            # The board shows it too (the event carries the call's snapshot, verdict included).
            transaction.on_commit(lambda: publish_call_event(call_id, _amd_event(call_id, answered_by)))
        policy = Call.objects.filter(pk=call_id).values_list("answering_machine_policy", flat=True).first()
        if moved and answered_by.startswith("machine") and policy == AnsweringMachinePolicy.HANG_UP:
            transaction.on_commit(signature("calls.hang_up_call", args=(str(call_id),)).delay)
    return CallbackOutcome.APPLIED if moved else CallbackOutcome.RECORDED


def _amd_event(call_id: uuid.UUID, answered_by: str) -> dict:
    return {**(call_snapshot(call_id) or {}), "kind": "amd", "answered_by": answered_by}


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
            moved = (
                Call.objects.filter(pk=call_id, recording_url="", recording_status="").update(
                    recording_url=url, recording_sid=recording_sid[:64]
                )
                == 1
            )
        if moved:  # copied to our storage by a task, after the commit
            transaction.on_commit(signature("calls.fetch_recording", args=(str(call_id),)).delay)
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
