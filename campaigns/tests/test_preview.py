import datetime
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from campaigns import services
from campaigns.models import CampaignTarget
from campaigns.selectors import campaign_preview
from contacts.models import Contact, Suppression

pytestmark = pytest.mark.django_db
MONDAY_10_NEW_YORK = datetime.datetime(2026, 11, 23, 15, 0, tzinfo=datetime.UTC)


@pytest.fixture
def mixed_campaign(campaign, contact, contact_list):
    """New York (open), Los Angeles (too early), a suppressed Chicago number."""
    contact.lists.add(contact_list)
    Contact.objects.create(phone="+14155550123", time_zone="America/Los_Angeles").lists.add(contact_list)
    Contact.objects.create(phone="+13125550178", time_zone="America/Chicago").lists.add(contact_list)
    Suppression.objects.create(phone="+13125550178", source=Suppression.Source.ADMIN)
    campaign.contact_lists.add(contact_list)
    return campaign


def test_a_draft_campaign_previews_its_lists_contacts(mixed_campaign):
    report = campaign_preview(campaign_id=mixed_campaign.pk, at=MONDAY_10_NEW_YORK)
    assert (report.evaluated, report.would_dial) == (3, 1)
    assert report.would_dial_sample == [
        {"contact": Contact.objects.get(phone="+12025550143").pk, "phone": "+12025550143"}
    ]
    assert report.by_reason == {"Outside callee-local calling hours": 1, "On the do-not-call list": 1}
    assert report.next_allowed["Outside callee-local calling hours"] == datetime.datetime(
        2026, 11, 23, 17, tzinfo=datetime.UTC
    )


def test_the_preview_writes_nothing(mixed_campaign):
    services.campaign_launch(campaign_id=mixed_campaign.pk)
    before = list(CampaignTarget.objects.order_by("pk").values_list("state", "next_attempt_at", "state_reason"))
    campaign_preview(campaign_id=mixed_campaign.pk, at=MONDAY_10_NEW_YORK)
    assert list(CampaignTarget.objects.order_by("pk").values_list("state", "next_attempt_at", "state_reason")) == before


def test_a_running_campaign_previews_targets_waiting_for_a_retry(mixed_campaign):
    services.campaign_launch(campaign_id=mixed_campaign.pk, now=MONDAY_10_NEW_YORK)
    later = MONDAY_10_NEW_YORK + datetime.timedelta(hours=2)
    CampaignTarget.objects.filter(contact__phone="+12025550143").update(next_attempt_at=later)
    report = campaign_preview(campaign_id=mixed_campaign.pk, at=MONDAY_10_NEW_YORK)
    assert report.by_reason["Waiting for its retry delay"] == 1
    assert report.next_allowed["Waiting for its retry delay"] == later


def test_the_command_prints_json(mixed_campaign, capsys):
    call_command("campaign_preview", str(mixed_campaign.pk), "--at", MONDAY_10_NEW_YORK.isoformat(), "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["would_dial"] == 1
    assert {row["reason"]: row["targets"] for row in report["not_now"]} == {
        "Outside callee-local calling hours": 1,
        "On the do-not-call list": 1,
    }


def test_the_command_prints_a_summary(mixed_campaign, capsys):
    call_command("campaign_preview", str(mixed_campaign.pk), "--at", MONDAY_10_NEW_YORK.isoformat())
    out = capsys.readouterr().out
    assert "would dial now: 1 of 3" in out
    assert "next allowed 2026-11-23T17:00:00+00:00" in out


@pytest.mark.parametrize("bad", ["tomorrow", "2026-11-23T15:00:00"])
def test_the_command_refuses_an_instant_without_offset(mixed_campaign, bad):
    with pytest.raises(CommandError, match="ISO-8601"):
        call_command("campaign_preview", str(mixed_campaign.pk), "--at", bad)


def test_the_command_names_an_unknown_campaign():
    with pytest.raises(CommandError, match="does not exist"):
        call_command("campaign_preview", "999")


def test_the_admin_preview_page_shows_the_same_figures(admin_client, mixed_campaign):
    url = reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk])
    content = admin_client.get(url, {"at": MONDAY_10_NEW_YORK.isoformat()}).content.decode()
    assert '<strong id="would-dial">1</strong> of 3' in content
    assert "On the do-not-call list" in content


