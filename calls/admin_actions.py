"""Admin actions other apps' admins offer on calls (kept here so `contacts` needs one line to use them)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from calls.services import call_create_test

MAX_TEST_CALLS = 10


@admin.action(description="Place a test call", permissions=["view"])
def place_test_call(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    """Call each selected contact once, outside any campaign, on the active carrier; link each call's page."""
    if not request.user.has_perm("calls.view_call"):
        modeladmin.message_user(request, "You need permission to view calls to place test calls.", messages.ERROR)
        return
    contacts = list(queryset.values_list("pk", "phone")[: MAX_TEST_CALLS + 1])
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
