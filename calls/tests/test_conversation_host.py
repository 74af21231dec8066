"""The default voice session on the media consumer: a conversation that persists to its call, and the bad
input a session must survive (the consumer closes on what is not a valid stream; nothing half-written)."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from calls.consumers import CLOSE_PROTOCOL_ERROR, CLOSE_UNAUTHORIZED
from calls.media_tokens import media_token_for
from calls.models import CallEvent, TranscriptTurn
from calls.tests.test_media_consumer import events, opened, start
from voice import media_streams as ms
from voice.pipeline import fallback

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def conversation(settings):
    settings.VOICE_SESSION_FACTORY = "calls.conversation_host.conversation_session"
    settings.TELEPHONY_PROVIDER = "simulated"
    settings.SIMULATED_CARRIER_TIME_SCALE = 0.1
    fallback.clear_cache()


async def closed(communicator: WebsocketCommunicator) -> int | None:
    """Skip what we were still sending (frames queued before the close); the close code."""
    async with asyncio.timeout(10):
        while (output := await communicator.receive_output(timeout=10))["type"] != "websocket.close":
            pass
    return output.get("code")


async def outbound(communicator: WebsocketCommunicator, *, until_mark: bool = True, timeout: float = 5) -> list[dict]:
    """Messages we send the carrier, up to the first chunk mark (not the ":start" one)."""
    seen: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await communicator.receive_from())
            seen.append(message)
            if until_mark and message["event"] == "mark" and not message["mark"]["name"].endswith(":start"):
                return seen


async def test_the_opener_goes_out_as_160_byte_media_frames_then_a_mark_and_is_stored(call, agent):
    agent.first_message = "Hello {{first_name}}, this is an automated assistant. I'm calling about your appointment."
    await database_sync_to_async(agent.save)()
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    first_chunk = await outbound(communicator)
    media = [m for m in first_chunk if m["event"] == "media"]
    assert media
    assert {len(ms.parse_inbound(json.dumps(m)).payload) for m in media} == {160}
    # Echo every mark, as the carrier does once the audio before it played.
    names = [m["mark"]["name"] for m in first_chunk if m["event"] == "mark"]
    for name in names:
        await communicator.send_to(text_data=ms.mark_echo_message(sequence_number=9, stream_sid="MZ1", name=name))
    stop = ms.stop_message(sequence_number=10, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    await closed(communicator)
    await communicator.disconnect()
    turns = await database_sync_to_async(list)(TranscriptTurn.objects.filter(call=call).values_list("role", "text"))
    # The chunk whose mark came back was heard; of the next, never all of it (its mark never came back).
    assert len(turns) == 1
    assert turns[0][1].startswith("Hello Ada,")
    assert not turns[0][1].endswith("about your appointment.")
    assert "conversation-end" in await events(call)


async def test_stop_without_start_closes_4401_and_writes_nothing(call):
    communicator = await opened(call.pk)
    stop = ms.stop_message(sequence_number=1, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}
    assert await events(call) == []


async def test_an_unknown_event_mid_call_closes_4400_and_the_conversation_still_records_its_end(call):
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    await outbound(communicator)
    await communicator.send_to(text_data=json.dumps({"event": "teleport", "streamSid": "MZ1"}))
    assert await closed(communicator) == CLOSE_PROTOCOL_ERROR
    await communicator.disconnect()
    ids = await events(call)
    assert ids[0] == "start:MZ1"
    assert "conversation-end" in ids
    assert "stop:MZ1" in ids


async def test_a_bad_media_payload_closes_4400_without_disturbing_another_call(call, contact, campaign, agent):
    from calls.models import Call

    other = await database_sync_to_async(Call.objects.create)(
        contact=contact, campaign=campaign, agent=agent, to_phone=contact.phone, provider="simulated"
    )
    healthy, broken = await opened(other.pk), await opened(call.pk)
    params = {"token": media_token_for(other.pk)}
    other_start = ms.start_message(sequence_number=1, stream_sid="MZ2", account_sid="AC1", call_sid="CA2",
                                   custom_parameters=params)  # fmt: skip
    await healthy.send_to(text_data=other_start)
    await broken.send_to(text_data=start(call.pk))
    await outbound(broken)
    bad = {"event": "media", "streamSid": "MZ1", "media": {"payload": "!!not base64!!"}}
    await broken.send_to(text_data=json.dumps(bad))
    assert await closed(broken) == CLOSE_PROTOCOL_ERROR
    assert await outbound(healthy)  # the other conversation goes on speaking
    await healthy.disconnect()
    await broken.disconnect()
    assert await database_sync_to_async(CallEvent.objects.filter(call=other, provider_event_id="start:MZ2").exists)()


class UnreachableLayer:
    """A channel layer whose Redis is gone: every operation raises, as a refused connection does."""

    def __init__(self, **config) -> None:
        self.extensions = ["groups"]

    async def new_channel(self, prefix: str = "specific.") -> str:
        raise ConnectionRefusedError("redis is down")

    async def group_add(self, group: str, channel: str) -> None:
        raise ConnectionRefusedError("redis is down")

    async def group_send(self, group: str, message: dict) -> None:
        raise ConnectionRefusedError("redis is down")


async def test_without_a_reachable_channel_layer_the_call_still_speaks_and_records_its_end(call, settings, caplog):
    """The layer only carries AMD verdicts and live-view events: losing it is logged, the call goes on."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "calls.tests.test_conversation_host.UnreachableLayer"}}
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    first_chunk = await outbound(communicator)
    assert any(m["event"] == "media" for m in first_chunk)
    stop = ms.stop_message(sequence_number=10, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    await closed(communicator)
    await communicator.disconnect()
    assert "conversation-end" in await events(call)
    assert "not subscribed to its live group" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []  # expected failures: no tracebacks


class LayerWhoseReceiveTimesOutWhenCancelled:
    """A Redis layer as it behaves under a cancelled read: the receive raises redis' own TimeoutError."""

    left: list[str] = []

    def __init__(self, **config) -> None:
        self.extensions = ["groups"]

    async def new_channel(self, prefix: str = "specific.") -> str:
        return "specific.test!listener"

    async def group_add(self, group: str, channel: str) -> None:
        pass

    async def group_send(self, group: str, message: dict) -> None:
        pass

    async def receive(self, channel: str) -> dict:
        import redis.exceptions

        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise redis.exceptions.TimeoutError("Timeout reading from 127.0.0.1:6379") from None
        return {}

    async def group_discard(self, group: str, channel: str) -> None:
        self.left.append(group)


async def test_a_listener_that_raises_when_cancelled_still_leaves_its_group_and_logs_no_traceback(
    call, settings, caplog
):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "calls.tests.test_conversation_host.LayerWhoseReceiveTimesOutWhenCancelled"}
    }
    LayerWhoseReceiveTimesOutWhenCancelled.left.clear()
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    assert await outbound(communicator)
    stop = ms.stop_message(sequence_number=10, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    await closed(communicator)
    await communicator.disconnect()
    assert "conversation-end" in await events(call)
    assert LayerWhoseReceiveTimesOutWhenCancelled.left == [f"call.{call.pk}", f"voice.{call.pk}"]  # both its groups
    assert "could not report" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


class LayerThatRecords:
    """A layer noting, in order, what the conversation host sends to and leaves (its receive waits forever)."""

    done: list[str] = []

    def __init__(self, **config) -> None:
        self.extensions = ["groups"]

    async def new_channel(self, prefix: str = "specific.") -> str:
        return "specific.test!host"

    async def group_add(self, group: str, channel: str) -> None:
        pass

    async def group_send(self, group: str, message: dict) -> None:
        event = message.get("event", {})
        self.done.append(f"send {group.split('.')[0]} {event.get('kind')}:{event.get('state', '')}")

    async def group_discard(self, group: str, channel: str) -> None:
        self.done.append(f"leave {group.split('.')[0]}")

    async def receive(self, channel: str) -> dict:
        await asyncio.Event().wait()
        return {}


async def test_the_host_leaves_its_groups_before_it_publishes_the_end(call, settings):
    # A message reaching the host's channel after its listener stopped stays in channels_redis' buffer for good:
    # so the host leaves the call's groups before the conversation's end goes out to the call's group.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "calls.tests.test_conversation_host.LayerThatRecords"}}
    LayerThatRecords.done = []
    communicator = await opened(call.pk)
    await communicator.send_to(text_data=start(call.pk))
    assert await outbound(communicator)
    stop = ms.stop_message(sequence_number=10, stream_sid="MZ1", account_sid="AC1", call_sid="CA1")
    await communicator.send_to(text_data=stop)
    await closed(communicator)
    await communicator.disconnect()
    done = LayerThatRecords.done
    assert done.index("leave call") < done.index("send call conversation:ended")
    assert done.index("leave voice") < done.index("send call conversation:ended")
