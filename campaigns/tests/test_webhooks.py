"""Outbound webhooks: events raised from the real paths, signed deliveries, retries, pausing and resending."""

import hashlib
import hmac
import json
import time

import pytest

from calls.hooks import notify_call_event_on_commit
from calls.models import CallStatus
from calls.services import call_transition
from campaigns.integrations.models import WebhookDelivery, WebhookSubscription
from campaigns.integrations.signing import verify
from campaigns.integrations.webhooks import retry_delay, webhook_event_raise
from campaigns.tests.webhook_receiver import Receiver, receiving

pytestmark = pytest.mark.django_db
SECRET = "whsec_test-secret-0123456789"


@pytest.fixture
def fast_retries(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.01
    settings.WEBHOOK_RETRY_MAX_SECONDS = 0.01
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


@pytest.fixture
def flaky_receiver():
    yield from receiving([500, 503, 500, 200])


@pytest.fixture
def receiver():
    yield from receiving([200])


def subscribe(receiver: Receiver, *events: str) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        name="CRM", url=receiver.url, events=list(events) or ["call.ended"], secret=SECRET
    )


def test_a_receiver_failing_three_times_then_answering_gets_exactly_one_accepted_delivery(
    flaky_receiver, fast_retries, call, django_capture_on_commit_callbacks
):
    subscribe(flaky_receiver)
    with django_capture_on_commit_callbacks(execute=True):
        call_transition(call_id=call.pk, status=CallStatus.FAILED)
    assert [r.answered for r in flaky_receiver.received] == [500, 503, 500, 200]
    assert len(flaky_receiver.accepted) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 4)
    assert [(a.number, a.status_code) for a in delivery.attempt_log.all()] == [(1, 500), (2, 503), (3, 500), (4, 200)]
    # The same event id on every attempt, so that a receiver can drop a repeat.
    assert len({json.loads(r.body)["id"] for r in flaky_receiver.received}) == 1


