"""The Twilio adapter: the real `twilio` SDK against a local fake of Twilio's REST API."""

from decimal import Decimal

import pytest

from voice.providers.base import CallState, MachineDetection, PlaceCallRequest, ProviderError
from voice.providers.twilio import TwilioTelephony

ACCOUNT = "AC" + "1" * 32
CALLS_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
BASE = "https://calls.example.com"


def adapter(fake, **kwargs) -> TwilioTelephony:
    return TwilioTelephony(
        account_sid=ACCOUNT,
        auth_token="token",
        api_base_url=fake.base_url,
        rate_limit_backoff_seconds=0.01,
        **kwargs,
    )


def request(**overrides) -> PlaceCallRequest:
    fields = {
        "to": "+12025550143",
        "from_": "+12025550100",
        "twiml_url": f"{BASE}/twilio/voice/abc/",
        "status_callback_url": f"{BASE}/twilio/status/abc/",
        "amd_callback_url": f"{BASE}/twilio/amd/abc/",
        "recording_callback_url": f"{BASE}/twilio/recording/abc/",
        "ring_timeout_seconds": 25,
        "time_limit_seconds": 300,
    }
    return PlaceCallRequest(**(fields | overrides))


def test_it_places_a_call_with_the_four_status_events_as_repeated_fields(fake_twilio):
    placed = adapter(fake_twilio).place(request())
    (sent,) = fake_twilio.requests
    assert (sent.method, sent.path) == ("POST", CALLS_PATH)
    assert sent.values("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]
    assert sent.value("To") == "+12025550143"
    assert sent.value("From") == "+12025550100"
    assert sent.value("Url") == f"{BASE}/twilio/voice/abc/"
    assert sent.value("Method") == "POST"
    assert sent.value("StatusCallback") == f"{BASE}/twilio/status/abc/"
    assert sent.value("StatusCallbackMethod") == "POST"
    assert sent.value("Timeout") == "25"
    assert sent.value("TimeLimit") == "300"
    assert placed.provider_call_id.startswith("CA")
    assert placed.state == CallState.QUEUED


def test_it_sends_no_detection_or_recording_fields_when_both_are_off(fake_twilio):
    adapter(fake_twilio).place(request())
    names = {name for name, _ in fake_twilio.requests[0].form}
    assert not names & {"MachineDetection", "AsyncAmd", "AsyncAmdStatusCallback", "Record", "RecordingStatusCallback"}


@pytest.mark.parametrize("detection", [MachineDetection.ENABLE, MachineDetection.DETECT_MESSAGE_END])
def test_it_asks_for_asynchronous_machine_detection_with_its_callback(fake_twilio, detection):
    adapter(fake_twilio).place(request(machine_detection=detection))
    sent = fake_twilio.requests[0]
    assert sent.value("MachineDetection") == detection.value
    assert sent.value("AsyncAmd") == "true"
    assert sent.value("AsyncAmdStatusCallback") == f"{BASE}/twilio/amd/abc/"
    assert sent.value("AsyncAmdStatusCallbackMethod") == "POST"


def test_it_asks_for_a_recording_with_its_callback(fake_twilio):
    adapter(fake_twilio).place(request(record=True))
    sent = fake_twilio.requests[0]
    assert sent.value("Record") == "true"
    assert sent.value("RecordingStatusCallback") == f"{BASE}/twilio/recording/abc/"


def test_an_invalid_number_is_a_permanent_error(fake_twilio):
    fake_twilio.error(400, 21211, "The 'To' number is not a valid phone number.")
    with pytest.raises(ProviderError) as raised:
        adapter(fake_twilio).place(request())
    assert raised.value.permanent
    assert "21211" in raised.value.message


def test_a_429_is_retried_and_then_succeeds(fake_twilio):
    fake_twilio.error(429, 20429, "Too Many Requests").error(429, 20429, "Too Many Requests")
    placed = adapter(fake_twilio).place(request())
    assert len(fake_twilio.requests) == 3
    assert placed.provider_call_id.startswith("CA")


def test_a_429_that_persists_is_a_temporary_error_after_the_last_attempt(fake_twilio):
    for _ in range(3):
        fake_twilio.error(429, 20429, "Too Many Requests")
    with pytest.raises(ProviderError) as raised:
        adapter(fake_twilio, rate_limit_attempts=3).place(request())
    assert not raised.value.permanent
    assert len(fake_twilio.requests) == 3


def test_a_5xx_on_placing_is_not_retried_and_is_temporary(fake_twilio):
    fake_twilio.error(503, 20500, "Service Unavailable")
    with pytest.raises(ProviderError) as raised:
        adapter(fake_twilio).place(request())
    assert not raised.value.permanent
    assert len(fake_twilio.requests) == 1  # a second POST /Calls could ring the person twice


def test_a_timeout_on_placing_is_not_retried_and_is_temporary(fake_twilio):
    fake_twilio.then(201, {"sid": "CAlate", "status": "queued"}, held=True)
    with pytest.raises(ProviderError) as raised:
        adapter(fake_twilio, timeout_seconds=0.2).place(request())
    assert not raised.value.permanent
    assert "in time" in raised.value.message
    assert len(fake_twilio.requests) == 1


def test_hanging_up_sets_the_call_completed(fake_twilio):
    adapter(fake_twilio).hang_up("CA123")
    (sent,) = fake_twilio.requests
    assert (sent.method, sent.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Calls/CA123.json")
    assert sent.form == [("Status", "completed")]


def test_hanging_up_a_call_that_already_ended_is_not_an_error(fake_twilio):
    fake_twilio.error(400, 21220, "Call is not in-progress. Cannot redirect.")
    adapter(fake_twilio).hang_up("CA123")


def test_fetching_a_status_maps_twilio_fields(fake_twilio):
    fake_twilio.call_status = {"status": "no-answer", "duration": "0", "answered_by": None, "price": "-0.01300"}
    report = adapter(fake_twilio).fetch_status("CA123")
    assert report.state == CallState.NO_ANSWER
    assert report.duration_seconds == 0
    assert report.price == Decimal("0.01300")
    assert report.price_unit == "USD"


def test_fetching_an_unknown_call_is_a_permanent_error(fake_twilio):
    fake_twilio.error(404, 20404, "The requested resource was not found")
    with pytest.raises(ProviderError) as raised:
        adapter(fake_twilio).fetch_status("CAnope")
    assert raised.value.permanent


def test_transferring_replaces_the_call_twiml_with_a_dial(fake_twilio):
    adapter(fake_twilio).transfer("CA123", to="+12025550199", caller_id="+12025550100")
    twiml = fake_twilio.requests[0].value("Twiml")
    assert '<Dial callerId="+12025550100">+12025550199</Dial>' in twiml


def test_redirecting_points_the_call_at_new_twiml(fake_twilio):
    adapter(fake_twilio).redirect("CA123", twiml_url=f"{BASE}/twilio/voice/abc/")
    sent = fake_twilio.requests[0]
    assert sent.value("Url") == f"{BASE}/twilio/voice/abc/"
    assert sent.value("Method") == "POST"


def test_it_validates_signatures_with_the_auth_token(fake_twilio):
    from twilio.request_validator import RequestValidator

    url, params = f"{BASE}/twilio/status/abc/", {"CallSid": "CA1", "CallStatus": "ringing"}
    signature = RequestValidator("token").compute_signature(url, params)
    twilio = adapter(fake_twilio)
    assert twilio.validate_signature(url, params, signature)
    assert not twilio.validate_signature(url, params | {"CallStatus": "completed"}, signature)
    assert not twilio.validate_signature(url, params, "")
