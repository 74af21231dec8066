"""A campaign as the API shows it and as its webhooks carry it: one representation for both.

Kept apart from the API's views (campaigns/apis.py), which call the services, so that what the services
raise (campaigns/integrations/events.py: `campaign.completed`) can describe a campaign without importing them.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from campaigns.models import Campaign

CAMPAIGN_FIELDS = (
    "name", "agent", "contact_lists", "purpose", "requires_consent", "caller_id", "starts_at", "ends_at",
    "window_start", "window_end", "days_of_week", "max_concurrent_calls", "calls_per_second", "retry_policy",
    "max_attempts", "max_attempts_per_24h", "max_attempts_per_7d", "enforce_seven_in_seven",
    "answering_machine_policy", "record_calls", "ring_timeout_seconds", "max_call_duration_seconds",
)  # fmt: skip


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$", "example": "09:00"})
class WallClockTimeField(serializers.TimeField):
    """A callee-local wall time ("09:00"): no offset, so not JSON Schema's `time` format, which needs one."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(format="%H:%M", **kwargs)


class CampaignOutputSerializer(serializers.ModelSerializer):
    window_start = WallClockTimeField(required=False, help_text="Callee-local; 08:00 at the earliest.")
    window_end = WallClockTimeField(required=False, help_text="Callee-local; 21:00 at the latest.")

    class Meta:
        model = Campaign
        fields = ("id", "status", *CAMPAIGN_FIELDS, "activated_at", "finished_at", "created_at", "updated_at")
        read_only_fields = ("id", "status", "activated_at", "finished_at", "created_at", "updated_at")
