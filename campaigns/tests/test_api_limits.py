"""Rate limits per token and per address (429 with Retry-After), and django-axes lockouts of failed logins and keys."""

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from rest_framework.test import APIClient

from campaigns.integrations.tokens import integration_token_create
from conftest import grant

pytestmark = pytest.mark.django_db
URL = "/api/v1/campaigns/"


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    settings.AXES_ENABLED = True  # off for the other tests (config/settings/test.py)
    cache.clear()
    yield
    cache.clear()


def bearer(key: str, ip: str = "203.0.113.5") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def reader_key(api_user) -> str:
    grant(api_user, "view_campaign")
    return integration_token_create(name="CRM", user=api_user)[1]


def test_a_token_over_its_rate_gets_429_with_retry_after_and_another_token_does_not(settings, api_user, reader_key):
    settings.API_RATE_PER_TOKEN = "3/min"
    client = bearer(reader_key)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(URL)
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert (limited.json()["code"], limited.json()["status"]) == ("throttled", 429)
    other = integration_token_create(name="Billing", user=api_user)[1]
    assert bearer(other).get(URL).status_code == 200


def test_an_address_over_its_rate_gets_429_whatever_the_token(settings, api_user, reader_key):
    settings.API_RATE_PER_IP = "2/min"
    other = integration_token_create(name="Billing", user=api_user)[1]
    assert bearer(reader_key).get(URL).status_code == 200
    assert bearer(other).get(URL).status_code == 200
    assert bearer(other).get(URL).status_code == 429
    assert bearer(other, ip="198.51.100.7").get(URL).status_code == 200


def test_repeated_bad_keys_lock_the_address_out_until_the_admin_lifts_it(settings, reader_key, admin_client):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert bearer("cw_guessed-key").get(URL).status_code == 401
    locked = bearer(reader_key).get(URL)  # even a good key, from that address
    assert locked.status_code == 429
    assert "locked out" in locked.json()["detail"]
    assert bearer(reader_key, ip="198.51.100.7").get(URL).status_code == 200
    attempts = admin_client.get("/admin/axes/accessattempt/")
    assert "203.0.113.5" in attempts.content.decode()
    AccessAttempt.objects.all().delete()  # what the admin's delete action does
    assert bearer(reader_key).get(URL).status_code == 200


def test_repeated_failed_admin_logins_lock_the_user_out(settings, client, django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "the-right-password")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "wrong"})
    locked = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "the-right-password"})
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302  # not logged in
    AccessAttempt.objects.all().delete()
    assert (
        client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "the-right-password"}).status_code
        == 302
    )
