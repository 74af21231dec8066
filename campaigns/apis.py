"""Campaigns over the API (read-only for now; writes come with the dialer)."""

import django_filters
from rest_framework import serializers, viewsets

from campaigns.models import Campaign
from campaigns.selectors import campaign_list


class CampaignOutputSerializer(serializers.ModelSerializer):
    agent = serializers.SlugRelatedField(slug_field="name", read_only=True)
    contact_lists = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = (
            "id",
            "name",
            "status",
            "agent",
            "contact_lists",
            "purpose",
            "requires_consent",
            "starts_at",
            "ends_at",
            "window_start",
            "window_end",
            "days_of_week",
            "max_concurrent_calls",
            "calls_per_second",
            "retry_policy",
            "max_attempts",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class CampaignFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Campaign.Status.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Campaign
        fields = ("status", "agent", "purpose")


class CampaignViewSet(viewsets.ReadOnlyModelViewSet):
    """List and fetch campaigns. Needs a token whose user holds `campaigns.view_campaign`."""

    serializer_class = CampaignOutputSerializer
    filterset_class = CampaignFilter
    search_fields = ("name",)
    ordering_fields = ("created_at", "name", "starts_at")

    def get_queryset(self):
        return campaign_list()
