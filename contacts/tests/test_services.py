import pytest

from contacts.models import Contact
from contacts.phone_numbers import InvalidPhoneNumber
from contacts.services import contact_upsert

pytestmark = pytest.mark.django_db


def test_upsert_stores_e164_and_infers_country_and_zone(contact_list):
    contact, created = contact_upsert(phone="(415) 555-0123", first_name="Grace", lists=[contact_list])
    assert created
    assert (contact.phone, contact.country, contact.time_zone) == ("+14155550123", "US", "America/Los_Angeles")
    assert not contact.time_zone_ambiguous
    assert list(contact.lists.all()) == [contact_list]


def test_upsert_of_the_same_number_in_another_format_updates_the_same_contact():
    first, _ = contact_upsert(phone="+1 415 555 0123", first_name="Grace")
    second, created = contact_upsert(phone="415.555.0123", first_name="Grace M.")
    assert not created
    assert first.pk == second.pk
    assert Contact.objects.get().first_name == "Grace M."


def test_a_multi_zone_number_without_a_zone_is_flagged_with_its_candidates():
    contact, _ = contact_upsert(phone="+61491570156")
    assert contact.time_zone == ""
    assert contact.time_zone_ambiguous
    assert "Australia/Lord_Howe" in contact.time_zone_candidates


def test_a_given_zone_wins_over_inference_and_clears_the_flag():
    contact, _ = contact_upsert(phone="+61491570156", time_zone="Australia/Sydney")
    assert contact.time_zone == "Australia/Sydney"
    assert not contact.time_zone_ambiguous


def test_an_invalid_number_writes_nothing():
    with pytest.raises(InvalidPhoneNumber):
        contact_upsert(phone="12345")
    assert not Contact.objects.exists()
