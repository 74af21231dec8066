"""Twilio Media Streams: the JSON messages of a bidirectional `<Connect><Stream>` WebSocket.

Inbound (carrier → us): `connected`, `start`, `media`, `mark`, `dtmf`, `stop`. Outbound (us →
carrier): `media`, `mark`, `clear`. `parse_inbound` validates one text frame into a dataclass and
raises `ProtocolError` on anything else; the `*_message` builders produce each message as the other
side expects it (the simulated carrier builds the inbound ones, our consumer the outbound ones).
Audio is 8 kHz mono μ-law, base64, no header; one inbound frame carries 20 ms (160 bytes).
"""

import base64
import binascii
import functools
import json
from dataclasses import dataclass, field
from typing import NamedTuple

from voice.codec import FRAME_MS, SAMPLE_RATE

FRAME_SECONDS = FRAME_MS / 1000
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": SAMPLE_RATE, "channels": 1}


class ProtocolError(ValueError):
    """A frame that is not a valid Media Streams message."""


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...]
    custom_parameters: dict[str, str] = field(default_factory=dict)
    media_format: dict[str, object] = field(default_factory=dict)


class Media(NamedTuple):
    """Immutable like the other messages; a named tuple because one is built per inbound frame (50 a second
    per call) and a frozen dataclass costs several times as much to construct."""

    track: str
    chunk: int
    timestamp_ms: int
    payload: bytes  # μ-law bytes, already base64-decoded


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Stop:
    call_sid: str


InboundMessage = Connected | Start | Media | Mark | Dtmf | Stop


def _obj(message: dict, key: str) -> dict:
    value = message.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"{message.get('event')!r} message without a {key!r} object")
    return value


def _str(container: dict, key: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"missing or empty {key!r}")
    return value


def parse_inbound(text: str | bytes) -> InboundMessage:
    """One WebSocket text frame from the carrier → a message; ProtocolError if malformed."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError("frame is not JSON") from error
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a JSON object")
    event = message.get("event")
    if event == "media":
        media = _obj(message, "media")
        try:
            # What `base64.b64decode(text, validate=True)` does, without its Python wrapper (a str that is not
            # ASCII raises ValueError here as there).
            payload = binascii.a2b_base64(_str(media, "payload"), strict_mode=True)
            return Media(
                str(media.get("track", "inbound")), int(media.get("chunk", 0)), int(media.get("timestamp", 0)), payload
            )
        except (binascii.Error, ValueError) as error:
            raise ProtocolError(f"bad media frame: {error}") from error
    if event == "start":
        start = _obj(message, "start")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise ProtocolError("customParameters must be an object of strings")
        return Start(
            stream_sid=_str(start, "streamSid"),
            account_sid=str(start.get("accountSid", "")),
            call_sid=_str(start, "callSid"),
            tracks=tuple(start.get("tracks") or ()),
            custom_parameters=params,
            media_format=start.get("mediaFormat") or {},
        )
    if event == "mark":
        return Mark(name=_str(_obj(message, "mark"), "name"))
    if event == "dtmf":
        return Dtmf(digit=_str(_obj(message, "dtmf"), "digit"))
    if event == "stop":
        return Stop(call_sid=str((message.get("stop") or {}).get("callSid", "")))
    if event == "connected":
        return Connected(protocol=str(message.get("protocol", "")), version=str(message.get("version", "")))
    raise ProtocolError(f"unknown event {event!r}")


# Outbound: us → carrier ---------------------------------------------------------------------------


def media_message(stream_sid: str, payload: bytes) -> str:
    """`{"event": "media", "streamSid": …, "media": {"payload": …}}`, assembled around the base64 text:
    it goes out 50 times a second per call, and `json.dumps` of the nested dict costs an order of magnitude more."""
    return f'{_media_prefix(stream_sid)}{base64.b64encode(payload).decode()}"}}}}'


@functools.lru_cache(maxsize=4096)
def _media_prefix(stream_sid: str) -> str:
    return f'{{"event": "media", "streamSid": {json.dumps(stream_sid)}, "media": {{"payload": "'


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})


# Inbound: carrier → us (the simulated carrier speaks these) --------------------------------------


def connected_message() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start_message(
    *, sequence_number: int, stream_sid: str, account_sid: str, call_sid: str, custom_parameters: dict[str, str]
) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid,
                "accountSid": account_sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": custom_parameters,
                "mediaFormat": MEDIA_FORMAT,
            },
        }
    )


def inbound_media_message(
    *, sequence_number: int, stream_sid: str, chunk: int, timestamp_ms: int, payload: bytes
) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(timestamp_ms),
                "payload": base64.b64encode(payload).decode(),
            },
        }
    )


def mark_echo_message(*, sequence_number: int, stream_sid: str, name: str) -> str:
    return json.dumps(
        {"event": "mark", "sequenceNumber": str(sequence_number), "streamSid": stream_sid, "mark": {"name": name}}
    )


def dtmf_message(*, sequence_number: int, stream_sid: str, digit: str) -> str:
    return json.dumps(
        {
            "event": "dtmf",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "dtmf": {"track": "inbound_track", "digit": digit},
        }
    )


def stop_message(*, sequence_number: int, stream_sid: str, account_sid: str, call_sid: str) -> str:
    return json.dumps(
        {
            "event": "stop",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "stop": {"accountSid": account_sid, "callSid": call_sid},
        }
    )


def parse_outbound(text: str | bytes) -> tuple[str, dict]:
    """What the carrier side reads: (event, message) for `media`/`mark`/`clear`; ProtocolError otherwise."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ProtocolError("frame is not JSON") from error
    event = message.get("event") if isinstance(message, dict) else None
    if event not in {"media", "mark", "clear"}:
        raise ProtocolError(f"unknown outbound event {event!r}")
    return event, message
