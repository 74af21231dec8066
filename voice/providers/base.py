"""Ports the rest of Callwright talks to; adapters (twilio, simulated) implement them.

Everything crossing a port is a plain dataclass or string: no SDK type leaves `voice/providers/`.
Every adapter failure is one `ProviderError(message, permanent)`; `permanent` tells callers whether
trying again later can succeed (an invalid number: no; a timeout or a 5xx: maybe).
"""

import abc
import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import BinaryIO


class ProviderError(Exception):
    """A provider refused or failed a request.

    `permanent=True`: the same request will fail again (invalid number, unknown call, bad credentials).
    `permanent=False`: it may succeed later (rate limit, timeout, 5xx); for a call *placement* it also
    means the outcome is unknown — the provider may have placed the call.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class CallState(enum.StrEnum):
    """A call's state as the carrier reports it; the values equal `calls.models.CallStatus`."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @classmethod
    def from_twilio(cls, value: str) -> "CallState":
        """Twilio's `CallStatus` vocabulary (`in-progress`, `no-answer`…) → ours; ValueError if unknown."""
        return cls(value.strip().lower().replace("-", "_"))

    @property
    def terminal(self) -> bool:
        return self in {CallState.COMPLETED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.CANCELED}


class MachineDetection(enum.StrEnum):
    """Answering-machine detection for a call: off, verdict as soon as possible, or after the beep."""

    OFF = "off"
    ENABLE = "Enable"  # fastest verdict: enough to hang up on machines
    DETECT_MESSAGE_END = "DetectMessageEnd"  # waits for the beep: needed to leave a voicemail


@dataclass(frozen=True)
class PlaceCallRequest:
    """Everything a carrier needs to place one outbound call and report on it."""

    to: str
    from_: str
    twiml_url: str
    status_callback_url: str
    amd_callback_url: str
    recording_callback_url: str
    ring_timeout_seconds: int = 30
    time_limit_seconds: int = 600
    machine_detection: MachineDetection = MachineDetection.OFF
    record: bool = False


@dataclass(frozen=True)
class PlacedCall:
    provider_call_id: str
    state: CallState


@dataclass(frozen=True)
class CallStatusReport:
    """What the carrier says about a call when asked (the reaper's source of truth)."""

    provider_call_id: str
    state: CallState
    duration_seconds: int | None = None
    answered_by: str = ""
    price: Decimal | None = None
    price_unit: str = ""


class Telephony(abc.ABC):
    """Places and controls phone calls; the carrier reports progress to our webhooks.

    Contract: `place` is never retried by an adapter except on a rate limit (HTTP 429), because a lost
    answer to a placement may still mean a real call was made. Control requests (`hang_up`,
    `transfer`, `redirect`) are idempotent at the carrier.
    """

    name: str
    #: The reaper asks the carrier about each open call at most this often (seconds): its last contact with
    #: the carrier, beside the callbacks. 0: every pass (a look-up that costs the carrier nothing).
    status_poll_seconds: float = 60.0
    #: A call this carrier never confirmed (no call id) this many seconds after its placement began never
    #: reached it; None: it may have (a lost answer), so only the call's time limit closes it.
    unconfirmed_gone_seconds: float | None = None

    @abc.abstractmethod
    def place(self, request: PlaceCallRequest) -> PlacedCall: ...

    @abc.abstractmethod
    def hang_up(self, provider_call_id: str) -> None:
        """End the call now (a call already ended is not an error)."""

    @abc.abstractmethod
    def fetch_status(self, provider_call_id: str) -> CallStatusReport: ...

    @abc.abstractmethod
    def transfer(self, provider_call_id: str, *, to: str, caller_id: str = "") -> None:
        """Replace the call's instructions with a `<Dial>` to a human at `to`."""

    @abc.abstractmethod
    def say_and_hang_up(self, provider_call_id: str, *, text: str, language: str = "en-US") -> None:
        """Replace the call's instructions: the carrier says `text` itself, then hangs up."""

    @abc.abstractmethod
    def redirect(self, provider_call_id: str, *, twiml_url: str) -> None:
        """Make the carrier fetch new instructions for the live call from `twiml_url`."""

    def download_recording(self, recording_url: str, destination: BinaryIO) -> str:
        """Write the recording at `recording_url` (as the recording callback gave it) into `destination`;
        return its file extension ("mp3", "wav"). A carrier that keeps no recordings refuses, permanently."""
        raise ProviderError(f"{self.name} keeps no recordings", permanent=True)

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a recording at the carrier (one already gone is not an error)."""
        raise ProviderError(f"{self.name} keeps no recordings", permanent=True)

    @abc.abstractmethod
    def validate_signature(self, url: str, params: object, signature: str) -> bool:
        """Whether `signature` (X-Twilio-Signature) signs `url` + `params` with this carrier's token.

        `params` is a form mapping (a Django QueryDict works: repeated keys are read with getlist).
        """
