"""Reads of calls."""

import datetime

from django.conf import settings

from calls.models import MIN_DURATION_SECONDS, MIN_RING_TIMEOUT_SECONDS, Call


def stale_calls(*, now: datetime.datetime, limit: int) -> list[Call]:
    """Open calls older than they can be: their ring timeout + max duration + CALLS_REAPER_MARGIN_SECONDS."""
    margin = settings.CALLS_REAPER_MARGIN_SECONDS
    shortest = MIN_RING_TIMEOUT_SECONDS + MIN_DURATION_SECONDS + margin  # the least the database allows
    candidates = (
        Call.objects.open()
        .filter(created_at__lt=now - datetime.timedelta(seconds=shortest))
        .order_by("created_at")[:limit]
    )
    return [
        call
        for call in candidates
        if call.created_at + datetime.timedelta(seconds=call.ring_timeout_seconds + call.max_duration_seconds + margin)
        < now
    ]


def test_call_refusals(*, contact_ids: list[int], now: datetime.datetime) -> dict[int, str]:
    """Why each of these contacts may not get a call outside any campaign at `now`, in words (the rule,
    and when it opens where it will); contacts absent from the answer may be called.

    calls' own floor comes first, whatever gate is registered: an erased contact, no number, a number on the
    do-not-call list. Then every gate registered in `calls.hooks` (the campaigns' dial-time rules). The
    admin's "Place a test call" and the API's POST /api/v1/calls/ both ask this.
    """
    from calls.hooks import refusals_for_test_calls
    from contacts.models import Contact
    from contacts.selectors import suppressed_phones

    rows = list(Contact.objects.filter(pk__in=contact_ids).values_list("pk", "phone", "erased_at"))
    refusals: dict[int, str] = {}
    for pk, phone, erased_at in rows:
        if erased_at is not None:
            refusals[pk] = "Contact's data was erased"
        elif not phone:
            refusals[pk] = "No phone number"
    suppressed = suppressed_phones(phone for pk, phone, _ in rows if pk not in refusals)
    refusals |= {pk: "On the do-not-call list" for pk, phone, _ in rows if phone in suppressed}
    gated = [pk for pk, *_ in rows if pk not in refusals]
    for pk, reason in refusals_for_test_calls(gated, now).items() if gated else ():
        refusals.setdefault(pk, reason)
    return refusals
