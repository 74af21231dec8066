import datetime

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.exceptions import CampaignError
from campaigns.models import Campaign, CampaignTarget
from contacts.models import Contact

pytestmark = pytest.mark.django_db
Status = Campaign.Status


@pytest.fixture
def listed_campaign(campaign, contact, contact_list) -> Campaign:
    contact.lists.add(contact_list)
    Contact.objects.create(phone="+13125550178", time_zone="America/Chicago").lists.add(contact_list)
    campaign.contact_lists.add(contact_list)
    return campaign


def status_of(campaign: Campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def test_launch_runs_the_campaign_and_creates_one_target_per_contact(listed_campaign):
    assert services.campaign_launch(campaign_id=listed_campaign.pk) == 2
    assert status_of(listed_campaign) == Status.RUNNING
    assert listed_campaign.activated_at is not None
    assert set(CampaignTarget.objects.values_list("state", flat=True)) == {CampaignTarget.State.PENDING}


def test_a_contact_in_two_of_the_campaign_s_lists_is_targeted_once(listed_campaign, contact):
    from contacts.models import ContactList

    second = ContactList.objects.create(name="VIP")
    contact.lists.add(second)
    listed_campaign.contact_lists.add(second)
    services.campaign_launch(campaign_id=listed_campaign.pk)
    assert CampaignTarget.objects.filter(contact=contact).count() == 1


def test_syncing_again_adds_only_new_contacts(listed_campaign, contact_list):
    services.campaign_launch(campaign_id=listed_campaign.pk)
    assert services.campaign_sync_targets(campaign_id=listed_campaign.pk) == 0
    Contact.objects.create(phone="+14155550123", time_zone="America/Los_Angeles").lists.add(contact_list)
    assert services.campaign_sync_targets(campaign_id=listed_campaign.pk) == 1
    assert CampaignTarget.objects.count() == 3


def test_a_campaign_without_lists_cannot_launch(campaign):
    with pytest.raises(CampaignError, match="no contact lists"):
        services.campaign_launch(campaign_id=campaign.pk)
    assert status_of(campaign) == Status.DRAFT


def test_a_running_campaign_cannot_be_launched_again(listed_campaign):
    services.campaign_launch(campaign_id=listed_campaign.pk)
    with pytest.raises(CampaignError, match="Cannot launch a campaign that is running"):
        services.campaign_launch(campaign_id=listed_campaign.pk)


def test_pause_and_resume(listed_campaign):
    services.campaign_launch(campaign_id=listed_campaign.pk)
    services.campaign_pause(campaign_id=listed_campaign.pk)
    assert status_of(listed_campaign) == Status.PAUSED
    with pytest.raises(CampaignError, match="Cannot pause a campaign that is paused"):
        services.campaign_pause(campaign_id=listed_campaign.pk)
    services.campaign_resume(campaign_id=listed_campaign.pk)
    assert status_of(listed_campaign) == Status.RUNNING


def test_cancel_closes_pending_targets_and_is_final(listed_campaign):
    services.campaign_launch(campaign_id=listed_campaign.pk)
    services.campaign_cancel(campaign_id=listed_campaign.pk)
    assert status_of(listed_campaign) == Status.CANCELLED
    assert set(CampaignTarget.objects.values_list("state_reason", flat=True)) == {"Campaign cancelled"}
    with pytest.raises(CampaignError, match="cancelled"):
        services.campaign_resume(campaign_id=listed_campaign.pk)


def test_scheduling_needs_a_future_start(listed_campaign):
    with pytest.raises(CampaignError, match="start time in the future"):
        services.campaign_schedule(campaign_id=listed_campaign.pk)
    listed_campaign.starts_at = timezone.now() + datetime.timedelta(hours=1)
    listed_campaign.save()
    services.campaign_schedule(campaign_id=listed_campaign.pk)
    assert status_of(listed_campaign) == Status.SCHEDULED


def test_a_campaign_past_its_end_cannot_launch(listed_campaign):
    listed_campaign.ends_at = timezone.now() - datetime.timedelta(minutes=1)
    listed_campaign.save()
    with pytest.raises(CampaignError, match="ended"):
        services.campaign_launch(campaign_id=listed_campaign.pk)


def test_complete_is_idempotent_and_closes_what_is_left(listed_campaign):
    services.campaign_launch(campaign_id=listed_campaign.pk)
    assert services.campaign_complete(campaign_id=listed_campaign.pk, reason="Campaign ended")
    assert not services.campaign_complete(campaign_id=listed_campaign.pk, reason="Campaign ended")
    assert CampaignTarget.objects.filter(state=CampaignTarget.State.SKIPPED).count() == 2
