"""Reads of calls."""

import datetime

from django.conf import settings

from calls.models import Call
from calls.services import call_limits


def stale_calls(*, now: datetime.datetime, limit: int) -> list[Call]:
    """Open calls older than they can be: ring timeout + max duration + CALLS_REAPER_MARGIN_SECONDS."""
    margin = settings.CALLS_REAPER_MARGIN_SECONDS
    shortest = 5 + 10 + margin  # the smallest ring timeout and duration the database allows
    candidates = (
        Call.objects.open()
        .filter(created_at__lt=now - datetime.timedelta(seconds=shortest))
        .select_related("campaign")
        .order_by("created_at")[:limit]
    )
    return [
        call
        for call in candidates
        if call.created_at + datetime.timedelta(seconds=sum(call_limits(call)) + margin) < now
    ]
