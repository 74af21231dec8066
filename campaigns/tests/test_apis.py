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
    assert body["results"][0].items() >= {"id": campaign.id, "name": "Reminders", "agent": "Reminder agent"}.items()


def test_campaigns_filter_by_status(token_client, api_user, campaign, agent):
    grant(api_user, "view_campaign")
    Campaign.objects.create(name="Running one", agent=agent, status=Campaign.Status.RUNNING)
    names = [c["name"] for c in token_client.get(URL, {"status": "running"}).json()["results"]]
    assert names == ["Running one"]


def test_the_api_is_read_only_for_now(token_client, api_user):
    grant(api_user, "view_campaign", "add_campaign")
    assert token_client.post(URL, {"name": "x"}, format="json").status_code == 405


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
