"""Twilio's webhooks: what every good and bad callback gets, and what it leaves in the database.

Requests go through Django's own handler with the project's middleware: Django's test client
(its handler, on the test's thread and inside its transaction) for most, and the project's ASGI
application, as uvicorn serves it, where the served path itself is what is tested.
"""

import logging
import random
import urllib.parse
import uuid
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.db import connection
from django.test import Client
from prometheus_client import REGISTRY

from calls.media_tokens import media_token_valid
from calls.models import Call, CallEvent, CallStatus
from calls.tests.conftest import sign

pytestmark = pytest.mark.django_db
SID = "CA" + "a" * 32


def url(kind: str, call_id: object) -> str:
    return f"/twilio/{kind}/{call_id}/"


def post(
    client: Client, path: str, params: dict, *, signed_url: str | None = None, signature: str | None = None, **extra
):
    if signature is None:
        signature = sign(signed_url or f"http://testserver{path}", params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


def status_params(status: str, sequence: int, **more) -> dict:
    return {
        "CallSid": SID,
        "AccountSid": "AC" + "0" * 32,
        "CallStatus": status,
        "SequenceNumber": str(sequence),
        "Timestamp": f"Mon, 23 Nov 2026 12:00:0{sequence} +0000",
        **more,
    }


LIFECYCLE = [
    status_params("initiated", 0),
    status_params("ringing", 1),
    status_params("in-progress", 2),
    status_params("completed", 3, CallDuration="42", AnsweredBy="human", Price="-0.01300", PriceUnit="USD"),
]


@pytest.fixture
def placed_call(call) -> Call:
    Call.objects.filter(pk=call.pk).update(provider_call_id=SID)
    return call


def test_callbacks_in_order_take_a_call_to_completed_with_duration_answered_by_and_price(client, placed_call):
    for params in LIFECYCLE:
        assert post(client, url("status", placed_call.pk), params).status_code == 204
    placed_call.refresh_from_db()
    assert placed_call.status == CallStatus.COMPLETED
    assert placed_call.duration_seconds == 42
    assert placed_call.answered_by == "human"
    assert placed_call.price == Decimal("0.01300")
    assert placed_call.price_unit == "USD"
    assert list(placed_call.events.values_list("provider_event_id", flat=True)) == [
        "0:initiated",
        "1:ringing",
        "2:in-progress",
        "3:completed",
    ]


def test_a_forged_signature_gets_403_and_writes_nothing(client, placed_call):
    response = post(client, url("status", placed_call.pk), LIFECYCLE[3], signature="Zm9yZ2VkIQ==")
    assert response.status_code == 403
    assert not CallEvent.objects.exists()
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.QUEUED


def test_a_missing_signature_gets_403_and_writes_nothing(client, placed_call):
    response = client.post(url("status", placed_call.pk), LIFECYCLE[3])
    assert response.status_code == 403
    assert not CallEvent.objects.exists()


def test_a_signature_for_another_url_gets_403(client, placed_call, contact):
    other = Call.objects.create(contact=contact, to_phone=contact.phone, provider="simulated")
    params = LIFECYCLE[3]
    response = post(
        client, url("status", placed_call.pk), params, signed_url=f"http://testserver{url('status', other.pk)}"
    )
    assert response.status_code == 403
    assert not CallEvent.objects.exists()


def test_a_signature_made_with_another_token_gets_403(client, placed_call):
    path = url("status", placed_call.pk)
    response = post(client, path, LIFECYCLE[1], signature=sign(f"http://testserver{path}", LIFECYCLE[1], "other"))
    assert response.status_code == 403


def test_tampered_parameters_get_403(client, placed_call):
    path = url("status", placed_call.pk)
    signature = sign(f"http://testserver{path}", LIFECYCLE[1])
    response = client.post(path, {**LIFECYCLE[1], "CallStatus": "completed"}, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 403
    assert not CallEvent.objects.exists()


@pytest.mark.parametrize("missing", ["CallSid", "CallStatus"])
def test_a_signed_callback_missing_a_required_parameter_gets_400_and_writes_nothing(client, placed_call, missing):
    params = {k: v for k, v in LIFECYCLE[1].items() if k != missing}
    assert post(client, url("status", placed_call.pk), params).status_code == 400
    assert not CallEvent.objects.exists()


def test_a_signed_callback_with_an_unknown_status_gets_400(client, placed_call):
    assert post(client, url("status", placed_call.pk), status_params("teleported", 1)).status_code == 400


def test_a_callback_for_an_unknown_call_gets_404_and_writes_nothing(client, placed_call):
    assert post(client, url("status", uuid.uuid4()), LIFECYCLE[1]).status_code == 404
    assert not CallEvent.objects.exists()


def test_a_callback_with_an_unknown_call_sid_gets_404_and_writes_nothing(client, placed_call):
    params = {**LIFECYCLE[3], "CallSid": "CA" + "b" * 32}
    assert post(client, url("status", placed_call.pk), params).status_code == 404
    assert not CallEvent.objects.exists()
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.QUEUED


@pytest.mark.parametrize("kind", ["voice", "status", "amd", "recording"])
def test_a_path_that_is_not_a_uuid_gets_404(client, kind):
    assert post(client, f"/twilio/{kind}/not-a-uuid/", LIFECYCLE[1]).status_code == 404


def test_a_get_gets_405(client, placed_call):
    assert client.get(url("status", placed_call.pk)).status_code == 405


def test_a_replayed_callback_is_stored_once(client, placed_call):
    for _ in range(5):
        assert post(client, url("status", placed_call.pk), LIFECYCLE[1]).status_code == 204
    assert placed_call.events.count() == 1
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.RINGING


def test_shuffled_callbacks_still_end_completed_and_each_is_stored_once(client, placed_call):
    shuffled = LIFECYCLE * 2
    random.Random(7).shuffle(shuffled)  # noqa: S311 - a repeatable order, not cryptography
    for params in shuffled:
        assert post(client, url("status", placed_call.pk), params).status_code == 204
    placed_call.refresh_from_db()
    assert placed_call.status == CallStatus.COMPLETED
    assert placed_call.duration_seconds == 42
    assert placed_call.events.count() == 4


def test_a_status_going_backwards_is_recorded_but_does_not_move_the_call(client, placed_call):
    post(client, url("status", placed_call.pk), LIFECYCLE[2])
    post(client, url("status", placed_call.pk), LIFECYCLE[1])  # a late `ringing`
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.IN_PROGRESS
    post(client, url("status", placed_call.pk), status_params("busy", 3))
    post(client, url("status", placed_call.pk), LIFECYCLE[2])  # terminal calls never move
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.BUSY
    assert placed_call.events.count() == 3


def test_the_first_callback_stores_the_call_sid_when_placing_has_not_yet(client, call):
    assert post(client, url("status", call.pk), LIFECYCLE[0]).status_code == 204
    assert Call.objects.get(pk=call.pk).provider_call_id == SID


def test_a_terminal_callback_notifies_the_campaign_once(client, placed_call, django_capture_on_commit_callbacks):
    from calls import hooks

    seen = []
    hooks.register_call_finished(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            post(client, url("status", placed_call.pk), LIFECYCLE[3])
            post(client, url("status", placed_call.pk), LIFECYCLE[3])
        assert seen == [placed_call.pk]
    finally:
        hooks.unregister_call_finished(seen.append)


def test_behind_a_tls_proxy_the_https_url_twilio_signed_is_accepted(client, placed_call, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.PUBLIC_BASE_URL = "https://calls.example.com"
    path = url("status", placed_call.pk)
    response = post(client, path, LIFECYCLE[1], signed_url=f"https://calls.example.com{path}")
    assert response.status_code == 204
    settings.PUBLIC_BASE_URL = "https://other.example.com"  # the proxy's forwarded scheme + host still match
    settings.ALLOWED_HOSTS = ["calls.example.com"]
    response = post(
        client,
        path,
        LIFECYCLE[2],
        signed_url=f"https://calls.example.com{path}",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_HOST="calls.example.com",
    )
    assert response.status_code == 204


def test_the_voice_webhook_connects_the_media_stream_with_a_call_token(client, placed_call, settings):
    settings.PUBLIC_BASE_URL = "https://calls.example.com"
    path = url("voice", placed_call.pk)
    params = {"CallSid": SID, "CallStatus": "in-progress"}
    response = post(client, path, params, signed_url=f"https://calls.example.com{path}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    body = response.content.decode()
    assert f'<Connect><Stream url="wss://calls.example.com/ws/twilio/media/{placed_call.pk}/">' in body
    token = body.split('<Parameter name="token" value="', 1)[1].split('"', 1)[0]
    assert media_token_valid(token, placed_call.pk)
    assert not media_token_valid(token, uuid.uuid4())


def test_the_voice_webhook_uses_plain_ws_for_an_http_base_url(client, placed_call):
    response = post(client, url("voice", placed_call.pk), {"CallSid": SID})
    assert f'url="ws://testserver/ws/twilio/media/{placed_call.pk}/"' in response.content.decode()


def test_the_voice_webhook_hangs_up_a_call_we_already_closed(client, placed_call):
    post(client, url("status", placed_call.pk), status_params("canceled", 1))
    response = post(client, url("voice", placed_call.pk), {"CallSid": SID})
    assert "<Hangup />" in response.content.decode()


def test_the_voice_webhook_gets_404_for_an_unknown_call(client, placed_call):
    assert post(client, url("voice", uuid.uuid4()), {"CallSid": SID}).status_code == 404


def test_the_amd_verdict_is_recorded_once(client, placed_call):
    params = {"CallSid": SID, "AnsweredBy": "machine_end_beep", "MachineDetectionDuration": "4100"}
    for _ in range(2):
        assert post(client, url("amd", placed_call.pk), params).status_code == 204
    assert Call.objects.get(pk=placed_call.pk).answered_by == "machine_end_beep"
    assert placed_call.events.filter(kind=CallEvent.Kind.AMD).count() == 1


def test_a_machine_on_a_hang_up_call_is_hung_up(
    client, placed_call, twilio_settings, fake_twilio, django_capture_on_commit_callbacks
):
    Call.objects.filter(pk=placed_call.pk).update(answering_machine_policy="hang_up")
    params = {"CallSid": SID, "AnsweredBy": "machine_start"}
    path = url("amd", placed_call.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, path, params, signature=sign(f"http://testserver{path}", params, "twilio-test-token"))
    assert response.status_code == 204
    (hang_up,) = fake_twilio.requests
    assert hang_up.path.endswith(f"/Calls/{SID}.json")
    assert hang_up.form == [("Status", "completed")]


def test_a_human_on_a_hang_up_call_is_not_hung_up(
    client, placed_call, twilio_settings, fake_twilio, django_capture_on_commit_callbacks
):
    Call.objects.filter(pk=placed_call.pk).update(answering_machine_policy="hang_up")
    params = {"CallSid": SID, "AnsweredBy": "human"}
    path = url("amd", placed_call.pk)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, path, params, signature=sign(f"http://testserver{path}", params, "twilio-test-token"))
    assert fake_twilio.requests == []


def test_a_completed_recording_stores_its_url(client, placed_call):
    params = {
        "CallSid": SID,
        "RecordingSid": "RE1",
        "RecordingStatus": "completed",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
    }
    assert post(client, url("recording", placed_call.pk), params).status_code == 204
    assert Call.objects.get(pk=placed_call.pk).recording_url == params["RecordingUrl"]


def test_with_twilio_active_the_simulated_carriers_signature_is_refused(client, placed_call, twilio_settings):
    assert post(client, url("status", placed_call.pk), LIFECYCLE[1]).status_code == 403


def test_a_forged_signature_is_logged_with_its_reason_and_the_numbers_masked(client, placed_call, caplog):
    params = {**LIFECYCLE[1], "From": "+12025550100", "To": "+14155550143"}
    with caplog.at_level(logging.WARNING, logger="calls.webhooks"):
        post(client, url("status", placed_call.pk), params, signature="Zm9yZ2VkIQ==")
    (record,) = [r for r in caplog.records if r.name == "calls.webhooks"]
    message = record.getMessage()
    assert f"status webhook for call {placed_call.pk} refused (403)" in message
    assert "does not sign this URL and form" in message
    assert SID in message
    assert "From +***0100, To +***0143" in message
    assert "5550100" not in message


def test_a_missing_signature_is_logged_as_missing(client, placed_call, caplog):
    with caplog.at_level(logging.WARNING, logger="calls.webhooks"):
        client.post(url("status", placed_call.pk), LIFECYCLE[1])
    assert any("no X-Twilio-Signature" in r.getMessage() for r in caplog.records if r.name == "calls.webhooks")


def test_a_host_we_do_not_serve_gets_400_and_writes_nothing(client, placed_call, settings):
    settings.ALLOWED_HOSTS = ["calls.example.com"]
    path = url("status", placed_call.pk)
    response = post(
        client, path, LIFECYCLE[1], signed_url=f"http://evil.example.com{path}", HTTP_HOST="evil.example.com"
    )
    assert response.status_code == 400  # DisallowedHost, raised by Django's CommonMiddleware
    assert not CallEvent.objects.exists()


def test_a_twilio_path_that_names_no_webhook_gets_404(client):
    assert client.post("/twilio/nothing/", {}).status_code == 404


def test_a_get_is_told_to_post(client, placed_call):
    assert client.get(url("status", placed_call.pk))["Allow"] == "POST"


def test_a_body_over_the_upload_limit_gets_400_and_writes_nothing(client, placed_call, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    params = {**LIFECYCLE[1], "Padding": "x" * 2000}
    assert post(client, url("status", placed_call.pk), params).status_code == 400  # Django's RequestDataTooBig
    assert not CallEvent.objects.exists()


def test_a_form_with_more_fields_than_allowed_gets_400_and_writes_nothing(client, placed_call, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    params = {**LIFECYCLE[1], **{f"Extra{i}": "x" for i in range(10)}}
    assert post(client, url("status", placed_call.pk), params).status_code == 400
    assert not CallEvent.objects.exists()


def test_an_error_in_the_view_gets_500_is_logged_and_the_next_callback_is_served(placed_call, monkeypatch, caplog):
    from calls import services

    client = Client(raise_request_exception=False)  # as a server answers: Django's 500, not the exception
    monkeypatch.setattr(services, "call_record_status", lambda **kwargs: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        assert post(client, url("status", placed_call.pk), LIFECYCLE[1]).status_code == 500
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records if r.name == "django.request")
    monkeypatch.undo()
    assert post(client, url("status", placed_call.pk), LIFECYCLE[1]).status_code == 204


def requests_counted(view: str) -> float:
    """POSTs to `view` django-prometheus has counted (its middleware is the project's first and last)."""
    labels = {"view": view, "transport": "http", "method": "POST"}
    return REGISTRY.get_sample_value("django_http_requests_total_by_view_transport_method_total", labels) or 0.0


def test_webhooks_go_through_the_projects_middleware(client, placed_call):
    before = requests_counted("calls:twilio-status")
    response = post(client, url("status", placed_call.pk), LIFECYCLE[1])
    assert response.status_code == 204
    assert response["X-Frame-Options"] == "DENY"  # XFrameOptionsMiddleware, the last of Django's own
    assert requests_counted("calls:twilio-status") == before + 1


def asgi_post(path: str, params: dict, *, host: str = "testserver", signed_url: str | None = None) -> dict:
    """POST through `config.asgi.application`, as uvicorn serves it; the ASGI response messages."""
    from config.asgi import application

    body = urllib.parse.urlencode(params).encode()
    headers = [
        (b"host", host.encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
        (b"x-twilio-signature", sign(signed_url or f"http://testserver{path}", params).encode()),
    ]
    communicator = HttpCommunicator(application, "POST", path, body=body, headers=headers)
    communicator.scope["server"] = ("testserver", 80)
    return async_to_sync(communicator.get_response)(timeout=10)


@pytest.mark.django_db(transaction=True)  # the view runs on a thread (and connection) of Django's handler
def test_served_as_asgi_callbacks_are_applied_through_the_middleware_and_counted(placed_call):
    before = requests_counted("calls:twilio-status")
    for params in LIFECYCLE:
        response = asgi_post(url("status", placed_call.pk), params)
        assert response["status"] == 204
        assert (b"X-Frame-Options", b"DENY") in response["headers"]
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.COMPLETED
    assert CallEvent.objects.filter(call=placed_call).count() == 4
    assert requests_counted("calls:twilio-status") == before + 4


@pytest.mark.django_db(transaction=True)
def test_served_as_asgi_a_host_we_do_not_serve_gets_400(placed_call):
    path = url("status", placed_call.pk)
    response = asgi_post(path, LIFECYCLE[1], host="evil.example.com", signed_url=f"http://evil.example.com{path}")
    assert response["status"] == 400
    assert not CallEvent.objects.exists()


def database_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Django's connection pool is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_served_as_asgi_each_request_gives_its_database_connection_back_to_the_pool(placed_call):
    pool_size = connection.settings_dict["OPTIONS"]["pool"]["max_size"]
    before = database_sessions()
    for sequence in range(pool_size + 4):  # each on a fresh thread of Django's handler
        assert asgi_post(url("status", placed_call.pk), status_params("ringing", sequence))["status"] == 204
    assert database_sessions() <= before + pool_size  # one session kept per thread would be pool_size + 4 more
