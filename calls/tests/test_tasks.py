"""Placing calls (once), hanging up, and the reaper — through the real adapters and the fake Twilio API."""

import datetime
import socket
import time
import uuid

import pytest
from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus
from calls.tasks import place_call, reap_stale_calls
from contacts.models import Contact
from voice.providers.base import CallState, CallStatusReport
from voice.providers.simulated.carrier import FINAL_TTL_SECONDS, LIVE_TTL_SECONDS, missing_key, status_key
from voice.tests.waiting import wait_until

pytestmark = pytest.mark.django_db


def refreshed(call: Call) -> Call:
    return Call.objects.get(pk=call.pk)


def test_placing_sends_the_calls_own_settings_and_stores_the_call_sid(call, twilio_settings, fake_twilio):
    Call.objects.filter(pk=call.pk).update(
        ring_timeout_seconds=20,
        max_duration_seconds=120,
        answering_machine_policy="leave_voicemail",
        record=True,
        from_phone="+12025550100",
    )
    place_call(str(call.pk))
    (sent,) = fake_twilio.requests
    assert sent.value("Timeout") == "20"
    assert sent.value("TimeLimit") == "120"
    assert sent.value("MachineDetection") == "DetectMessageEnd"
    assert sent.value("Record") == "true"
    assert sent.value("From") == "+12025550100"
    assert sent.value("Url") == f"http://testserver/twilio/voice/{call.pk}/"
    assert sent.value("StatusCallback") == f"http://testserver/twilio/status/{call.pk}/"
    assert sent.value("AsyncAmdStatusCallback") == f"http://testserver/twilio/amd/{call.pk}/"
    assert sent.value("RecordingStatusCallback") == f"http://testserver/twilio/recording/{call.pk}/"
    placed = refreshed(call)
    assert placed.status == CallStatus.INITIATED
    assert placed.provider_call_id.startswith("CA")


def test_placing_twice_sends_one_request(call, twilio_settings, fake_twilio):
    place_call(str(call.pk))
    place_call(str(call.pk))
    assert len(fake_twilio.requests) == 1


def test_a_call_without_a_campaign_gets_default_limits_and_no_detection(contact, twilio_settings, fake_twilio):
    call = Call.objects.create(contact=contact, to_phone=contact.phone, provider="twilio")
    place_call(str(call.pk))
    (sent,) = fake_twilio.requests
    assert sent.value("Timeout") == "30"
    assert sent.value("TimeLimit") == "600"
    assert not sent.values("MachineDetection")


def test_a_permanent_error_fails_the_call_with_its_reason_and_notifies(
    call, twilio_settings, fake_twilio, django_capture_on_commit_callbacks
):
    from calls import hooks

    seen = []
    hooks.register_call_finished(seen.append)
    fake_twilio.error(400, 21211, "The 'To' number is not a valid phone number.")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            place_call(str(call.pk))
    finally:
        hooks.unregister_call_finished(seen.append)
    failed = refreshed(call)
    assert failed.status == CallStatus.FAILED
    assert "21211" in failed.failure_reason
    assert seen == [call.pk]


def test_a_5xx_leaves_the_call_open_for_its_callbacks_or_the_reaper(call, twilio_settings, fake_twilio):
    fake_twilio.error(500, 20500, "Internal Server Error")
    place_call(str(call.pk))
    assert len(fake_twilio.requests) == 1
    open_call = refreshed(call)
    assert open_call.status == CallStatus.INITIATED
    assert "500" in open_call.failure_reason
    assert open_call.events.filter(kind=CallEvent.Kind.SYSTEM, provider_event_id="place-error").exists()


def test_a_429_is_retried_and_the_call_is_placed(call, twilio_settings, fake_twilio):
    fake_twilio.error(429, 20429, "Too Many Requests")
    place_call(str(call.pk))
    assert len(fake_twilio.requests) == 2
    assert refreshed(call).provider_call_id.startswith("CA")


