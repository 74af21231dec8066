"""Reads of calls."""

import datetime
import uuid
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, Sum

from calls.models import TERMINAL_STATUSES, AnalysisStatus, Call, CallEvent, CallStatus, TranscriptTurn


def callee_heard_agent() -> Exists:
    """For a Call queryset's `annotate`: whether the callee heard the agent — a media stream started and the
    agent's audio played to them (a turn of the agent's whose first audio the carrier echoed back as played:
    the opener, first of all). An answered call without it reached no one who heard anything: the TwiML
    fetch failed, the stream never came, or the line dropped before a word played."""
    return Exists(
        TranscriptTurn.objects.filter(
            call_id=OuterRef("pk"), role=TranscriptTurn.Role.AGENT, first_audio_heard_ms__isnull=False
        )
    )


def conversation_still_recording(call_id: object) -> bool:
    """Whether call `call_id` had a media stream whose conversation has not yet written its end (its record,
    the turns heard included, is still on the way)."""
    events = CallEvent.objects.filter(call_id=call_id, kind__in=[CallEvent.Kind.MEDIA, CallEvent.Kind.SYSTEM])
    started = events.filter(kind=CallEvent.Kind.MEDIA, provider_event_id__startswith="start:").exists()
    return started and not events.filter(kind=CallEvent.Kind.SYSTEM, provider_event_id="conversation-end").exists()


def calls_left_queued(*, created_before: datetime.datetime, limit: int) -> list[uuid.UUID]:
    """Ids of calls still queued (never handed to the carrier) that were created before `created_before`."""
    queued = Call.objects.filter(status=CallStatus.QUEUED, created_at__lt=created_before).order_by("created_at")
    return list(queued.values_list("pk", flat=True)[:limit])


def calls_awaiting_analysis(
    *, ended_after: datetime.datetime, ended_before: datetime.datetime, claimed_before: datetime.datetime, limit: int
) -> list[uuid.UUID]:
    """Ids of calls that ended between `ended_after` and `ended_before` whose analysis never started, or
    started before `claimed_before` and never finished (its worker died mid-request), oldest first."""
    stalled = Q(analysis_status=AnalysisStatus.NOT_REQUESTED) | Q(
        analysis_status=AnalysisStatus.RUNNING, analysis_started_at__lt=claimed_before
    )
    ended = Call.objects.filter(status__in=TERMINAL_STATUSES, ended_at__gte=ended_after, ended_at__lt=ended_before)
    return list(ended.filter(stalled).order_by("ended_at").values_list("pk", flat=True)[:limit])


def calls_in_carrier_hands(*, asked_before: datetime.datetime, limit: int) -> list[Call]:
    """Open calls past `queued` whose placing began before `asked_before` (the reaper's candidates), oldest first.

    Calls placed within the carrier's poll period are left out: their own callbacks are the news.
    """
    began = Q(started_at__lt=asked_before) | Q(started_at__isnull=True, created_at__lt=asked_before)
    return list(Call.objects.open().exclude(status=CallStatus.QUEUED).filter(began).order_by("created_at")[:limit])


def test_call_refusals(*, contact_ids: list[int], now: datetime.datetime) -> dict[int, str]:
    """Why each of these contacts may not get a call outside any campaign at `now`, in words (the rule,
    and when it opens where it will); contacts absent from the answer may be called.

    calls' own floor comes first, whatever gate is registered: an erased contact, no number, a number on the
    do-not-call list. Then every gate registered in `calls.hooks` (the campaigns' dial-time rules). The
    admin's "Place a test call" and the API's POST /api/v1/calls/ both ask this.
    """
    from calls.hooks import refusals_for_test_calls
    from contacts.models import Contact
    from contacts.selectors import suppressed_phones

    rows = list(Contact.objects.filter(pk__in=contact_ids).values_list("pk", "phone", "erased_at"))
    refusals: dict[int, str] = {}
    for pk, phone, erased_at in rows:
        if erased_at is not None:
            refusals[pk] = "Contact's data was erased"
        elif not phone:
            refusals[pk] = "No phone number"
    suppressed = suppressed_phones(phone for pk, phone, _ in rows if pk not in refusals)
    refusals |= {pk: "On the do-not-call list" for pk, phone, _ in rows if phone in suppressed}
    gated = [pk for pk, *_ in rows if pk not in refusals]
    for pk, reason in refusals_for_test_calls(gated, now).items() if gated else ():
        refusals.setdefault(pk, reason)
    return refusals


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
    return not conversation_still_recording(call_id)
