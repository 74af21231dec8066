"""Twilio's media stream for a call: who gets in, what is written, and what a voice session sees."""

import asyncio
import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator

from calls.consumers import CLOSE_PROTOCOL_ERROR, CLOSE_STREAM_LIVE, CLOSE_UNAUTHORIZED, CLOSE_UNKNOWN_CALL
from calls.media_tokens import media_token_for
from calls.models import Call, CallEvent, CallStatus
from calls.tests.conftest import sign
from config.asgi import application
from voice import media_streams as ms
from voice.sessions import MediaSender, StreamInfo, VoiceSession

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


class RecordingSession(VoiceSession):
    """A stand-in voice session: says a short tone and a mark on start, and notes what it hears."""

    seen: list[tuple] = []

    async def start(self, info: StreamInfo, sender: MediaSender) -> None:
        self.seen.append(("start", info.call_id, info.stream_sid, info.parameters.get("call")))
        await sender.send_audio(b"\x7f" * 320)
        await sender.send_mark("greeting")
        self.sender = sender

    async def on_media(self, payload: bytes) -> None:
        self.seen.append(("media", len(payload)))

    async def on_mark(self, name: str) -> None:
        self.seen.append(("mark", name))
        await self.sender.clear()

    async def on_dtmf(self, digit: str) -> None:
        self.seen.append(("dtmf", digit))

    async def stop(self) -> None:
        self.seen.append(("stop",))


@pytest.fixture
def recording_session(settings):
    settings.VOICE_SESSION_FACTORY = "calls.tests.test_media_consumer.RecordingSession"
    RecordingSession.seen = []
    return RecordingSession


def path_for(call_id: object) -> str:
    return f"/ws/twilio/media/{call_id}/"


def start(call_id: object, *, token: str | None = None, call_sid: str = "CA1") -> str:
    return ms.start_message(
        sequence_number=1,
        stream_sid="MZ1",
        account_sid="AC1",
        call_sid=call_sid,
        custom_parameters={"token": media_token_for(call_id) if token is None else token, "call": str(call_id)},
    )