def test_the_admin_preview_page_explains_a_bad_instant(admin_client, mixed_campaign):
    url = reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk])
    content = admin_client.get(url, {"at": "noon"}).content.decode()
    assert '<p class="errornote">“noon” is not a date and time; pick one, e.g. 2026-11-24 15:00.</p>' in content


def test_the_preview_picker_reads_a_local_time_in_the_chosen_zone(admin_client, mixed_campaign):
    url = reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk])
    # 10:00 in New York on Monday 23 November 2026 is 15:00 UTC: the New York contact is in hours.
    response = admin_client.get(url, {"at": "2026-11-23T10:00", "tz": "America/New_York"})
    assert response.context["report"].at == MONDAY_10_NEW_YORK
    content = response.content.decode()
    assert '<input id="preview-at" type="datetime-local" name="at" value="2026-11-23T10:00">' in content
    assert '<option value="America/New_York" selected>' in content
    assert '<strong id="preview-instant">11/23/2026 10:00:00 EST</strong>' in content
    assert '<strong id="would-dial">1</strong> of 3' in content
    # Los Angeles opens at 09:00 its time, 12:00 in New York: said in the operator's zone.
    assert "<td>Outside callee-local calling hours</td><td>1</td><td>11/23/2026 12:00 EST</td>" in content


def test_the_preview_picker_defaults_to_the_server_zone_without_a_choice(admin_client, mixed_campaign):
    url = reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk])
    response = admin_client.get(url, {"at": "2026-11-23T15:00"})
    assert response.context["report"].at == MONDAY_10_NEW_YORK
    assert 'data-chosen="0"' in response.content.decode()


def test_the_preview_refuses_a_wall_time_the_clocks_skip(admin_client, mixed_campaign):
    url = reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk])
    content = admin_client.get(url, {"at": "2026-03-08T02:30", "tz": "America/New_York"}).content.decode()
    assert "2026-03-08 02:30 does not exist in America/New_York: the clocks skip it. Pick another time." in content


def test_the_preview_refuses_an_unknown_zone(admin_client, mixed_campaign):
    url = reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk])
    content = admin_client.get(url, {"at": "2026-11-23T10:00", "tz": "Mars/Olympus"}).content.decode()
    assert "“Mars/Olympus” is not a time zone; choose one from the list." in content


def test_the_preview_lists_names_beside_masked_numbers(admin_client, mixed_campaign):
    url = reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk])
    content = admin_client.get(url, {"at": MONDAY_10_NEW_YORK.isoformat()}).content.decode()
    ada = Contact.objects.get(phone="+12025550143")
    change_url = reverse("admin:contacts_contact_change", args=[ada.pk])
    assert f'<tr><td><a href="{change_url}">Ada Byron</a></td><td>+***0143</td></tr>' in content
    assert "+12025550143" not in content


def test_the_admin_preview_page_is_for_staff_only(client, mixed_campaign):
    response = client.get(reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk]))
    assert response.status_code == 302


def test_the_campaign_page_shows_progress_and_links_the_preview(admin_client, mixed_campaign):
    services.campaign_launch(campaign_id=mixed_campaign.pk)
    content = admin_client.get(reverse("admin:campaigns_campaign_change", args=[mixed_campaign.pk])).content.decode()
    assert 'id="campaign-progress"' in content
    assert "Pending: <strong>3</strong>" in content
    assert reverse("admin:campaigns_campaign_preview", args=[mixed_campaign.pk]) in content


def test_admin_actions_launch_and_report_errors(admin_client, mixed_campaign, campaign):
    url = reverse("admin:campaigns_campaign_changelist")
    response = admin_client.post(
        url, {"action": "launched_campaigns", "_selected_action": [mixed_campaign.pk]}, follow=True
    )
    assert "launched" in response.content.decode()
    response = admin_client.post(
        url, {"action": "launched_campaigns", "_selected_action": [mixed_campaign.pk]}, follow=True
    )
    assert "Cannot launch a campaign that is running" in response.content.decode()
