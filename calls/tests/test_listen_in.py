"""Listen-in: both sides' μ-law to a supervisor's socket, over bounded hops that drop for a slow listener."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from calls import listen_in
from calls.live_events import VOICE_MESSAGE_TYPE, call_group, voice_group
from calls.tests.test_consumers import ORIGIN, refusal, session_cookie_for
from config.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def backlog(layer, channel: str) -> int:
    """Messages waiting on an in-memory layer's channel (it keeps no queue for a channel never sent to)."""
    queue = layer.channels.get(channel)
    return queue.qsize() if queue is not None else 0


async def test_a_listener_that_never_reads_holds_a_bounded_backlog_and_the_call_never_waits(in_memory_layer):
    call_id = str(uuid.uuid4())
    tap = listen_in.open_tap(call_id)
    layer = get_channel_layer()
    never_read = await layer.new_channel()
    tap.listen(never_read, on=True)
    frames = 20_000  # over six minutes of both sides
    for n in range(frames):
        tap.offer("in" if n % 2 else "out", b"\xff" * 160)  # synchronous: the stream never awaits a listener
        if n % 25 == 0:
            await asyncio.sleep(0)  # the stream's own awaits, between frames, let the tap forward
    await asyncio.sleep(0)
    assert backlog(layer, never_read) <= layer.capacity
    assert tap.queue.qsize() <= listen_in.TAP_QUEUE_FRAMES
    assert tap.dropped >= frames - layer.capacity - listen_in.TAP_QUEUE_FRAMES
    listen_in.close_tap(call_id)
    assert listen_in.tap_for(call_id) is None


async def test_a_supervisor_hears_both_sides_of_the_call(supervisor_group, django_user_model, in_memory_layer):
    user = await sync_to_async(django_user_model.objects.create_user)(username="sam", password="x", is_staff=True)
    await sync_to_async(user.groups.add)(supervisor_group)
    call_id = str(uuid.uuid4())
    tap = listen_in.open_tap(call_id)
    layer = get_channel_layer()
    host = await layer.new_channel()  # the call's conversation host, on the call's group
    await layer.group_add(call_group(call_id), host)

    headers = [ORIGIN, (b"cookie", await session_cookie_for(user))]
    communicator = WebsocketCommunicator(application, f"/ws/calls/{call_id}/audio/", headers=headers)
    assert (await communicator.connect())[0]
    announcement = await layer.receive(host)
    assert announcement["type"] == listen_in.LISTEN_MESSAGE_TYPE
    listen_in.handle_listen_message(call_id, announcement)

    tap.offer("in", b"\x01" * 160)
    tap.offer("out", b"\x02" * 160)
    assert await communicator.receive_from(timeout=5) == b"\x00" + b"\x01" * 160  # the callee
    assert await communicator.receive_from(timeout=5) == b"\x01" + b"\x02" * 160  # the agent
    await communicator.disconnect()
    stop = await layer.receive(host)
    listen_in.handle_listen_message(call_id, stop)
    assert stop["action"] == "stop"
    assert not tap.listeners
    listen_in.close_tap(call_id)


async def test_watching_without_the_listen_permission_gets_no_audio(django_user_model):
    from conftest import grant

    user = await sync_to_async(django_user_model.objects.create_user)(username="vic", password="x", is_staff=True)
    await sync_to_async(grant)(user, "view_live_calls")
    cookie = await session_cookie_for(user)
    assert await refusal(f"/ws/calls/{uuid.uuid4()}/audio/", [ORIGIN, (b"cookie", cookie)]) == 4403


async def test_a_supervisors_microphone_reaches_only_the_calls_conversation(supervisor_group, django_user_model,
                                                                          in_memory_layer):  # fmt: skip
    user = await sync_to_async(django_user_model.objects.create_user)(username="sam", password="x", is_staff=True)
    await sync_to_async(user.groups.add)(supervisor_group)
    call_id = str(uuid.uuid4())
    layer = get_channel_layer()
    conversation, watcher = await layer.new_channel(), await layer.new_channel()
    await layer.group_add(voice_group(call_id), conversation)
    await layer.group_add(call_group(call_id), watcher)

    headers = [ORIGIN, (b"cookie", await session_cookie_for(user))]
    communicator = WebsocketCommunicator(application, f"/ws/calls/{call_id}/speak/", headers=headers)
    assert (await communicator.connect())[0]
    await communicator.send_to(bytes_data=b"\x05" * 7)  # not a 20 ms frame: ignored
    await communicator.send_to(bytes_data=b"\x06" * 160)
    assert await layer.receive(conversation) == {"type": VOICE_MESSAGE_TYPE, "payload": b"\x06" * 160}
    await communicator.disconnect()
    assert backlog(layer, watcher) == 0  # watchers of the call never get the voice
    assert backlog(layer, conversation) == 0


async def test_speaking_needs_the_steering_permission(django_user_model):
    from conftest import grant

    user = await sync_to_async(django_user_model.objects.create_user)(username="lin", password="x", is_staff=True)
    await sync_to_async(grant)(user, "view_live_calls", "listen_live_calls")
    cookie = await session_cookie_for(user)
    assert await refusal(f"/ws/calls/{uuid.uuid4()}/speak/", [ORIGIN, (b"cookie", cookie)]) == 4403
