"""The live-calls WebSocket: staff who may view calls get events; nobody else gets a byte."""

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from calls.live_events import LIVE_CALLS_GROUP
from config.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
PATH = "/ws/calls/live/"


async def session_cookie_for(user) -> bytes:
    from asgiref.sync import sync_to_async
    from django.test import Client

    client = Client()
    await sync_to_async(client.force_login)(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def connect(headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_staff_receive_live_call_events(admin_user):
    cookie = await session_cookie_for(admin_user)
    communicator, connected, _ = await connect([(b"origin", b"http://127.0.0.1"), (b"cookie", cookie)])
    assert connected
    await get_channel_layer().group_send(
        LIVE_CALLS_GROUP, {"type": "call.event", "event": {"call": "abc", "status": "ringing"}}
    )
    assert await communicator.receive_json_from() == {"call": "abc", "status": "ringing"}
    await communicator.disconnect()


async def test_anonymous_browsers_are_refused():
    communicator, connected, code = await connect([(b"origin", b"http://127.0.0.1")])
    assert not connected
    assert code == 4403
    await communicator.disconnect()


async def test_logged_in_users_without_permission_are_refused(django_user_model):
    from asgiref.sync import sync_to_async

    user = await sync_to_async(django_user_model.objects.create_user)(username="clerk", password="x", is_staff=True)
    communicator, connected, code = await connect(
        [(b"origin", b"http://127.0.0.1"), (b"cookie", await session_cookie_for(user))]
    )
    assert not connected
    assert code == 4403
    await communicator.disconnect()


async def test_a_page_from_another_origin_is_refused(admin_user):
    cookie = await session_cookie_for(admin_user)
    communicator, connected, _ = await connect([(b"origin", b"https://evil.example"), (b"cookie", cookie)])
    assert not connected
    await communicator.disconnect()
