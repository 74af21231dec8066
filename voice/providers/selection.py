"""Which adapter serves each provider role, as chosen by settings (see config/settings/components/providers.py)."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class ActiveProvider:
    role: str
    adapter: str

    @property
    def simulated(self) -> bool:
        return self.adapter == "simulated"


def active_providers() -> list[ActiveProvider]:
    """The adapter in use for each role; the admin front page shows this list."""
    return [
        ActiveProvider("Telephony", settings.TELEPHONY_PROVIDER),
        ActiveProvider("Speech to text", settings.SPEECH_TO_TEXT_PROVIDER),
        ActiveProvider("Language model", settings.LANGUAGE_MODEL_PROVIDER),
        ActiveProvider("Text to speech", settings.TEXT_TO_SPEECH_PROVIDER),
    ]
