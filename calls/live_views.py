"""A call's live page (`/live/calls/<uuid>/`) and the steering a supervisor does from it.

Thin: check the permission (a 403 page without it), call one selector or service, respond. Steering is a
POST (CSRF-protected like every admin form) answering JSON: `{"message": …}`, or `{"error": …}` with 400
when the action cannot be carried out, in words.
"""

import uuid

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from calls.exceptions import SteeringError
from calls.live_selectors import call_live_view, live_labels
from calls.permissions import LISTEN_LIVE_CALLS, STEER_LIVE_CALLS, VIEW_LIVE_CALLS, may
from calls.services import steering


def require(request: HttpRequest, permission: str) -> None:
    if not may(request.user, permission):
        raise PermissionDenied(gettext("You may not do this on live calls: ask for the supervisor role."))


def call_page(request: HttpRequest, call_id: uuid.UUID) -> HttpResponse:
    require(request, VIEW_LIVE_CALLS)
    call = call_live_view(call_id)
    if call is None:
        raise Http404(gettext("No such call."))
    labels = live_labels()
    context = {
        **admin.site.each_context(request),
        "title": gettext("Call %(id)s (%(phone)s)") % {"id": str(call_id)[:8], "phone": call["phone"]},
        "call": call,
        "labels": labels,
        "status_label": labels["status"].get(call["status"], call["status"]),
        "answered_by_label": labels["answered_by"].get(call["answered_by"], call["answered_by"]),
        "may_steer": may(request.user, STEER_LIVE_CALLS),
        "may_listen": may(request.user, LISTEN_LIVE_CALLS),
        "admin_url": reverse("admin:calls_call_change", args=[call_id]),
    }
    return TemplateResponse(request, "live/call.html", context)


STEERING = {
    "whisper": (lambda request, call_id: steering.call_steer_whisper(
        call_id=call_id, actor=request.user, text=request.POST.get("text", "")), _("Whispered to the agent.")),
    "take_over": (lambda request, call_id: steering.call_steer_take_over(call_id=call_id, actor=request.user),
                  _("You have the call: the agent is silent, your microphone speaks.")),
    "hand_back": (lambda request, call_id: steering.call_steer_hand_back(call_id=call_id, actor=request.user),
                  _("Handed back: the agent goes on.")),
    "hang_up": (lambda request, call_id: steering.call_steer_hang_up(call_id=call_id, actor=request.user),
                _("Hanging up.")),
    "transfer": (lambda request, call_id: steering.call_steer_transfer(
        call_id=call_id, actor=request.user, to=request.POST.get("to", "")), _("Transferring.")),
    "do_not_call": (lambda request, call_id: steering.call_steer_do_not_call(call_id=call_id, actor=request.user),
                    _("The number is now on the do-not-call list.")),
}  # fmt: skip


@require_POST
def steer(request: HttpRequest, call_id: uuid.UUID, action: str) -> JsonResponse:
    if not may(request.user, STEER_LIVE_CALLS):
        return JsonResponse(
            {"error": gettext("You may not steer live calls: ask for the supervisor role.")}, status=403
        )
    if action not in STEERING:
        return JsonResponse({"error": gettext("Unknown action %(move)r.") % {"move": action}}, status=404)
    run, message = STEERING[action]
    try:
        run(request, call_id)
    except SteeringError as error:
        return JsonResponse({"error": error.message}, status=400)
    return JsonResponse({"message": str(message)})
