"""calls.webhook_asgi: Twilio's webhooks on their short ASGI path, and everything else still on Django's.

Requests go through `config.asgi.application`, as daphne serves it. Most tests run the views on the
test's thread (WEBHOOK_THREADS = 0 in test settings); those marked `webhook_threads` run them on the
production thread pool, with their own database connections, against committed data.
"""

import logging

import pytest
from django.db import connections

from calls import webhook_asgi
from calls.models import Call, CallEvent, CallStatus
from calls.tests.asgi_client import AsgiClient
from calls.tests.conftest import sign

SID = "CA" + "b" * 32


def status_path(call_id: object) -> str:
    return f"/twilio/status/{call_id}/"


def status_callback(client: AsgiClient, call_id: object, status: str, sequence: int):
    params = {"CallSid": SID, "CallStatus": status, "SequenceNumber": str(sequence)}
    path = status_path(call_id)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=sign(f"http://testserver{path}", params))


@pytest.fixture
def placed_call(call) -> Call:
    Call.objects.filter(pk=call.pk).update(provider_call_id=SID)
    return call


@pytest.fixture
def webhook_threads(settings):
    """One production webhook thread; its connection is closed afterwards so the test database can go."""
    settings.WEBHOOK_THREADS = 1
    yield webhook_asgi._executor(1)
    webhook_asgi._executor(1).submit(connections.close_all).result()


