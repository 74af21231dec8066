import pytest
from phonenumbers import phonenumberutil

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
        ("call me maybe", "no phone numbers"),
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


def test_the_faster_digit_normalisation_agrees_with_libphonenumber_on_every_ascii_character():
    ours = phonenumberutil.normalize_digits_only
    theirs = ours.libphonenumber_original
    characters = [chr(code) for code in range(128)]
    for keep in (False, True):
        for character in characters:
            assert ours(character, keep) == theirs(character, keep), (character, keep)
        assert ours("".join(characters), keep) == theirs("".join(characters), keep)
    for text in ("(202) 555-0143", "+44 20 7946 0958", "٠٦١٢ ٣٤ ٥٦ ٧٨", "０６１２３４５６７８", "tel: 0612"):
        assert ours(text) == theirs(text)
        assert ours(text, True) == theirs(text, True)


def test_the_quicker_extension_search_agrees_with_libphonenumber_on_every_pair_of_ascii_characters():
    ours = phonenumberutil._maybe_strip_extension
    theirs = ours.libphonenumber_original
    characters = [chr(code) for code in range(128)]
    for first in characters:
        for second in characters:
            for text in (f"202 555 0143{first}{second}12", f"202 555 0143{first}12{second}"):
                assert ours(text) == theirs(text), text
    for text in ("202 555 0143 ext. 12", "202 555 0143;ext=12", "202 555 0143 x12", "202 555 0143 - 12#",
                 "202 555 0143,,12", "202 555 0143 ｘ12", "+33 1 23 45 67 89 доб 12", "202 555 0143"):  # fmt: skip
        assert ours(text) == theirs(text), text
    assert ours("202 555 0143 ext. 12") == ("12", "202 555 0143")


def test_the_zones_of_a_geographical_number_agree_with_libphonenumber_for_every_prefix_it_knows():
    import phonenumbers
    from phonenumbers import timezone

    from contacts.phone_numbers import _geographical_zones

    for index, prefix in enumerate(sorted(timezone.TIMEZONE_DATA)):
        number = phonenumbers.parse("+" + (prefix + str(index) * 12)[:12])
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert _geographical_zones(e164) == timezone.time_zones_for_geographical_number(number), e164


def assert_agrees_with_libphonenumber(name: str, alphabet: list[str], examples: tuple[str, ...]) -> None:
    """Our shortcut for libphonenumber's `name` gives its answer on every text of up to five characters
    from `alphabet`, and on `examples`."""
    import itertools

    ours = getattr(phonenumberutil, name)
    theirs = ours.libphonenumber_original
    for length in range(6):
        for characters in itertools.product(alphabet, repeat=length):
            text = "".join(characters)
            assert ours(text) == theirs(text), text
    for text in examples:
        assert ours(text) == theirs(text), text


def test_the_quicker_viability_check_agrees_with_libphonenumber_on_every_short_text():
    assert_agrees_with_libphonenumber(
        "_is_viable_phone_number",
        ["+", "1", "2", " ", "(", ")", ".", "-", "/", "x", "#", "a", "＋"],
        ("(202) 555-0143", "+44 20 7946 0958", "202.555.0143", "+1 202 555 0143 ext. 7", "٠٦١٢ ٣٤"),
    )


def test_the_quicker_number_extraction_agrees_with_libphonenumber_on_every_short_text():
    assert_agrees_with_libphonenumber(
        "_extract_possible_number",
        ["+", "1", "2", " ", "(", ")", ".", "-", "/", "x", "#", "_", "a", "＋"],
        ("(202) 555-0143", "+44 20 7946 0958 ", "tel: 202.555.0143.", "(530) 583-6985 x302/x2303", "٠٦١٢ ٣٤"),
    )


def test_the_quicker_normalisation_agrees_with_libphonenumber_on_every_short_text():
    assert_agrees_with_libphonenumber(
        "_normalize", ["+", "1", "٢", " ", "(", "-", "\n", "a", "Z", "é", "＋"], ("1-800-FLOWERS",)
    )
    assert phonenumberutil._normalize("1-800-FLOWERS") == "18003569377"


def test_the_number_type_agrees_with_libphonenumber_in_every_region_for_many_numbers():
    import random

    import phonenumbers
    from phonenumbers import PhoneMetadata, PhoneNumberType

    from contacts.phone_numbers import _number_type

    rng = random.Random(4)  # noqa: S311 - test data
    metadatas = [PhoneMetadata.metadata_for_region(region) for region in phonenumbers.SUPPORTED_REGIONS]
    non_geographical = phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    metadatas += [PhoneMetadata.metadata_for_nongeo_region(code) for code in non_geographical]
    checked = set()
    for metadata in metadatas:
        numbers = []
        for kind in vars(PhoneNumberType).values():
            if isinstance(kind, int):
                example = phonenumbers.example_number_for_type(metadata.id, kind) if metadata.id != "001" else None
                if example is not None:
                    numbers.append(phonenumbers.national_significant_number(example))
        for length in range(4, 14):
            numbers += ["".join(rng.choice("0123456789") for _ in range(length)) for _ in range(10)]
        for prefix in ("1", "2", "3", "4", "5", "6", "7", "8", "9"):  # numbers near the valid ones
            numbers += [number[:-1] + prefix for number in numbers[:20] if number]
        for number in numbers:
            expected = phonenumberutil._number_type_helper(number, metadata)
            assert _number_type(number, metadata) == expected, (metadata.id, number)
            checked.add(expected)
    assert len(checked) >= 8  # the numbers reach most types, not only "unknown"