def make_stale(call: Call, *, sid: str = "", minutes: int = 60, status: str = CallStatus.IN_PROGRESS) -> Call:
    """The call placed `minutes` ago and left `status` (60: past its time limit of 30 s + 600 s + 300 s)."""
    then = timezone.now() - datetime.timedelta(minutes=minutes)
    Call.objects.filter(pk=call.pk).update(status=status, provider_call_id=sid, created_at=then, started_at=then)
    return refreshed(call)


def test_the_reaper_closes_a_stale_call_as_the_carrier_reports_it(call, twilio_settings, fake_twilio):
    make_stale(call, sid="CA" + "c" * 32)
    fake_twilio.call_status = {"status": "completed", "duration": "37", "answered_by": "human", "price": "-0.02"}
    assert reap_stale_calls() == 1
    reaped = refreshed(call)
    assert reaped.status == CallStatus.COMPLETED
    assert reaped.duration_seconds == 37
    assert reaped.answered_by == "human"
    assert reaped.events.filter(kind=CallEvent.Kind.SYSTEM, provider_event_id="reaped").count() == 1
    assert reap_stale_calls() == 0  # idempotent
    assert reaped.events.filter(provider_event_id="reaped").count() == 1


def test_a_twilio_call_whose_final_status_was_lost_is_closed_after_a_minute_not_its_time_limit(
    call, twilio_settings, fake_twilio
):
    make_stale(call, sid="CA" + "c" * 32, minutes=2)  # far inside its 15.5-minute time limit
    fake_twilio.call_status = {"status": "completed", "duration": "42", "answered_by": "human"}
    assert reap_stale_calls() == 1
    reaped = refreshed(call)
    assert (reaped.status, reaped.duration_seconds) == (CallStatus.COMPLETED, 42)
    assert [r.method for r in fake_twilio.requests] == ["GET"]


def test_a_live_twilio_call_is_asked_about_once_a_poll_period_and_left_up(call, twilio_settings, fake_twilio):
    make_stale(call, sid="CA" + "c" * 32, minutes=2)
    fake_twilio.call_status = {"status": "in-progress"}
    assert reap_stale_calls() == 0
    assert reap_stale_calls() == 0  # the carrier said "live" within the poll period: not asked again
    assert [r.method for r in fake_twilio.requests] == ["GET"]  # no hang-up: it is within its time limit
    assert refreshed(call).status == CallStatus.IN_PROGRESS


def test_the_reaper_leaves_calls_placed_within_the_poll_period_to_their_callbacks(call, twilio_settings, fake_twilio):
    Call.objects.filter(pk=call.pk).update(
        status=CallStatus.RINGING, provider_call_id="CA" + "c" * 32, started_at=timezone.now()
    )
    assert reap_stale_calls() == 0
    assert fake_twilio.requests == []


def test_the_reaper_fails_a_call_the_carrier_does_not_know(call, twilio_settings, fake_twilio):
    make_stale(call, sid="CA" + "c" * 32)
    fake_twilio.error(404, 20404, "The requested resource was not found")
    assert reap_stale_calls() == 1
    reaped = refreshed(call)
    assert reaped.status == CallStatus.FAILED
    assert "Unknown to the carrier" in reaped.failure_reason


def test_the_reaper_retries_later_when_the_carrier_is_down(call, twilio_settings, fake_twilio):
    make_stale(call, sid="CA" + "c" * 32)
    fake_twilio.error(503, 20500, "Service Unavailable")
    assert reap_stale_calls() == 0
    assert refreshed(call).status == CallStatus.IN_PROGRESS


def test_the_reaper_hangs_up_a_call_still_up_past_its_limit(call, twilio_settings, fake_twilio):
    make_stale(call, sid="CA" + "c" * 32)
    fake_twilio.call_status = {"status": "in-progress"}
    assert reap_stale_calls() == 0
    assert [r.method for r in fake_twilio.requests] == ["GET", "POST"]  # the status, then the hang-up
    assert fake_twilio.requests[-1].form == [("Status", "completed")]


def test_the_reaper_fails_a_twilio_call_that_never_got_a_call_sid_only_past_its_limit(
    call, twilio_settings, fake_twilio
):
    make_stale(call, minutes=5, status=CallStatus.INITIATED)  # Twilio may have placed it: its answer was lost
    assert reap_stale_calls() == 0
    make_stale(call, minutes=60, status=CallStatus.INITIATED)
    assert reap_stale_calls() == 1
    assert refreshed(call).status == CallStatus.FAILED


