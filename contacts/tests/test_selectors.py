import datetime

import pytest
from django.utils import timezone

from contacts.models import Consent, ConsentPurpose, ContactList, Suppression
from contacts.selectors import contact_ids_with_active_consent, in_values, is_suppressed, suppressed_phones
from contacts.services import suppression_add, suppression_remove

pytestmark = pytest.mark.django_db


def test_a_number_is_suppressed_until_its_suppression_is_lifted():
    suppression_add(phone="+12025550143", reason="asked", source=Suppression.Source.OPT_OUT)
    assert is_suppressed("+12025550143")
    suppression_remove(phone="+12025550143", reason="consent renewed")
    assert not is_suppressed("+12025550143")


def test_it_finds_the_suppressed_numbers_of_a_batch_in_one_query(django_assert_num_queries):
    suppression_add(phone="+12025550143", reason="", source=Suppression.Source.ADMIN)
    suppression_add(phone="+13125550178", reason="", source=Suppression.Source.ADMIN)
    suppression_remove(phone="+13125550178")
    with django_assert_num_queries(1):
        found = suppressed_phones(["+12025550143", "+13125550178", "+14155550123"])
    assert found == {"+12025550143"}


def test_an_empty_batch_asks_the_database_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert suppressed_phones([]) == set()


@pytest.fixture
def moments():
    now = timezone.now()
    return {name: now + datetime.timedelta(days=offset) for name, offset in [("before", -10), ("given", -5),
            ("between", -3), ("revoked", -1), ("after", 1)]}  # fmt: skip


def test_consent_holds_from_given_until_revoked(contact, moments):
    Consent.objects.create(
        contact=contact,
        purpose=ConsentPurpose.INFORMATIONAL,
        source="web form",
        given_at=moments["given"],
        revoked_at=moments["revoked"],
    )

    def holds(at):
        return contact_ids_with_active_consent(contact_ids=[contact.pk], purpose="informational", at=at)

    assert holds(moments["before"]) == set()
    assert holds(moments["given"]) == {contact.pk}
    assert holds(moments["between"]) == {contact.pk}
    assert holds(moments["revoked"]) == set()
    assert holds(moments["after"]) == set()


def test_consent_for_another_purpose_does_not_count(contact, moments):
    Consent.objects.create(
        contact=contact, purpose=ConsentPurpose.INFORMATIONAL, source="web", given_at=moments["given"]
    )
    assert (
        contact_ids_with_active_consent(contact_ids=[contact.pk], purpose="telemarketing", at=moments["after"]) == set()
    )


def test_a_batch_of_hundreds_of_numbers_is_checked_in_one_query(django_assert_num_queries):
    phones = [f"+1202555{i:04d}" for i in range(100, 400)]
    suppression_add(phone=phones[7], reason="", source=Suppression.Source.ADMIN)
    with django_assert_num_queries(1):
        assert suppressed_phones([*phones, 'with "quotes" \\ and, commas']) == {phones[7]}


@pytest.mark.parametrize("odd", ['a "quoted" name', "back\\slash", 'both \\"', ""])
def test_a_long_in_lookup_finds_values_holding_quotes_and_backslashes(odd):
    """Above 100 values PostgreSQL gets one array literal, built by hand: whatever a value holds, it is found."""
    names = [f"list {index}" for index in range(150)] + [odd]
    ContactList.objects.bulk_create([ContactList(name=name) for name in names])
    found = set(ContactList.objects.filter(name__in=in_values(names)).values_list("name", flat=True))
    assert found == set(names)
