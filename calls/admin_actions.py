"""Admin actions on calls that other apps' pages offer; calls/admin.py registers them (calls may know contacts)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from calls.selectors import test_call_refusals
from calls.services import call_create_test
from monitoring.logging import mask_phone_numbers

MAX_TEST_CALLS = 10


@admin.action(description=_("Place a test call"), permissions=["view"])
def place_test_call(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    """Call each selected contact once, outside any campaign, on the active carrier; link each call's page.

    A call costs money and a person's attention: it needs the permission to add calls, and each contact
    passes the same dial-time gate as on a campaign (calls.hooks' test-call gate: calling hours in the
    callee's zone, do-not-call, caps). A contact refused is not called, the others are; the message
    names each one refused (number masked), the rule, and when it opens.
    """
    if not request.user.has_perm("calls.add_call"):
        modeladmin.message_user(
            request, gettext("You need permission to add calls to place test calls."), messages.ERROR
        )
        return
    selected = list(
        queryset.order_by("pk").values_list("pk", "first_name", "last_name", "phone", "erased_at")[: MAX_TEST_CALLS + 1]
    )
    if len(selected) > MAX_TEST_CALLS:
        modeladmin.message_user(
            request,
            gettext("Select at most %(count)d contacts for test calls.") % {"count": MAX_TEST_CALLS},
            messages.ERROR,
        )
        return
    refusals = test_call_refusals(contact_ids=[pk for pk, *_rest in selected], now=timezone.now())

    calls = [
        call_create_test(contact_id=pk, to_phone=phone)
        for pk, _first, _last, phone, _erased in selected
        if pk not in refusals
    ]
    if calls:
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:calls_call_change", args=[call.pk]), str(call.pk)[:8]) for call in calls),
        )
        modeladmin.message_user(
            request, format_html(gettext("Placed {} test call(s): {}"), len(calls), links), messages.SUCCESS
        )
    if refusals:
        lines = format_html_join(
            "",
            "<br>{} ({}): {}.",
            (
                (
                    _contact_label(pk, first, last, erased_at),
                    mask_phone_numbers(phone or gettext("no number")),
                    refusals[pk],
                )
                for pk, first, last, phone, erased_at in selected
                if pk in refusals
            ),
        )
        modeladmin.message_user(
            request,
            format_html(gettext("No test call placed to {} contact(s):{}"), len(refusals), lines),
            messages.WARNING if calls else messages.ERROR,
        )


def _contact_label(pk: int, first_name: str, last_name: str, erased_at: object) -> str:
    if erased_at is not None:
        return gettext("Erased contact #%(id)s") % {"id": pk}
    return f"{first_name} {last_name}".strip() or gettext("Contact #%(id)s") % {"id": pk}
