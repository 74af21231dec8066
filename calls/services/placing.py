"""Placing and hanging up calls: with `reaping`, the only writes that talk to the carrier."""

import logging
import uuid

from celery import signature
from django.conf import settings
from django.db import transaction

from calls.models import AnsweringMachinePolicy, Call, CallEvent, CallStatus
from calls.services.callbacks import call_event_record
from calls.services.state import call_create, call_transition
from voice.providers.base import MachineDetection, PlaceCallRequest, ProviderError
from voice.providers.selection import telephony

logger = logging.getLogger(__name__)


MACHINE_DETECTION_BY_POLICY = {
    AnsweringMachinePolicy.OFF: MachineDetection.OFF,
    AnsweringMachinePolicy.HANG_UP: MachineDetection.ENABLE,
    AnsweringMachinePolicy.LEAVE_VOICEMAIL: MachineDetection.DETECT_MESSAGE_END,
}


def place_call_request(call: Call) -> PlaceCallRequest:
    """The carrier request for `call`, from the call's own settings (its creator copied them onto it)."""
    from calls.twiml import webhook_url

    return PlaceCallRequest(
        to=call.to_phone,
        from_=call.from_phone or settings.TWILIO_FROM_NUMBER,
        twiml_url=webhook_url("voice", call.pk),
        status_callback_url=webhook_url("status", call.pk),
        amd_callback_url=webhook_url("amd", call.pk),
        recording_callback_url=webhook_url("recording", call.pk),
        ring_timeout_seconds=call.ring_timeout_seconds,
        time_limit_seconds=call.max_duration_seconds,
        machine_detection=MACHINE_DETECTION_BY_POLICY[AnsweringMachinePolicy(call.answering_machine_policy)],
        record=call.record,
    )


def call_place(*, call_id: uuid.UUID) -> None:
    """Hand a queued call to the carrier, once.

    The claim (queued → initiated, a conditional UPDATE) makes a redelivered task a no-op. A permanent
    provider error fails the call (the call-finished hook fires). Any other error leaves it open with
    the reason: the carrier may have placed it, so its callbacks — or else the reaper — settle it.
    A call withdrawn while queued (`calls_withdraw_queued`) is canceled, so the claim fails and nothing
    is placed.
    """
    if not call_transition(call_id=call_id, status=CallStatus.INITIATED):
        return
    call = Call.objects.get(pk=call_id)
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


def calls_withdraw_queued(*, campaign_id: int, reason: str) -> int:
    """Cancel every call of campaign `campaign_id` not yet handed to the carrier; return how many.

    For a campaign that stops dialling (paused, cancelled, completed): it tells calls, calls never
    asks. Each call moves queued → canceled by a conditional UPDATE, so one that `call_place` already
    claimed is left to finish, and a withdrawn one is never placed (its claim needs a queued call).
    The call-finished hooks run for each withdrawn call after commit.
    """
    queued = Call.objects.filter(campaign_id=campaign_id, status=CallStatus.QUEUED).values_list("pk", flat=True)
    fields = {"failure_reason": reason[:255]}
    return sum(call_transition(call_id=pk, status=CallStatus.CANCELED, fields=fields) for pk in list(queued))


def call_hang_up(*, call_id: uuid.UUID) -> None:
    """Ask the carrier to end an open call; its status callbacks then close it."""
    sid = Call.objects.open().filter(pk=call_id).values_list("provider_call_id", flat=True).first()
    if not sid:
        return
    try:
        telephony().hang_up(sid)
    except ProviderError as error:
        logger.warning("could not hang up call %s: %s", call_id, error.message)


def call_create_test(*, contact_id: int, to_phone: str, agent_id: int | None = None) -> Call:
    """A one-off call to a contact outside any campaign (the admin's "Place a test call", the API's POST
    /api/v1/calls/), spoken by `agent_id`'s agent when given, placed on commit.

    It rings, lasts and treats answering machines as `Call`'s defaults say. The caller has checked
    `selectors.test_call_refusals` first.
    """
    call = call_create(
        contact_id=contact_id,
        to_phone=to_phone,
        agent_id=agent_id,
        provider=settings.TELEPHONY_PROVIDER,
        from_phone=settings.TWILIO_FROM_NUMBER,
    )
    # By name, as every service enqueues: tasks import services, so services never import tasks.
    transaction.on_commit(signature("calls.place_call", args=(str(call.pk),)).delay)
    return call
