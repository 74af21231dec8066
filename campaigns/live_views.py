"""The live board (`/live/`): every live call and each campaign's floor at a glance, and pause / resume.

It lives here because it reads campaigns (names, caps); the calls come from `calls.live_selectors`, and
every update after the first render from the board's WebSocket (`ws/calls/live/`).
"""

import datetime

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from calls.live_selectors import campaign_call_stats, live_call_rows, live_labels
from calls.live_views import require
from calls.permissions import STEER_LIVE_CALLS, VIEW_LIVE_CALLS, may
from campaigns.exceptions import CampaignError
from campaigns.models import Agent, Campaign
from campaigns.services import campaign_pause, campaign_resume
from contacts.models import OperatorAction
from contacts.services import operator_action_record

ON_THE_FLOOR = (Campaign.Status.RUNNING, Campaign.Status.PAUSED)


def board_state(*, now: datetime.datetime) -> dict:
    """What the board starts from: live calls, campaigns on the floor (or with a live call or a call today) with
    their caps and today's counts, and agents' names."""
    since = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    calls = live_call_rows()
    stats = campaign_call_stats(since=since, now=now)
    ids = {row["campaign"] for row in calls.values() if row["campaign"]} | set(stats)
    campaigns = Campaign.objects.filter(status__in=ON_THE_FLOOR) | Campaign.objects.filter(pk__in=ids)
    empty = {"ended": 0, "answered": 0, "machine": 0, "per_minute": []}
    return {
        "now": now.isoformat(),
        "calls": calls,
        "campaigns": {
            str(c.pk): {
                "name": c.name,
                "status": c.status,
                "max_concurrent": c.max_concurrent_calls,
                "cps_cap": float(c.calls_per_second),
                "today": stats.get(c.pk, empty),
            }
            for c in campaigns.order_by("name")
        },
        "agents": {str(pk): name for pk, name in Agent.objects.values_list("pk", "name")},
    }


def board(request: HttpRequest) -> HttpResponse:
    require(request, VIEW_LIVE_CALLS)
    context = {
        **admin.site.each_context(request),
        "title": gettext("Live calls"),
        "labels": {**live_labels(), "campaign_status": {code: str(label) for code, label in Campaign.Status.choices}},
        "board": board_state(now=timezone.now()),
        "may_steer": may(request.user, STEER_LIVE_CALLS),
        "focus": request.GET.get("campaign", ""),
    }
    return TemplateResponse(request, "live/board.html", context)


MOVES = {
    "pause": (campaign_pause, OperatorAction.Action.CAMPAIGN_PAUSE, _("Paused: calls in progress finish.")),
    "resume": (campaign_resume, OperatorAction.Action.CAMPAIGN_RESUME, _("Resumed.")),
}


@require_POST
def pace(request: HttpRequest, campaign_id: int, move: str) -> JsonResponse:
    """Pause or resume a campaign from the board (audited)."""
    if not may(request.user, STEER_LIVE_CALLS):
        return JsonResponse(
            {"error": gettext("You may not pause or resume campaigns: ask for the supervisor role.")}, status=403
        )
    if move not in MOVES:
        return JsonResponse({"error": gettext("Unknown action %(move)r.") % {"move": move}}, status=404)
    service, action, message = MOVES[move]
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        return JsonResponse({"error": gettext("Campaign %(id)s does not exist.") % {"id": campaign_id}}, status=404)
    try:
        with transaction.atomic():
            service(campaign_id=campaign_id)
            operator_action_record(actor=request.user, action=action, target=campaign, details={"from": "live board"})
    except CampaignError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse({"message": str(message), "status": Campaign.objects.get(pk=campaign_id).status})
