import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from campaigns.models import Agent, Campaign, CampaignTarget
from campaigns.policies import default_retry_policy

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime.time(7, 59), datetime.time(12, 0)),  # before 08:00
        (datetime.time(9, 0), datetime.time(21, 1)),  # after 21:00
        (datetime.time(15, 0), datetime.time(10, 0)),  # ends before it starts
    ],
)
def test_the_database_refuses_a_calling_window_outside_legal_hours(agent, start, end):
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.create(name="Night calls", agent=agent, window_start=start, window_end=end)


def test_the_widest_legal_window_is_accepted(agent):
    Campaign.objects.create(name="All day", agent=agent, window_start=datetime.time(8), window_end=datetime.time(21))


def test_a_contact_is_targeted_once_per_campaign(campaign, contact):
    CampaignTarget.objects.create(campaign=campaign, contact=contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignTarget.objects.create(campaign=campaign, contact=contact)


def test_transfer_needs_a_number_to_transfer_to():
    with pytest.raises(IntegrityError), transaction.atomic():
        Agent.objects.create(name="Transferrer", system_prompt="x", first_message="x", can_transfer=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("days_of_week", [], "at least one"),
        ("days_of_week", [0, 8], "1 \\(Monday\\) to 7"),
        ("days_of_week", [1, 1], "twice"),
        ("retry_policy", {"hung_up": {"delay_minutes": 1, "max_attempts": 1}}, "Unknown outcomes"),
        ("retry_policy", {"busy": {"delay_minutes": -5, "max_attempts": 1}}, "whole number"),
        ("retry_policy", {"busy": {"delay_minutes": 5}}, "exactly delay_minutes and max_attempts"),
    ],
)
def test_campaign_validation_explains_bad_json_settings(campaign, field, value, message):
    setattr(campaign, field, value)
    with pytest.raises(ValidationError, match=message):
        campaign.full_clean()


def test_the_default_campaign_is_valid(campaign):
    campaign.full_clean()
    assert campaign.retry_policy == default_retry_policy()
