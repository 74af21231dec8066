"""Which provider adapter serves each role, decided once from the environment.

A role gets its real adapter when that provider's credentials are present, the simulated one
otherwise; `<ROLE>_PROVIDER` forces a choice, and forcing a real adapter without its credentials
stops start-up with the names of the missing variables. `OPENAI_STT_MODE` says how OpenAI transcribes:
`realtime` (the default) streams each call's audio over the Realtime API as it is spoken, with each
utterance transcribed over HTTP when the stream fails; `utterance` only transcribes finished utterances.
"""

from dataclasses import dataclass

import environ
from django.core.exceptions import ImproperlyConfigured

SIMULATED = "simulated"
ROLE_CHOICES: dict[str, tuple[str, ...]] = {
    "TELEPHONY_PROVIDER": ("twilio", SIMULATED),
    "SPEECH_TO_TEXT_PROVIDER": ("openai", SIMULATED),
    "LANGUAGE_MODEL_PROVIDER": ("openai", SIMULATED),
    "TEXT_TO_SPEECH_PROVIDER": ("elevenlabs", "openai", SIMULATED),
}
OPENAI_STT_MODES = ("realtime", "utterance")
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
    "openai": ("OPENAI_API_KEY",),
    "elevenlabs": ("ELEVENLABS_API_KEY",),
    SIMULATED: (),
}


@dataclass(frozen=True)
class ProviderSettings:
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_from_number: str
    elevenlabs_api_key: str
    elevenlabs_voice_id: str
    openai_api_key: str
    openai_base_url: str
    telephony: str
    speech_to_text: str
    language_model: str
    text_to_speech: str
    openai_stt_mode: str


def provider_settings(env: environ.Env) -> ProviderSettings:
    values = {name: env(name, default="") for names in CREDENTIALS.values() for name in names}

    def configured(provider: str) -> bool:
        return all(values[name] for name in CREDENTIALS[provider])

    def choose(role: str, preference: tuple[str, ...]) -> str:
        default = next((p for p in preference if configured(p)), SIMULATED)
        chosen = env(role, default=default)
        if chosen not in ROLE_CHOICES[role]:
            raise ImproperlyConfigured(f"{role}={chosen!r} is not one of {', '.join(ROLE_CHOICES[role])}.")
        missing = [name for name in CREDENTIALS[chosen] if not values[name]]
        if missing:
            raise ImproperlyConfigured(f"{role}={chosen} needs {', '.join(missing)} to be set.")
        return chosen

    stt_mode = env("OPENAI_STT_MODE", default="realtime")
    if stt_mode not in OPENAI_STT_MODES:
        raise ImproperlyConfigured(f"OPENAI_STT_MODE={stt_mode!r} is not one of {', '.join(OPENAI_STT_MODES)}.")
    return ProviderSettings(
        twilio_account_sid=values["TWILIO_ACCOUNT_SID"],
        twilio_auth_token=values["TWILIO_AUTH_TOKEN"],
        twilio_from_number=env("TWILIO_FROM_NUMBER", default=""),
        elevenlabs_api_key=values["ELEVENLABS_API_KEY"],
        elevenlabs_voice_id=env("ELEVENLABS_VOICE_ID", default=""),
        openai_api_key=values["OPENAI_API_KEY"],
        openai_base_url=env("OPENAI_BASE_URL", default=""),
        telephony=choose("TELEPHONY_PROVIDER", ("twilio",)),
        speech_to_text=choose("SPEECH_TO_TEXT_PROVIDER", ("openai",)),
        language_model=choose("LANGUAGE_MODEL_PROVIDER", ("openai",)),
        text_to_speech=choose("TEXT_TO_SPEECH_PROVIDER", ("elevenlabs", "openai")),
        openai_stt_mode=stt_mode,
    )
