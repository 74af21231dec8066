"""Reads of campaigns."""

from django.db.models import QuerySet

from campaigns.models import Campaign


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("agent").prefetch_related("contact_lists").order_by("-created_at")
