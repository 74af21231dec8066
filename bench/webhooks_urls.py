"""The project's URLs plus reference views that show what this stack allows on this machine.

- `/bench/empty/`: an empty Django view, behind the project's middleware: Django's own ceiling.
- `/bench/minimal/<uuid>/`: the least a status callback can do here, written as tightly as possible in
  Django — the signature check, then one transaction with a raw `INSERT … ON CONFLICT DO NOTHING` of the
  event and a raw conditional `UPDATE` of the call — with none of the product's validation, metrics,
  stage timestamps or hooks. It is the ceiling for this work through Django's request cycle.
- `/twilio/bench-minimal/<uuid>/`: the same minimal view on the short ASGI path the product's webhooks
  take (calls/webhook_asgi.py): the ceiling for this work on this server as the product serves it.
Neither is something to ship.
"""

import json
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from calls.webhook_asgi import LEAN_ATTRIBUTE
from config.urls import urlpatterns as project_urlpatterns

FORWARD = {
    "initiated": ["queued"],
    "ringing": ["queued", "initiated"],
    "in-progress": ["queued", "initiated", "ringing"],
}


@csrf_exempt
def empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


@csrf_exempt
def minimal(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    validator = RequestValidator(settings.SIMULATED_CARRIER_AUTH_TOKEN)
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    if not validator.validate(url, request.POST, request.META.get("HTTP_X_TWILIO_SIGNATURE", "")):
        return HttpResponse(status=403)
    status = request.POST["CallStatus"]
    predecessors = FORWARD.get(status, ["queued", "initiated", "ringing", "in-progress"])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO calls_callevent (call_id, kind, provider_event_id, payload, received_at)"
            " VALUES (%s, 'status', %s, %s, now()) ON CONFLICT DO NOTHING",
            [call_id, f"{request.POST.get('SequenceNumber', '')}:{status}", json.dumps(request.POST.dict())],
        )
        cursor.execute(
            "UPDATE calls_call SET status = %s WHERE id = %s AND status = ANY(%s)",
            [status.replace("-", "_"), call_id, predecessors],
        )
    return HttpResponse(status=204)


def minimal_short_path(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    return minimal(request, call_id)


setattr(minimal_short_path, LEAN_ATTRIBUTE, True)

urlpatterns = [
    path("bench/empty/", empty),
    path("bench/minimal/<uuid:call_id>/", minimal),
    path("twilio/bench-minimal/<uuid:call_id>/", minimal_short_path),
    *project_urlpatterns,
]
