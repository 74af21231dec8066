"""The simulated Telephony adapter: the port's methods, served by the in-process SimulatedCarrier."""

from typing import BinaryIO

from django.conf import settings
from twilio.request_validator import RequestValidator

from monitoring.metrics import CALLS_PLACED
from voice import codec
from voice.providers import twiml
from voice.providers.base import CallState, CallStatusReport, PlaceCallRequest, PlacedCall, ProviderError, Telephony
from voice.providers.signatures import signature_valid
from voice.providers.simulated.carrier import SimulatedCarrier, call_status, confirm_gone, send_command
from voice.synthetic_audio import speech_like_pcm

RECORDING_WORDS = "hello this is an automated assistant calling about your account thank you goodbye"


class SimulatedTelephony(Telephony):
    name = "simulated"
    status_poll_seconds = 0.0  # a cache read: the owner's heartbeat is the call's last contact
    unconfirmed_gone_seconds = 30.0  # placing is in-process and instant: no id by then, its process died

    def __init__(self, *, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def place(self, request: PlaceCallRequest) -> PlacedCall:
        sid = SimulatedCarrier.get().place(request)
        CALLS_PLACED.labels(provider=self.name).inc()
        return PlacedCall(provider_call_id=sid, state=CallState.QUEUED)

    def hang_up(self, provider_call_id: str) -> None:
        self._known(provider_call_id)
        send_command(provider_call_id, ("hangup", ""))

    def fetch_status(self, provider_call_id: str) -> CallStatusReport:
        return self._known(provider_call_id)

    def transfer(self, provider_call_id: str, *, to: str, caller_id: str = "") -> None:
        self._known(provider_call_id)
        send_command(provider_call_id, ("twiml", twiml.dial(to, caller_id=caller_id)))

    def say_and_hang_up(self, provider_call_id: str, *, text: str, language: str = "en-US") -> None:
        self._known(provider_call_id)
        send_command(provider_call_id, ("twiml", twiml.say_and_hang_up(text, language=language)))

    def redirect(self, provider_call_id: str, *, twiml_url: str) -> None:
        self._known(provider_call_id)
        send_command(provider_call_id, ("url", twiml_url))

    def validate_signature(self, url: str, params: object, signature: str) -> bool:
        return signature_valid(self._validator, url, params, signature)

    def download_recording(self, recording_url: str, destination: BinaryIO) -> str:
        """A recording that sounds like speech (the simulated callee's audio is generated, never kept)."""
        if "/Recordings/RE" not in recording_url:
            raise ProviderError(f"simulated carrier has no recording at {recording_url}", permanent=True)
        destination.write(codec.pcm16_wav(speech_like_pcm(RECORDING_WORDS)))
        return "wav"

    def delete_recording(self, recording_sid: str) -> None:
        """Nothing is kept, so nothing is left to delete."""

    @staticmethod
    def _known(provider_call_id: str) -> CallStatusReport:
        try:
            report = call_status(provider_call_id)
            gone = report is None and confirm_gone(provider_call_id)
        except Exception as error:  # the shared cache is down: nothing is known either way
            raise ProviderError(f"simulated carrier unreachable: {error}", permanent=False) from error
        if gone:
            # As Twilio's 20404: no carrier process knows this call (it never existed, or died with its process).
            raise ProviderError(f"simulated carrier has no call {provider_call_id}", permanent=True)
        if report is None:
            raise ProviderError(f"simulated call {provider_call_id} not heard from yet", permanent=False)
        return report


def simulated_telephony() -> SimulatedTelephony:
    return SimulatedTelephony(auth_token=settings.SIMULATED_CARRIER_AUTH_TOKEN)
