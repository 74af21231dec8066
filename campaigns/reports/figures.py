"""What a campaign's report says, read from the calls and targets tables (aggregates in SQL, rows streamed).

Definitions the sheets share (the tests check them against the tables):

- placed: a call handed to the carrier (`started_at` set); calls withdrawn before that are not attempts.
- connected: a placed call that was answered (`completed`, by a person or a machine); connect rate =
  connected / placed.
- human / machine: a connected call's answering-machine verdict (`human`, `unknown` or none: a person).
- latency: each agent reply after the opener, per stage in ms from the callee's end of speech (p50, p95).
"""

import datetime
import math
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, F, Q, QuerySet, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay

from calls.models import AnsweredBy, Call, CallStatus, TranscriptTurn
from campaigns.models import Campaign, CampaignTarget
from voice.pipeline.outcome_schema import field_order

CHUNK = 5000
HUMAN = [AnsweredBy.HUMAN, AnsweredBy.UNKNOWN, ""]
LATENCY_STAGES = (("first audio heard", "first_audio_heard_ms"), ("first audio sent", "first_audio_sent_ms"),
                  ("LLM first token", "llm_first_token_ms"), ("STT final", "stt_final_ms"))  # fmt: skip
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def campaign_calls(campaign_id: int) -> QuerySet[Call]:
    return Call.objects.filter(campaign_id=campaign_id)


@dataclass
class Summary:
    calls: int
    placed: int
    connected: int
    human: int
    machine: int
    average_duration_s: float | None
    by_status: list[tuple[str, int]]
    by_disposition: list[tuple[str, int]]
    by_target_state: list[tuple[str, int]]
    carrier_price: list[tuple[str, str, Decimal, int]]  # provider, unit, total, calls priced
    cost: list[tuple[str, str, Decimal]] = field(default_factory=list)  # part, provider, total (CALL_PRICES)
    currency: str = ""
    latency: list[tuple[str, int, int | None, int | None]] = field(default_factory=list)  # stage, n, p50, p95

    @property
    def connect_rate(self) -> float | None:
        return self.connected / self.placed if self.placed else None


def percentile(ordered: Sequence[int], q: float) -> int | None:
    """Nearest-rank percentile of sorted values (p50 of 1..10 is 5; p95 is 10); None for none."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def latency_percentiles(campaign_id: int) -> list[tuple[str, int, int | None, int | None]]:
    turns = TranscriptTurn.objects.filter(call__campaign_id=campaign_id, role=TranscriptTurn.Role.AGENT, index__gt=0)
    rows = []
    for label, column in LATENCY_STAGES:
        values = sorted(turns.filter(**{f"{column}__isnull": False}).values_list(column, flat=True).iterator(CHUNK))
        rows.append((label, len(values), percentile(values, 0.50), percentile(values, 0.95)))
    return rows


def campaign_summary(campaign_id: int) -> Summary:
    calls = campaign_calls(campaign_id)
    connected = Q(status=CallStatus.COMPLETED, started_at__isnull=False)
    totals = calls.aggregate(
        calls=Count("pk"),
        placed=Count("pk", filter=Q(started_at__isnull=False)),
        connected=Count("pk", filter=connected),
        human=Count("pk", filter=connected & Q(answered_by__in=HUMAN)),
        average=Avg("duration_seconds", filter=connected),
    )
    by_status = sorted(calls.values_list("status").annotate(n=Count("pk")).order_by(), key=lambda row: -row[1])
    by_disposition = sorted(
        calls.exclude(disposition="").values_list("disposition").annotate(n=Count("pk")).order_by(),
        key=lambda row: -row[1],
    )
    by_state = sorted(
        CampaignTarget.objects.filter(campaign_id=campaign_id).values_list("state").annotate(n=Count("pk")).order_by(),
        key=lambda row: -row[1],
    )
    prices = (
        calls.exclude(price=None).values_list("provider", "price_unit").annotate(total=Sum("price"), n=Count("pk"))
    ).order_by("provider", "price_unit")
    return Summary(
        calls=totals["calls"],
        placed=totals["placed"],
        connected=totals["connected"],
        human=totals["human"],
        machine=totals["connected"] - totals["human"],
        average_duration_s=float(totals["average"]) if totals["average"] is not None else None,
        by_status=[(str(CallStatus(status).label), n) for status, n in by_status],
        by_disposition=list(by_disposition),
        by_target_state=[(str(CampaignTarget.State(state).label), n) for state, n in by_state],
        carrier_price=[(provider, unit, total, n) for provider, unit, total, n in prices],
        latency=latency_percentiles(campaign_id),
        cost=cost_by_provider(campaign_id),
        currency=calls.exclude(cost_currency="").values_list("cost_currency", flat=True).first() or "",
    )


COST_PARTS = (("Telephony", "provider", "cost_telephony"), ("Text to speech", "usage__tts_provider", "cost_tts"),
              ("Speech to text", "usage__stt_provider", "cost_stt"),
              ("Language model (conversation and analysis)", "usage__llm_model", "cost_llm"))  # fmt: skip


def cost_by_provider(campaign_id: int) -> list[tuple[str, str, Decimal]]:
    """The campaign's estimated cost by part and provider (or model), summed in SQL."""
    calls = campaign_calls(campaign_id).exclude(cost=None)
    rows = []
    for label, key, column in COST_PARTS:
        by = KT(key) if "__" in key else F(key)
        grouped = calls.annotate(by=by).values_list("by").annotate(total=Sum(column)).order_by("by")
        rows.extend((label, provider or "–", total) for provider, total in grouped if total)
    return rows


