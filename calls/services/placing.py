"""Placing, hanging up and reaping calls: the only writes that talk to the carrier."""

import logging
import uuid

from django.conf import settings
from django.db import transaction

from calls.models import Call, CallEvent, CallStatus
from calls.services.callbacks import call_event_record
from calls.services.state import call_create, call_transition
from voice.providers.base import MachineDetection, PlaceCallRequest, ProviderError
from voice.providers.selection import telephony

logger = logging.getLogger(__name__)


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
