"""Phone numbers: parse anything a person or a CRM writes into E.164, with the zones it may be in.

Parsing is the `phonenumbers` library's (libphonenumber's metadata), never a regex.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from phonenumbers import PhoneMetadata, PhoneNumberType, phonenumberutil
from phonenumbers import timezone as phonenumber_timezones
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.re_util import re_compile
from phonenumbers.timezone import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX, _country_level_time_zones_for_number

# libphonenumber compiles its metadata patterns through `re.compile`, whose cache lookup costs more than
# the match on short numbers; its own pattern cache keeps each compiled once (6% fewer instructions a parse).
phonenumbers.enable_pattern_cache()

_ASCII_NON_DIGITS = {code: None for code in range(128) if not chr(code).isdigit()}


def _install(name: str, build: Callable[[Callable], Callable]) -> None:
    """Replace libphonenumber's `name` with `build(its own function)`, once per process.

    Each shortcut below answers the ASCII text an import is full of faster and hands any other text to
    libphonenumber's own function, kept on the replacement as `libphonenumber_original` so the tests can
    check both agree. Installing twice (a module reloaded) keeps the first.
    """
    original = getattr(phonenumberutil, name)
    if getattr(original, "libphonenumber_original", None):
        return
    replacement = build(original)
    replacement.libphonenumber_original = original
    setattr(phonenumberutil, name, replacement)


def _normalize_ascii_digits_at_c_speed(original: Callable) -> Callable:
    """Give libphonenumber a faster `normalize_digits_only` for ASCII text, with the same result.

    Its own looks each character up in `unicodedata` through two Python calls, a seventh of a parse. The
    function maps each character on its own (a digit of any script to its ASCII digit, anything else
    dropped or kept), and among ASCII characters only 0–9 are digits, so for ASCII text the result is the
    text without its non-digits (or the text itself when they are kept): one `str.translate`. Any other
    text goes to libphonenumber's own function. A test checks both agree on every ASCII character.
    """

    def normalize_digits_only(number: str, keep_non_digits: bool = False) -> str:
        if isinstance(number, str) and number.isascii():
            return number if keep_non_digits else number.translate(_ASCII_NON_DIGITS)
        return original(number, keep_non_digits)

    return normalize_digits_only


_install("normalize_digits_only", _normalize_ascii_digits_at_c_speed)

# Every way of writing an extension that libphonenumber's parse looks for (`_EXTN_PATTERN`: ";ext=12",
# "ext. 12", "x12", "int 12", "anexo 12", "#12", "~12", "- 12#", ",,12", ", 12") holds at least one of
# these characters: a label's letter, ";", "#", "~" or ",". Every other ASCII character that pattern
# can match (digits, spaces, tabs, ".", ":", "-") is optional in it.
_EXTENSION_MARKS = re.compile("[A-Za-z;#~,]")


def _look_for_extensions_only_where_one_can_be(original: Callable) -> Callable:
    """Give libphonenumber a `_maybe_strip_extension` that returns at once for ASCII text holding none of
    `_EXTENSION_MARKS`, with the same result: "no extension, the text as it was".

    Its own searches the text with one large case-insensitive pattern from every position, though a
    file's numbers seldom have an extension: the reading processes of an import ran 301k instructions a
    row with it, 256k without (cachegrind, the benchmark's file). Any other text goes to libphonenumber's
    own function; a test checks both agree on every pair of ASCII characters after a number.
    """

    def _maybe_strip_extension(number: str) -> tuple[str, str]:
        if isinstance(number, str) and number.isascii() and _EXTENSION_MARKS.search(number) is None:
            return ("", number)
        return original(number)

    return _maybe_strip_extension


_install("_maybe_strip_extension", _look_for_extensions_only_where_one_can_be)

# A number written with ASCII digits, leading plus signs and the usual separators only.
_PLAIN_NUMBER = re.compile(r"\+*[0-9 ().\-/]*")


def _check_plain_numbers_without_the_full_pattern(original: Callable) -> Callable:
    """Give libphonenumber an `_is_viable_phone_number` that answers `_PLAIN_NUMBER` text by counting its
    digits, with the same result.

    Its own matches the whole text against `_VALID_PHONE_NUMBER_PATTERN`, case-insensitively and with
    the extension patterns appended: two digits and nothing else, or any plus signs, then at least three
    digits each after any punctuation (space, brackets, ".", "-" and "/" are all punctuation to it),
    then any punctuation, letters or digits, then an optional extension. Text of `_PLAIN_NUMBER` (at
    least two characters, as it requires) therefore matches exactly when it is two digits or holds three
    or more. Any other text goes to libphonenumber's own function; a test checks both agree on every
    text of up to five characters from these and a few other characters.
    """

    def _is_viable_phone_number(number: str) -> bool:
        if isinstance(number, str) and len(number) >= 2 and number.isascii() and _PLAIN_NUMBER.fullmatch(number):
            digits = len(number.translate(_ASCII_NON_DIGITS))
            return digits >= 3 or digits == len(number) == 2
        return original(number)

    return _is_viable_phone_number


_install("_is_viable_phone_number", _check_plain_numbers_without_the_full_pattern)

_PLAIN_NUMBER_START = re.compile("[+0-9]")


def _extract_plain_numbers_without_the_full_patterns(original: Callable) -> Callable:
    """Give libphonenumber an `_extract_possible_number` that cuts `_PLAIN_NUMBER` text with string
    methods, with the same result.

    Its own searches three patterns: where a number may start (a plus sign or a digit), the run of
    trailing characters that are neither "#", a letter, a digit nor "_" (searched from every position),
    and a second number ("/ x…", which needs an "x"). In `_PLAIN_NUMBER` text the first is the first plus
    sign or digit, the second the trailing separators and plus signs, the third never there. The
    reading processes' instructions a row went 245k → 237k. Any other text goes to libphonenumber's own
    function; a test checks both agree on every text of up to five characters from these and a few others.
    """

    def _extract_possible_number(number: str) -> str:
        if isinstance(number, str) and number.isascii() and _PLAIN_NUMBER.fullmatch(number):
            start = _PLAIN_NUMBER_START.search(number)
            return number[start.start() :].rstrip("+ ().-/") if start else ""
        return original(number)

    return _extract_possible_number


_install("_extract_possible_number", _extract_plain_numbers_without_the_full_patterns)

_ANY_ASCII_LETTER = re.compile("[A-Za-z]")


def _normalize_without_letters_at_once(original: Callable) -> Callable:
    """Give libphonenumber a `_normalize` that goes straight to its digit normalisation for text without
    an ASCII letter, with the same result.

    Its own first matches the text against `_VALID_ALPHA_PHONE_PATTERN` (three ASCII letters, anywhere,
    mean a number spelled in letters, as "1-800-FLOWERS"), which scans the whole text to fail on one
    that has none; a parse normalises twice. Text with a letter goes to libphonenumber's own function.
    The reading processes' instructions a row went 237k → 232k.
    """

    def _normalize(number: str) -> str:
        if isinstance(number, str) and _ANY_ASCII_LETTER.search(number) is None:
            return phonenumberutil.normalize_digits_only(number)
        return original(number)

    return _normalize


_install("_normalize", _normalize_without_letters_at_once)

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
    other processes can run it. The same number written another way ("(202) 555-0143", "+12025550143")
    is parsed again but classified once (`_classify`, by its E.164 form).
    """
    text = (raw or "").strip()
    if not text:
        return "The phone number is empty."
    if len(text) > MAX_PHONE_TEXT_LENGTH:
        return f"{text[:20]!r}… is too long to be a phone number ({len(text)} characters)."
    if _has_letters(text):
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
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    facts = _classify(e164, number)
    if facts is None:
        return f"{text!r} is not a valid number for region {phonenumbers.region_code_for_number(number) or region}."
    return ParsedPhoneNumber(e164=e164, region=facts[0], time_zones=facts[1])


_ASCII_LETTER = re.compile("[A-Za-z]")


def _has_letters(text: str) -> bool:
    """`any(char.isalpha() …)`, by one regex search when the text is ASCII (where isalpha means A–Z, a–z)."""
    if text.isascii():
        return _ASCII_LETTER.search(text) is not None
    return any(char.isalpha() for char in text)


# E.164 form → (region, zones), or None when invalid. Bounded by clearing: a file's repeats are near each other.
_CLASSIFIED: dict[str, tuple[str, tuple[str, ...]] | None] = {}
_CLASSIFIED_MAX = 100_000
_ZONE_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _classify(e164: str, number: phonenumbers.PhoneNumber) -> tuple[str, tuple[str, ...]] | None:
    """The region and zones of a parsed number, or None when it is not valid: what `is_valid_number`,
    `region_code_for_number` and `time_zones_for_number` say, with the number's type found once.

    Those public calls each find the region again (for +1 that means matching the number against the
    US patterns, i.e. typing it), then type it again: three typings where one is enough, and together
    they cost more than parsing. `_region_and_type` is `region_code_for_number` keeping the type it
    found on the way (phonenumbers is pinned; tests check agreement with the public calls).
    """
    if e164 in _CLASSIFIED:
        return _CLASSIFIED[e164]
    if len(_CLASSIFIED) >= _CLASSIFIED_MAX:
        _CLASSIFIED.clear()
    facts = None
    number_region, number_type = _region_and_type(number)
    if number_type != PhoneNumberType.UNKNOWN:
        if phonenumbers.is_number_type_geographical(number_type, number.country_code):
            zones = _geographical_zones(e164)
        else:
            zones = _country_level_time_zones_for_number(number)
        zones = tuple(zone for zone in zones if zone != UNKNOWN_TIME_ZONE)
        facts = (number_region, _ZONE_TUPLES.setdefault(zones, zones))  # one tuple per distinct zone list
    _CLASSIFIED[e164] = facts
    return facts


def _geographical_zones(e164: str) -> tuple[str, ...]:
    """libphonenumber's `time_zones_for_geographical_number`, given the E.164 form it would format again
    first: the zones of the longest prefix of the number that has any (the reading processes' instructions
    a row 252k → 249k)."""
    digits = e164[1:]
    for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1):
        zones = TIMEZONE_DATA.get(digits[:length])
        if zones is not None:
            return zones
    return phonenumber_timezones._UNKNOWN_TIME_ZONE_LIST


