"""Alert rules from the admin: one notification when a rule fires and one when it resolves, by e-mail to a local
SMTP server (aiosmtpd) and to a fake Slack webhook, retried when the channel fails, with the history kept."""

import datetime
import email.policy
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from calls.models import CallEvent
from config import celery_app
from monitoring.alerting import alert_rules_evaluate
from monitoring.models import AlertEvent, AlertRule

pytestmark = pytest.mark.django_db(transaction=True)  # notifications are queued on commit


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    try:
        yield inbox
    finally:
        controller.stop()


class FakeSlack(http.server.BaseHTTPRequestHandler):
    """Slack's incoming webhook: a JSON POST, "ok". `failures` first answers are 500s."""

    received: ClassVar[list[dict]] = []
    failures: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if FakeSlack.failures:
            FakeSlack.failures -= 1
            self.send_response(500)
        else:
            FakeSlack.received.append(body)
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slack() -> Iterator[str]:
    FakeSlack.received, FakeSlack.failures = [], 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXXX"
    finally:
        server.shutdown()


def provider_errors(call, count: int) -> None:
    for sequence in range(count):
        CallEvent.objects.create(
            call=call, kind=CallEvent.Kind.SYSTEM, provider_event_id=f"provider-error:{sequence}", payload={}
        )


def provider_outage_ends(call) -> None:
    """The errors fall out of the rules' window (as time passes after the provider recovered)."""
    CallEvent.objects.filter(call=call).update(received_at=timezone.now() - datetime.timedelta(hours=1))


def test_a_rule_fires_once_and_resolves_once_by_email_and_slack(call, smtp, slack):
    by_mail = AlertRule.objects.create(
        name="Provider outage (mail)", metric="provider_errors", threshold=2, window_minutes=5,
        channel=AlertRule.Channel.EMAIL, recipients="ops@example.com, oncall@example.com",
    )  # fmt: skip
    AlertRule.objects.create(
        name="Provider outage (Slack)", metric="provider_errors", threshold=2, window_minutes=5,
        channel=AlertRule.Channel.SLACK, slack_webhook_url=slack,
    )  # fmt: skip
    assert alert_rules_evaluate() == []  # no error yet: nothing fires

    provider_errors(call, 3)
    fired = alert_rules_evaluate()
    assert sorted(event.kind for event in fired) == ["fired", "fired"]
    assert alert_rules_evaluate() == []  # still firing: nothing new is sent
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["To"] == "ops@example.com, oncall@example.com"
    assert smtp.messages[0]["Subject"].strip().startswith("[Callwright] FIRING: Provider outage (mail)")
    assert [message["text"] for message in FakeSlack.received] == [
        "[Callwright] FIRING: Provider outage (Slack) — Provider failures during calls is above 2 over 5 min (now 3)"
    ]

    provider_outage_ends(call)
    resolved = alert_rules_evaluate()
    assert [event.kind for event in resolved] == ["resolved", "resolved"]
    assert alert_rules_evaluate() == []
    assert [message["Subject"].strip().split(":")[0] for message in smtp.messages] == [
        "[Callwright] FIRING",
        "[Callwright] RESOLVED",
    ]
    assert len(FakeSlack.received) == 2
    assert FakeSlack.received[1]["text"].startswith("[Callwright] RESOLVED: Provider outage (Slack)")

    history = AlertEvent.objects.filter(rule=by_mail).order_by("created_at")
    assert [(event.kind, event.attempts, event.delivered_at is not None) for event in history] == [
        ("fired", 1, True),
        ("resolved", 1, True),
    ]
    by_mail.refresh_from_db()
    assert not by_mail.firing
    assert by_mail.last_value == 0


@pytest.fixture
def retries_as_in_a_worker():
    """A retry is scheduled, not raised to the caller (eager tasks otherwise propagate it)."""
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = previous


def test_a_failing_channel_is_retried_until_it_takes_the_message(call, slack, retries_as_in_a_worker):
    rule = AlertRule.objects.create(
        name="Errors", metric="provider_errors", threshold=0, channel=AlertRule.Channel.SLACK, slack_webhook_url=slack
    )
    FakeSlack.failures = 2  # Slack answers 500 twice
    provider_errors(call, 1)
    alert_rules_evaluate()
    event = AlertEvent.objects.get(rule=rule)
    assert len(FakeSlack.received) == 1
    assert event.attempts == 3
    assert event.delivered_at is not None
    assert event.last_error == ""


def test_a_rule_with_nothing_to_measure_keeps_its_state(db):
    rule = AlertRule.objects.create(
        name="Connect rate", metric="connect_rate", comparison=AlertRule.Comparison.BELOW, threshold=0.1,
        recipients="ops@example.com",
    )  # fmt: skip
    assert alert_rules_evaluate() == []  # no call ended in the window: a rate is undefined
    rule.refresh_from_db()
    assert rule.last_evaluated_at is not None
    assert rule.last_value is None
    assert not rule.firing


def test_the_admin_offers_every_registered_metric_and_checks_addresses(admin_client):
    page = admin_client.get("/admin/monitoring/alertrule/add/").content.decode()
    for key in ("provider_errors", "failed_call_share", "connect_rate", "queue_depth", "worker_heartbeat_age_seconds"):
        assert f'value="{key}"' in page
    response = admin_client.post(
        "/admin/monitoring/alertrule/add/",
        {"name": "x", "enabled": "on", "metric": "provider_errors", "comparison": "above", "threshold": "1",
         "window_minutes": "5", "channel": "email", "recipients": "ops@example.com, not-an-address"},
    )  # fmt: skip
    assert "&#x27;not-an-address&#x27; is not an e-mail address." in response.content.decode()
    assert not AlertRule.objects.exists()
