import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from monitoring.health import HEARTBEAT_CACHE_KEY
from monitoring.tasks import record_worker_heartbeat
from voice.pipeline.breaker import CircuitBreaker
from voice.providers.base import ProviderError

pytestmark = pytest.mark.django_db


def test_health_is_200_with_a_result_per_dependency(client):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    required = {"database", "cache", "broker", "channel_layer"}
    assert {name for name, check in body["checks"].items() if check["required"]} == required
    assert all(body["checks"][name]["ok"] for name in required)


def test_health_is_503_and_names_the_cache_when_redis_is_unreachable(client, settings):
    # Port 9 (discard) has no Redis: a dependency that is really down, not a mock.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    # (Django's setting_changed handler rebuilds the cache connections.)
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"]["ok"] is False
    assert "ConnectionError" in body["checks"]["cache"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_health_is_503_when_the_broker_is_unreachable(client):
    from config.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    try:
        response = client.get("/health/")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_the_worker_check_reports_but_does_not_fail_health_until_a_heartbeat(client):
    cache.delete(HEARTBEAT_CACHE_KEY)  # a shared Redis may hold one from an earlier run
    body = client.get("/health/").json()
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["required"] is False
    record_worker_heartbeat()
    assert client.get("/health/").json()["checks"]["worker"]["ok"] is True


def test_health_only_answers_get(client):
    assert client.post("/health/").status_code == 405


def test_liveness_answers_without_asking_any_dependency(client, settings, django_assert_num_queries):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    with django_assert_num_queries(0):
        response = client.get("/health/live/")
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_health_is_503_and_names_the_channel_layer_when_its_redis_is_unreachable(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]}}
    }
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"]["ok"] is False


def test_an_open_provider_breaker_is_reported_without_failing_health(client):
    breaker = CircuitBreaker("llm:health-test", failure_threshold=1)
    breaker.record_failure(ProviderError("model down", permanent=False))
    try:
        response = client.get("/health/")
        body = response.json()
        assert response.status_code == 200
        assert body["breakers"]["llm:health-test"] == "open"
        assert body["checks"]["providers"]["ok"] is False
        assert body["checks"]["providers"]["required"] is False
        assert "llm:health-test open" in body["checks"]["providers"]["detail"]
    finally:
        breaker.record_success()
    assert client.get("/health/").json()["breakers"]["llm:health-test"] == "closed"


@pytest.mark.django_db(transaction=True)
def test_readiness_fails_while_a_migration_is_pending_and_names_it(client):
    assert client.get("/health/ready/").status_code == 200
    latest = MigrationLoader(connection).graph.leaf_nodes("calls")[0]
    previous = sorted(MigrationLoader(connection).graph.node_map[latest].parents)[0]
    call_command("migrate", "calls", previous[1], verbosity=0)  # this code's newest calls migration not applied
    try:
        response = client.get("/health/ready/")
        assert response.status_code == 503
        # Named among the pending (migrations of other apps that depend on it are unapplied with it).
        assert f"calls.{latest[1]}" in response.json()["pending_migrations"]
    finally:
        call_command("migrate", verbosity=0)
    assert client.get("/health/ready/").json()["status"] == "ready"
