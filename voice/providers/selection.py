"""Which adapter serves each provider role, as chosen by settings (see config/settings/components/providers.py)."""

import functools
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from voice.providers.base import Telephony


@dataclass(frozen=True)
class ActiveProvider:
    role: str  # in the operator's language when shown (a lazy translation)
    adapter: str

    @property
    def simulated(self) -> bool:
        return self.adapter == "simulated"


def active_providers() -> list[ActiveProvider]:
    """The adapter in use for each role; the admin front page shows this list."""
    return [
        ActiveProvider(_("Telephony"), settings.TELEPHONY_PROVIDER),
        ActiveProvider(_("Speech to text"), settings.SPEECH_TO_TEXT_PROVIDER),
        ActiveProvider(_("Language model"), settings.LANGUAGE_MODEL_PROVIDER),
        ActiveProvider(_("Text to speech"), settings.TEXT_TO_SPEECH_PROVIDER),
    ]


def telephony() -> Telephony:
    """The Telephony adapter settings choose (TELEPHONY_PROVIDER: "twilio" or "simulated")."""
    if settings.TELEPHONY_PROVIDER == "twilio":
        return _twilio(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.TWILIO_API_BASE_URL,
            settings.TWILIO_HTTP_TIMEOUT_SECONDS,
        )
    from voice.providers.simulated.adapter import simulated_telephony

    return simulated_telephony()


def telephony_module() -> str:
    """The module of the Telephony adapter the settings choose, for `import_module` at server start."""
    return "voice.providers.twilio" if settings.TELEPHONY_PROVIDER == "twilio" else "voice.providers.simulated.adapter"


@functools.cache
def _twilio(account_sid: str, auth_token: str, api_base_url: str, timeout_seconds: float) -> Telephony:
    # One client per credentials: it keeps its HTTP connection pool between calls.
    from voice.providers.twilio import TwilioTelephony

    return TwilioTelephony(
        account_sid=account_sid, auth_token=auth_token, api_base_url=api_base_url, timeout_seconds=timeout_seconds
    )