@pytest.mark.django_db
def test_other_urls_still_go_through_django_and_its_middleware():
    response = AsgiClient().get("/admin/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"  # set by a middleware the webhooks skip
    assert "csrftoken" in response.headers.get("set-cookie", "")


@pytest.mark.django_db
def test_a_twilio_path_that_names_no_webhook_gets_djangos_404():
    assert AsgiClient().post("/twilio/status/not-a-uuid/", {"CallSid": SID}).status_code == 404
    assert AsgiClient().post("/twilio/nothing/", {}).status_code == 404


@pytest.mark.django_db
def test_a_webhook_answers_a_get_with_405(placed_call):
    response = AsgiClient().get(status_path(placed_call.pk))
    assert response.status_code == 405
    assert response["Allow"] == "POST"


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_gets_413_and_writes_nothing(placed_call, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = AsgiClient().post(status_path(placed_call.pk), body=b"CallSid=" + b"x" * 2000)
    assert response.status_code == 413
    assert not CallEvent.objects.exists()


@pytest.mark.django_db
def test_an_error_in_the_view_gets_djangos_500_is_logged_and_the_next_callback_is_served(
    placed_call, monkeypatch, caplog
):
    from calls import services

    monkeypatch.setattr(services, "call_record_status", lambda **kwargs: 1 / 0)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = status_callback(AsgiClient(), placed_call.pk, "ringing", 1)
    assert response.status_code == 500
    assert any("ZeroDivisionError" in (record.exc_text or "") or record.exc_info for record in caplog.records)
    monkeypatch.undo()
    assert status_callback(AsgiClient(), placed_call.pk, "ringing", 1).status_code == 204


def _observed(histogram) -> float:
    """How many observations the status view's latency histogram holds."""
    counts = (
        sample.value
        for metric in histogram.collect()
        for sample in metric.samples
        if sample.name.endswith("_count") and sample.labels.get("view") == "twilio-status"
    )
    return next(counts, 0.0)


@pytest.mark.django_db(transaction=True)
def test_on_the_production_threads_callbacks_are_applied_and_the_metric_counts_them(placed_call, webhook_threads):
    from monitoring.metrics import WEBHOOK_SECONDS

    before = _observed(WEBHOOK_SECONDS)
    client = AsgiClient()
    for sequence, status in enumerate(["initiated", "ringing", "in-progress", "completed"]):
        assert status_callback(client, placed_call.pk, status, sequence).status_code == 204
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.COMPLETED
    assert CallEvent.objects.filter(call=placed_call).count() == 4
    assert _observed(WEBHOOK_SECONDS) == before + 4


@pytest.mark.django_db(transaction=True)
def test_a_thread_whose_connection_broke_answers_500_once_then_reconnects(placed_call, webhook_threads):
    status_callback(AsgiClient(), placed_call.pk, "initiated", 0)  # the thread now holds a connection

    def break_connection() -> None:
        connections["default"].connection.close()  # as if the server had dropped it

    webhook_threads.submit(break_connection).result()
    assert status_callback(AsgiClient(), placed_call.pk, "ringing", 1).status_code == 500
    assert status_callback(AsgiClient(), placed_call.pk, "ringing", 1).status_code == 204
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.RINGING


@pytest.mark.django_db
def test_a_cached_url_match_is_not_served_after_the_urlconf_changes(placed_call, settings):
    path = status_path(placed_call.pk)
    assert status_callback(AsgiClient(), placed_call.pk, "initiated", 0).status_code == 204
    assert webhook_asgi.lean_match.cache_info().currsize >= 1
    settings.ROOT_URLCONF = "calls.tests.urls_without_webhooks"  # Django builds a new resolver for it
    response = AsgiClient().post(path, {"CallSid": SID, "CallStatus": "ringing"})
    assert response.status_code == 404  # Django's own 404: the cached match of the old URLconf is not used
    assert Call.objects.get(pk=placed_call.pk).status == CallStatus.INITIATED


@pytest.mark.django_db(transaction=True)
def test_a_pool_thread_knows_the_servers_loop_so_async_to_sync_in_a_view_runs_there(
    placed_call, webhook_threads, monkeypatch
):
    import asyncio

    from asgiref.sync import async_to_sync

    from calls import services

    loops = {}

    async def loop_of_the_publish() -> None:
        loops["publish"] = asyncio.get_running_loop()

    def record(**kwargs):
        async_to_sync(loop_of_the_publish)()  # as a channel-layer publish from a view does
        return services.CallbackOutcome.RECORDED

    async def application_loop() -> None:
        loops["server"] = asyncio.get_running_loop()

    monkeypatch.setattr(services, "call_record_status", record)
    original = webhook_asgi._respond_on_pool

    async def respond_on_pool(*args):
        await application_loop()
        return await original(*args)

    monkeypatch.setattr(webhook_asgi, "_respond_on_pool", respond_on_pool)
    assert status_callback(AsgiClient(), placed_call.pk, "ringing", 1).status_code == 204
    assert loops["publish"] is loops["server"]


@pytest.mark.parametrize(
    "body",
    [
        b"CallSid=CA1&CallStatus=ringing&SequenceNumber=0",
        b"To=%2B12025550143&From=+12025550100&Note=caf%C3%A9+%26+co",  # percent-encoding, + as space
        b"StatusCallbackEvent=initiated&StatusCallbackEvent=answered&Empty=&Flag",  # repeats and blanks
        "Name=Jos\u00e9".encode("latin-1"),  # not UTF-8: Django falls back to ISO-8859-1
        b"",
    ],
)
def test_the_form_is_parsed_to_the_querydict_django_makes(body, settings):
    from django.http import QueryDict

    parsed, djangos = webhook_asgi.form_data(body, "utf-8"), QueryDict(body, encoding="utf-8")
    assert list(parsed.lists()) == list(djangos.lists())
    assert parsed.encoding == djangos.encoding
    with pytest.raises(AttributeError, match="immutable"):
        parsed["CallSid"] = "CA2"


@pytest.mark.django_db
def test_a_form_with_more_fields_than_allowed_gets_400_and_writes_nothing(placed_call, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    params = {"CallSid": SID, "CallStatus": "ringing", **{f"Extra{i}": "x" for i in range(10)}}
    path = status_path(placed_call.pk)
    response = AsgiClient().post(path, params, HTTP_X_TWILIO_SIGNATURE=sign(f"http://testserver{path}", params))
    assert response.status_code == 400
    assert not CallEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_what_one_request_activates_on_a_pool_thread_does_not_leak_into_the_next(
    placed_call, webhook_threads, monkeypatch
):
    from django.utils import translation

    from calls import services

    languages = []

    def record(**kwargs):
        languages.append(translation.get_language())
        translation.activate("de")  # as a view might, for the length of its request
        return services.CallbackOutcome.RECORDED

    monkeypatch.setattr(services, "call_record_status", record)
    for sequence in range(2):  # both on the one pool thread
        assert status_callback(AsgiClient(), placed_call.pk, "ringing", sequence).status_code == 204
    assert languages == ["en-us", "en-us"]