def test_the_reaper_fails_a_simulated_call_never_confirmed_after_half_a_minute(call):
    make_stale(call, minutes=1, status=CallStatus.INITIATED)  # claimed, then its process died before the id
    assert reap_stale_calls() == 1
    assert refreshed(call).failure_reason == "The carrier never confirmed this call."


def test_a_simulated_call_whose_owner_died_is_failed_once_missing_for_a_whole_heartbeat_lifetime(call):
    from django.core.cache import cache

    sid = "CA" + uuid.uuid4().hex
    make_stale(call, sid=sid, minutes=1)  # its owner's heartbeat stopped: no status in the cache
    assert reap_stale_calls() == 0  # the first miss is only noted: a cache that was just emptied looks the same
    assert refreshed(call).status == CallStatus.IN_PROGRESS
    cache.set(missing_key(sid), time.time() - LIVE_TTL_SECONDS)  # missing since a whole time-to-live
    assert reap_stale_calls() == 1
    reaped = refreshed(call)
    assert reaped.status == CallStatus.FAILED
    assert "Unknown to the carrier" in reaped.failure_reason


def test_a_simulated_call_whose_owner_still_beats_stays_open_and_its_old_miss_is_forgotten(call):
    from django.core.cache import cache

    sid = "CA" + uuid.uuid4().hex
    make_stale(call, sid=sid, minutes=1)
    cache.set(missing_key(sid), time.time() - 60)  # missed once, long ago (the cache was emptied)
    cache.set(status_key(sid), CallStatusReport(provider_call_id=sid, state=CallState.IN_PROGRESS), LIVE_TTL_SECONDS)
    assert reap_stale_calls() == 0
    assert refreshed(call).status == CallStatus.IN_PROGRESS
    assert cache.get(missing_key(sid)) is None


def test_the_reaper_closes_a_simulated_call_as_its_carrier_last_reported_it(call):
    from django.core.cache import cache

    sid = "CA" + uuid.uuid4().hex
    make_stale(call, sid=sid, minutes=1)
    report = CallStatusReport(provider_call_id=sid, state=CallState.BUSY, duration_seconds=0)
    cache.set(status_key(sid), report, FINAL_TTL_SECONDS)
    assert reap_stale_calls() == 1
    assert refreshed(call).status == CallStatus.BUSY


def test_the_reaper_closes_nothing_while_the_cache_is_down(call, settings):
    make_stale(call, sid="CA" + uuid.uuid4().hex, minutes=1)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{unused_port()}/0"}}  # fmt: skip
    assert reap_stale_calls() == 0
    assert refreshed(call).status == CallStatus.IN_PROGRESS


def test_the_simulated_carrier_rewrites_its_live_calls_status_every_heartbeat(settings):
    from django.core.cache import cache

    from voice.providers.base import PlaceCallRequest
    from voice.providers.simulated.carrier import SimulatedCarrier

    settings.SIMULATED_CARRIER_PERSONA = "no_answer"  # rings until its ring timeout: long enough to watch
    request = PlaceCallRequest(to="+12025550101", from_="+12025550100", twiml_url="", status_callback_url="",
                               amd_callback_url="", recording_callback_url="", ring_timeout_seconds=600)  # fmt: skip
    carrier = SimulatedCarrier.get()
    sid = carrier.place(request)
    try:
        cache.delete(status_key(sid))  # as a Redis that came back empty
        report = wait_until(lambda: cache.get(status_key(sid)), what="the heartbeat to rewrite the status")
        assert not report.state.terminal
    finally:
        carrier.loop.call_soon_threadsafe(carrier.calls[sid].commands.put_nowait, ("hangup", ""))


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def zone_at_local_hour(hour: int) -> str:
    """A fixed-offset zone whose clock shows `hour` now, so the calling-hours rule is tested at any wall time."""
    offset = next(o for o in range(-12, 15) if (timezone.now().hour + o) % 24 == hour)
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def test_the_admin_action_places_a_test_call_to_each_selected_contact(
    admin_client, contact, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATED_CARRIER_PERSONA = "busy"
    Contact.objects.filter(pk=contact.pk).update(time_zone=zone_at_local_hour(12))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/contacts/contact/", {"action": "place_test_call", "_selected_action": [contact.pk]}, follow=True
        )
    assert response.status_code == 200
    call = Call.objects.get(contact=contact)
    assert call.provider == "simulated"
    assert call.campaign is None
    assert call.provider_call_id.startswith("CA")  # placed on commit
    assert "Placed 1 test call" in response.content.decode()


