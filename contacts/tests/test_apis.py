"""The contacts API: contacts (CRUD, lookup, bulk upsert), lists, consents, suppressions and imports."""

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from campaigns.integrations.tokens import integration_token_create
from contacts.models import Consent, Contact, ContactImportJob, ContactList, Suppression

pytestmark = pytest.mark.django_db


def client_for(user, *, group: str | None = "integration", scope: str = "read_write") -> APIClient:
    if group:
        user.groups.add(Group.objects.get(name=group))
    _, key = integration_token_create(name="CRM", user=user, scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def crm(api_user) -> APIClient:
    return client_for(api_user)


def test_a_contact_is_created_from_a_number_in_any_format_and_stored_as_e164(crm, contact_list):
    response = crm.post(
        "/api/v1/contacts/",
        {"phone": "(415) 555-0123", "first_name": "Grace", "lists": ["Customers"], "custom_fields": {"plan": "gold"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["phone"], body["time_zone"], body["lists"]) == ("+14155550123", "America/Los_Angeles", ["Customers"])
    again = crm.post("/api/v1/contacts/", {"phone": "+1 415 555 0123", "first_name": "G."}, format="json")
    assert again.status_code == 200
    assert Contact.objects.get().first_name == "G."


def test_a_bad_number_is_a_400_problem_naming_the_field(crm):
    response = crm.post("/api/v1/contacts/", {"phone": "12"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert body["type"] == "urn:callwright:problem:invalid"
    assert list(body["errors"]) == ["phone"]
    assert body["detail"] == "Check phone."


def test_a_contact_is_patched_and_its_zone_follows_a_new_number(crm, contact):
    response = crm.patch(f"/api/v1/contacts/{contact.pk}/", {"phone": "+44 20 7946 0958"}, format="json")
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert (contact.phone, contact.time_zone, contact.first_name) == ("+442079460958", "Europe/London", "Ada")


def test_deleting_a_contact_erases_it_and_suppresses_its_number(crm, contact):
    assert crm.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert Suppression.objects.active().filter(phone="+12025550143").exists()


def test_a_contact_is_looked_up_by_phone_in_any_format_or_by_external_id(crm, contact):
    Contact.objects.filter(pk=contact.pk).update(custom_fields={"external_id": "crm-17"})
    assert crm.get("/api/v1/contacts/lookup/", {"phone": "(202) 555-0143"}).json()["id"] == contact.pk
    assert crm.get("/api/v1/contacts/lookup/", {"external_id": "crm-17"}).json()["id"] == contact.pk
    assert crm.get("/api/v1/contacts/lookup/", {"external_id": "nobody"}).status_code == 404
    assert crm.get("/api/v1/contacts/lookup/").status_code == 400


def test_the_contact_list_is_cursor_paginated(crm):
    Contact.objects.bulk_create([Contact(phone=f"+1202555{n:04d}") for n in range(5)])
    page = crm.get("/api/v1/contacts/", {"page_size": 2}).json()
    seen = [c["id"] for c in page["results"]]
    while page["next"]:
        page = crm.get(page["next"]).json()
        seen += [c["id"] for c in page["results"]]
    assert sorted(seen) == sorted(Contact.objects.values_list("id", flat=True))
    assert len(seen) == 5


def test_without_the_view_permission_contacts_are_403_and_a_read_only_token_cannot_write(api_user, django_user_model):
    assert client_for(api_user, group=None).get("/api/v1/contacts/").status_code == 403
    reader = django_user_model.objects.create_user(username="reader")
    read_only = client_for(reader, group="operator", scope="read_only")
    assert read_only.get("/api/v1/contacts/").status_code == 200
    assert read_only.post("/api/v1/contacts/", {"phone": "+14155550123"}, format="json").status_code == 403


def test_bulk_upsert_uses_the_import_rules_and_reports_each_row(crm, contact):
    Suppression.objects.create(phone="+13125550178", source=Suppression.Source.ADMIN)
    records = [
        {"phone": "(415) 555-0123", "first_name": "Grace", "lists": ["VIP"], "custom_fields": {"external_id": "c-1"}},
        {"phone": "+1 415 555 0123", "first_name": "Again"},
        {"phone": "12"},
        {"phone": "+13125550178"},
        {"phone": "+12025550143", "last_name": "Lovelace"},
        {"phone": "+14155550124", "email": "not-an-email"},
    ]
    response = crm.post("/api/v1/contacts/bulk/", {"contacts": records}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [row["outcome"] for row in body["rows"]] == [
        "create", "duplicate", "rejected", "suppressed", "update", "rejected"
    ]  # fmt: skip
    assert body["rows"][1]["reason"] == "Same number as row 1."
    assert body["counts"]["create"] == 1
    grace = Contact.objects.get(phone="+14155550123")
    assert (grace.custom_fields, list(grace.lists.values_list("name", flat=True))) == ({"external_id": "c-1"}, ["VIP"])
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")


def test_bulk_upsert_refuses_more_than_ten_thousand_and_custom_fields_named_like_contact_fields(crm):
    too_many = crm.post("/api/v1/contacts/bulk/", {"contacts": [{"phone": "+1"}] * 10_001}, format="json")
    assert too_many.status_code == 400
    assert "contacts" in too_many.json()["errors"]
    clash = crm.post(
        "/api/v1/contacts/bulk/", {"contacts": [{"phone": "+14155550123", "custom_fields": {"Mobile": "x"}}]},
        format="json",
    )  # fmt: skip
    assert clash.status_code == 400
    assert "reads as the contact field 'phone'" in clash.json()["errors"]["contacts"][0]


def test_suppressions_are_added_checked_and_lifted(crm):
    added = crm.post("/api/v1/suppressions/", {"phone": "(312) 555-0178", "reason": "asked"}, format="json")
    assert added.status_code == 201
    assert added.json()["source"] == "api"
    assert crm.post("/api/v1/suppressions/", {"phone": "+13125550178"}, format="json").status_code == 200
    assert crm.get("/api/v1/suppressions/check/", {"phone": "312-555-0178"}).json() == {
        "phone": "+13125550178", "suppressed": True
    }  # fmt: skip
    lifted = crm.post("/api/v1/suppressions/lift/", {"phone": "+13125550178", "reason": "consented"}, format="json")
    assert lifted.status_code == 200
    assert lifted.json()["is_active"] is False
    assert crm.get("/api/v1/suppressions/check/", {"phone": "+13125550178"}).json()["suppressed"] is False
    assert crm.post("/api/v1/suppressions/lift/", {"phone": "+13125550178"}, format="json").status_code == 404


def test_an_operator_without_change_permission_cannot_lift(api_user, django_user_model):
    from conftest import grant

    grant(api_user, "view_suppression", "add_suppression")
    client = client_for(api_user, group=None)
    client.post("/api/v1/suppressions/", {"phone": "+13125550178"}, format="json")
    assert client.post("/api/v1/suppressions/lift/", {"phone": "+13125550178"}, format="json").status_code == 403


def test_consents_are_recorded_and_revoked(crm, contact):
    given = crm.post(
        "/api/v1/consents/",
        {"contact": contact.pk, "purpose": "informational", "source": "web form", "given_at": "2026-01-02T10:00:00Z"},
        format="json",
    )
    assert given.status_code == 201, given.json()
    url = f"/api/v1/consents/{given.json()['id']}/"
    too_early = crm.patch(url, {"revoked_at": "2025-01-01T00:00:00Z"}, format="json")
    assert too_early.status_code == 400
    revoked = crm.patch(url, {"revoked_at": "2026-02-01T00:00:00Z"}, format="json")
    assert revoked.status_code == 200
    assert Consent.objects.get().revoked_at is not None
    assert crm.delete(url).status_code == 405


def test_contact_lists_crud(crm):
    created = crm.post("/api/v1/contact-lists/", {"name": "Spring"}, format="json")
    assert created.status_code == 201
    assert crm.post("/api/v1/contact-lists/", {"name": "Spring"}, format="json").status_code == 400
    assert crm.get("/api/v1/contact-lists/").json()["results"][0]["name"] == "Spring"
    assert crm.delete(f"/api/v1/contact-lists/{created.json()['id']}/").status_code == 204
    assert not ContactList.objects.exists()


def test_a_file_is_imported_and_its_progress_and_row_errors_read(crm, django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("people.csv", b"phone,name\n(415) 555-0123,Grace Hopper\n12,Nobody\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = crm.post("/api/v1/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    progress = crm.get(f"/api/v1/imports/{job_id}/").json()
    assert (progress["status"], progress["created"], progress["rejected"]) == ("done", 1, 1)
    issues = crm.get(f"/api/v1/imports/{job_id}/issues/").json()["results"]
    assert [(i["row_number"], i["outcome"]) for i in issues] == [(3, "rejected")]
    assert ContactImportJob.objects.get().created_by.username == "integration"


def test_bulk_upsert_refuses_a_batch_of_the_wrong_shape_naming_the_records(crm):
    response = crm.post(
        "/api/v1/contacts/bulk/",
        {
            "contacts": [
                {"phone": "+14155550123"},
                "not a contact",
                {"phone": "+1", "nickname": "x"},
                {"first_name": "A"},
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["contacts"] == [
        "Record 2 is not an object.", "Record 3: unknown field(s) nickname.", "Record 4 has no phone."
    ]  # fmt: skip
    assert not Contact.objects.exists()
