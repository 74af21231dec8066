"""Phone numbers: parse anything a person or a CRM writes into E.164, with the zones it may be in.

Parsing is the `phonenumbers` library's (libphonenumber's metadata), never a regex.
"""

import functools
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phonenumber_timezones

UNKNOWN_TIME_ZONE = "Etc/Unknown"
# Longer than any number written by hand; beyond it the cell is free text, not a number.
MAX_PHONE_TEXT_LENGTH = 64


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
    country code. Text around a number ("+1 202 555 0143 (mobile)") is ignored, as libphonenumber
    does; numbers with an extension are refused, since an extension cannot be dialled by a robot.
    """
    result = parse_phone_number_or_reason(raw, (default_region or settings.DEFAULT_PHONE_REGION).upper())
    if isinstance(result, str):
        raise InvalidPhoneNumber(result)
    return result


@functools.lru_cache(maxsize=65536)
def parse_phone_number_or_reason(raw: str, region: str) -> ParsedPhoneNumber | str:
    """`parse_phone_number` without exceptions: the parsed number, or the reason it is refused.

    Cached, because contact files repeat numbers, and picklable both ways, so import workers in
    other processes can run it. It asks libphonenumber for the number's type once and derives
    validity and zones from it, instead of the three lookups `is_valid_number` +
    `time_zones_for_number` make (each finds the type again); the result is the same.
    """
    text = (raw or "").strip()
    if not text:
        return "The phone number is empty."
    if len(text) > MAX_PHONE_TEXT_LENGTH:
        return f"{text[:20]!r}… is too long to be a phone number ({len(text)} characters)."
    if any(char.isalpha() for char in text):
        # libphonenumber reads letters as keypad digits ("mobile" → 662453); with words around the
        # number, find the number inside the text instead, and refuse when it holds none or several.
        found = [match.number for match in phonenumbers.PhoneNumberMatcher(text, region)]
        if len(found) != 1:
            return f"{text!r} holds {'no' if not found else len(found)} phone numbers; one is needed."
        number = found[0]
    else:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as error:
            return f"{text!r} is not a phone number ({error._msg})."
    if number.extension:
        return f"{text!r} has an extension ({number.extension}), which cannot be dialled."
    number_region = phonenumbers.region_code_for_number(number)
    number_type = phonenumbers.number_type(number) if number_region else PhoneNumberType.UNKNOWN
    if number_type == PhoneNumberType.UNKNOWN:
        return f"{text!r} is not a valid number for region {number_region or region}."
    if phonenumbers.is_number_type_geographical(number_type, number.country_code):
        zones = phonenumber_timezones.time_zones_for_geographical_number(number)
    else:
        zones = phonenumber_timezones.time_zones_for_number(number)
    return ParsedPhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        region=number_region or "",
        time_zones=tuple(zone for zone in zones if zone != UNKNOWN_TIME_ZONE),
    )
