"""The dial-time gate's rules, against the database they read."""

import datetime

import pytest

from calls.models import Call, CallStatus
from campaigns.gate import Reason, evaluate, gate_targets, load_gate_context
from campaigns.models import Campaign, CampaignTarget
from contacts.models import Consent, ConsentPurpose, Contact, Suppression

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
MONDAY_10_NEW_YORK = datetime.datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def decide(campaign: Campaign, contact: Contact, *, attempts: int = 0, now: datetime.datetime = MONDAY_10_NEW_YORK):
    target, _ = CampaignTarget.objects.update_or_create(
        campaign=campaign, contact=contact, defaults={"attempts": attempts}
    )
    targets = gate_targets([CampaignTarget.objects.select_related("contact").get(pk=target.pk)])
    return evaluate(targets[0], load_gate_context(campaign=campaign, targets=targets, now=now))


def past_call(contact: Contact, at: datetime.datetime, *, campaign=None, status=CallStatus.NO_ANSWER, answered_by=""):
    call = Call.objects.create(contact=contact, to_phone=contact.phone, provider="simulated", campaign=campaign)
    ended = at + datetime.timedelta(minutes=1)
    Call.objects.filter(pk=call.pk).update(created_at=at, status=status, answered_by=answered_by, ended_at=ended)
    return call


@pytest.fixture
def other_campaign(agent) -> Campaign:
    return Campaign.objects.create(name="Another campaign", agent=agent)


def test_a_contact_inside_its_window_may_be_dialled(campaign, contact):
    assert decide(campaign, contact).allowed


def test_a_suppressed_number_is_closed_and_never_dialled(campaign, contact):
    Suppression.objects.create(phone=contact.phone, source=Suppression.Source.OPT_OUT)
    decision = decide(campaign, contact)
    assert not decision.allowed
    assert (decision.reason, decision.close_as) == (Reason.SUPPRESSED, CampaignTarget.State.SUPPRESSED)


def test_without_consent_a_consent_requiring_campaign_skips_the_contact(campaign, contact):
    campaign.requires_consent = True
    decision = decide(campaign, contact)
    assert (decision.allowed, decision.reason, decision.close_as) == (False, Reason.NO_CONSENT, "skipped")


@pytest.mark.parametrize(
    ("purpose", "revoked", "allowed"),
    [
        (ConsentPurpose.INFORMATIONAL, False, True),
        (ConsentPurpose.INFORMATIONAL, True, False),  # revoked before now
        (ConsentPurpose.TELEMARKETING, False, False),  # consent for another purpose
    ],
)
def test_consent_counts_only_for_the_campaign_s_purpose_while_in_force(campaign, contact, purpose, revoked, allowed):
    campaign.requires_consent = True
    given = MONDAY_10_NEW_YORK - datetime.timedelta(days=30)
    Consent.objects.create(
        contact=contact, purpose=purpose, source="web form", given_at=given,
        revoked_at=given + datetime.timedelta(days=1) if revoked else None,
    )  # fmt: skip
    assert decide(campaign, contact).allowed is allowed


def test_a_target_out_of_lifetime_attempts_is_exhausted(campaign, contact):
    decision = decide(campaign, contact, attempts=campaign.max_attempts)
    assert (decision.reason, decision.close_as) == (Reason.LIFETIME_CAP, CampaignTarget.State.EXHAUSTED)


def test_a_contact_with_no_known_zone_is_skipped(campaign):
    contact = Contact.objects.create(phone="+12025550199", time_zone="", time_zone_candidates=[])
    assert decide(campaign, contact).reason == Reason.UNKNOWN_TIME_ZONE


def test_outside_the_window_a_target_waits_for_its_next_local_opening(campaign):
    los_angeles = Contact.objects.create(phone="+14155550123", time_zone="America/Los_Angeles")
    decision = decide(campaign, los_angeles)  # 07:00 in Los Angeles
    assert (decision.allowed, decision.reason, decision.close_as) == (False, Reason.OUTSIDE_CALLING_HOURS, None)
    assert decision.next_attempt_at == datetime.datetime(2026, 11, 23, 17, tzinfo=UTC)