def connect_heatmap(campaign_id: int, zone: zoneinfo.ZoneInfo) -> dict[tuple[int, int], tuple[int, int]]:
    """(ISO weekday 1–7, hour 0–23) in `zone` → (placed, connected), for hours that had placed calls."""
    rows = (
        campaign_calls(campaign_id)
        .filter(started_at__isnull=False)
        .annotate(weekday=ExtractIsoWeekDay("started_at", tzinfo=zone), hour=ExtractHour("started_at", tzinfo=zone))
        .values_list("weekday", "hour")
        .annotate(placed=Count("pk"), connected=Count("pk", filter=Q(status=CallStatus.COMPLETED)))
        .order_by()
    )
    return {(weekday, hour): (placed, connected) for weekday, hour, placed, connected in rows}


def outcome_fields(campaign: Campaign) -> list[str]:
    """The agent's outcome-schema fields, the report's extracted-data columns: the required ones in the schema's
    order, then the others alphabetically (the same on every database)."""
    schema = campaign.agent.outcome_schema if isinstance(campaign.agent.outcome_schema, dict) else {}
    return field_order(schema)


def local(moment: datetime.datetime | None, zone: zoneinfo.ZoneInfo) -> datetime.datetime | None:
    """A stored instant as a spreadsheet takes it: wall-clock time in the report's zone, without the zone."""
    return moment.astimezone(zone).replace(tzinfo=None) if moment else None


CALL_COLUMNS = ("id", "started_at", "answered_at", "ended_at", "status", "answered_by", "duration_seconds",
                "outcome", "disposition", "sentiment", "summary", "price", "provider", "to_phone", "contact_id",
                "extracted_data", "analysis_status", "cost")  # fmt: skip


def call_rows(campaign_id: int) -> Iterator[dict[str, Any]]:
    """Each call of the campaign, oldest first, as a dict of CALL_COLUMNS (streamed in chunks)."""
    rows = campaign_calls(campaign_id).order_by("created_at", "id").values(*CALL_COLUMNS)
    yield from rows.iterator(chunk_size=CHUNK)


@dataclass
class TargetRow:
    target: dict[str, Any]  # TARGET_COLUMNS, the contact's as contact__<name>
    calls: int = 0
    last_call: dict[str, Any] | None = None
    extracted: dict[str, Any] = field(default_factory=dict)
    disposition: str = ""
    summary: str = ""
    sentiment: str = ""


TARGET_COLUMNS = ("id", "contact_id", "state", "attempts", "last_outcome", "state_reason", "next_attempt_at",
                  "contact__first_name", "contact__last_name", "contact__phone", "contact__email")  # fmt: skip
TARGET_CALL_COLUMNS = ("target_id", "created_at", "status", "answered_by", "disposition", "summary", "sentiment",
                       "extracted_data")  # fmt: skip


def target_rows(campaign_id: int) -> Iterator[TargetRow]:
    """Each target of the campaign by id, with its calls folded in: the count, the last one, and the latest
    analysis (disposition, summary, sentiment) and extracted data. Targets (with their contacts) and calls are
    two streams in the same order, merged here, so memory stays one chunk of each."""
    targets = CampaignTarget.objects.filter(campaign_id=campaign_id).order_by("id").values(*TARGET_COLUMNS)
    calls = (
        campaign_calls(campaign_id).exclude(target_id=None).order_by("target_id", "created_at", "id")
        .values(*TARGET_CALL_COLUMNS)
    )  # fmt: skip
    call_stream = calls.iterator(chunk_size=CHUNK)
    pending = next(call_stream, None)
    for target in targets.iterator(chunk_size=CHUNK):
        row = TargetRow(target=target)
        while pending is not None and pending["target_id"] < target["id"]:
            pending = next(call_stream, None)  # a call whose target is not listed (cannot happen: same campaign)
        while pending is not None and pending["target_id"] == target["id"]:
            row.calls += 1
            row.last_call = pending
            if pending["disposition"]:
                row.disposition, row.summary, row.sentiment = (
                    pending["disposition"], pending["summary"], pending["sentiment"]
                )  # fmt: skip
            if pending["extracted_data"]:
                row.extracted = pending["extracted_data"]
            pending = next(call_stream, None)
        yield row


def report_sizes(campaign_id: int) -> tuple[int, int]:
    """(calls, targets) of the campaign: the report's rows, for its progress bar."""
    return campaign_calls(campaign_id).count(), CampaignTarget.objects.filter(campaign_id=campaign_id).count()
