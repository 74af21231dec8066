"""Every model has an admin page that staff can open and anonymous visitors cannot."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from calls.models import CallEvent, TranscriptTurn
from contacts.models import Consent, ContactImportJob, OperatorAction, Suppression

pytestmark = pytest.mark.django_db

DOMAIN_APPS = ("contacts", "campaigns", "calls")
DOMAIN_MODELS = [
    model
    for label in DOMAIN_APPS
    for model in apps.get_app_config(label).get_models()
    if admin.site.is_registered(model)
]


def test_every_domain_model_is_in_the_admin():
    names = {model.__name__ for model in DOMAIN_MODELS}
    assert names == {
        "Contact", "ContactList", "Suppression", "Consent", "ContactImportJob", "OperatorAction",
        "Agent", "Campaign", "CampaignTarget", "CampaignReport", "IntegrationToken", "WebhookSubscription",
        "WebhookDelivery",
        "Call", "CallEvent", "TranscriptTurn",
    }  # fmt: skip


@pytest.fixture
def one_of_each(call, contact, campaign, contact_list, api_user):
    """One saved row of every domain model, so change pages have something to show."""
    from django.utils import timezone

    from campaigns.models import CampaignReport, CampaignTarget

    contact.lists.add(contact_list)
    CampaignReport.objects.create(campaign=campaign, time_zone="UTC")
    CampaignTarget.objects.create(campaign=campaign, contact=contact)
    Suppression.objects.create(phone="+13125550178", source=Suppression.Source.ADMIN)
    Consent.objects.create(contact=contact, purpose="informational", source="web", given_at=timezone.now())
    ContactImportJob.objects.create(file_name="contact-imports/a.csv", original_name="a.csv", file_format="csv")
    OperatorAction.objects.create(action="erase", target_type="contacts.Contact", target_id=str(contact.pk))
    CallEvent.objects.create(call=call, kind="status", provider_event_id="ringing:1", payload={"CallStatus": "ringing"})
    TranscriptTurn.objects.create(call=call, index=0, role="agent", text="Hello, this is an automated call.")
    from campaigns.integrations.tokens import integration_token_create

    integration_token_create(name="CRM", user=api_user)
    from campaigns.integrations.models import WebhookDelivery, WebhookSubscription

    subscription = WebhookSubscription.objects.create(name="CRM", url="https://crm.example/", events=["call.ended"])
    WebhookDelivery.objects.create(subscription=subscription, event="call.ended", event_key="1", payload={})


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda m: m.__name__)
def test_staff_can_open_the_list_and_detail_pages(admin_client, one_of_each, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    obj = model.objects.first()
    detail = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert detail.status_code == 200
    searched = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {"q": "a"})
    assert searched.status_code == 200


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda m: m.__name__)
def test_anonymous_visitors_are_sent_to_the_login_page(client, model):
    opts = model._meta
    response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_calls_are_read_only_with_events_and_turns_inline(admin_client, one_of_each, call):
    response = admin_client.get(reverse("admin:calls_call_change", args=[call.pk]))
    content = response.content.decode()
    assert "View call" in content  # Django's read-only page title
    assert "ringing:1" in content
    assert "Hello, this is an automated call." in content
    assert admin_client.post(reverse("admin:calls_call_change", args=[call.pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:calls_call_add")).status_code == 403


def test_staff_add_a_contact_in_any_format_and_it_is_stored_as_e164(admin_client):
    from contacts.models import Contact

    response = admin_client.post(
        reverse("admin:contacts_contact_add"),
        {"first_name": "Grace", "phone": "(415) 555-0123", "custom_fields": "{}", "time_zone_candidates": "[]",
         "consents-TOTAL_FORMS": "0", "consents-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    contact = Contact.objects.get()
    assert (contact.phone, contact.time_zone, contact.country) == ("+14155550123", "America/Los_Angeles", "US")


def test_an_invalid_phone_in_the_admin_is_refused_with_the_reason(admin_client):
    response = admin_client.post(
        reverse("admin:contacts_contact_add"),
        {"phone": "+1 202 555 0143 ext. 7", "custom_fields": "{}", "time_zone_candidates": "[]",
         "consents-TOTAL_FORMS": "0", "consents-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "cannot be dialled" in response.content.decode()


def test_the_front_page_says_which_providers_are_active(admin_client):
    content = admin_client.get(reverse("admin:index")).content.decode()
    assert "Providers in use" in content
    assert content.count("Simulated") == 4


def test_the_front_page_names_a_live_provider_when_configured(admin_client, settings):
    settings.TELEPHONY_PROVIDER = "twilio"
    content = admin_client.get(reverse("admin:index")).content.decode()
    assert "Twilio (live)" in content
    assert content.count("Simulated") == 3
