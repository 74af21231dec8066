import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from campaigns.models import Campaign
from campaigns.selectors import campaign_preview


class Command(BaseCommand):
    help = "Show who a campaign would dial now (or --at an ISO-8601 instant), and why not the others."

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--at", help="ISO-8601 instant with an offset, e.g. 2026-11-24T15:00:00+00:00")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args: object, campaign_id: int, at: str | None, as_json: bool, **options: object) -> None:
        instant = None
        if at:
            instant = parse_datetime(at)
            if instant is None or instant.tzinfo is None:
                raise CommandError(f"--at {at!r} is not an ISO-8601 instant with a UTC offset.")
        try:
            report = campaign_preview(campaign_id=campaign_id, at=instant)
        except Campaign.DoesNotExist as error:
            raise CommandError(f"Campaign {campaign_id} does not exist.") from error
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        self.stdout.write(f"Campaign {campaign_id} ({report.campaign_status}) at {report.at.isoformat()}")
        self.stdout.write(f"  would dial now: {report.would_dial} of {report.evaluated}")
        for row in report.as_dict()["not_now"]:
            after = f", next allowed {row['next_allowed_at']}" if row["next_allowed_at"] else ""
            self.stdout.write(f"  not now: {row['targets']} — {row['reason']}{after}")
