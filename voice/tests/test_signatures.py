"""voice.providers.signatures: the same verdict as the Twilio SDK's RequestValidator.validate, in every case."""

import pytest
from django.http import QueryDict
from twilio.request_validator import RequestValidator

from voice.providers.signatures import signature_valid

VALIDATOR = RequestValidator("token")
PARAMS = {"CallSid": "CA1", "CallStatus": "ringing", "SequenceNumber": "1"}


@pytest.mark.parametrize(
    ("signed_url", "received_url"),
    [
        ("https://calls.example.com/twilio/status/a/", "https://calls.example.com/twilio/status/a/"),
        ("https://calls.example.com:443/twilio/status/a/", "https://calls.example.com/twilio/status/a/"),
        ("https://calls.example.com/twilio/status/a/", "https://calls.example.com:443/twilio/status/a/"),
        ("http://127.0.0.1:8000/twilio/status/a/?x=1", "http://127.0.0.1:8000/twilio/status/a/?x=1"),
        ("https://calls.example.com/twilio/status/b/", "https://calls.example.com/twilio/status/a/"),
    ],
)
@pytest.mark.parametrize("token", ["token", "another-token"])
def test_the_verdict_is_the_sdks_for_port_variants_other_urls_and_other_tokens(signed_url, received_url, token):
    signature = RequestValidator(token).compute_signature(signed_url, PARAMS)
    expected = VALIDATOR.validate(received_url, PARAMS, signature)
    assert signature_valid(VALIDATOR, received_url, PARAMS, signature) is expected


def test_a_form_with_repeated_fields_and_tampered_values_gets_the_sdks_verdict():
    url = "https://calls.example.com/twilio/status/a/"
    form = QueryDict("CallSid=CA1&CallStatus=ringing&Extra=1&Extra=2")
    signature = VALIDATOR.compute_signature(url, form)
    assert signature_valid(VALIDATOR, url, form, signature) is True
    tampered = QueryDict("CallSid=CA1&CallStatus=completed&Extra=1&Extra=2")
    assert signature_valid(VALIDATOR, url, tampered, signature) is False


def test_no_signature_is_never_valid():
    assert signature_valid(VALIDATOR, "https://calls.example.com/", {}, "") is False
