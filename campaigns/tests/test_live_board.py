"""The live board's page: where it starts from, who may open it, and pausing a campaign from it."""

import datetime

import pytest
from django.utils import timezone

from calls.models import Call, TranscriptTurn
from campaigns.models import Campaign
from contacts.models import OperatorAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor_client(client, django_user_model, supervisor_group):
    user = django_user_model.objects.create_user(username="sam", password="x", is_staff=True)
    user.groups.add(supervisor_group)
    client.force_login(user)
    return client


def test_the_board_starts_from_live_calls_and_todays_counts_per_campaign(supervisor_client, call, campaign, contact):
    Campaign.objects.filter(pk=campaign.pk).update(status="running", max_concurrent_calls=7, calls_per_second=2)
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(status="in_progress", started_at=now, answered_at=now)
    TranscriptTurn.objects.create(call=call, index=0, role="agent", text="Hello.", first_audio_sent_ms=420)
    TranscriptTurn.objects.create(call=call, index=1, role="contact", text="Who is this?")
    TranscriptTurn.objects.create(call=call, index=2, role="agent", text="Acme, about your bill.", interrupted=True,
                                  llm_first_token_ms=300, first_audio_sent_ms=500)  # fmt: skip
    ended = now - datetime.timedelta(minutes=5)
    for answered_by in ("human", "machine_end_beep", ""):
        Call.objects.create(contact=contact, campaign=campaign, to_phone=contact.phone, provider="simulated",
                            status="completed" if answered_by else "no_answer", started_at=ended,
                            answered_at=ended if answered_by else None, answered_by=answered_by,
                            ended_at=ended)  # fmt: skip

    response = supervisor_client.get("/live/")
    assert response.status_code == 200
    board = response.context["board"]
    row = board["calls"][str(call.pk)]
    assert (row["status"], row["phone"], row["campaign"]) == ("in_progress", "+***0143", campaign.pk)
    assert row["last_utterance"] == {"role": "agent", "text": "Acme, about your bill.", "interrupted": True}
    assert row["latency_ms"] == {"llm_first_token": 300, "first_audio_sent": 500}  # the last reply's (not the opener's)
    floor = board["campaigns"][str(campaign.pk)]
    assert (floor["max_concurrent"], floor["cps_cap"], floor["status"]) == (7, 2.0, "running")
    assert {k: floor["today"][k] for k in ("ended", "answered", "machine")} == {"ended": 3, "answered": 2, "machine": 1}
    assert sum(floor["today"]["per_minute"]) == 4
    assert b"5550143" not in response.content


def test_a_supervisor_pauses_and_resumes_a_campaign_from_the_board_and_it_is_audited(supervisor_client, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    response = supervisor_client.post(f"/live/campaigns/{campaign.pk}/pause/")
    assert response.json()["status"] == "paused"
    assert supervisor_client.post(f"/live/campaigns/{campaign.pk}/pause/").json() == {
        "error": "Cannot pause a campaign that is paused."
    }
    assert supervisor_client.post(f"/live/campaigns/{campaign.pk}/resume/").json()["status"] == "running"
    assert list(OperatorAction.objects.order_by("id").values_list("action", "target_id")) == [
        ("campaign_pause", str(campaign.pk)), ("campaign_resume", str(campaign.pk))
    ]  # fmt: skip


def test_the_admin_index_and_a_running_campaigns_page_link_to_the_board(supervisor_client, campaign):
    assert b'href="/live/"' in supervisor_client.get("/admin/").content
    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    page = supervisor_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert f'href="/live/?campaign={campaign.pk}"'.encode() in page.content
