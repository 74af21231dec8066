"""Reads of contacts the dial gate relies on: who must not be called, and who agreed to what."""

import datetime
from collections.abc import Iterable

from django.db.models import Q

from contacts.models import Consent, Suppression


def is_suppressed(phone: str) -> bool:
    return Suppression.objects.filter(phone=phone).exists()


def suppressed_phones(phones: Iterable[str]) -> set[str]:
    """The subset of `phones` on the do-not-call list, in one query."""
    return set(Suppression.objects.filter(phone__in=list(phones)).values_list("phone", flat=True))


def contact_ids_with_active_consent(*, contact_ids: Iterable[int], purpose: str, at: datetime.datetime) -> set[int]:
    """Contacts among `contact_ids` holding consent for `purpose` that is in force at `at`."""
    return set(
        Consent.objects.filter(contact_id__in=list(contact_ids), purpose=purpose, given_at__lte=at)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        .values_list("contact_id", flat=True)
    )
