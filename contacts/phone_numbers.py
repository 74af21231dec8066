"""Phone numbers: parse anything a person or a CRM writes into E.164, with the zones it may be in.

Parsing is the `phonenumbers` library's (libphonenumber's metadata), never a regex.
"""

from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from phonenumbers import timezone as phonenumber_timezones

UNKNOWN_TIME_ZONE = "Etc/Unknown"


class InvalidPhoneNumber(ValueError):
    """The text is not a dialable phone number; the message says why, for the operator."""


@dataclass(frozen=True)
class ParsedPhoneNumber:
    e164: str
    region: str
    time_zones: tuple[str, ...]

    @property
    def time_zone(self) -> str:
        """The zone when the number has exactly one; "" when it spans several (or none is known)."""
        return self.time_zones[0] if len(self.time_zones) == 1 else ""


def parse_phone_number(raw: str, *, default_region: str | None = None) -> ParsedPhoneNumber:
    """Parse `raw` (national or international format) into E.164.

    `default_region` (else settings.DEFAULT_PHONE_REGION) applies to numbers written without a
    country code. Numbers with an extension are refused: an extension cannot be dialled by a robot.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("The phone number is empty.")
    region = (default_region or settings.DEFAULT_PHONE_REGION).upper()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"{text!r} is not a phone number ({error._msg}).") from error
    if number.extension:
        raise InvalidPhoneNumber(f"{text!r} has an extension ({number.extension}), which cannot be dialled.")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            f"{text!r} is not a valid number for region {phonenumbers.region_code_for_number(number) or region}."
        )
    zones = tuple(zone for zone in phonenumber_timezones.time_zones_for_number(number) if zone != UNKNOWN_TIME_ZONE)
    return ParsedPhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number) or "",
        time_zones=zones,
    )
