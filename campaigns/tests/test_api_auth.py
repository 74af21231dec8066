"""Integration tokens, roles (groups) and the one error shape of the API."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from campaigns.integrations.models import IntegrationToken
from campaigns.integrations.tokens import hash_key, integration_token_create, integration_token_revoke
from conftest import grant

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_only_the_keys_hash_is_stored(api_user):
    token, key = integration_token_create(name="CRM", user=api_user)
    stored = IntegrationToken.objects.get(pk=token.pk)
    assert stored.key_hash == hash_key(key)
    assert key not in {stored.key_hash, stored.key_prefix, stored.name}
    assert key.startswith(stored.key_prefix)


def test_a_token_reads_with_its_users_permissions_and_its_use_is_noted(api_user, campaign):
    grant(api_user, "view_campaign")
    token, key = integration_token_create(name="CRM", user=api_user)
    assert bearer(key).get(URL).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_token_gets_401_in_problem_details(api_user, campaign):
    grant(api_user, "view_campaign")
    token, key = integration_token_create(name="CRM", user=api_user)
    assert integration_token_revoke(token_id=token.pk)
    response = bearer(key).get(URL)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "urn:callwright:problem:authentication_failed",
        "title": "Authentication failed",
        "status": 401,
        "detail": "The token is unknown or revoked.",
        "code": "authentication_failed",
        "instance": URL,
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_read_only_token_cannot_write_whatever_its_user_may(api_user, agent):
    grant(api_user, "view_campaign", "add_campaign")
    _, key = integration_token_create(name="Dashboards", user=api_user, scope=IntegrationToken.Scope.READ_ONLY)
    response = bearer(key).post(URL, {"name": "x", "agent": agent.pk}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "This token is read-only; writing needs a read-write token."


def test_an_unknown_api_address_answers_problem_details(token_client):
    response = token_client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:callwright:problem:not_found"


def test_the_groups_exist_with_their_roles_permissions():
    perms = {
        name: set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))
        for name in ("administrator", "operator", "integration")
    }
    assert {"add_contact", "change_campaign", "view_call"} <= perms["operator"]
    assert "add_integrationtoken" not in perms["operator"] | perms["integration"]
    assert "add_webhooksubscription" in perms["integration"]
    assert {"add_integrationtoken", "change_user"} <= perms["administrator"]


def test_a_member_of_the_operator_group_reads_campaigns(api_user, campaign):
    api_user.groups.add(Group.objects.get(name="operator"))
    _, key = integration_token_create(name="CRM", user=api_user)
    assert bearer(key).get(URL).status_code == 200


def test_the_admin_shows_a_new_tokens_key_once_and_keeps_only_its_hash(admin_client, api_user):
    response = admin_client.post(
        "/admin/campaigns/integrationtoken/add/",
        {"name": "Billing", "user": api_user.pk, "scope": "read_write"},
        follow=True,
    )
    shown = [str(message) for message in response.context["messages"]]
    token = IntegrationToken.objects.get(name="Billing")
    key = next(word for text in shown for word in text.split() if word.startswith("cw_"))
    assert hash_key(key) == token.key_hash
    assert key not in admin_client.get(f"/admin/campaigns/integrationtoken/{token.pk}/change/").content.decode()


def test_the_admin_revokes_tokens(admin_client, api_user):
    token, key = integration_token_create(name="Old", user=api_user)
    admin_client.post(
        "/admin/campaigns/integrationtoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(key).get(URL).status_code == 401


def test_the_command_issues_a_token_for_a_new_integration_user(capsys, campaign):
    from django.core.management import call_command

    call_command("create_integration_token", "--name", "CRM")
    key = capsys.readouterr().out.strip()
    assert bearer(key).get(URL).status_code == 200  # the integration group may read campaigns
    assert IntegrationToken.objects.get().user.groups.get().name == "integration"
