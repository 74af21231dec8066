"""Numbers written without a country code are read in a region: the import's own, else its list's, else the
deployment's DEFAULT_PHONE_REGION."""

import pytest

from contacts.models import Contact, ContactList
from contacts.phone_numbers import default_region
from contacts.tests.test_admin import confirm, upload

pytestmark = pytest.mark.django_db
NATIONAL = b"Name,Phone\nLuc\xc3\xada,612 345 678\n"  # a Spanish mobile as people in Spain write it


def test_the_first_region_given_wins_else_the_deployments(settings):
    settings.DEFAULT_PHONE_REGION = "us"
    assert default_region("mx", "ES") == "MX"
    assert default_region("", "ES") == "ES"
    assert default_region("", "") == "US"


def test_a_lists_region_reads_its_national_numbers(run_import):
    spain = ContactList.objects.create(name="España", default_region="ES")
    job = run_import(NATIONAL, contact_list=spain)
    assert job.created_count == 1
    lucia = Contact.objects.get()
    assert (lucia.phone, lucia.country) == ("+34612345678", "ES")
    assert "Europe/Madrid" in lucia.time_zone_candidates  # and the Canaries: Spain spans two zones


def test_an_imports_region_wins_over_its_lists(run_import):
    spain = ContactList.objects.create(name="España", default_region="ES")
    run_import(b"Name,Phone\nJuan,55 1234 5678\n", contact_list=spain, default_region="MX")
    assert Contact.objects.get().phone == "+525512345678"


def test_the_region_chosen_on_the_upload_form_is_previewed_and_imported(
    admin_client, django_capture_on_commit_callbacks
):
    preview = upload(admin_client, NATIONAL, region="ES")
    assert [d.outcome.value for d in preview.context["result"].preview.decisions] == ["create"]
    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, preview)
    assert Contact.objects.get().phone == "+34612345678"


def test_a_list_takes_its_region_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/contacts/contactlist/add/", {"name": "México", "description": "", "default_region": "MX"}
    )
    assert response.status_code == 302
    assert ContactList.objects.get(name="México").default_region == "MX"
