"""End to end: the simulated carrier places calls against the app served as in production (config.server, uvicorn).

The carrier runs in this (the placing) process and reaches the server over loopback exactly as
Twilio would: signed TwiML fetch, media WebSocket, signed status and AMD callbacks. Calls run ten
times faster than real time (SIMULATED_CARRIER_TIME_SCALE).
"""

import time

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from calls.models import Call, CallEvent, CallStatus
from calls.services import call_create, call_place
from calls.tests.live_server import serve_live, use_carrier
from campaigns.services.dispatch import call_settings
from voice import media_streams
from voice.providers.simulated.carrier import SimulatedCarrier, command_key
from voice.providers.simulated.personas import PERSONAS
from voice.tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def probe_server_url(django_db_setup, django_db_blocker):
    """The app with a probe session that plays audio with marks, for the carrier's mark and clear tests."""
    with serve_live(django_db_blocker, VOICE_SESSION_FACTORY="calls.tests.sessions.MarkProbeSession") as base:
        yield base


@pytest.fixture
def probe_carrier_settings(settings, probe_server_url):
    return use_carrier(settings, probe_server_url)


def place(contact, campaign=None, *, persona: str) -> Call:
    call = call_create(
        contact_id=contact.pk,
        to_phone=contact.phone,
        provider="simulated",
        campaign_id=campaign.pk if campaign else None,
        **(call_settings(campaign) if campaign else {}),
    )
    django_settings.SIMULATED_CARRIER_PERSONA = persona
    call_place(call_id=call.pk)
    return call


def settled(call: Call, *, timeout: float = 40.0) -> Call:
    """Wait until the call is terminal and its carrier has finished with it (late callbacks included)."""
    deadline = time.monotonic() + timeout
    carrier = SimulatedCarrier.get()
    while time.monotonic() < deadline:
        call = Call.objects.get(pk=call.pk)
        if call.is_terminal and call.provider_call_id not in carrier.calls:
            return call
        time.sleep(0.1)
    raise AssertionError(f"call still {call.status} after {timeout}s: {event_ids(call)}")


def event_ids(call: Call) -> list[str]:
    """The carrier's events (the conversation's own `system` events — tools, end — are left out)."""
    events = CallEvent.objects.filter(call=call).exclude(kind=CallEvent.Kind.SYSTEM)
    return [f"{e.kind}:{e.provider_event_id.split(':MZ')[0]}" for e in events]


def test_a_call_that_is_answered_runs_through_twiml_media_and_every_callback(probe_carrier_settings, contact):
    call = settled(place(contact, persona="answers_and_talks"))
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds >= 10  # the persona's script is ~14 s of real-time audio
    assert event_ids(call) == [
        "status:0:initiated",
        "status:1:ringing",
        "status:2:in-progress",
        "media:start",
        "media:stop",
        "status:3:completed",
    ]
    assert call.started_at <= call.answered_at <= call.ended_at


def test_marks_come_back_after_their_audio_has_played_and_at_once_on_clear(probe_carrier_settings, contact):
    from calls.tests.sessions import DROPPED_SECONDS, PLAYED_SECONDS

    persona = PERSONAS["answers_and_talks"]
    # The dropped audio outlasts the whole call: its mark can only come back through `clear`.
    assert persona.ring_seconds + sum(getattr(step, "seconds", 0) for step in persona.script) < DROPPED_SECONDS
    call = settled(place(contact, persona="answers_and_talks"))
    marks = {e.provider_event_id: e.payload["inbound_frames_before"] for e in call.events.filter(kind="system")}
    assert list(marks) == ["mark:played", "mark:dropped"]
    # On the carrier's clock (it sends one inbound frame per 20 ms it plays): not before that audio had played.
    assert marks["mark:played"] >= PLAYED_SECONDS / media_streams.FRAME_SECONDS


def test_a_busy_callee_ends_busy_without_a_stream(carrier_settings, contact):
    call = settled(place(contact, persona="busy"))
    assert call.status == CallStatus.BUSY
    assert event_ids(call) == ["status:0:initiated", "status:1:ringing", "status:2:busy"]


def test_nobody_answering_ends_no_answer_at_the_ring_timeout(carrier_settings, contact, campaign):
    campaign.ring_timeout_seconds = 5
    campaign.answering_machine_policy = "off"
    campaign.save()
    call = settled(place(contact, campaign, persona="no_answer"))
    assert call.status == CallStatus.NO_ANSWER
    assert event_ids(call) == ["status:0:initiated", "status:1:ringing", "status:2:no-answer"]


def test_a_voicemail_is_detected_after_the_beep(carrier_settings, contact, campaign):
    campaign.answering_machine_policy = "leave_voicemail"
    campaign.save()
    call = settled(place(contact, campaign, persona="voicemail"))
    assert call.status == CallStatus.COMPLETED
    assert call.answered_by == "machine_end_beep"
    assert "amd:machine_end_beep" in event_ids(call)


def test_with_chaos_callbacks_arrive_twice_and_out_of_order_yet_are_stored_once(carrier_settings, contact):
    carrier_settings.SIMULATED_CARRIER_CHAOS = True
    call = settled(place(contact, persona="hangs_up_mid_call"))
    assert call.status == CallStatus.COMPLETED
    statuses = sorted(e for e in event_ids(call) if e.startswith("status:"))
    assert statuses == ["status:0:initiated", "status:1:ringing", "status:2:in-progress", "status:3:completed"]


def test_hanging_up_through_the_adapter_ends_the_call(carrier_settings, contact):
    from voice.providers.selection import telephony

    call = place(contact, persona="voicemail")
    wait_until(CallEvent.objects.filter(call=call, kind=CallEvent.Kind.MEDIA).exists, what="the media stream")
    telephony().hang_up(Call.objects.get(pk=call.pk).provider_call_id)
    call = settled(call)
    assert call.status == CallStatus.COMPLETED
    # Hung up before the persona's script (on the carrier's clock) would have ended the call.
    assert call.duration_seconds < sum(getattr(step, "seconds", 0) for step in PERSONAS["voicemail"].script)


def test_a_hang_up_from_another_process_arrives_through_the_shared_cache(carrier_settings, contact):
    call = place(contact, persona="voicemail")
    wait_until(CallEvent.objects.filter(call=call, kind=CallEvent.Kind.MEDIA).exists, what="the media stream")
    cache.set(command_key(Call.objects.get(pk=call.pk).provider_call_id), ("hangup", ""))
    assert settled(call).status == CallStatus.COMPLETED


def test_every_persona_ends_in_a_final_status(carrier_settings, contact, campaign):
    campaign.ring_timeout_seconds = 5
    campaign.save()
    for name in ("asks_removal", "interrupts"):
        call = settled(place(contact, campaign, persona=name))
        assert call.status == CallStatus.COMPLETED, name
    assert set(PERSONAS) >= {"asks_removal", "interrupts"}


def test_with_the_shared_cache_down_a_simulated_call_still_runs_and_sends_its_final_status(carrier_settings, contact):
    from calls.tests.test_tasks import unused_port

    carrier_settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                           "LOCATION": f"redis://127.0.0.1:{unused_port()}/0"}}  # fmt: skip
    call = settled(place(contact, persona="hangs_up_mid_call"))
    assert call.status == CallStatus.COMPLETED
    assert event_ids(call)[-1] == "status:3:completed"
