"""Webhook URLs may reach public addresses only (no server-side request forgery), at save and at delivery.

Names are resolved by a fake `socket.getaddrinfo` (DNS is the boundary here: the tests must not depend on
the network's resolver, and must make a name change its answer between save and delivery).
"""

import ipaddress
import socket

import pytest
from django.utils import timezone

from campaigns.integrations.models import WebhookDelivery, WebhookSubscription
from campaigns.integrations.webhook_urls import UnsafeWebhookURL, delivery_target, webhook_url_check
from campaigns.integrations.webhooks import webhook_deliver
from campaigns.tests.webhook_receiver import receiving
from conftest import grant

pytestmark = pytest.mark.django_db

# One address of each class that is refused, and what the refusal calls it.
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.20", "private"),
    ("169.254.169.254", "link-local"),  # the cloud's metadata service
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address refused, not bound
    ("100.64.0.1", "not a public address"),  # carriers' shared NAT space
    ("[::1]", "loopback"),
    ("[fc00::1]", "private"),
    ("[fe80::1]", "link-local"),
    ("[ff02::1]", "multicast"),
    ("[::]", "unspecified"),
    ("[::ffff:127.0.0.1]", "loopback"),  # IPv4 written as IPv6
    ("[::ffff:10.0.0.1]", "private"),
    ("[2002:a00:1::1]", "private"),  # 6to4 of 10.0.0.1
]


@pytest.fixture
def checked(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    return settings


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@pytest.fixture
def dns(monkeypatch):
    """A resolver whose answers the test sets: {name: [address, …]}; other names do not resolve."""
    answers: dict[str, list[str]] = {}

    def getaddrinfo(host, port, *args, **kwargs):
        found = answers.get(host, [host] if _is_address(host) else None)  # the connection resolves its address too
        if found is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in found]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(("host", "kind"), REFUSED)
def test_each_non_public_address_class_is_refused_at_save_over_the_api(checked, token_client, api_user, host, kind):
    grant(api_user, "add_webhooksubscription")
    body = {"name": "Probe", "url": f"http://{host}:6379/", "events": ["call.ended"]}
    response = token_client.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    [message] = response.json()["errors"]["url"]
    assert message.startswith("Webhooks go to public addresses only:")
    assert kind in message
    assert not WebhookSubscription.objects.exists()


def test_the_admin_refuses_the_metadata_address_with_a_field_error(checked, admin_client):
    response = admin_client.post(
        "/admin/campaigns/webhooksubscription/add/",
        {"name": "Probe", "url": "http://169.254.169.254/latest/meta-data/", "events": '["call.ended"]',
         "secret": "whsec_0123456789abcdef", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"] == [
        "Webhooks go to public addresses only: 169.254.169.254 → 169.254.169.254 is a link-local address."
    ]
    assert not WebhookSubscription.objects.exists()


def test_a_name_is_checked_by_every_address_it_resolves_to(checked, dns):
    dns["hooks.crm.test"] = ["93.184.215.14"]
    webhook_url_check("https://hooks.crm.test/callwright")  # public: accepted
    dns["mixed.crm.test"] = ["93.184.215.14", "10.0.0.7"]
    with pytest.raises(UnsafeWebhookURL, match=r"mixed\.crm\.test → 10\.0\.0\.7 is a private address"):
        webhook_url_check("https://mixed.crm.test/")
    with pytest.raises(UnsafeWebhookURL, match=r"nowhere\.crm\.test could not be resolved"):
        webhook_url_check("https://nowhere.crm.test/")


def test_public_literals_pass_and_other_schemes_do_not(checked, settings):
    webhook_url_check("http://93.184.215.14/hooks")
    webhook_url_check("https://[2606:4700:4700::1111]/hooks")
    with pytest.raises(UnsafeWebhookURL, match="over http or https only"):
        webhook_url_check("ftp://93.184.215.14/hooks")
    settings.WEBHOOKS_REQUIRE_HTTPS = True
    with pytest.raises(UnsafeWebhookURL, match="over https only"):
        webhook_url_check("http://93.184.215.14/hooks")


def test_allowed_private_urls_still_need_http(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    webhook_url_check("http://127.0.0.1:9000/")
    with pytest.raises(UnsafeWebhookURL):
        webhook_url_check("file:///etc/passwd")


def test_a_delivery_connects_to_the_address_it_checked_with_the_name_kept(checked, dns):
    dns["hooks.crm.test"] = ["93.184.215.14"]
    target = delivery_target("https://hooks.crm.test:8443/callwright?x=1")
    assert target.url == "https://93.184.215.14:8443/callwright?x=1"
    assert target.headers == {"Host": "hooks.crm.test:8443"}
    assert target.extensions == {"sni_hostname": "hooks.crm.test"}  # TLS's SNI and certificate check


def test_a_delivery_resolves_once_and_the_receiver_sees_the_name(settings, dns):
    """End to end over loopback (so private addresses allowed): the request goes to the address resolved for it,
    and the receiver still sees the name it was subscribed by."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    for receiver in receiving([204]):
        port = receiver.server.server_address[1]
        dns["hooks.crm.test"] = ["127.0.0.1"]
        delivery = _pending_delivery(f"http://hooks.crm.test:{port}/hooks")
        delivered = webhook_deliver(delivery_id=delivery.pk)
        assert delivered.status == "delivered", list(delivered.attempt_log.values_list("error", flat=True))
        assert receiver.received[0].headers["Host"] == f"hooks.crm.test:{port}"


def test_a_name_that_turns_private_after_save_is_refused_at_delivery_and_logged(checked, dns, caplog):
    for receiver in receiving([204]):
        port = receiver.server.server_address[1]
        dns["hooks.crm.test"] = ["93.184.215.14"]
        delivery = _pending_delivery(f"http://hooks.crm.test:{port}/hooks")  # checked: public then
        dns["hooks.crm.test"] = ["127.0.0.1"]  # DNS rebinding: now it points at this machine
        delivery = webhook_deliver(delivery_id=delivery.pk)
        assert receiver.received == []
        [attempt] = delivery.attempt_log.all()
        assert attempt.status_code is None
        assert attempt.error == (
            "Refused: Webhooks go to public addresses only: hooks.crm.test → 127.0.0.1 is a loopback address."
        )
        assert delivery.status == "pending"  # retried later, as any failure; paused after too many
        assert "refused: Webhooks go to public addresses only" in caplog.text


def _pending_delivery(url: str) -> WebhookDelivery:
    subscription = WebhookSubscription(name="CRM", url=url, events=["call.ended"], secret="whsec_0123456789abcdef")
    subscription.full_clean()
    subscription.save()
    return WebhookDelivery.objects.create(
        subscription=subscription, event="call.ended", event_key="k", payload={"id": "1", "type": "call.ended",
                                                                               "created_at": timezone.now().isoformat(),
                                                                               "data": {}},
    )  # fmt: skip
