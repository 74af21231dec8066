import re

import pytest

from contacts.phone_numbers import InvalidPhoneNumber, parse_phone_number


@pytest.mark.parametrize(
    ("raw", "region", "e164", "country"),
    [
        ("(202) 555-0143", "US", "+12025550143", "US"),
        ("+44 20 7946 0958", "US", "+442079460958", "GB"),
        ("01 99 00 12 34", "FR", "+33199001234", "FR"),
        ("  +1 312.555.0178 ", "GB", "+13125550178", "US"),
    ],
)
def test_it_reads_national_and_international_formats_into_e164(raw, region, e164, country):
    parsed = parse_phone_number(raw, default_region=region)
    assert (parsed.e164, parsed.region) == (e164, country)


def test_it_infers_the_single_time_zone_of_a_number():
    parsed = parse_phone_number("+14155550123")
    assert parsed.time_zones == ("America/Los_Angeles",)
    assert parsed.time_zone == "America/Los_Angeles"


def test_a_number_spanning_several_zones_has_no_single_zone():
    parsed = parse_phone_number("+61 491 570 156")
    assert "Australia/Sydney" in parsed.time_zones
    assert "Australia/Perth" in parsed.time_zones
    assert parsed.time_zone == ""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("call me maybe", "holds no phone number"),
        ("+1 202 555 0143 ext. 12", "extension"),
        ("+1 000 555 0143", "not a valid number"),
    ],
)
def test_it_refuses_what_cannot_be_dialled_and_says_why(raw, reason):
    with pytest.raises(InvalidPhoneNumber, match=reason):
        parse_phone_number(raw, default_region="US")


def test_numbers_without_country_code_use_the_configured_region(settings):
    settings.DEFAULT_PHONE_REGION = "GB"
    assert parse_phone_number("020 7946 0958").e164 == "+442079460958"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+1 202 555 0143 (mobile)", "+12025550143"),
        ("tel: 0612 34 56 78", "+33612345678"),
        ("portable de Zoë : 06 12 34 56 78", "+33612345678"),
    ],
)
def test_it_reads_a_number_written_with_text_around_it(raw, e164):
    assert parse_phone_number(raw, default_region="FR").e164 == e164


def test_it_refuses_a_long_text_as_not_a_number():
    with pytest.raises(InvalidPhoneNumber, match="too long"):
        parse_phone_number("please call my assistant on weekdays between nine and five, thanks a lot")


def test_its_validity_and_zones_agree_with_libphonenumber_on_a_mixed_sample():
    import phonenumbers
    from phonenumbers import timezone

    from contacts.phone_numbers import parse_phone_number_or_reason

    sample = ["(415) 555-0123", "+44 20 7946 0958", "+33 6 12 34 56 78", "+61 491 570 156", "+49 30 1234567",
              "+1 800 555 0100", "+44 7700 900123", "+1 000 555 0143", "12345", "+81 3-1234-5678",
              "+1 416 555 0199", "+1 876 927 1234", "+1 684 633 1234", "+39 06 6982 1234", "+39 312 345 6789",
              "+800 1234 5678", "+52 55 1234 5678", "+7 495 123 4567", "+55 11 91234 5678", "+44 20 7946 0958",
              "(415) 555-0123", "+33 1 23 45 67 89", "+1 202 555 01", "+49 1512 3456789"]  # fmt: skip
    for raw in sample:
        number = phonenumbers.parse(raw, "US")
        ours = parse_phone_number_or_reason(raw, "US")
        if phonenumbers.is_valid_number(number):
            zones = tuple(z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown")
            expected = (phonenumbers.format_number(number, 0), phonenumbers.region_code_for_number(number), zones)
            assert (ours.e164, ours.region, ours.time_zones) == expected, raw
        else:
            assert isinstance(ours, str), raw


def test_it_refuses_a_text_with_two_numbers():
    with pytest.raises(InvalidPhoneNumber, match="2 phone numbers"):
        parse_phone_number("home +1 202 555 0143 or work +1 312 555 0178")


def test_validity_region_and_zones_agree_with_libphonenumbers_own_calls_for_every_region_and_type():
    """Typing a number once (`_classify`) says what `is_valid_number`, `region_code_for_number` and
    `time_zones_for_number` say, on libphonenumber's example number of every region and type, and on
    each of them with its last digit changed (often invalid)."""
    import phonenumbers
    from phonenumbers import PhoneNumberType, timezone

    from contacts.phone_numbers import _classify

    kinds = [kind for kind in vars(PhoneNumberType).values() if isinstance(kind, int)]
    checked = valid = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            for digits in {national, national[:-1] + str((int(national[-1]) + 1) % 10), national[:-1]}:
                number = phonenumbers.parse(f"+{example.country_code}{digits}")
                if phonenumbers.is_valid_number(number):
                    zones = tuple(z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown")
                    assert _classify(number)[:2] == (phonenumbers.region_code_for_number(number), zones), digits
                    valid += 1
                else:
                    assert _classify(number) is None, digits
                checked += 1
    assert valid > 1000
    assert checked > valid


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("++", "is not a phone number (The string supplied did not seem to be a phone number"),
        ("+999 1234 5678", "is not a phone number (Could not interpret numbers after plus-sign.)"),
        ("+44 7700 900123", "is not a valid number for region GB"),
        ("1", "is not a phone number"),
    ],
)
def test_what_libphonenumber_cannot_parse_or_validate_is_refused_with_its_reason(raw, reason):
    with pytest.raises(InvalidPhoneNumber, match=re.escape(reason)):
        parse_phone_number(raw, default_region="US")


