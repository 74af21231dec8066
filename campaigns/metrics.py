"""The business in Prometheus: each live campaign's calls, connect rate and pace, read from the database at scrape time.

These are facts of the database, not of a process, so they are computed when /metrics is read
(`monitoring.metrics.register_scrape_collector`, registered in `CampaignsConfig.ready`) rather than counted
by whichever process happened to see a call. Every web container answers the same figures: aggregate them
with `max`, not `sum`. Campaigns covered: running or paused ones, and any that placed a call in the last
day, so a campaign that just completed still shows its last figures for a while. A handful of grouped
queries per scrape, on indexed columns.
"""

import datetime
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from prometheus_client.core import GaugeMetricFamily

from calls.models import TERMINAL_STATUS_VALUES, Call, CallEvent
from campaigns.models import Campaign

CONNECT_RATE_WINDOW = datetime.timedelta(hours=1)
PACE_WINDOW = datetime.timedelta(seconds=60)


def live_campaigns(now: datetime.datetime) -> dict[int, Campaign]:
    recent = Call.objects.filter(created_at__gte=now - datetime.timedelta(days=1)).values("campaign_id")
    campaigns = Campaign.objects.filter(
        Q(status__in=[Campaign.Status.RUNNING, Campaign.Status.PAUSED]) | Q(pk__in=recent)
    ).only("pk", "name", "calls_per_second", "max_concurrent_calls")
    return {campaign.pk: campaign for campaign in campaigns}


def campaign_metrics(now: datetime.datetime | None = None) -> Iterator[GaugeMetricFamily]:
    now = now or timezone.now()
    campaigns = live_campaigns(now)
    if not campaigns:
        return
    calls = Call.objects.filter(campaign_id__in=campaigns)

    by_status = GaugeMetricFamily(
        "callwright_campaign_calls",
        "A live campaign's calls so far, by status and outcome.",
        labels=["campaign", "status", "outcome"],
    )
    for row in calls.values("campaign_id", "status", "outcome").annotate(n=Count("pk")).order_by():
        by_status.add_metric([str(row["campaign_id"]), row["status"], row["outcome"] or "none"], row["n"])
    yield by_status

    connect = GaugeMetricFamily(
        "callwright_campaign_connect_ratio",
        "Share of a campaign's calls ended in the last hour that were answered.",
        labels=["campaign"],
    )
    ended = (
        calls.filter(status__in=TERMINAL_STATUS_VALUES, ended_at__gte=now - CONNECT_RATE_WINDOW)
        .values("campaign_id")
        .annotate(ended=Count("pk"), answered=Count("pk", filter=Q(answered_at__isnull=False)))
        .order_by()
    )
    for row in ended:
        connect.add_metric([str(row["campaign_id"])], row["answered"] / row["ended"])
    yield connect

    placed = dict(
        calls.filter(created_at__gte=now - PACE_WINDOW).values_list("campaign_id").annotate(n=Count("pk")).order_by()
    )
    active = dict(
        calls.exclude(status__in=TERMINAL_STATUS_VALUES).values_list("campaign_id").annotate(n=Count("pk")).order_by()
    )
    held = GaugeMetricFamily(
        "callwright_campaign_calls_per_second",
        "Calls a campaign placed a second over the last minute.",
        labels=["campaign"],
    )
    cap = GaugeMetricFamily(
        "callwright_campaign_calls_per_second_cap",
        "A campaign's calls-per-second setting.",
        labels=["campaign", "name"],
    )
    open_calls = GaugeMetricFamily(
        "callwright_campaign_open_calls", "A campaign's calls not yet ended (its concurrency).", labels=["campaign"]
    )
    open_cap = GaugeMetricFamily(
        "callwright_campaign_max_concurrent_calls", "A campaign's concurrency setting.", labels=["campaign"]
    )
    for pk, campaign in campaigns.items():
        label = str(pk)
        held.add_metric([label], placed.get(pk, 0) / PACE_WINDOW.total_seconds())
        cap.add_metric([label, campaign.name], float(Decimal(campaign.calls_per_second)))
        open_calls.add_metric([label], active.get(pk, 0))
        open_cap.add_metric([label], campaign.max_concurrent_calls)
    yield from (held, cap, open_calls, open_cap)


# ---- Alert metrics (monitoring/alerting.py: rules in the admin, evaluated by beat) -------------------------


def _ended_in(window: datetime.timedelta) -> QuerySet[Call]:
    return Call.objects.filter(status__in=TERMINAL_STATUS_VALUES, ended_at__gte=timezone.now() - window)


def failed_call_share(window: datetime.timedelta) -> float | None:
    """Share of the calls ended in the window that failed (carrier or our side); None if none ended."""
    counts = _ended_in(window).aggregate(ended=Count("pk"), failed=Count("pk", filter=Q(status="failed")))
    return counts["failed"] / counts["ended"] if counts["ended"] else None


def connect_rate(window: datetime.timedelta) -> float | None:
    """Share of the calls ended in the window that someone answered; None if none ended."""
    counts = _ended_in(window).aggregate(ended=Count("pk"), answered=Count("pk", filter=Q(answered_at__isnull=False)))
    return counts["answered"] / counts["ended"] if counts["ended"] else None


def provider_errors(window: datetime.timedelta) -> float:
    """Speech and language provider failures during calls in the window (each a `provider-error` call event)."""
    return float(
        CallEvent.objects.filter(
            kind=CallEvent.Kind.SYSTEM,
            provider_event_id__startswith="provider-error:",
            received_at__gte=timezone.now() - window,
        ).count()
    )


ALERT_METRICS = (
    ("failed_call_share", _("Share of ended calls that failed"), failed_call_share),
    ("connect_rate", _("Share of ended calls answered"), connect_rate),
    ("provider_errors", _("Provider failures during calls"), provider_errors),
)
