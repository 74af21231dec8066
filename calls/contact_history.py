"""A contact's calls on the contact's admin page (contacts.admin.register_contact_history), and the calls list
filtered to one contact (`?contact=<id>`): what was said to the person, in every campaign, in one place."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from calls.models import Call
from calls.outcomes import outcome_words
from contacts.models import Contact

CALLS_SHOWN = 50


def contact_calls_section(request: HttpRequest, contact: Contact) -> str:
    """The person's latest calls, newest first: when (linked to the call), campaign, status, outcome and
    disposition, summary, duration; "" for a viewer who may not see calls."""
    if not request.user.has_perm("calls.view_call"):
        return ""
    calls = Call.objects.filter(contact=contact).select_related("campaign").order_by("-created_at")
    total = calls.count()
    rows = [
        {
            "call": call,
            "url": reverse("admin:calls_call_change", args=[call.pk]),
            "outcome": outcome_words(call.outcome, humanize=False),
            "campaign_url": reverse("admin:campaigns_campaign_change", args=[call.campaign_id])
            if call.campaign_id
            else "",
        }
        for call in calls[:CALLS_SHOWN]
    ]
    all_url = f"{reverse('admin:calls_call_changelist')}?{urlencode({'contact': contact.pk})}"
    return render_to_string(
        "admin/calls/contact_calls.html", {"rows": rows, "total": total, "shown": len(rows), "all_url": all_url}
    )


class ContactFilter(admin.SimpleListFilter):
    """`?contact=<id>`: one person's calls (linked from the contact's page). Only the chosen contact is offered,
    so the filter costs nothing however many contacts there are; the search box finds the others."""

    title = _("contact")
    parameter_name = "contact"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        if not value or not value.isdigit():
            return []
        contact = Contact.objects.filter(pk=int(value)).first()
        return [(value, str(contact))] if contact is not None else []

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(contact_id=int(value))
