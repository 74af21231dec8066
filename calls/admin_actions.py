"""Admin actions on calls that other apps' pages offer; calls/admin.py registers them (calls may know contacts)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from calls.services import call_create_test

MAX_TEST_CALLS = 10


@admin.action(description="Place a test call", permissions=["view"])
def place_test_call(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    """Call each selected contact once, outside any campaign, on the active carrier; link each call's page.

    A call costs money and a person's attention: it needs the permission to add calls, and the
    do-not-call list and erased contacts are respected as on any campaign.
    """
    if not request.user.has_perm("calls.add_call"):
        modeladmin.message_user(request, "You need permission to add calls to place test calls.", messages.ERROR)
        return
    from contacts.selectors import suppressed_phones

    candidates = queryset.filter(erased_at__isnull=True).exclude(phone__isnull=True).exclude(phone="")
    suppressed = suppressed_phones(candidates.values_list("phone", flat=True)[: MAX_TEST_CALLS + 1])
    if suppressed:
        modeladmin.message_user(
            request,
            f"{len(suppressed)} selected contact(s) are on the do-not-call list: no call placed.",
            messages.ERROR,
        )
        return
    contacts = list(candidates.values_list("pk", "phone")[: MAX_TEST_CALLS + 1])
    if len(contacts) > MAX_TEST_CALLS:
        modeladmin.message_user(request, f"Select at most {MAX_TEST_CALLS} contacts for test calls.", messages.ERROR)
        return
    calls = [call_create_test(contact_id=pk, to_phone=phone) for pk, phone in contacts]
    links = format_html_join(
        ", ",
        '<a href="{}">{}</a>',
        ((reverse("admin:calls_call_change", args=[call.pk]), str(call.pk)[:8]) for call in calls),
    )
    modeladmin.message_user(request, format_html("Placed {} test call(s): {}", len(calls), links), messages.SUCCESS)
