"""Talking to an agent from the browser: the socket's permission check, and the same conversation engine as a
phone call, stored as a test call. (The page itself, in Chromium with a fake microphone: test_browser_page.py.)"""

import asyncio
import base64
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Permission

from calls.models import Call, CallStatus, TranscriptTurn
from calls.tests.test_consumers import session_cookie_for
from config.asgi import application
from contacts.models import Suppression
from voice import codec
from voice.synthetic_audio import silence_ulaw, speech_like_ulaw

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
ORIGIN = (b"origin", b"http://127.0.0.1")


async def talk(user, agent, contact) -> tuple[WebsocketCommunicator, bool, int | None]:
    headers = [ORIGIN] + ([(b"cookie", await session_cookie_for(user))] if user is not None else [])
    communicator = WebsocketCommunicator(application, f"/ws/agents/{agent.pk}/talk/?contact={contact.pk}", headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_only_staff_who_may_place_calls_and_see_agents_may_talk(agent, contact, django_user_model):
    _, connected, code = await talk(None, agent, contact)
    assert (connected, code) == (False, 4403)
    clerk = await sync_to_async(django_user_model.objects.create_user)("clerk", password="x", is_staff=True)
    _, connected, code = await talk(clerk, agent, contact)
    assert (connected, code) == (False, 4403)
    assert not await sync_to_async(Call.objects.exists)()  # refused before anything was written

    @sync_to_async
    def grant() -> None:
        clerk.user_permissions.add(*Permission.objects.filter(codename__in=["add_call", "view_agent"]))

    await grant()
    communicator, connected, _ = await talk(clerk, agent, contact)
    assert connected
    await hang_up(communicator)


async def hang_up(communicator: WebsocketCommunicator) -> None:
    """The page's "Hang up": `stop`, then the server closes the socket once the call's end is recorded."""
    await communicator.send_to(text_data=json.dumps({"event": "stop"}))
    async with asyncio.timeout(10):
        while (await communicator.receive_output(timeout=10))["type"] != "websocket.close":
            pass
    await communicator.disconnect()


async def frames_until(communicator: WebsocketCommunicator, wanted, *, timeout: float = 10.0) -> dict:
    """Read the socket (echoing marks at once, as a page whose audio has played) until `wanted(message)`."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await communicator.receive_from(timeout=timeout))
            if message["event"] == "mark":
                await communicator.send_to(text_data=json.dumps(message))
            if wanted(message):
                return message


async def test_the_operators_voice_reaches_the_same_conversation_and_the_call_is_stored(admin_user, agent, contact):
    agent.phrases = {}
    communicator, connected, _ = await talk(admin_user, agent, contact)
    assert connected
    hello = await frames_until(communicator, lambda m: m["event"] == "call")
    opener = await frames_until(communicator, lambda m: m["event"] == "live" and m.get("kind") == "turn")
    assert (opener["role"], opener["index"]) == ("agent", 0)
    assert opener["text"] == "Hello, this is an automated assistant calling."
    # The operator speaks (the simulated STT hears the default caller's first line), then is silent.
    audio = speech_like_ulaw("Yes, this is me speaking.") + silence_ulaw(900)
    for frame in codec.reframe([audio]):
        payload = base64.b64encode(frame).decode()
        await communicator.send_to(text_data=json.dumps({"event": "media", "media": {"payload": payload}}))
    heard = await frames_until(communicator, lambda m: m["event"] == "live" and m.get("role") == "contact")
    assert heard["text"] == "Yes, this is me speaking."
    reply = await frames_until(communicator, lambda m: m["event"] == "live" and m.get("role") == "agent")
    assert reply["latency_ms"]["stt_final"] >= 0
    assert reply["latency_ms"]["llm_first_token"] >= reply["latency_ms"]["stt_final"]
    await hang_up(communicator)

    call = await sync_to_async(Call.objects.get)(pk=hello["call"])
    assert (call.provider, call.status, call.agent_id, call.contact_id) == ("browser", CallStatus.COMPLETED,
                                                                            agent.pk, contact.pk)  # fmt: skip
    texts = await sync_to_async(list)(TranscriptTurn.objects.filter(call=call).values_list("role", "text"))
    assert ("contact", "Yes, this is me speaking.") in texts
    assert call.latency_stats["stt_final"]["n"] >= 1


async def test_an_opt_out_said_in_a_browser_call_is_recorded_but_suppresses_nobody(admin_user, agent, contact):
    from calls.conversation_host import CallConversationHost
    from calls.services.browser import browser_call_start

    call, _ = await sync_to_async(browser_call_start)(agent_id=agent.pk, contact_id=contact.pk)
    host = CallConversationHost()
    host.call_id, host.facts = str(call.pk), {"phone": contact.phone, "provider": "browser"}
    result = await host.run_tool("opt_out", {"reason": "testing"})
    assert result.ok
    assert not await sync_to_async(Suppression.objects.exists)()
    assert (await sync_to_async(Call.objects.get)(pk=call.pk)).outcome == "opted_out"


async def test_a_spanish_agent_talks_spanish_with_the_operator(admin_user, agent, contact):
    agent.language, agent.first_message = "es-MX", "Hola, soy un asistente virtual."
    await sync_to_async(agent.save)()
    communicator, connected, _ = await talk(admin_user, agent, contact)
    assert connected
    await frames_until(communicator, lambda m: m["event"] == "live" and m.get("index") == 0)
    for frame in codec.reframe([speech_like_ulaw("Sí, soy yo.") + silence_ulaw(900)]):
        payload = base64.b64encode(frame).decode()
        await communicator.send_to(text_data=json.dumps({"event": "media", "media": {"payload": payload}}))
    heard = await frames_until(communicator, lambda m: m["event"] == "live" and m.get("role") == "contact")
    assert heard["text"] == "Sí, soy yo."  # the simulated caller speaks the agent's language
    reply = await frames_until(communicator, lambda m: m["event"] == "live" and m.get("role") == "agent")
    assert reply["text"].startswith("Muy bien, gracias.")
    await hang_up(communicator)
