"""Idempotency-Key: a POST repeated (one after another or at once) answers the first answer and places one call."""

import threading

import pytest
from django.db import connections
from django.test import Client

from calls.models import Call
from calls.tests.test_tasks import zone_at_local_hour
from campaigns.integrations.idempotency import idempotency_records_purge
from campaigns.integrations.models import IdempotencyRecord
from campaigns.integrations.tokens import integration_token_create
from conftest import grant
from contacts.models import Contact

URL = "/api/v1/calls/"


@pytest.fixture
def key_of_caller(api_user, contact) -> str:
    grant(api_user, "view_call", "add_call")
    Contact.objects.filter(pk=contact.pk).update(time_zone=zone_at_local_hour(12))
    return integration_token_create(name="CRM", user=api_user, scope="read_write")[1]


def post(key: str, body: dict, idempotency_key: str = "order-17"):
    return Client().post(
        URL, body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_IDEMPOTENCY_KEY=idempotency_key,
    )  # fmt: skip


@pytest.mark.django_db
def test_a_post_replayed_ten_times_places_one_call_and_answers_the_first_answer(
    key_of_caller, contact, agent, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATED_CARRIER_PERSONA = "busy"
    body = {"contact": contact.pk, "agent": agent.pk}
    with django_capture_on_commit_callbacks(execute=True):
        answers = [post(key_of_caller, body) for _ in range(10)]
    assert Call.objects.count() == 1
    assert {(a.status_code, a.json()["id"]) for a in answers} == {(201, str(Call.objects.get().pk))}
    assert [a.has_header("Idempotent-Replayed") for a in answers] == [False] + [True] * 9


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422(key_of_caller, contact, agent, django_capture_on_commit_callbacks):
    post(key_of_caller, {"contact": contact.pk, "agent": agent.pk})
    other = post(key_of_caller, {"contact": contact.pk, "agent": agent.pk, "note": "x"})
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert Call.objects.count() == 1


@pytest.mark.django_db
def test_a_refusal_to_try_again_is_not_stored_and_a_validation_error_is(key_of_caller, contact, agent):
    Contact.objects.filter(pk=contact.pk).update(time_zone=zone_at_local_hour(3))
    assert post(key_of_caller, {"contact": contact.pk, "agent": agent.pk}).status_code == 409
    assert not IdempotencyRecord.objects.exists()  # the gate may open later: the key stays free
    assert post(key_of_caller, {"contact": contact.pk}, "bad-1").status_code == 400
    repeat = post(key_of_caller, {"contact": contact.pk}, "bad-1")
    assert (repeat.status_code, repeat["Idempotent-Replayed"]) == (400, "true")


@pytest.mark.django_db
def test_keys_belong_to_their_credential(key_of_caller, api_user, contact, agent, django_capture_on_commit_callbacks):
    other_key = integration_token_create(name="Billing", user=api_user, scope="read_write")[1]
    body = {"contact": contact.pk, "agent": agent.pk}
    first, second = post(key_of_caller, body), post(other_key, body)
    assert first.json()["id"] != second.json()["id"]
    assert Call.objects.count() == 2


@pytest.mark.django_db
def test_a_request_without_credentials_stores_nothing(contact, agent):
    response = Client().post(URL, {"contact": contact.pk}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 401
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_old_keys_are_forgotten(key_of_caller, contact, agent, settings):
    import datetime

    from django.utils import timezone

    post(key_of_caller, {"contact": contact.pk}, "old")
    assert idempotency_records_purge(now=timezone.now() + datetime.timedelta(hours=25)) == 1


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_repeats_place_one_call(key_of_caller, contact, agent, settings):
    """Ten threads send the same key and body at once; the database makes nine wait for the first."""
    settings.CELERY_TASK_ALWAYS_EAGER = False  # placing is not what is tested: keep the queued call queued
    settings.CELERY_BROKER_URL = "memory://"
    body = {"contact": contact.pk, "agent": agent.pk}
    start = threading.Barrier(10)
    answers: list = []

    def send() -> None:
        try:
            start.wait()
            answers.append(post(key_of_caller, body))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Call.objects.count() == 1
    assert sorted(a.status_code for a in answers) == [201] * 10
    assert {a.json()["id"] for a in answers} == {str(Call.objects.get().pk)}
