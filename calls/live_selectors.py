"""Reads of live supervision: the board's starting state and a call's live view, numbers masked.

The pages render these once; everything after arrives over the WebSocket (calls/consumers.py).
"""

import datetime
import uuid
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery

from calls.live_events import MOMENTS, masked_phone, masked_text
from calls.models import TERMINAL_STATUSES, AnsweredBy, Call, CallEvent, CallStatus, TranscriptTurn

# TranscriptTurn's latency fields under the names live events use (voice.pipeline.host.LATENCY_STAGES).
LATENCY_FIELDS = {
    "stt_final": "stt_final_ms",
    "llm_first_token": "llm_first_token_ms",
    "tts_first_byte": "tts_first_byte_ms",
    "first_audio_sent": "first_audio_sent_ms",
    "first_audio_heard": "first_audio_heard_ms",
}
CHART_MINUTES = 30


def turn_latency(turn: TranscriptTurn) -> dict[str, int]:
    return {stage: getattr(turn, name) for stage, name in LATENCY_FIELDS.items() if getattr(turn, name) is not None}


def live_call_rows() -> dict[str, dict[str, Any]]:
    """Every open call as the board shows it, by id: status, masked number, campaign and agent ids, times, the
    last utterance and the latest agent turn's latency. Three queries whatever the number of calls."""
    last_turn = TranscriptTurn.objects.filter(call=OuterRef("pk")).order_by("-index")
    calls = list(
        Call.objects.open()
        .annotate(
            last_role=Subquery(last_turn.values("role")[:1]),
            last_text=Subquery(last_turn.values("text")[:1]),
            last_interrupted=Subquery(last_turn.values("interrupted")[:1]),
        )
        .order_by("created_at")
    )
    replies = {
        turn.call_id: turn
        for turn in TranscriptTurn.objects.filter(call__in=calls, role=TranscriptTurn.Role.AGENT, index__gt=0)
        .exclude(first_audio_sent_ms=None)
        .order_by("call_id", "index")
    }  # the last of each call's replies wins
    rows = {}
    for call in calls:
        row = {
            "status": call.status,
            "phone": masked_phone(call.to_phone),
            "campaign": call.campaign_id,
            "agent": call.agent_id,
            "answered_by": call.answered_by,
            "outcome": call.outcome,
            **{name: (value.isoformat() if (value := getattr(call, name)) else None) for name in MOMENTS},
        }
        if call.last_text is not None:
            row["last_utterance"] = {
                "role": call.last_role,
                "text": masked_text(call.last_text),
                "interrupted": call.last_interrupted,
            }
        if call.pk in replies:
            row["latency_ms"] = turn_latency(replies[call.pk])
        rows[str(call.pk)] = row
    return rows


def campaign_call_stats(*, since: datetime.datetime, now: datetime.datetime) -> dict[int, dict[str, Any]]:
    """Per campaign, calls ended since `since` (completed today), answered, answered by a machine, and calls
    started per minute over the last CHART_MINUTES minutes (oldest first)."""
    ended = (
        Call.objects.filter(campaign_id__isnull=False, status__in=TERMINAL_STATUSES, ended_at__gte=since)
        .values("campaign_id")
        .annotate(
            ended=Count("pk"),
            answered=Count("pk", filter=Q(answered_at__isnull=False)),
            machine=Count("pk", filter=Q(answered_by__startswith="machine")),
        )
    )
    stats: dict[int, dict[str, Any]] = {
        row["campaign_id"]: {
            "ended": row["ended"],
            "answered": row["answered"],
            "machine": row["machine"],
            "per_minute": [0] * CHART_MINUTES,
        }
        for row in ended
    }
    chart_from = now - datetime.timedelta(minutes=CHART_MINUTES)
    for campaign_id, started in Call.objects.filter(campaign_id__isnull=False, started_at__gte=chart_from).values_list(
        "campaign_id", "started_at"
    ):
        minute = CHART_MINUTES - 1 - int((now - started).total_seconds() // 60)
        entry = stats.setdefault(
            campaign_id, {"ended": 0, "answered": 0, "machine": 0, "per_minute": [0] * CHART_MINUTES}
        )
        if 0 <= minute < CHART_MINUTES:
            entry["per_minute"][minute] += 1
    return stats


def live_labels() -> dict[str, dict[str, str]]:
    """The live pages' codes in the operator's language, for their scripts (`Live.label`): call statuses and
    answering-machine verdicts by code."""
    return {
        "status": {code: str(label) for code, label in CallStatus.choices},
        "answered_by": {code: str(label) for code, label in AnsweredBy.choices},
    }


def call_live_view(call_id: uuid.UUID) -> dict[str, Any] | None:
    """A call as its live page shows it, live or finished: the facts (number masked), each turn with its latency
    breakdown, tool calls with their results, the other events, and the outcome fields. None: no such call."""
    call = Call.objects.filter(pk=call_id).first()
    if call is None:
        return None
    turns = [
        {
            "index": turn.index,
            "role": turn.role,
            "text": masked_text(turn.text),
            "interrupted": turn.interrupted,
            "at": turn.started_at.isoformat() if turn.started_at else None,
            "latency_ms": turn_latency(turn),
        }
        for turn in call.turns.all()
    ]
    tools, events = [], []
    for event in call.events.all():
        payload = event.payload if isinstance(event.payload, dict) else {}
        at = event.received_at.isoformat()
        if event.kind == CallEvent.Kind.SYSTEM and "tool" in payload and "result" in payload:
            tools.append(
                {
                    "name": payload["tool"],
                    "arguments": payload.get("arguments", {}),
                    "result": payload["result"],
                    "at": at,
                }
            )
        else:
            summary = payload.get("CallStatus") or payload.get("AnsweredBy") or payload.get("steer") or ""
            events.append(
                {"kind": event.kind, "what": masked_text(f"{event.provider_event_id} {summary}".strip()), "at": at}
            )
    return {
        "id": str(call.pk),
        "status": call.status,
        "phone": masked_phone(call.to_phone),
        "campaign": call.campaign_id,
        "agent": call.agent_id,
        "answered_by": call.answered_by,
        "outcome": call.outcome,
        "summary": call.summary,
        "extracted_data": call.extracted_data,
        "failure_reason": call.failure_reason,
        "duration_seconds": call.duration_seconds,
        "open": not call.is_terminal,
        **{name: (value.isoformat() if (value := getattr(call, name)) else None) for name in MOMENTS},
        "turns": turns,
        "tools": tools,
        "events": events,
    }
