"""A contact's places in campaigns on the contact's admin page (contacts.admin.register_contact_history)."""

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from calls.outcomes import outcome_words
from campaigns.models import CampaignTarget
from contacts.models import Contact


def contact_targets_section(request: HttpRequest, contact: Contact) -> str:
    """Each campaign the person is in: state, attempts, last outcome, next attempt and why (linked)."""
    if not request.user.has_perm("campaigns.view_campaigntarget"):
        return ""
    targets = CampaignTarget.objects.filter(contact=contact).select_related("campaign").order_by("-created_at")
    rows = [
        {
            "target": target,
            "url": reverse("admin:campaigns_campaigntarget_change", args=[target.pk]),
            "campaign_url": reverse("admin:campaigns_campaign_change", args=[target.campaign_id]),
            "outcome": outcome_words(target.last_outcome),
        }
        for target in targets
    ]
    return render_to_string("admin/campaigns/contact_targets.html", {"rows": rows})
