"""Telephony on Twilio, through the official `twilio` SDK.

`POST /Calls` is retried only on HTTP 429 (error 20429: "safe to retry"); a timeout or a 5xx is
reported as a non-permanent ProviderError and never retried here, because the call may have been
placed and a second request would ring the person twice. Error codes that cannot succeed later
(21211 invalid number, …) are permanent.
"""

import logging
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

import requests
import tenacity
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from monitoring.metrics import CALLS_PLACED, PROVIDER_ERRORS
from voice.providers import twiml
from voice.providers.base import (
    CallState,
    CallStatusReport,
    MachineDetection,
    PlaceCallRequest,
    PlacedCall,
    ProviderError,
    Telephony,
)
from voice.providers.signatures import signature_valid

logger = logging.getLogger(__name__)

STATUS_CALLBACK_EVENTS = ["initiated", "ringing", "answered", "completed"]
# Twilio error codes for requests that will fail the same way again.
PERMANENT_ERROR_CODES = frozenset(
    {
        20003,  # authentication failed
        20404,  # resource not found (e.g. an unknown CallSid)
        21205,  # invalid Url
        21210,  # From is not a verified caller ID
        21212,  # invalid From
        21214,  # To is not reachable
        21215,  # no international permission for this destination
        21216,  # number blocked
        21217,  # To is not a valid phone number
        21211,  # invalid To
        13224,  # invalid number for <Dial>
    }
)
RATE_LIMIT_CODE = 20429


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, sending REST requests to `base_url` instead of https://api.twilio.com.

    For a Twilio-compatible server such as a local mock (TWILIO_API_BASE_URL); the SDK has no such option.
    """

    TWILIO_API = "https://api.twilio.com"

    def __init__(self, base_url: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> Response:
        if url.startswith(self.TWILIO_API):
            url = self.base_url + url.removeprefix(self.TWILIO_API)
        return super().request(method, url, *args, **kwargs)


def _rate_limited(error: BaseException) -> bool:
    return isinstance(error, TwilioRestException) and (error.status == 429 or error.code == RATE_LIMIT_CODE)


class TwilioTelephony(Telephony):
    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        http_client: HttpClient | None = None,
        api_base_url: str = "",
        timeout_seconds: float = 10.0,
        rate_limit_attempts: int = 4,
        rate_limit_backoff_seconds: float = 0.5,
    ) -> None:
        if http_client is None:
            http_client = (
                BaseUrlHttpClient(api_base_url, timeout=timeout_seconds)
                if api_base_url
                else TwilioHttpClient(timeout=timeout_seconds)
            )
        self._client = Client(account_sid, auth_token, http_client=http_client)
        self._auth = (account_sid, auth_token)
        self._api_base_url = api_base_url.rstrip("/")
        self._timeout_seconds = timeout_seconds
        self._validator = RequestValidator(auth_token)
        # Only a 429 is retried: Twilio did not act on the request, so repeating it cannot double a call.
        self._retry_rate_limited = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_rate_limited),
            wait=tenacity.wait_exponential(multiplier=rate_limit_backoff_seconds, max=8),
            stop=tenacity.stop_after_attempt(rate_limit_attempts),
            reraise=True,
        )

    def place(self, request: PlaceCallRequest) -> PlacedCall:
        fields: dict[str, object] = {
            "to": request.to,
            "from_": request.from_,
            "url": request.twiml_url,
            "method": "POST",
            "status_callback": request.status_callback_url,
            "status_callback_method": "POST",
            # A list: the SDK sends it as four repeated StatusCallbackEvent fields, as Twilio requires.
            "status_callback_event": STATUS_CALLBACK_EVENTS,
            "timeout": request.ring_timeout_seconds,
            "time_limit": request.time_limit_seconds,
        }
        if request.machine_detection != MachineDetection.OFF:
            fields |= {
                "machine_detection": request.machine_detection.value,
                # Async: the call connects at once and the verdict comes to its own callback (no dead air).
                "async_amd": "true",
                "async_amd_status_callback": request.amd_callback_url,
                "async_amd_status_callback_method": "POST",
            }
        if request.record:
            fields |= {
                "record": True,
                "recording_status_callback": request.recording_callback_url,
                "recording_status_callback_method": "POST",
            }
        call = self._call(lambda: self._client.calls.create(**fields))
        CALLS_PLACED.labels(provider=self.name).inc()
        return PlacedCall(provider_call_id=call.sid, state=CallState.from_twilio(call.status or "queued"))

    def hang_up(self, provider_call_id: str) -> None:
        try:
            self._call(lambda: self._client.calls(provider_call_id).update(status="completed"))
        except ProviderError as error:
            # 21220: "not in-progress, cannot redirect" — the call has already ended, which is what we wanted.
            if "21220" not in error.message:
                raise

    def fetch_status(self, provider_call_id: str) -> CallStatusReport:
        call = self._call(lambda: self._client.calls(provider_call_id).fetch())
        return CallStatusReport(
            provider_call_id=call.sid,
            state=CallState.from_twilio(call.status),
            duration_seconds=int(call.duration) if call.duration not in (None, "") else None,
            answered_by=call.answered_by or "",
            price=_price(call.price),
            price_unit=call.price_unit or "",
        )

    def transfer(self, provider_call_id: str, *, to: str, caller_id: str = "") -> None:
        document = twiml.dial(to, caller_id=caller_id)
        self._call(lambda: self._client.calls(provider_call_id).update(twiml=document))

    def say_and_hang_up(self, provider_call_id: str, *, text: str, language: str = "en-US") -> None:
        document = twiml.say_and_hang_up(text, language=language)
        self._call(lambda: self._client.calls(provider_call_id).update(twiml=document))

    def redirect(self, provider_call_id: str, *, twiml_url: str) -> None:
        self._call(lambda: self._client.calls(provider_call_id).update(url=twiml_url, method="POST"))

    def validate_signature(self, url: str, params: object, signature: str) -> bool:
        return signature_valid(self._validator, url, params, signature)

    def download_recording(self, recording_url: str, destination: BinaryIO) -> str:
        """The recording as MP3 (a tenth of the WAV's size), streamed to `destination`.

        With `requests` and the account's credentials, as Twilio's docs fetch media: the SDK's own client
        decodes every response as text, which would mangle audio.
        """
        url = recording_url.removesuffix(".json").removesuffix(".wav").removesuffix(".mp3") + ".mp3"
        if self._api_base_url and url.startswith(BaseUrlHttpClient.TWILIO_API):
            url = self._api_base_url + url.removeprefix(BaseUrlHttpClient.TWILIO_API)
        try:
            with requests.get(url, auth=self._auth, stream=True, timeout=self._timeout_seconds) as response:
                if response.status_code >= 400:
                    permanent = response.status_code in (401, 403, 404)
                    raise self._error(f"Twilio {response.status_code} for recording {url}", permanent)
                for chunk in response.iter_content(chunk_size=64 * 1024):
                    destination.write(chunk)
        except requests.RequestException as error:
            raise self._error(f"Twilio recording download failed: {error}", False) from error
        return "mp3"

    def delete_recording(self, recording_sid: str) -> None:
        try:
            self._call(lambda: self._client.recordings(recording_sid).delete())
        except ProviderError as error:
            if "404" not in error.message:  # already deleted: what we wanted
                raise

    def _call(self, request: "object") -> object:
        """Run one SDK request, retrying 429s only, and turn every failure into a ProviderError."""
        try:
            return self._retry_rate_limited(request)
        except TwilioRestException as error:
            permanent = error.code in PERMANENT_ERROR_CODES or (
                400 <= error.status < 500 and not _rate_limited(error) and error.status != 408
            )
            raise self._error(f"Twilio {error.status} (code {error.code}): {error.msg}", permanent) from error
        except requests.Timeout as error:
            raise self._error(f"Twilio did not answer in time: {error}", False) from error
        except (requests.RequestException, TwilioException) as error:
            raise self._error(f"Twilio request failed: {error}", False) from error

    def _error(self, message: str, permanent: bool) -> ProviderError:
        PROVIDER_ERRORS.labels(provider=self.name, permanent=str(permanent).lower()).inc()
        logger.warning("twilio error (permanent=%s): %s", permanent, message)
        return ProviderError(message, permanent=permanent)


def _price(value: object) -> Decimal | None:
    """Twilio reports what a call cost as a negative amount (a debit); we store the magnitude."""
    if value in (None, ""):
        return None
    try:
        return abs(Decimal(str(value)))
    except InvalidOperation:
        return None
