import pytest

from voice.tests.fake_twilio import start_fake_twilio


@pytest.fixture
def fake_twilio():
    fake = start_fake_twilio()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()
