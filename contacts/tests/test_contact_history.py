"""A contact's page lists the person's calls and campaign places across campaigns; Calls filters by contact."""

import pytest
from django.utils import timezone

from calls.models import Call
from campaigns.models import Campaign, CampaignTarget
from conftest import grant


@pytest.fixture
def history(contact, campaign, agent):
    other = Campaign.objects.create(name="Autumn survey", agent=agent)
    target = CampaignTarget.objects.create(campaign=campaign, contact=contact, state="done", attempts=2,
                                           last_outcome="answered", state_reason="Answered by a person")  # fmt: skip
    CampaignTarget.objects.create(campaign=other, contact=contact, state="pending", attempts=0)
    now = timezone.now()
    answered = Call.objects.create(
        contact=contact, campaign=campaign, agent=agent, target=target, to_phone=contact.phone, provider="simulated",
        status="completed", ended_at=now, duration_seconds=42, outcome="ended_by_agent", disposition="agreed",
        summary="Ada agreed to pay 120 by Friday.",
    )  # fmt: skip
    busy = Call.objects.create(contact=contact, campaign=campaign, agent=agent, target=target, to_phone=contact.phone,
                               provider="simulated", status="busy", ended_at=now)  # fmt: skip
    return answered, busy, other


def test_the_contacts_page_lists_its_calls_and_campaigns(admin_client, contact, campaign, history):
    answered, busy, other = history

    page = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()

    assert "History across campaigns" in page
    assert "Calls (2)" in page
    assert f'href="/admin/calls/call/{answered.pk}/change/"' in page
    assert f'href="/admin/calls/call/{busy.pk}/change/"' in page
    assert "Ada agreed to pay 120 by Friday." in page
    assert "agreed" in page
    assert "Campaigns (2)" in page
    assert f'href="/admin/campaigns/campaign/{other.pk}/change/"' in page
    assert "Answered by a person" in page
    assert f'href="/admin/calls/call/?contact={contact.pk}"' in page


def test_a_viewer_without_call_permission_sees_no_calls(client, django_user_model, contact, history):
    user = django_user_model.objects.create_user(username="clerk", password="pw", is_staff=True)
    grant(user, "view_contact", "change_contact")
    client.force_login(user)

    page = client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()

    assert "Ada agreed to pay" not in page
    assert "Calls (" not in page


def test_the_calls_list_filters_by_contact(admin_client, contact, history):
    from contacts.models import Contact

    stranger = Contact.objects.create(first_name="Bob", phone="+12025550144", time_zone="America/New_York")
    stranger_call = Call.objects.create(contact=stranger, to_phone=stranger.phone, provider="simulated")
    answered, busy, _ = history

    page = admin_client.get(f"/admin/calls/call/?contact={contact.pk}").content.decode()

    assert str(answered.pk)[:8] in page
    assert str(busy.pk)[:8] in page
    assert str(stranger_call.pk)[:8] not in page
    assert "Ada Byron" in page  # the filter names the chosen contact
