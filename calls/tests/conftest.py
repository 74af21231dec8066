import pytest
from django.conf import settings
from twilio.request_validator import RequestValidator


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    """Real Twilio adapter, its REST requests sent to the local fake."""
    settings.TELEPHONY_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "twilio-test-token"
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    return settings


def sign(url: str, params: dict, token: str | None = None) -> str:
    return RequestValidator(token or settings.SIMULATED_CARRIER_AUTH_TOKEN).compute_signature(url, params)
