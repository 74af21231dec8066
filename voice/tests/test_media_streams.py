import base64
import json

import pytest

from voice import media_streams as ms


def test_it_reads_the_start_message_with_custom_parameters():
    text = ms.start_message(
        sequence_number=1, stream_sid="MZ1", account_sid="AC1", call_sid="CA1", custom_parameters={"token": "t"}
    )
    start = ms.parse_inbound(text)
    assert start == ms.Start(
        stream_sid="MZ1",
        account_sid="AC1",
        call_sid="CA1",
        tracks=("inbound",),
        custom_parameters={"token": "t"},
        media_format={"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    )


def test_it_reads_a_media_frame_as_mulaw_bytes():
    payload = bytes(range(160))
    text = ms.inbound_media_message(sequence_number=3, stream_sid="MZ1", chunk=2, timestamp_ms=40, payload=payload)
    assert ms.parse_inbound(text) == ms.Media(track="inbound", chunk=2, timestamp_ms=40, payload=payload)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ms.connected_message(), ms.Connected(protocol="Call", version="1.0.0")),
        (ms.mark_echo_message(sequence_number=4, stream_sid="MZ1", name="turn1"), ms.Mark(name="turn1")),
        (ms.dtmf_message(sequence_number=5, stream_sid="MZ1", digit="9"), ms.Dtmf(digit="9")),
        (ms.stop_message(sequence_number=6, stream_sid="MZ1", account_sid="AC1", call_sid="CA1"), ms.Stop("CA1")),
    ],
)
def test_it_reads_every_other_inbound_event(text, expected):
    assert ms.parse_inbound(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        json.dumps({"event": "teleport"}),
        json.dumps({"event": "media", "media": {"payload": "***not base64***"}}),
        json.dumps({"event": "media"}),
        json.dumps({"event": "start", "start": {"streamSid": "MZ1"}}),
        json.dumps({"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {"a": 1}}}),
        json.dumps({"event": "mark", "mark": {}}),
    ],
)
def test_it_refuses_malformed_messages(text):
    with pytest.raises(ms.ProtocolError):
        ms.parse_inbound(text)


def test_outbound_messages_have_twilios_shape():
    assert json.loads(ms.media_message("MZ1", b"\xff\x7f")) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": base64.b64encode(b"\xff\x7f").decode()},
    }
    # Assembled by hand for speed, it is still JSON whatever the stream id holds.
    assert json.loads(ms.media_message('MZ"\\1', b"\x00")) == {
        "event": "media",
        "streamSid": 'MZ"\\1',
        "media": {"payload": "AA=="},
    }
    assert json.loads(ms.mark_message("MZ1", "m1")) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "m1"}}
    assert json.loads(ms.clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
    assert ms.parse_outbound(ms.clear_message("MZ1"))[0] == "clear"
    with pytest.raises(ms.ProtocolError):
        ms.parse_outbound(ms.connected_message())
