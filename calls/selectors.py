"""Reads of calls."""

import datetime
import uuid

from django.db.models import Q

from calls.models import Call, CallStatus


def calls_left_queued(*, created_before: datetime.datetime, limit: int) -> list[uuid.UUID]:
    """Ids of calls still queued (never handed to the carrier) that were created before `created_before`."""
    queued = Call.objects.filter(status=CallStatus.QUEUED, created_at__lt=created_before).order_by("created_at")
    return list(queued.values_list("pk", flat=True)[:limit])


def calls_in_carrier_hands(*, asked_before: datetime.datetime, limit: int) -> list[Call]:
    """Open calls past `queued` whose placing began before `asked_before` (the reaper's candidates), oldest first.

    Calls placed within the carrier's poll period are left out: their own callbacks are the news.
    """
    began = Q(started_at__lt=asked_before) | Q(started_at__isnull=True, created_at__lt=asked_before)
    return list(Call.objects.open().exclude(status=CallStatus.QUEUED).filter(began).order_by("created_at")[:limit])
