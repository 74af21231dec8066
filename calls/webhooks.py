"""Twilio's webhooks for a call: TwiML on answer, then status, AMD and recording callbacks.

Each one: POST only, CSRF-exempt, `X-Twilio-Signature` checked against the public URL (403 and
nothing written if it does not match), the form validated (400), one service call (404 and nothing
written for an unknown call or a CallSid that is not this call's), then a short answer. The same
views serve the simulated carrier, which signs with its own token.
"""

import contextlib
import email.utils
import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation

from django.core.exceptions import DisallowedHost
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from calls import services
from calls.hooks import call_script
from calls.models import Call, CallStatus
from calls.services import CallbackOutcome
from calls.twiml import hang_up_twiml, public_url, stream_twiml
from monitoring.logging import mask_phone_numbers
from monitoring.metrics import WEBHOOK_REQUESTS
from voice.providers.base import CallState
from voice.providers.selection import telephony

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "HTTP_X_TWILIO_SIGNATURE"
View = Callable[[HttpRequest, uuid.UUID], HttpResponse]


class BadCallback(ValueError):
    """A signed callback whose form is missing or has an invalid field."""


def signed_url_candidates(request: HttpRequest) -> Iterator[str]:
    """The URLs Twilio may have signed: PUBLIC_BASE_URL + path, then the URL as this request arrived.

    The second follows SECURE_PROXY_SSL_HEADER / USE_X_FORWARDED_HOST, so a TLS-terminating proxy
    that forwards X-Forwarded-Proto works even when PUBLIC_BASE_URL is not set to it. Lazy: the
    common case matches the first and never builds the second.
    """
    path = request.get_full_path()
    first = public_url(path)
    yield first
    with contextlib.suppress(DisallowedHost):  # a Host we do not serve: only PUBLIC_BASE_URL is usable
        arrived = request.build_absolute_uri(path)
        if arrived != first:
            yield arrived


def log_refused_signature(request: HttpRequest, kind: str, call_id: uuid.UUID, signature: str) -> None:
    """A warning that says why a callback was refused and what it claimed, with its phone numbers masked."""
    reason = "its X-Twilio-Signature does not sign this URL and form" if signature else "no X-Twilio-Signature"
    logger.warning(
        "Twilio %s webhook for call %s refused (403): %s; CallSid %r, From %s, To %s",
        kind,
        call_id,
        reason,
        request.POST.get("CallSid", ""),
        mask_phone_numbers(request.POST.get("From", "")) or "-",
        mask_phone_numbers(request.POST.get("To", "")) or "-",
    )


