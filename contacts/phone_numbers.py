"""Phone numbers: parse anything a person or a CRM writes into E.164, with the zones it may be in.

Parsing is the `phonenumbers` library's (libphonenumber's metadata), never a regex, and only through its
public API. Speed comes from what this module owns: each distinct text is parsed once per process
(`parse_phone_number_or_reason` is cached), and each number is typed once where the stock calls would
type it three times (`_classify`).
"""

import functools
import re
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phonenumber_timezones

# libphonenumber compiles its metadata patterns through `re.compile`, whose own cache is bounded and
# costs a lookup a call; its public switch keeps each pattern compiled once.
phonenumbers.enable_pattern_cache()

UNKNOWN_TIME_ZONE = "Etc/Unknown"
# Longer than any number written by hand; beyond it the cell is free text, not a number.
MAX_PHONE_TEXT_LENGTH = 64
# Distinct (text, region) pairs remembered per process: a big file's numbers, at ~0.5 KB each.
PARSE_CACHE_SIZE = 131_072


class InvalidPhoneNumber(ValueError):
    """The text is not a dialable phone number; the message says why, for the operator."""


@dataclass(frozen=True)
class ParsedPhoneNumber:
    e164: str
    region: str
    time_zones: tuple[str, ...]
    # libphonenumber's PhoneNumberType; UNKNOWN where it is not carried (a row sent back by a chunk task,
    # which has already applied the type rule). Not compared: it follows from the number.
    number_type: int = field(default=PhoneNumberType.UNKNOWN, compare=False)

    @property
    def time_zone(self) -> str:
        """The zone when the number has exactly one; "" when it spans several (or none is known)."""
        return self.time_zones[0] if len(self.time_zones) == 1 else ""


def region_choices() -> list[tuple[str, str]]:
    """Every region libphonenumber knows, as ("ES", "ES (+34)"), sorted: the choices of a default region."""
    return sorted(
        (region, f"{region} (+{phonenumbers.country_code_for_region(region)})")
        for region in phonenumbers.SUPPORTED_REGIONS
    )


def default_region(*explicit: str) -> str:
    """The region for numbers written without a country code: the first of `explicit` given (an import's own,
    then its list's), else the deployment's DEFAULT_PHONE_REGION."""
    return next((region.upper() for region in explicit if region), settings.DEFAULT_PHONE_REGION.upper())


def parse_phone_number(raw: str, *, default_region: str | None = None) -> ParsedPhoneNumber:
    """Parse `raw` (national or international format) into E.164.

    `default_region` (else settings.DEFAULT_PHONE_REGION) applies to numbers written without a
    country code. Text around a number ("+1 202 555 0143 (mobile)") is ignored, as libphonenumber
    does; numbers with an extension are refused, since an extension cannot be dialled by a robot.
    """
    region = (default_region or settings.DEFAULT_PHONE_REGION).upper()
    result = parse_phone_number_or_reason(raw, region, translation.get_language() or "")
    if isinstance(result, str):
        raise InvalidPhoneNumber(result)
    return result


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def parse_phone_number_or_reason(raw: str, region: str, language: str = "") -> ParsedPhoneNumber | str:
    """`parse_phone_number` without exceptions: the parsed number, or the reason it is refused, in the active
    language; `language` is that language's code (`translation.get_language()`), so that the cache keeps each
    language's reasons apart.

    A pure function of its arguments with a small immutable result, cached per distinct (text, region,
    language) in each process (bounded: `PARSE_CACHE_SIZE`), because contact files and re-imports repeat numbers.
    """
    text = (raw or "").strip()
    if not text:
        return gettext("The phone number is empty.")
    if len(text) > MAX_PHONE_TEXT_LENGTH:
        return gettext("%(start)r… is too long to be a phone number (%(length)d characters).") % {
            "start": text[:20],
            "length": len(text),
        }
    if _has_letters(text):
        # libphonenumber reads letters as keypad digits ("mobile" → 662453); with words around the
        # number, find the number inside the text instead, and refuse when it holds none or several.
        found = [match.number for match in phonenumbers.PhoneNumberMatcher(text, region)]
        if len(found) != 1:
            if not found:
                return gettext("%(text)r holds no phone number; one is needed.") % {"text": text}
            return gettext("%(text)r holds %(count)d phone numbers; one is needed.") % {
                "text": text,
                "count": len(found),
            }
        number = found[0]
    else:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as error:
            why = error.args[0] if error.args else error
            return gettext("%(text)r is not a phone number (%(why)s).") % {"text": text, "why": why}
    if number.extension:
        return gettext("%(text)r has an extension (%(extension)s), which cannot be dialled.") % {
            "text": text,
            "extension": number.extension,
        }
    facts = _classify(number)
    if facts is None:
        country = phonenumbers.region_code_for_country_code(number.country_code)
        return gettext("%(text)r is not a valid number for region %(region)s.") % {"text": text, "region": country}
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return ParsedPhoneNumber(e164=e164, region=facts[0], time_zones=facts[1], number_type=facts[2])


