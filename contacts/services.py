"""Writes to contacts. Phone numbers always go through `parse_phone_number` first."""

from django.db import transaction

from contacts.models import Contact, ContactList
from contacts.phone_numbers import ParsedPhoneNumber, parse_phone_number


def location_fields(parsed: ParsedPhoneNumber, *, country: str = "", time_zone: str = "") -> dict[str, object]:
    """Country and time-zone fields for a contact: what was given wins, the number fills the rest.

    A number spanning several zones with no zone given is flagged ambiguous, with every candidate
    kept, so the dial gate can apply the strictest of them.
    """
    candidates = list(parsed.time_zones)
    chosen_zone = time_zone or parsed.time_zone
    return {
        "country": country or parsed.region,
        "time_zone": chosen_zone,
        "time_zone_candidates": candidates,
        "time_zone_ambiguous": not chosen_zone and len(candidates) > 1,
    }


@transaction.atomic
def contact_upsert(
    *,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    language: str = "",
    time_zone: str = "",
    custom_fields: dict | None = None,
    lists: list[ContactList] | None = None,
) -> tuple[Contact, bool]:
    """Create the contact with this phone number, or update the one that has it; return (contact, created).

    Raises `InvalidPhoneNumber` with a reason for the operator when the number cannot be dialled.
    """
    parsed = parse_phone_number(phone)
    contact, created = Contact.objects.update_or_create(
        phone=parsed.e164,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "language": language,
            "custom_fields": custom_fields or {},
            **location_fields(parsed, time_zone=time_zone),
        },
    )
    if lists:
        contact.lists.add(*lists)
    return contact, created
