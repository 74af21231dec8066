"""The reaper: every open call ends, decided from the last contact with the carrier, not from a long timer.

Each pass (`calls_reap`, beat's `calls.reap_stale_calls` every `CALLS_REAPER_INTERVAL_SECONDS`):

1. **Calls left `queued`** — committed by the dispatcher but never placed, because the process died
   between its commit and queueing `calls.place_call`, or the broker refused or lost the message — are
   *cancelled* once `CALLS_QUEUED_GRACE_SECONDS` old, and their targets get the attempt back (a call
   cancelled before it was placed is no attempt: `campaigns` settles it so, and the dial gate's caps
   skip it). A sweep over the Call table rather than an outbox table: the queued Call row, committed
   in the same transaction as the target's claim, already *is* the outbox entry, so a second table
   would only copy it. Cancelling rather than re-queueing: the dial gate's verdict (calling window,
   do-not-call, caps) was given at the claim, and a re-queued call could be dialled after it stopped
   holding; cancelled, the target goes back to the dispatcher, which gates it again at its next tick.
   Nothing is dialled twice: `call_place` claims a call by a conditional `queued → initiated` UPDATE and
   the sweep cancels by `queued → canceled`, so exactly one of them wins a late message.
2. **Calls in the carrier's hands** are checked against the carrier, at most every
   `Telephony.status_poll_seconds` each: the simulated carrier's status is a cache entry that its
   owning process rewrites every 2 s (a heartbeat per live call; an owner that died lets it expire),
   real Twilio's is `GET /Calls/<sid>`, asked of a call once it has been up a minute and then once a
   minute. A call the carrier reports ended is closed as reported; one it does not know (Twilio's 404,
   or a dead owner) is closed as failed; the answers that say nothing (a 5xx, a cache that is down) try
   again next pass. Each closed call frees its slot in its campaign's concurrency (an open call holds one).
3. **Calls never confirmed by the carrier** (claimed, but no call id came back) are failed after
   `Telephony.unconfirmed_gone_seconds` where the carrier can say (the simulated one places in-process,
   at once), else past the call's own time limit (ring timeout + max duration +
   `CALLS_REAPER_MARGIN_SECONDS`): a lost answer from Twilio may still be a live call. A call still up at
   the carrier past that limit is hung up.
"""

import datetime
import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus
from calls.selectors import calls_in_carrier_hands, calls_left_queued
from calls.services.callbacks import call_event_record
from calls.services.placing import call_hang_up
from calls.services.state import call_transition
from voice.providers.base import ProviderError, Telephony
from voice.providers.selection import telephony

logger = logging.getLogger(__name__)
NEVER_PLACED = "Never handed to the carrier (lost between the dial and its placing); the attempt is given back."


def calls_reap(*, now: datetime.datetime | None = None, limit: int = 200) -> int:
    """One reaper pass (see the module); returns how many calls it closed."""
    now = now or timezone.now()
    closed = calls_cancel_left_queued(now=now, limit=limit)
    carrier = telephony()
    candidates = calls_in_carrier_hands(asked_before=now - _poll_period(carrier), limit=limit)
    due = _not_asked_recently(candidates, carrier)
    return closed + sum(call_reap(call_id=call.pk, now=now) for call in due)


def calls_cancel_left_queued(*, now: datetime.datetime, limit: int = 200) -> int:
    """Cancel calls queued longer than CALLS_QUEUED_GRACE_SECONDS (never placed); returns how many."""
    grace = datetime.timedelta(seconds=settings.CALLS_QUEUED_GRACE_SECONDS)
    cancelled = 0
    for call_id in calls_left_queued(created_before=now - grace, limit=limit):
        with transaction.atomic():
            if call_transition(call_id=call_id, status=CallStatus.CANCELED, fields={"failure_reason": NEVER_PLACED}):
                cancelled += 1
                call_event_record(
                    call_id=call_id, kind=CallEvent.Kind.SYSTEM, provider_event_id="never-placed", payload={}
                )
    if cancelled:
        logger.warning("cancelled %d calls that were never placed; their targets get the attempt back", cancelled)
    return cancelled


def call_reap(*, call_id: uuid.UUID, now: datetime.datetime | None = None) -> bool:
    """Ask the carrier about open call `call_id` and close it if it has ended or is gone; True if it closed."""
    now = now or timezone.now()
    call = Call.objects.get(pk=call_id)
    if call.is_terminal or call.status == CallStatus.QUEUED:
        return False
    carrier = telephony()
    limit = datetime.timedelta(
        seconds=call.ring_timeout_seconds + call.max_duration_seconds + settings.CALLS_REAPER_MARGIN_SECONDS
    )
    past_limit = now - call.created_at > limit
    if not call.provider_call_id:
        placing_for = (now - (call.started_at or call.created_at)).total_seconds()
        gone_after = carrier.unconfirmed_gone_seconds
        if past_limit or (gone_after is not None and placing_for >= gone_after):
            return _close(call, CallStatus.FAILED, {"failure_reason": "The carrier never confirmed this call."})
        return False
    try:
        report = carrier.fetch_status(call.provider_call_id)
    except ProviderError as error:
        if not error.permanent:
            return False  # the carrier said nothing either way: ask again next pass
        return _close(call, CallStatus.FAILED, {"failure_reason": f"Unknown to the carrier: {error.message}"[:255]})
    if not report.state.terminal:
        _note_asked(call.pk, carrier)
        if past_limit:
            # Past its time limit and still up at the carrier: end it; its callbacks (or the next pass) close it.
            call_hang_up(call_id=call.pk)
        return False
    fields = {
        "duration_seconds": report.duration_seconds,
        "answered_by": report.answered_by,
        "price": report.price,
        "price_unit": report.price_unit,
    }
    return _close(call, CallStatus(report.state.value), {k: v for k, v in fields.items() if v not in (None, "")})


def _close(call: Call, status: CallStatus, fields: dict[str, object]) -> bool:
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


def _poll_period(carrier: Telephony) -> datetime.timedelta:
    return datetime.timedelta(seconds=carrier.status_poll_seconds)


def _asked_key(call_id: uuid.UUID) -> str:
    return f"calls:carrier-asked:{call_id}"


def _note_asked(call_id: uuid.UUID, carrier: Telephony) -> None:
    """Remember that the carrier said the call is live, so it is not asked again for a poll period."""
    if carrier.status_poll_seconds <= 0:
        return
    try:
        cache.set(_asked_key(call_id), True, carrier.status_poll_seconds)
    except Exception as error:  # a cache that is down only means the call is asked again next pass
        logger.warning("reaper: could not note a live call in the cache: %s", error)


def _not_asked_recently(calls: list[Call], carrier: Telephony) -> list[Call]:
    if carrier.status_poll_seconds <= 0 or not calls:
        return calls
    try:
        asked = cache.get_many([_asked_key(call.pk) for call in calls])
    except Exception as error:
        logger.warning("reaper: the cache is down, asking the carrier about every open call: %s", error)
        return calls
    return [call for call in calls if _asked_key(call.pk) not in asked]