def twilio_webhook(kind: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @csrf_exempt
        @require_POST
        @functools.wraps(view)
        def wrapper(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
            signature = request.META.get(SIGNATURE_HEADER, "")
            carrier = telephony()
            if not any(
                carrier.validate_signature(url, request.POST, signature) for url in signed_url_candidates(request)
            ):
                WEBHOOK_REQUESTS.labels(kind=kind, result="forbidden").inc()
                log_refused_signature(request, kind, call_id, signature)
                return HttpResponse("invalid signature", status=403, content_type="text/plain")
            try:
                response = run_once_more_on_a_dropped_connection(view, request, call_id)
            except BadCallback as error:
                WEBHOOK_REQUESTS.labels(kind=kind, result="bad_request").inc()
                return HttpResponse(str(error), status=400, content_type="text/plain")
            WEBHOOK_REQUESTS.labels(kind=kind, result=str(response.status_code)).inc()
            return response

        return wrapper

    return decorate


def run_once_more_on_a_dropped_connection(view: View, request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    """Run `view`; if the database connection turns out dropped (the server restarted, the session was
    terminated), run it once more on a fresh connection.

    A status callback lost to a 500 would keep its call open, and its campaign's slot, until the reaper
    asks the carrier; Twilio does not retry status callbacks. Safe: each view's writes are one transaction
    that the failure rolled back, and they are idempotent (insert-or-ignore, conditional UPDATEs). Only
    outside a transaction (ATOMIC_REQUESTS is off), and only once: a database that is really down still
    answers 500 at once.
    """
    try:
        return view(request, call_id)
    except (OperationalError, InterfaceError) as error:
        if connection.in_atomic_block:
            raise
        logger.warning("webhook for call %s met a dropped database connection (%s); trying once more", call_id, error)
        connection.close()  # the next query opens (or takes from the pool) a checked connection
        return view(request, call_id)


def required(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name, "").strip()
    if not value:
        raise BadCallback(f"missing {name}")
    return value


def optional_int(request: HttpRequest, name: str) -> int | None:
    value = request.POST.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError as error:
        raise BadCallback(f"{name} is not an integer") from error


def optional_decimal(request: HttpRequest, name: str) -> Decimal | None:
    """Twilio reports a call's cost as a negative amount (a debit); we store the magnitude."""
    value = request.POST.get(name, "").strip()
    if not value:
        return None
    try:
        return abs(Decimal(value))
    except InvalidOperation as error:
        raise BadCallback(f"{name} is not a number") from error


def optional_timestamp(request: HttpRequest) -> "email.utils.datetime.datetime | None":
    value = request.POST.get("Timestamp", "").strip()
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)  # RFC 2822, as Twilio sends it
    except (TypeError, ValueError) as error:
        raise BadCallback("Timestamp is not an RFC 2822 date") from error


def outcome_response(outcome: CallbackOutcome) -> HttpResponse:
    if outcome == CallbackOutcome.UNKNOWN_CALL:
        return HttpResponse("unknown call", status=404, content_type="text/plain")
    return HttpResponse(status=204)


@twilio_webhook("voice")
def voice(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    """TwiML for an answered call: connect its media stream (or hang up a call we already closed)."""
    call_sid = required(request, "CallSid")
    row = Call.objects.filter(pk=call_id).values_list("status", "provider_call_id", "agent_id", "contact__language")
    row = row.first()
    if row is None or row[1] not in ("", call_sid):
        return HttpResponse("unknown call", status=404, content_type="text/plain")
    status, _, agent_id, contact_language = row
    if Call(status=status).is_terminal:
        document = hang_up_twiml()
    else:
        script = call_script(agent_id) if agent_id is not None else None
        document = stream_twiml(call_id, language=script.language if script is not None else contact_language)
    return HttpResponse(document, content_type="text/xml")


@twilio_webhook("status")
def status(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    call_sid = required(request, "CallSid")
    twilio_status = required(request, "CallStatus")
    try:
        state = CallStatus(CallState.from_twilio(twilio_status).value)
    except ValueError as error:
        raise BadCallback(f"unknown CallStatus {twilio_status!r}") from error
    sequence = request.POST.get("SequenceNumber", "").strip()
    outcome = services.call_record_status(
        call_id=call_id,
        call_sid=call_sid,
        status=state,
        # Several callbacks share one CallSid: the (sequence, status) pair names one of them.
        provider_event_id=f"{sequence}:{twilio_status}" if sequence else twilio_status,
        payload=request.POST.dict(),
        occurred_at=optional_timestamp(request),
        duration_seconds=optional_int(request, "CallDuration"),
        answered_by=request.POST.get("AnsweredBy", "").strip(),
        price=optional_decimal(request, "Price"),
        price_unit=request.POST.get("PriceUnit", "").strip()[:3],
    )
    return outcome_response(outcome)


@twilio_webhook("amd")
def amd(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    outcome = services.call_record_amd(
        call_id=call_id,
        call_sid=required(request, "CallSid"),
        answered_by=required(request, "AnsweredBy"),
        payload=request.POST.dict(),
    )
    return outcome_response(outcome)


@twilio_webhook("recording")
def recording(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    outcome = services.call_record_recording(
        call_id=call_id,
        call_sid=required(request, "CallSid"),
        recording_sid=required(request, "RecordingSid"),
        status=required(request, "RecordingStatus"),
        url=request.POST.get("RecordingUrl", "").strip(),
        payload=request.POST.dict(),
    )
    return outcome_response(outcome)