# libphonenumber's `_number_type_helper` order: the types checked before fixed line and mobile.
_SPECIFIC_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)
# (region or "001", calling code) → that metadata's checks (`_TypeChecks`).
_TYPE_CHECKS: dict[tuple[str, int], "_TypeChecks"] = {}


def _desc_check(desc: object) -> tuple[frozenset[int] | None, re.Pattern] | None:
    """A number description as (its possible lengths, or None when any; its compiled pattern), or None
    when no number can match it (no description, or an empty pattern)."""
    if desc is None or not desc.national_number_pattern:
        return None
    return (frozenset(desc.possible_length) or None, re_compile(desc.national_number_pattern))


def _matches(national_number: str, check: tuple | None) -> bool:
    """libphonenumber's `_is_number_matching_desc`: a possible length, and the whole number matching the
    pattern. It matches from the start first and then the whole number; a whole match is a match from
    the start, so the first is not run here."""
    if check is None:
        return False
    lengths, pattern = check
    if lengths is not None and len(national_number) not in lengths:
        return False
    return pattern.fullmatch(national_number) is not None


class _TypeChecks:
    """One metadata's number descriptions, in `_number_type_helper`'s order, as one pattern per length.

    libphonenumber tries up to ten descriptions one by one (a length check, then a whole-number match,
    through several Python calls each). Here the descriptions a number of a given length can match are
    alternatives of one pattern, in that order, each ending with an empty group named after it: a
    whole-number match takes the first alternative that matches, and `lastgroup` names it. The patterns
    are libphonenumber's own, unchanged (none holds a back-reference that numbering could shift).
    """

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.general = _desc_check(metadata.general_desc)
        self.same_mobile_and_fixed_line = bool(metadata.same_mobile_and_fixed_line_pattern)
        self.mobile = _desc_check(metadata.mobile)
        fixed_line = _desc_check(metadata.fixed_line)
        # The checks after the general one; mobile only where it can decide alone (see `number_type`).
        self.ordered = [(_desc_check(getattr(metadata, name)), kind) for name, kind in _SPECIFIC_TYPES]
        self.ordered.append((fixed_line, _FIXED_LINE))
        if not self.same_mobile_and_fixed_line:
            self.ordered.append((self.mobile, PhoneNumberType.MOBILE))
        self.by_length: dict[int, tuple[re.Pattern, dict[str, int]] | None] = {}

    def _for_length(self, length: int) -> tuple[re.Pattern, dict[str, int]] | None:
        alternatives, kinds = [], {}
        for index, (check, kind) in enumerate(self.ordered):
            if check is not None and (check[0] is None or length in check[0]):
                alternatives.append(f"(?:{check[1].pattern})(?P<t{index}>)")
                kinds[f"t{index}"] = kind
        return (re.compile("|".join(alternatives)), kinds) if alternatives else None

    def number_type(self, national_number: str) -> int:
        if not _matches(national_number, self.general):
            return PhoneNumberType.UNKNOWN
        length = len(national_number)
        try:
            combined = self.by_length[length]
        except KeyError:
            combined = self.by_length[length] = self._for_length(length)
        match = combined[0].fullmatch(national_number) if combined is not None else None
        if match is None:
            return PhoneNumberType.UNKNOWN
        kind = combined[1][match.lastgroup]
        if kind != _FIXED_LINE:
            return kind
        if self.same_mobile_and_fixed_line or _matches(national_number, self.mobile):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE


