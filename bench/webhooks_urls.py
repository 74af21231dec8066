"""The project's URLs plus the reference views the webhook benchmark measures ours against.

All of them are plain Django views behind the project's whole middleware, served by the same server
and Django handler as the product's webhooks:
- `/bench/empty/`: an empty view: Django's own ceiling for a request here.
- `/bench/minimal/<uuid>/`: the least a status callback can do, written as a plain Django view —
  the signature check, then one transaction with the event's
  `CallEvent.objects.bulk_create([...], ignore_conflicts=True)` and the call's conditional
  `Call.objects.filter(pk=…, status__in=…).update(status=…)` — with none of the product's
  validation, metrics, stage timestamps, CallSid check or hooks. The peer the product's status
  webhook is held to (≥ 90 % of its throughput).
- `/bench/minimal-raw/<uuid>/`: the same work with both statements as raw SQL on `connection.cursor()`:
  what the ORM's building and compiling of them costs here.
- `/bench/minimal-async/<uuid>/`: the ORM view's work as an `async def` view (the transaction through
  `sync_to_async`, as Django has no async transactions): whether an async view would be faster here.
None is something to ship.
"""

import json
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from calls.models import Call, CallEvent
from config.urls import urlpatterns as project_urlpatterns

FORWARD = {
    "initiated": ["queued"],
    "ringing": ["queued", "initiated"],
    "in-progress": ["queued", "initiated", "ringing"],
}
OPEN = ["queued", "initiated", "ringing", "in_progress"]


@csrf_exempt
def empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


def signed(request: HttpRequest) -> bool:
    validator = RequestValidator(settings.SIMULATED_CARRIER_AUTH_TOKEN)
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    return validator.validate(url, request.POST, request.META.get("HTTP_X_TWILIO_SIGNATURE", ""))


def store(call_id: uuid.UUID, form: QueryDict) -> None:
    status = form["CallStatus"]
    with transaction.atomic():
        ended = {} if status in FORWARD else {"ended_at": timezone.now()}  # a terminal call must have ended_at
        Call.objects.filter(pk=call_id, status__in=FORWARD.get(status, OPEN)).update(
            status=status.replace("-", "_"), **ended
        )
        event = CallEvent(
            call_id=call_id,
            kind="status",
            provider_event_id=f"{form.get('SequenceNumber', '')}:{status}",
            payload=form.dict(),
        )
        CallEvent.objects.bulk_create([event], ignore_conflicts=True)


def store_raw(call_id: uuid.UUID, form: QueryDict) -> None:
    status = form["CallStatus"]
    predecessors = FORWARD.get(status, OPEN)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO calls_callevent (call_id, kind, provider_event_id, payload, received_at)"
            " VALUES (%s, 'status', %s, %s, now()) ON CONFLICT DO NOTHING",
            [call_id, f"{form.get('SequenceNumber', '')}:{status}", json.dumps(form.dict())],
        )
        ended = "" if status in FORWARD else ", ended_at = now()"
        cursor.execute(
            f"UPDATE calls_call SET status = %s{ended} WHERE id = %s AND status = ANY(%s)",  # noqa: S608
            [status.replace("-", "_"), call_id, predecessors],
        )


@csrf_exempt
def minimal(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    if not signed(request):
        return HttpResponse(status=403)
    store(call_id, request.POST)
    return HttpResponse(status=204)


@csrf_exempt
def minimal_raw(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    if not signed(request):
        return HttpResponse(status=403)
    store_raw(call_id, request.POST)
    return HttpResponse(status=204)


@csrf_exempt
async def minimal_async(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    if not signed(request):
        return HttpResponse(status=403)
    await sync_to_async(store)(call_id, request.POST)
    return HttpResponse(status=204)


urlpatterns = [
    path("bench/empty/", empty),
    path("bench/minimal/<uuid:call_id>/", minimal),
    path("bench/minimal-raw/<uuid:call_id>/", minimal_raw),
    path("bench/minimal-async/<uuid:call_id>/", minimal_async),
    *project_urlpatterns,
]