def test_the_signature_checks_out_by_an_independent_hmac_and_the_replay_window(
    receiver, call, django_capture_on_commit_callbacks
):
    subscribe(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        call_transition(call_id=call.pk, status=CallStatus.COMPLETED)
    (request,) = receiver.received
    header = request.headers["Callwright-Signature"]
    parts = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(time.time() - int(parts["t"])) < 300
    envelope = json.loads(request.body)
    assert (envelope["type"], envelope["data"]["id"], envelope["data"]["status"]) == (
        "call.ended", str(call.pk), "completed"
    )  # fmt: skip
    assert request.headers["Callwright-Event"] == "call.ended"
    assert verify(secret=SECRET, header=header, body=request.body, now=time.time())
    assert not verify(secret=SECRET, header=header, body=request.body + b" ", now=time.time())
    assert not verify(secret=SECRET, header=header, body=request.body, now=time.time() + 301)
    assert not verify(secret="another", header=header, body=request.body, now=time.time())


def test_a_subscription_is_paused_after_n_straight_failures_and_resumed(
    fast_retries, settings, call, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_PAUSE_AFTER_FAILURES = 3
    for down in receiving([500]):
        subscription = subscribe(down)
        with django_capture_on_commit_callbacks(execute=True):
            call_transition(call_id=call.pk, status=CallStatus.BUSY)
        assert len(down.received) == 3
        subscription.refresh_from_db()
        assert subscription.paused_at is not None
        assert "3 deliveries failed in a row" in subscription.paused_reason
        assert WebhookDelivery.objects.get().status == "pending"  # waits for the subscription
    for back in receiving([200]):
        WebhookSubscription.objects.filter(pk=subscription.pk).update(url=back.url)
        from campaigns.integrations.webhooks import webhook_subscription_resume

        with django_capture_on_commit_callbacks(execute=True):
            assert webhook_subscription_resume(subscription_id=subscription.pk) == 1
        assert len(back.accepted) == 1
        assert WebhookDelivery.objects.get().status == "delivered"


def test_a_delivery_gives_up_after_the_last_attempt(fast_retries, settings, call, django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    for down in receiving([500]):
        subscribe(down)
        with django_capture_on_commit_callbacks(execute=True):
            call_transition(call_id=call.pk, status=CallStatus.BUSY)
        assert len(down.received) == 2
    assert WebhookDelivery.objects.get().status == "failed"


def test_an_unreachable_receiver_is_logged_as_an_attempt(
    fast_retries, settings, call, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    WebhookSubscription.objects.create(name="Gone", url="http://127.0.0.1:9/", events=["call.ended"], secret=SECRET)
    with django_capture_on_commit_callbacks(execute=True):
        call_transition(call_id=call.pk, status=CallStatus.BUSY)
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert attempt.status_code is None
    assert "ConnectError" in attempt.error


def test_each_event_comes_from_its_own_path(receiver, call, campaign, contact, django_capture_on_commit_callbacks):
    from campaigns.services import campaign_complete
    from contacts.models import Suppression
    from contacts.services import suppression_add

    subscribe(receiver, "call.started", "call.analyzed", "campaign.completed", "contact.opted_out")
    with django_capture_on_commit_callbacks(execute=True):
        call_transition(call_id=call.pk, status=CallStatus.IN_PROGRESS)
        notify_call_event_on_commit(call.pk, "analyzed")
        suppression_add(phone=contact.phone, reason="Said stop", source=Suppression.Source.OPT_OUT)
        suppression_add(phone="+13125550178", reason="Operator", source=Suppression.Source.ADMIN)  # no event
    from campaigns.models import Campaign

    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    with django_capture_on_commit_callbacks(execute=True):
        assert campaign_complete(campaign_id=campaign.pk, reason="All done")
    envelopes = [json.loads(r.body) for r in receiver.received]
    assert [e["type"] for e in envelopes] == [
        "call.started",
        "call.analyzed",
        "contact.opted_out",
        "campaign.completed",
    ]
    assert envelopes[2]["data"]["contacts"] == [contact.pk]
    assert envelopes[3]["data"]["status"] == "completed"


def test_an_import_finishing_is_an_event(receiver, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from contacts.importing.jobs import contact_import_job_create

    subscribe(receiver, "import.finished")
    name = default_storage.save("contact-imports/hook.csv", ContentFile(b"phone\n+14155550123\n"))
    with django_capture_on_commit_callbacks(execute=True):
        job = contact_import_job_create(file_name=name, original_name="hook.csv", file_format="csv")
    (request,) = receiver.received
    data = json.loads(request.body)["data"]
    assert (data["id"], data["status"], data["created"]) == (job.pk, "done", 1)


def test_an_event_raised_twice_about_the_same_thing_is_delivered_once(receiver, call):
    subscribe(receiver)
    assert len(webhook_event_raise(event="call.ended", key=str(call.pk), data={})) == 1
    assert webhook_event_raise(event="call.ended", key=str(call.pk), data={}) == []


def test_retry_delays_grow_exponentially_with_jitter_and_a_cap(settings):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.WEBHOOK_RETRY_MAX_SECONDS = 100
    assert 5 <= retry_delay(1) <= 10
    assert 20 <= retry_delay(3) <= 40
    assert 50 <= retry_delay(9) <= 100


def test_the_api_creates_a_subscription_showing_its_secret_once(token_client, api_user):
    from django.contrib.auth.models import Group

    api_user.groups.add(Group.objects.get(name="integration"))
    created = token_client.post(
        "/api/v1/webhooks/", {"name": "CRM", "url": "https://crm.example/hooks", "events": ["call.ended"]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    assert WebhookSubscription.objects.get().secret == secret
    assert "secret" not in token_client.get(f"/api/v1/webhooks/{created.json()['id']}/").json()
    wrong = token_client.post(
        "/api/v1/webhooks/", {"name": "x", "url": "https://a.example", "events": ["call.exploded"]}, format="json"
    )
    assert (wrong.status_code, list(wrong.json()["errors"])) == (400, ["events"])


def test_the_api_lists_deliveries_with_their_attempts_and_resends_one(
    receiver, token_client, api_user, call, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group

    api_user.groups.add(Group.objects.get(name="integration"))
    subscribe(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        call_transition(call_id=call.pk, status=CallStatus.COMPLETED)
    (listed,) = token_client.get("/api/v1/webhook-deliveries/", {"status": "delivered"}).json()["results"]
    assert [attempt["status_code"] for attempt in listed["attempt_log"]] == [200]
    with django_capture_on_commit_callbacks(execute=True):
        resent = token_client.post(f"/api/v1/webhook-deliveries/{listed['id']}/resend/")
    assert resent.status_code == 202
    assert len(receiver.accepted) == 2
    assert WebhookDelivery.objects.get().attempts == 2


def test_an_operator_cannot_manage_webhooks(token_client, api_user):
    from django.contrib.auth.models import Group

    api_user.groups.add(Group.objects.get(name="operator"))
    assert token_client.get("/api/v1/webhooks/").status_code == 403
    assert token_client.get("/api/v1/webhook-deliveries/").status_code == 403


def test_the_admin_resends_a_delivery_by_hand(receiver, admin_client, call, django_capture_on_commit_callbacks):
    subscribe(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        call_transition(call_id=call.pk, status=CallStatus.COMPLETED)
    delivery = WebhookDelivery.objects.get()
    page = admin_client.get(f"/admin/campaigns/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "attempt" in page.lower()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/campaigns/webhookdelivery/", {"action": "resend", "_selected_action": [delivery.pk]}, follow=True
        )
    assert len(receiver.accepted) == 2
