"""The live WebSockets: the board (coalesced per call) and a call's feed; only supervisors get a byte."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from calls.live_events import LIVE_CALLS_GROUP, call_group
from calls.live_hub import board_hub
from config.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
BOARD = "/ws/calls/live/"
ORIGIN = (b"origin", b"http://127.0.0.1")


async def session_cookie_for(user) -> bytes:
    from django.test import Client

    client = Client()
    await sync_to_async(client.force_login)(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


@pytest.fixture
def supervisor(django_user_model, supervisor_group):
    user = django_user_model.objects.create_user(username="sam", password="x", is_staff=True)
    user.groups.add(supervisor_group)
    return user


async def connect(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, bool, int | None]:
    """A refused browser is accepted and closed at once with 4403 (`refusal`): a refused handshake would reach
    the page as 1006, without a reason."""
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def refusal(path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """The code a refused browser's socket is closed with, right after it was accepted."""
    communicator, connected, _ = await connect(path, headers)
    assert connected
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    await communicator.disconnect()
    return output["code"]


def event(call: str, **fields) -> dict:
    return {"type": "call.event", "event": {"call": call, **fields}}


async def test_a_supervisor_gets_one_coalesced_update_per_call_with_the_latest_of_each_field(supervisor):
    communicator, connected, _ = await connect(BOARD, [ORIGIN, (b"cookie", await session_cookie_for(supervisor))])
    assert connected
    layer = get_channel_layer()
    for n in range(30):
        await layer.group_send(LIVE_CALLS_GROUP, event("a", kind="turn", index=n + 1, role="agent", text=f"line {n}",
                                                       latency_ms={"llm_first_token": n}))  # fmt: skip
    await layer.group_send(LIVE_CALLS_GROUP, event("a", kind="status", status="in_progress", phone="+***0143"))
    await layer.group_send(LIVE_CALLS_GROUP, event("b", kind="status", status="ringing", phone="+***0110"))

    message = await communicator.receive_json_from(timeout=5)
    assert message == {
        "calls": {
            "a": {"last_utterance": {"role": "agent", "text": "line 29", "interrupted": None},
                  "latency_ms": {"llm_first_token": 29}, "status": "in_progress", "phone": "+***0143"},
            "b": {"status": "ringing", "phone": "+***0110"},
        }
    }  # fmt: skip
    await layer.group_send(LIVE_CALLS_GROUP, event("c", kind="status", status="initiated"))
    assert await communicator.receive_json_from(timeout=5) == {"calls": {"c": {"status": "initiated"}}}  # no leftovers
    await communicator.disconnect()


async def test_a_board_watcher_that_never_reads_holds_one_pending_update_per_call():
    """A watcher's send never returns (a browser that stopped reading): the hub keeps receiving and flushing,
    and what it keeps for that watcher stays one patch per call instead of growing with the events; the
    other watchers are not held up."""
    hub = board_hub()
    stuck = asyncio.Event()
    delivered: list[str] = []

    async def never_returns(text: str) -> None:
        stuck.set()
        await asyncio.Event().wait()

    async def reads(text: str) -> None:
        delivered.append(text)

    slow = hub.subscribe("slow", never_returns)
    hub.subscribe("fast", reads)
    calls = [str(uuid.uuid4()) for _ in range(20)]
    for n in range(5000):
        hub.board.add(event(calls[n % 20], kind="turn", role="contact", text=f"word {n}")["event"])
        if n % 100 == 99:
            hub.flush()
            await asyncio.sleep(0)  # the watchers' sends run
    await stuck.wait()
    assert len(slow.backlog) == 20
    assert slow.backlog[calls[-1]]["last_utterance"]["text"] == "word 4999"
    assert len(delivered) == 50  # the reading watcher got every flush
    hub.unsubscribe("slow")
    hub.unsubscribe("fast")


async def test_a_calls_feed_forwards_every_event_in_order(supervisor):
    call_id = uuid.uuid4()
    cookie = await session_cookie_for(supervisor)
    communicator, connected, _ = await connect(f"/ws/calls/{call_id}/", [ORIGIN, (b"cookie", cookie)])
    assert connected
    layer = get_channel_layer()
    for n in range(3):
        await layer.group_send(call_group(call_id), event(str(call_id), kind="turn", index=n, text=f"t{n}"))
    received = [await communicator.receive_json_from(timeout=5) for _ in range(3)]
    assert [m["text"] for m in received] == ["t0", "t1", "t2"]
    await communicator.disconnect()


async def test_anonymous_browsers_are_refused_with_4403():
    for path in (BOARD, f"/ws/calls/{uuid.uuid4()}/"):
        assert await refusal(path, [ORIGIN]) == 4403


async def test_staff_without_the_live_permission_are_refused_with_4403(django_user_model):
    user = await sync_to_async(django_user_model.objects.create_user)(username="clerk", password="x", is_staff=True)
    cookie = await session_cookie_for(user)
    for path in (BOARD, f"/ws/calls/{uuid.uuid4()}/"):
        assert await refusal(path, [ORIGIN, (b"cookie", cookie)]) == 4403


async def test_a_page_from_another_origin_is_refused(supervisor):
    cookie = await session_cookie_for(supervisor)
    communicator, connected, _ = await connect(BOARD, [(b"origin", b"https://evil.example"), (b"cookie", cookie)])
    assert not connected
    await communicator.disconnect()