def admin_messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


@pytest.mark.django_db
def test_a_test_call_outside_the_callees_calling_hours_is_refused_saying_when_they_open(admin_client, contact):
    from zoneinfo import ZoneInfo

    night = zone_at_local_hour(3)
    Contact.objects.filter(pk=contact.pk).update(time_zone=night)
    opens = timezone.now().astimezone(ZoneInfo(night)).replace(hour=8, minute=0, second=0, microsecond=0)
    response = admin_client.post(
        "/admin/contacts/contact/", {"action": "place_test_call", "_selected_action": [contact.pk]}, follow=True
    )
    assert admin_messages(response) == [
        (
            "error",
            "No test call placed to 1 contact(s):<br>Ada Byron (+***0143): Outside callee-local calling hours; "
            f"opens {opens:%a} {opens:%m/%d/%Y %H:%M %Z}.",  # the operator's locale's date (en: m/d/Y)
        )
    ]
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_of_several_contacts_the_allowed_are_called_and_the_refused_listed_with_why(
    admin_client, contact, django_capture_on_commit_callbacks
):
    from contacts.models import Suppression

    Contact.objects.filter(pk=contact.pk).update(time_zone=zone_at_local_hour(12))
    grace = Contact.objects.create(first_name="Grace", last_name="Hopper", phone="+13125550178",
                                   time_zone=zone_at_local_hour(12), country="US")  # fmt: skip
    Suppression.objects.create(phone=grace.phone, source=Suppression.Source.ADMIN)
    alan = Contact.objects.create(first_name="Alan", phone="+12025550144", time_zone=zone_at_local_hour(12))
    for _ in range(2):  # the 24-hour cap (2) of a default campaign, over every call to the contact
        Call.objects.create(contact=alan, to_phone=alan.phone, provider="simulated")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/contacts/contact/",
            {"action": "place_test_call", "_selected_action": [contact.pk, grace.pk, alan.pk]},
            follow=True,
        )
    (placed_level, placed), (refused_level, refused) = admin_messages(response)
    assert (placed_level, placed.startswith("Placed 1 test call(s): ")) == ("success", True)
    assert refused_level == "warning"
    assert refused.startswith(
        "No test call placed to 2 contact(s):<br>Grace Hopper (+***0178): On the do-not-call list.<br>"
        "Alan (+***0144): 24-hour attempt cap reached; opens "
    )
    assert list(Call.objects.filter(provider_call_id__startswith="CA").values_list("contact_id", flat=True)) == [
        contact.pk
    ]


@pytest.mark.django_db
def test_a_test_call_needs_the_permission_to_add_calls(client, django_user_model, contact):
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user(username="clerk", password="x", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_contact", "change_contact", "view_call"]))
    client.force_login(clerk)
    response = client.post(
        "/admin/contacts/contact/", {"action": "place_test_call", "_selected_action": [contact.pk]}, follow=True
    )
    assert "permission to add calls" in response.content.decode()
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_a_test_call_is_refused_for_a_number_on_the_do_not_call_list(admin_client, contact):
    from contacts.models import Suppression

    Suppression.objects.create(phone=contact.phone, source=Suppression.Source.ADMIN)
    response = admin_client.post(
        "/admin/contacts/contact/", {"action": "place_test_call", "_selected_action": [contact.pk]}, follow=True
    )
    assert "Ada Byron (+***0143): On the do-not-call list." in response.content.decode()
    assert not Call.objects.exists()