async def opened(call_id: object, headers: list | None = None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path_for(call_id), headers=headers or [])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def closed_with(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    return output["code"]


async def events(call: Call) -> list[str]:
    return await database_sync_to_async(list)(
        CallEvent.objects.filter(call=call).values_list("provider_event_id", flat=True)
    )


async def test_a_stream_with_the_calls_token_reaches_the_voice_session_and_is_recorded(call, recording_session):
    communicator = await opened(call.pk)  # no Origin header: Twilio sends none
    await communicator.send_to(text_data=ms.connected_message())
    await communicator.send_to(text_data=start(call.pk))
    assert json.loads(await communicator.receive_from()) == json.loads(ms.media_message("MZ1", b"\x7f" * 320))
    assert json.loads(await communicator.receive_from()) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "greeting"},
    }
    payload = b"\xff" * 160
    frame = ms.inbound_media_message(sequence_number=2, stream_sid="MZ1", chunk=1, timestamp_ms=20, payload=payload)
    await communicator.send_to(text_data=frame)
    await communicator.send_to(text_data=ms.dtmf_message(sequence_number=3, stream_sid="MZ1", digit="9"))
    await communicator.send_to(text_data=ms.mark_echo_message(sequence_number=4, stream_sid="MZ1", name="greeting"))
    assert json.loads(await communicator.receive_from()) == {"event": "clear", "streamSid": "MZ1"}
    stop = ms.stop_message(sequence_number=5, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"
    await communicator.wait()
    assert RecordingSession.seen == [
        ("start", str(call.pk), "MZ1", str(call.pk)),
        ("media", 160),
        ("dtmf", "9"),
        ("mark", "greeting"),
        ("stop",),
    ]
    assert await events(call) == ["start:MZ1", "stop:MZ1"]


class ChannellessLayer(InMemoryChannelLayer):
    """The in-memory layer, refusing to hand out a channel: a consumer that asks for one fails the test."""

    async def new_channel(self, prefix="specific."):
        raise AssertionError("the media stream asked the channel layer for a channel")


async def test_the_stream_needs_no_channel_layer_channel_and_ends_cleanly_when_the_socket_drops(
    call, recording_session, settings
):
    """Nobody sends to a media stream through the channel layer, so it must not wait on a layer channel (that
    costs a task and an `asyncio.wait` per frame); a dropped socket still ends the session and is recorded."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "calls.tests.test_media_consumer.ChannellessLayer"}}
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    assert json.loads(await communicator.receive_from())["event"] == "media"
    frame = ms.inbound_media_message(
        sequence_number=2, stream_sid="MZ1", chunk=1, timestamp_ms=20, payload=b"\xff" * 160
    )
    await communicator.send_to(text_data=frame)
    await communicator.disconnect()  # no `stop`: the line dropped
    assert RecordingSession.seen[-2:] == [("media", 160), ("stop",)]
    assert await events(call) == ["start:MZ1", "stop:MZ1"]


class BacklogProbeSession(RecordingSession):
    """Notes, at each turn of the event loop, how many frames it has heard: other work must get turns too."""

    heard_at_ticks: list[int] = []

    async def start(self, info: StreamInfo, sender: MediaSender) -> None:
        self.frames = 0
        self.ticker = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        while True:
            BacklogProbeSession.heard_at_ticks.append(self.frames)
            await asyncio.sleep(0)

    async def on_media(self, payload: bytes) -> None:
        self.frames += 1

    async def stop(self) -> None:
        self.ticker.cancel()


async def test_a_backlog_of_frames_is_worked_off_without_starving_the_rest_of_the_loop(call, settings):
    settings.VOICE_SESSION_FACTORY = "calls.tests.test_media_consumer.BacklogProbeSession"
    BacklogProbeSession.heard_at_ticks = []
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    frame = ms.inbound_media_message(
        sequence_number=2, stream_sid="MZ1", chunk=1, timestamp_ms=20, payload=b"\xff" * 160
    )
    for _ in range(30):  # queued at once, as after a slow start
        await communicator.send_to(text_data=frame)
    await communicator.send_to(text_data=ms.stop_message(sequence_number=3, stream_sid="MZ1", account_sid="AC1",
                                                         call_sid="CA1"))  # fmt: skip
    assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"
    # The session's other task ran between frames, not only before the first and after the last.
    assert len({n for n in BacklogProbeSession.heard_at_ticks if 0 < n < 30}) >= 10


async def test_a_wrong_token_closes_4401_and_writes_nothing(call, recording_session):
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk, token="forged:token"))
    assert await closed_with(communicator) == CLOSE_UNAUTHORIZED
    assert await events(call) == []
    assert RecordingSession.seen == []


async def test_another_calls_token_closes_4401(call, contact, recording_session):
    other = await database_sync_to_async(Call.objects.create)(
        contact=contact, to_phone=contact.phone, provider="simulated"
    )
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk, token=media_token_for(other.pk)))
    assert await closed_with(communicator) == CLOSE_UNAUTHORIZED


async def test_media_before_start_closes_4401(call):
    communicator = await opened(call.pk)
    frame = ms.inbound_media_message(sequence_number=1, stream_sid="MZ1", chunk=1, timestamp_ms=20, payload=b"\xff")
    await communicator.send_to(text_data=frame)
    assert await closed_with(communicator) == CLOSE_UNAUTHORIZED
    assert await events(call) == []


async def test_a_malformed_message_closes_4400(call):
    communicator = await opened(call.pk)
    await communicator.send_to(text_data="{not json")
    assert await closed_with(communicator) == CLOSE_PROTOCOL_ERROR


async def test_a_stream_for_an_unknown_call_closes_4404_and_writes_nothing():
    call_id = uuid.uuid4()
    communicator = await opened(call_id)
    await communicator.send_to(text_data=start(call_id))
    assert await closed_with(communicator) == CLOSE_UNKNOWN_CALL
    assert await database_sync_to_async(CallEvent.objects.count)() == 0


async def test_a_stream_for_a_call_that_has_ended_closes_4404(call):
    from calls.services import call_transition

    await database_sync_to_async(call_transition)(call_id=call.pk, status=CallStatus.COMPLETED)
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    assert await closed_with(communicator) == CLOSE_UNKNOWN_CALL
    assert await events(call) == []


async def test_a_forged_handshake_signature_is_refused(call):
    communicator = WebsocketCommunicator(application, path_for(call.pk), headers=[(b"x-twilio-signature", b"Zm9yZ2Vk")])
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_valid_handshake_signature_is_accepted(call):
    signature = sign(f"ws://testserver{path_for(call.pk)}", {}).encode()
    communicator = WebsocketCommunicator(application, path_for(call.pk), headers=[(b"x-twilio-signature", signature)])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


async def test_the_socket_closing_without_stop_still_records_the_end(call, recording_session):
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    await communicator.receive_from()
    await communicator.receive_from()
    await communicator.disconnect()
    assert await events(call) == ["start:MZ1", "stop:MZ1"]
    assert RecordingSession.seen[-1] == ("stop",)


class LateSession(RecordingSession):
    """Still sends while it stops, as a session with audio queued would."""

    async def stop(self) -> None:
        await self.sender.send_audio(b"\x7f" * 160)
        await self.sender.send_mark("late")
        await self.sender.clear()
        await self.sender.hang_up()
        self.seen.append(("stop",))


async def test_nothing_is_sent_after_the_carriers_stop_even_by_a_session_that_tries(call, settings):
    settings.VOICE_SESSION_FACTORY = "calls.tests.test_media_consumer.LateSession"
    RecordingSession.seen = []
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    assert json.loads(await communicator.receive_from())["streamSid"] == "MZ1"
    assert json.loads(await communicator.receive_from())["streamSid"] == "MZ1"
    stop = ms.stop_message(sequence_number=5, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close"}
    await communicator.disconnect()
    assert RecordingSession.seen[-1] == ("stop",)
    assert await events(call) == ["start:MZ1", "stop:MZ1"]


async def test_a_second_stream_for_a_live_call_is_refused_and_logged(call, recording_session, caplog):
    first = await opened(call.pk)
    await first.send_to(text_data=start(call.pk))
    await first.receive_from()
    second = await opened(call.pk)
    second_start = ms.start_message(sequence_number=1, stream_sid="MZ2", account_sid="AC1", call_sid="CA1",
                                    custom_parameters={"token": media_token_for(call.pk)})  # fmt: skip
    await second.send_to(text_data=second_start)
    assert await closed_with(second) == CLOSE_STREAM_LIVE
    assert "refused: the call has a live stream" in caplog.text
    assert [seen[0] for seen in RecordingSession.seen] == ["start"]  # the second stream never reached a session
    await first.disconnect()
    assert await events(call) == ["start:MZ1", "stop:MZ1"]


async def test_with_twilio_credentials_a_valid_token_without_a_handshake_signature_is_refused(call, settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "twilio-test-token"
    settings.TELEPHONY_PROVIDER = "twilio"
    communicator = WebsocketCommunicator(application, path_for(call.pk))
    connected, _ = await communicator.connect()
    assert not connected
    signature = sign(f"ws://testserver{path_for(call.pk)}", {}, "twilio-test-token").encode()
    signed = WebsocketCommunicator(application, path_for(call.pk), headers=[(b"x-twilio-signature", signature)])
    connected, _ = await signed.connect()
    assert connected
    await signed.disconnect()
