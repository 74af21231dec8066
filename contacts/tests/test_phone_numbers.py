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
        ("call me maybe", "not a phone number"),
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