def test_an_ambiguous_number_waits_for_the_strictest_of_its_zones(campaign):
    australian = Contact.objects.create(
        phone="+61491570156", time_zone_ambiguous=True, time_zone_candidates=["Australia/Perth", "Australia/Sydney"]
    )
    decision = decide(campaign, australian, now=datetime.datetime(2026, 11, 23, 22, 30, tzinfo=UTC))
    assert decision.next_attempt_at == datetime.datetime(2026, 11, 24, 1, tzinfo=UTC)  # 09:00 in Perth


def test_the_daily_cap_counts_calls_from_every_campaign(campaign, other_campaign, contact):
    past_call(contact, datetime.datetime(2026, 11, 23, 1, tzinfo=UTC), campaign=other_campaign)
    past_call(contact, datetime.datetime(2026, 11, 23, 14, tzinfo=UTC), campaign=other_campaign)
    decision = decide(campaign, contact)  # cap is 2 per 24 h
    assert decision.reason == Reason.DAILY_CAP
    # The 01:00 call ages out at 01:00 tomorrow (20:00 in New York, closed): 09:00 New York that day.
    assert decision.next_attempt_at == datetime.datetime(2026, 11, 24, 14, tzinfo=UTC)


def test_the_weekly_cap_counts_calls_from_every_campaign(campaign, other_campaign, contact):
    for days_ago in (6, 4, 2):
        past_call(contact, MONDAY_10_NEW_YORK - datetime.timedelta(days=days_ago), campaign=other_campaign)
    decision = decide(campaign, contact)  # cap is 3 per 7 days
    assert decision.reason == Reason.WEEKLY_CAP
    assert decision.next_attempt_at == MONDAY_10_NEW_YORK + datetime.timedelta(days=1)


def test_reg_f_allows_no_more_than_seven_calls_in_seven_days(campaign, other_campaign, contact):
    campaign.enforce_seven_in_seven = True
    campaign.max_attempts_per_24h = campaign.max_attempts_per_7d = 50
    for hours_ago in range(10, 150, 20):  # 7 calls over the last 6 days
        past_call(contact, MONDAY_10_NEW_YORK - datetime.timedelta(hours=hours_ago), campaign=other_campaign)
    assert decide(campaign, contact).reason == Reason.SEVEN_IN_SEVEN
    campaign.enforce_seven_in_seven = False
    assert decide(campaign, contact).allowed


def test_reg_f_waits_seven_days_after_a_conversation(campaign, other_campaign, contact):
    campaign.enforce_seven_in_seven = True
    talked = MONDAY_10_NEW_YORK - datetime.timedelta(days=3)
    past_call(contact, talked, campaign=other_campaign, status=CallStatus.COMPLETED, answered_by="human")
    decision = decide(campaign, contact)
    assert decision.reason == Reason.RECENT_CONVERSATION
    assert decision.next_attempt_at == talked + datetime.timedelta(days=7, minutes=1)


def test_a_voicemail_is_not_a_conversation(campaign, other_campaign, contact):
    campaign.enforce_seven_in_seven = True
    when = MONDAY_10_NEW_YORK - datetime.timedelta(days=3)
    past_call(contact, when, campaign=other_campaign, status=CallStatus.COMPLETED, answered_by="machine_end_beep")
    assert decide(campaign, contact).allowed


def test_after_its_end_a_campaign_dials_no_one(campaign, contact):
    campaign.ends_at = MONDAY_10_NEW_YORK - datetime.timedelta(minutes=1)
    assert decide(campaign, contact).reason == Reason.CAMPAIGN_ENDED


def test_a_target_whose_next_opening_is_after_the_end_is_closed(campaign):
    los_angeles = Contact.objects.create(phone="+14155550123", time_zone="America/Los_Angeles")
    campaign.ends_at = datetime.datetime(2026, 11, 23, 16, tzinfo=UTC)  # ends before 09:00 in Los Angeles
    decision = decide(campaign, los_angeles)
    assert (decision.reason, decision.close_as) == (Reason.CAMPAIGN_ENDED, "skipped")


def test_an_erased_contact_is_never_dialled(campaign, contact):
    from contacts.services import contact_erase

    contact = contact_erase(contact=contact, actor=None)
    decision = decide(campaign, contact)
    assert (decision.allowed, decision.reason, decision.close_as) == (False, Reason.ERASED, "skipped")
