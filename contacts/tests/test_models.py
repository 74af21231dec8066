import datetime

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from contacts.forms import ContactAdminForm
from contacts.models import Consent, ConsentPurpose, Contact, Suppression

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_second_contact_with_the_same_phone(contact):
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(first_name="Impostor", phone=contact.phone)
    assert Contact.objects.filter(phone=contact.phone).count() == 1


def test_the_contact_form_says_the_number_belongs_to_a_contact_already(contact):
    form = ContactAdminForm(data={"phone": contact.phone, "time_zone_candidates": "[]", "custom_fields": "{}"})
    assert not form.is_valid()
    assert form.errors["phone"] == ["Contact with this Phone (E.164) already exists."]


def test_the_phone_column_has_one_index_the_unique_one():
    # A second (pattern-ops) index on phone would cost every import's inserts and serve no query.
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Contact._meta.db_table)
    on_phone = [facts for facts in constraints.values() if facts["columns"] == ["phone"]]
    assert [facts["unique"] for facts in on_phone if facts["index"] or facts["unique"]] == [True]


@pytest.mark.parametrize("phone", ["2025550143", "+0123456789", "+1 202 555 0143", "+12", "+1234567890123456", ""])
def test_the_database_refuses_a_phone_that_is_not_e164(phone):
    # PostgreSQL refuses an over-long value by its length (DataError), SQLite by the E.164 check.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Contact.objects.create(phone=phone)
    assert not Contact.objects.exists()


def test_the_database_refuses_a_suppression_that_is_not_e164():
    with pytest.raises(IntegrityError), transaction.atomic():
        Suppression.objects.create(phone="555-0143", source=Suppression.Source.ADMIN)


def test_a_suppressed_number_is_stored_once():
    Suppression.objects.create(phone="+12025550143", source=Suppression.Source.OPT_OUT)
    with pytest.raises(IntegrityError), transaction.atomic():
        Suppression.objects.create(phone="+12025550143", source=Suppression.Source.ADMIN)


def test_the_database_refuses_consent_revoked_before_it_was_given(contact):
    given = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(
            contact=contact,
            purpose=ConsentPurpose.INFORMATIONAL,
            source="web form",
            given_at=given,
            revoked_at=given - datetime.timedelta(days=1),
        )