_FIXED_LINE = PhoneNumberType.FIXED_LINE


def _number_type(national_number: str, metadata: PhoneMetadata) -> int:
    """libphonenumber's `_number_type_helper`, with each metadata's descriptions looked up and combined
    once (`_TypeChecks`) instead of through four calls a description: a number is checked against up to
    eleven (the reading processes' instructions a row went 232k → 218k, and with one pattern per length
    instead of one check per description, ≈3 µs less a number)."""
    key = (metadata.id, metadata.country_code)
    checks = _TYPE_CHECKS.get(key)
    if checks is None:
        checks = _TYPE_CHECKS[key] = _TypeChecks(metadata)
    return checks.number_type(national_number)


def _region_and_type(number: phonenumbers.PhoneNumber) -> tuple[str, int]:
    """`region_code_for_number` and `number_type` in one pass (libphonenumber's
    `_region_code_for_number_from_list`, returning the type it computes instead of dropping it)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(number.country_code)
    if not regions:
        return "", PhoneNumberType.UNKNOWN
    national_number = phonenumbers.national_significant_number(number)
    if len(regions) == 1:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, regions[0])
        return regions[0], _number_type(national_number, metadata) if metadata else PhoneNumberType.UNKNOWN
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, national_number):
                return region, _number_type(national_number, metadata)
            continue
        number_type = _number_type(national_number, metadata)
        if number_type != PhoneNumberType.UNKNOWN:
            return region, number_type
    return "", PhoneNumberType.UNKNOWN
