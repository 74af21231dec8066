"""The figures behind the campaign page's charts: outcome distribution, calls per hour, connect rate over time.

Aggregated in SQL; hours are read in the operator's zone (settings.TIME_ZONE). The page draws them with the
Chart.js file the project serves itself (campaigns/static/campaigns/vendor/): no CDN, so it works offline.
"""

import zoneinfo

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils.formats import date_format
from django.utils.translation import gettext

from calls.models import Call, CallStatus

MAX_HOURS = 24 * 14  # the newest two weeks of hours: enough to see a pattern, few enough to read


def campaign_chart_data(*, campaign_id: int, time_zone: str = "") -> dict[str, object]:
    """{"outcomes": {labels, counts}, "hours": {labels, placed, connected, connect_rate}} for the page's charts.

    An outcome is the call's disposition (from its analysis) when it has one, else its status.
    """
    zone = zoneinfo.ZoneInfo(time_zone or settings.TIME_ZONE)
    calls = Call.objects.filter(campaign_id=campaign_id)
    statuses = dict(CallStatus.choices)
    outcomes: dict[str, int] = {}
    for status, disposition, count in calls.values_list("status", "disposition").annotate(n=Count("pk")).order_by():
        label = disposition.replace("_", " ").capitalize() if disposition else str(statuses.get(status, status))
        outcomes[label] = outcomes.get(label, 0) + count
    ordered = sorted(outcomes.items(), key=lambda item: -item[1])
    hours = list(
        calls.filter(started_at__isnull=False)
        .annotate(hour=TruncHour("started_at", tzinfo=zone))
        .values_list("hour")
        .annotate(placed=Count("pk"), connected=Count("pk", filter=Q(status=CallStatus.COMPLETED)))
        .order_by("-hour")[:MAX_HOURS]
    )[::-1]
    return {
        "outcomes": {"labels": [label for label, _ in ordered], "counts": [count for _, count in ordered]},
        "hours": {
            "zone": zone.key,
            # The day as the operator's language writes it ("December 7" / "7 de diciembre"), then the hour.
            "labels": [
                f"{date_format(hour.astimezone(zone), 'MONTH_DAY_FORMAT')} {hour.astimezone(zone):%H}:00"
                for hour, _, _ in hours
            ],
            "placed": [placed for _, placed, _ in hours],
            "connected": [connected for _, _, connected in hours],
            "connect_rate": [round(100 * connected / placed, 1) if placed else None for _, placed, connected in hours],
        },
        # The series' names, in the operator's language (the script has no catalogue of its own).
        "words": {
            "placed": gettext("placed"),
            "connected": gettext("connected"),
            "connect_rate": gettext("connect rate (%)"),
        },
    }
