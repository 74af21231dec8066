"""Reads of calls."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from calls.models import MIN_DURATION_SECONDS, MIN_RING_TIMEOUT_SECONDS, Call, CallEvent, TranscriptTurn


def stale_calls(*, now: datetime.datetime, limit: int) -> list[Call]:
    """Open calls older than they can be: their ring timeout + max duration + CALLS_REAPER_MARGIN_SECONDS."""
    margin = settings.CALLS_REAPER_MARGIN_SECONDS
    shortest = MIN_RING_TIMEOUT_SECONDS + MIN_DURATION_SECONDS + margin  # the least the database allows
    candidates = (
        Call.objects.open()
        .filter(created_at__lt=now - datetime.timedelta(seconds=shortest))
        .order_by("created_at")[:limit]
    )
    return [
        call
        for call in candidates
        if call.created_at + datetime.timedelta(seconds=call.ring_timeout_seconds + call.max_duration_seconds + margin)
        < now
    ]


def call_transcript(*, call_id: object) -> list[tuple[str, str]]:
    """The call's transcript as (role, text), in order."""
    return list(TranscriptTurn.objects.filter(call_id=call_id).order_by("index").values_list("role", "text"))


def campaign_cost_total(*, campaign_id: int) -> dict[str, Decimal | None]:
    """The estimated cost of a campaign's calls, by part and in total."""
    return Call.objects.filter(campaign_id=campaign_id).aggregate(
        telephony=Sum("cost_telephony"),
        tts=Sum("cost_tts"),
        stt=Sum("cost_stt"),
        llm=Sum("cost_llm"),
        total=Sum("cost"),
    )


def conversation_recorded(*, call_id: object) -> bool:
    """Whether the call's conversation has written all it will: it had no media stream, or its end is recorded
    (the last turns and the outcome are written just after the stream stops, sometimes after the final status)."""
    media = CallEvent.objects.filter(call_id=call_id, kind=CallEvent.Kind.MEDIA, provider_event_id__startswith="start:")
    if not media.exists():
        return True
    return CallEvent.objects.filter(call_id=call_id, kind=CallEvent.Kind.SYSTEM,
                                    provider_event_id="conversation-end").exists()  # fmt: skip