@pytest.mark.parametrize(
    ("raw", "region", "kind"),
    [
        ("+44 7400 123456", "GB", "mobile"),
        ("+1 800 555 0100", "US", "toll-free"),
        ("+33 1 23 45 67 89", "FR", "fixed line"),
    ],
)
def test_numbers_of_every_type_have_their_region_and_the_zones_of_their_country_or_area(raw, region, kind):
    parsed = parse_phone_number(raw, default_region="US")
    assert parsed.region == region, kind
    assert parsed.time_zones, kind
    assert all("/" in zone for zone in parsed.time_zones), kind


def test_each_distinct_text_is_parsed_once_per_process():
    from contacts.phone_numbers import parse_phone_number_or_reason

    parse_phone_number_or_reason.cache_clear()
    first = parse_phone_number("(202) 555-0143", default_region="US")
    again = parse_phone_number("(202) 555-0143", default_region="us")
    assert again is first
    assert parse_phone_number_or_reason.cache_info().hits == 1
    other_region = parse_phone_number_or_reason("(202) 555-0143", "CA")
    assert parse_phone_number_or_reason.cache_info().misses == 2
    assert other_region.e164 == "+12025550143"


def test_a_contact_may_not_have_a_premium_rate_number_but_the_parser_reads_it():
    from phonenumbers import PhoneNumberFormat, PhoneNumberType, example_number_for_type, format_number

    from contacts.phone_numbers import parse_contact_phone_number

    premium = format_number(example_number_for_type("US", PhoneNumberType.PREMIUM_RATE), PhoneNumberFormat.E164)
    assert parse_phone_number(premium).number_type == PhoneNumberType.PREMIUM_RATE
    with pytest.raises(InvalidPhoneNumber, match=r"^\+1 900-234-5678 is a premium-rate number; "):
        parse_contact_phone_number(premium)


def test_an_unknown_refused_type_in_the_setting_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    from contacts.phone_numbers import refused_number_types

    settings.CONTACT_REFUSED_NUMBER_TYPES = ["PREMIUM_RATE", "EXPENSIVE"]
    with pytest.raises(ImproperlyConfigured, match="'EXPENSIVE' is not a number type"):
        refused_number_types()


def test_a_number_is_shown_in_the_viewers_format(settings):
    """National format for a number of the operator's region, international for any other; masking wins."""
    from django.utils import translation

    from contacts.phone_numbers import phone_for_viewer

    settings.DEFAULT_PHONE_REGION = "US"
    with translation.override("en"):
        assert phone_for_viewer("+12025550143") == "(202) 555-0143"  # the deployment's region: national
        assert phone_for_viewer("+34612345678") == "+34 612 34 56 78"  # elsewhere: international
    with translation.override("es-mx"):  # a language with a region: that region's numbers are national
        assert phone_for_viewer("+525512345678") == "55 1234 5678"
        assert phone_for_viewer("+12025550143") == "+1 202-555-0143"
    settings.DEFAULT_PHONE_REGION = "ES"
    with translation.override("es"):
        assert phone_for_viewer("+34612345678") == "612 34 56 78"
    assert phone_for_viewer("+***0143") == "+***0143"  # a masked number is shown as it is
    assert phone_for_viewer(None) == ""