# How a refused type is named to the operator, and, where it costs, why.
_TYPE_WORDS = {
    PhoneNumberType.PREMIUM_RATE: (_("a premium-rate number"), _("calling it is charged at a premium rate")),
    PhoneNumberType.SHARED_COST: (_("a shared-cost number"), _("calling it costs more than a normal call")),
    PhoneNumberType.TOLL_FREE: (_("a toll-free number"), ""),
    PhoneNumberType.VOIP: (_("a VoIP number"), ""),
    PhoneNumberType.PAGER: (_("a pager number"), ""),
    PhoneNumberType.UAN: (_("a company's universal access number"), ""),
    PhoneNumberType.VOICEMAIL: (_("a voicemail access number"), ""),
    PhoneNumberType.PERSONAL_NUMBER: (_("a personal (forwarding) number"), ""),
    PhoneNumberType.MOBILE: (_("a mobile number"), ""),
    PhoneNumberType.FIXED_LINE: (_("a landline number"), ""),
    PhoneNumberType.FIXED_LINE_OR_MOBILE: (_("a landline or mobile number"), ""),
}


def refused_number_types() -> frozenset[int]:
    """The PhoneNumberTypes a contact may not have: settings.CONTACT_REFUSED_NUMBER_TYPES, names of
    libphonenumber's types ("PREMIUM_RATE", "SHARED_COST"). Raises ImproperlyConfigured on an unknown name."""
    refused = set()
    for name in settings.CONTACT_REFUSED_NUMBER_TYPES:
        value = getattr(PhoneNumberType, str(name).strip().upper(), None)
        if not isinstance(value, int):
            known = ", ".join(sorted(n for n in vars(PhoneNumberType) if n.isupper()))
            raise ImproperlyConfigured(f"CONTACT_REFUSED_NUMBER_TYPES: {name!r} is not a number type; one of {known}.")
        refused.add(value)
    return frozenset(refused)


def number_type_refusal(parsed: ParsedPhoneNumber, refused: frozenset[int] | None = None) -> str:
    """Why a contact may not have this number, by its type (`refused`, else `refused_number_types()`);
    "" when it may."""
    if parsed.number_type not in (refused_number_types() if refused is None else refused):
        return ""
    shown = phonenumbers.format_number(phonenumbers.parse(parsed.e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    name, why = _TYPE_WORDS.get(parsed.number_type, (_("a number of a refused type"), ""))
    if why:
        return gettext("%(number)s is %(name)s; %(why)s, so it is refused (setting CONTACT_REFUSED_NUMBER_TYPES).") % {
            "number": shown,
            "name": name,
            "why": why,
        }
    return gettext("%(number)s is %(name)s; this type is refused (setting CONTACT_REFUSED_NUMBER_TYPES).") % {
        "number": shown,
        "name": name,
    }


def parse_contact_phone_number(raw: str, *, default_region: str | None = None) -> ParsedPhoneNumber:
    """`parse_phone_number` for a contact's own number: also refuses the types contacts may not have
    (premium-rate and shared-cost by default), raising `InvalidPhoneNumber` that says why."""
    parsed = parse_phone_number(raw, default_region=default_region)
    refusal = number_type_refusal(parsed)
    if refusal:
        raise InvalidPhoneNumber(refusal)
    return parsed


_ASCII_LETTER = re.compile("[A-Za-z]")


def _has_letters(text: str) -> bool:
    """`any(char.isalpha() …)`, by one regex search when the text is ASCII (where isalpha means A–Z, a–z)."""
    if text.isascii():
        return _ASCII_LETTER.search(text) is not None
    return any(char.isalpha() for char in text)


def _classify(number: phonenumbers.PhoneNumber) -> tuple[str, tuple[str, ...], int] | None:
    """The region, zones and type of a parsed number, or None when it is not valid.

    What `is_valid_number`, `region_code_for_number` and `time_zones_for_number` say, with the number
    typed once: each of those calls types it again (for +1, finding the region means typing it against
    the NANP regions). A number libphonenumber can type is a valid one — `is_valid_number` is
    `region_code_for_number` then that typing — and a test checks the two agree.
    """
    number_type = phonenumbers.number_type(number)
    if number_type == PhoneNumberType.UNKNOWN:
        return None
    region = phonenumbers.region_code_for_number(number) or ""
    if phonenumbers.is_number_type_geographical(number_type, number.country_code):
        zones = phonenumber_timezones.time_zones_for_geographical_number(number)
    else:
        zones = phonenumber_timezones.time_zones_for_number(number)
    return region, _zone_tuple(tuple(zone for zone in zones if zone != UNKNOWN_TIME_ZONE)), number_type


@functools.lru_cache(maxsize=1024)
def _zone_tuple(zones: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple per distinct zone list, shared by every cached number in it (a file has few)."""
    return zones


def viewer_region() -> str:
    """The region whose numbers the operator reads in national format: the active language's region
    (`es-mx` → MX), else the deployment's DEFAULT_PHONE_REGION."""
    _, _, region = (translation.get_language() or "").partition("-")
    return region.upper() if len(region) == 2 else settings.DEFAULT_PHONE_REGION.upper()


@functools.lru_cache(maxsize=4096)
def _formatted(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number  # masked ("+***0143") or not a number: shown as it is
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_for_viewer(number: str | None) -> str:
    """A stored E.164 number as the operator reads it: national format for a number of the operator's region
    (`viewer_region`), international otherwise ("+34 612 34 56 78"). A masked or unparseable text is returned
    unchanged, so masking always wins; "" for no number."""
    return _formatted(number, viewer_region()) if number else ""
