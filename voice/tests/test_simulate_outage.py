"""`manage.py simulate_outage on|off`: the simulated voice fails for calls that start while it is on."""

import asyncio

import pytest
from django.core.management import call_command

from voice.providers.base import ProviderError
from voice.providers.speech import VoiceSpec
from voice.providers.speech_selection import SpeechProviders, speech_providers


async def first_chunk(providers: SpeechProviders) -> bytes:
    async for chunk in providers.text_to_speech.synthesize("Hello there.", VoiceSpec()):
        return chunk
    return b""


def test_the_simulated_voice_fails_while_the_outage_is_on_and_speaks_again_after(settings):
    settings.TEXT_TO_SPEECH_PROVIDER = "simulated"
    call_command("simulate_outage", "on", stdout=open("/dev/null", "w"))  # noqa: SIM115
    try:
        with pytest.raises(ProviderError, match="simulated voice outage") as raised:
            asyncio.run(first_chunk(speech_providers()))
        assert raised.value.permanent is False
    finally:
        call_command("simulate_outage", "off", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert asyncio.run(first_chunk(speech_providers()))
