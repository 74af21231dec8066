import pytest

from campaigns.models import Campaign
from conftest import grant

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"


def test_without_a_token_the_api_answers_401(client, campaign):
    response = client.get(URL)
    assert response.status_code == 401
    assert "credentials were not provided" in response.json()["detail"]


def test_a_wrong_token_gets_401(client, campaign):
    response = client.get(URL, HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401


def test_a_token_without_the_view_permission_gets_403(token_client, campaign):
    assert token_client.get(URL).status_code == 403


def test_a_token_with_the_view_permission_lists_campaigns(token_client, api_user, campaign):
    grant(api_user, "view_campaign")
    body = token_client.get(URL).json()
    assert body["count"] == 1
    first = body["results"][0]
    assert (first["id"], first["name"], first["agent"]) == (campaign.id, "Reminders", campaign.agent_id)


def test_campaigns_filter_by_status(token_client, api_user, campaign, agent):
    grant(api_user, "view_campaign")
    Campaign.objects.create(name="Running one", agent=agent, status=Campaign.Status.RUNNING)
    names = [c["name"] for c in token_client.get(URL, {"status": "running"}).json()["results"]]
    assert names == ["Running one"]


def test_a_campaign_is_created_with_the_admins_rules_in_its_words(token_client, api_user, agent, contact_list):
    grant(api_user, "view_campaign", "add_campaign")
    late = token_client.post(URL, {"name": "x", "agent": agent.pk, "window_end": "22:00"}, format="json")
    assert late.status_code == 400
    assert late.json()["errors"]["window_end"] == [
        "Calls may end at 21:00 callee-local time at the latest (allowed: 08:00–21:00)."
    ]
    created = token_client.post(
        URL, {"name": "Dec", "agent": agent.pk, "contact_lists": [contact_list.pk], "days_of_week": [1, 2]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "draft"
    assert Campaign.objects.get(name="Dec").days_of_week == [1, 2]


def test_a_campaign_is_patched_keeping_what_is_not_sent(token_client, api_user, campaign, contact_list):
    grant(api_user, "view_campaign", "change_campaign")
    response = token_client.patch(f"{URL}{campaign.pk}/", {"contact_lists": [contact_list.pk]}, format="json")
    assert response.status_code == 200, response.json()
    campaign.refresh_from_db()
    assert (campaign.name, list(campaign.contact_lists.all())) == ("Reminders", [contact_list])


def test_launch_pause_resume_cancel_and_a_refused_move_is_409(token_client, api_user, campaign, contact, contact_list):
    grant(api_user, "view_campaign", "change_campaign")
    contact.lists.add(contact_list)
    campaign.contact_lists.add(contact_list)
    assert (
        token_client.post(f"{URL}{campaign.pk}/resume/").json()["detail"] == "Cannot resume a campaign that is draft."
    )
    assert token_client.post(f"{URL}{campaign.pk}/launch/").json()["status"] == "running"
    assert campaign.targets.count() == 1
    assert token_client.post(f"{URL}{campaign.pk}/pause/").json()["status"] == "paused"
    assert token_client.post(f"{URL}{campaign.pk}/resume/").json()["status"] == "running"
    assert token_client.post(f"{URL}{campaign.pk}/cancel/").json()["status"] == "cancelled"
    refused = token_client.post(f"{URL}{campaign.pk}/launch/")
    assert (refused.status_code, refused.json()["code"]) == (409, "conflict")


def test_lifecycle_actions_need_the_change_permission(token_client, api_user, campaign):
    grant(api_user, "view_campaign", "add_campaign")
    assert token_client.post(f"{URL}{campaign.pk}/launch/").status_code == 403


def test_the_preview_gives_the_gates_answer_at_an_instant(token_client, api_user, campaign, contact, contact_list):
    grant(api_user, "view_campaign")
    contact.lists.add(contact_list)
    campaign.contact_lists.add(contact_list)
    night = token_client.get(f"{URL}{campaign.pk}/preview/", {"at": "2026-12-08T07:00:00Z"}).json()  # 02:00 in NY
    assert (night["evaluated"], night["would_dial"]) == (1, 0)
    assert night["not_now"][0]["next_allowed_at"].startswith("2026-12-08T14:00")
    day = token_client.get(f"{URL}{campaign.pk}/preview/", {"at": "2026-12-08T16:00:00Z"}).json()
    assert day["would_dial"] == 1
    assert token_client.get(f"{URL}{campaign.pk}/preview/", {"at": "tomorrow"}).status_code == 400


def test_only_a_draft_campaign_is_deleted(token_client, api_user, campaign):
    grant(api_user, "view_campaign", "delete_campaign")
    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    assert token_client.delete(f"{URL}{campaign.pk}/").status_code == 409
    Campaign.objects.filter(pk=campaign.pk).update(status="draft")
    assert token_client.delete(f"{URL}{campaign.pk}/").status_code == 204


def test_agents_keep_the_disclosure_rule(token_client, api_user):
    grant(api_user, "view_agent", "add_agent")
    body = {"name": "Sales", "system_prompt": "Sell.", "first_message": "Hi, it's Bob!"}
    refused = token_client.post("/api/v1/agents/", body, format="json")
    assert refused.status_code == 400
    assert "first_message" in refused.json()["errors"]
    body["first_message"] = "Hi, this is an automated assistant calling."
    assert token_client.post("/api/v1/agents/", body, format="json").status_code == 201


def test_targets_are_listed_by_campaign_and_state(token_client, api_user, campaign, contact):
    from campaigns.models import CampaignTarget

    grant(api_user, "view_campaigntarget")
    CampaignTarget.objects.create(campaign=campaign, contact=contact)
    rows = token_client.get("/api/v1/targets/", {"campaign": campaign.pk, "state": "pending"}).json()["results"]
    assert [(row["contact"], row["state"]) for row in rows] == [(contact.pk, "pending")]
    assert token_client.get("/api/v1/targets/", {"state": "done"}).json()["results"] == []


def test_the_openapi_schema_describes_the_campaigns_endpoint(token_client):
    response = token_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/campaigns/" in response.json()["paths"]


def test_the_schema_needs_authentication(client):
    assert client.get("/api/schema/").status_code in (401, 403)


def test_the_api_docs_page_renders_for_a_logged_in_user(admin_client):
    response = admin_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_the_schema_is_valid_openapi_and_generates_without_a_warning(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_schema_types_errors_as_problems_and_offers_idempotency_keys_and_examples(token_client):
    schema = token_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    place = schema["paths"]["/api/v1/calls/"]["post"]
    assert {"400", "401", "403", "409", "422", "429"} <= set(place["responses"])
    assert place["responses"]["409"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "Idempotency-Key" in [parameter["name"] for parameter in place["parameters"]]
    bulk = schema["paths"]["/api/v1/contacts/bulk/"]["post"]["requestBody"]["content"]["application/json"]
    assert bulk["examples"]["TwoContacts"]["value"]["contacts"][0]["phone"] == "(202) 555-0143"
    assert schema["components"]["securitySchemes"]["integrationToken"] == {
        "type": "http", "scheme": "bearer", "description": "An integration token (cw_…), from the admin."
    }  # fmt: skip
