"""Recordings: fetched from a fake carrier (Twilio's REST API on loopback, the real adapter) into storage by a
task, played through the admin by a permitted user and refused to others, deleted here and at the carrier on
erasure, and purged with transcripts and events after RETENTION_DAYS (audited)."""

import datetime

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from calls.models import Call, CallEvent, RecordingStatus, TranscriptTurn
from calls.services import call_recording_fetch, calls_purge_expired
from calls.tests.conftest import sign
from conftest import grant
from contacts.models import OperatorAction
from contacts.services import contact_erase

SID = "CA" + "a" * 32
RECORDING_SID = "RE" + "b" * 32
AUDIO = b"ID3\x03\x00fake mp3 bytes" * 100


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def recorded_call(call, twilio_settings, fake_twilio, media, client, django_capture_on_commit_callbacks) -> Call:
    """A finished Twilio call whose recording callback has just arrived (signed by Twilio's token)."""
    fake_twilio.recordings[RECORDING_SID] = AUDIO
    Call.objects.filter(pk=call.pk).update(provider="twilio", provider_call_id=SID, status="completed",
                                           ended_at=timezone.now(), record=True)  # fmt: skip
    params = {
        "CallSid": SID,
        "RecordingSid": RECORDING_SID,
        "RecordingStatus": "completed",
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC{'1' * 32}/Recordings/{RECORDING_SID}",
    }
    path = f"/twilio/recording/{call.pk}/"
    signature = sign(f"http://testserver{path}", params, "twilio-test-token")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 204
    call.refresh_from_db()
    return call


def test_the_recording_is_fetched_into_storage_after_the_callback(recorded_call, fake_twilio):
    assert recorded_call.recording_status == RecordingStatus.STORED
    assert recorded_call.recording_sid == RECORDING_SID
    assert recorded_call.recording_file.name == (f"recordings/{timezone.now():%Y/%m}/{recorded_call.pk}.mp3")
    with default_storage.open(recorded_call.recording_file.name, "rb") as stored:
        assert stored.read() == AUDIO
    downloads = [request for request in fake_twilio.requests if request.path.endswith(".mp3")]
    assert [request.path for request in downloads] == [
        f"/2010-04-01/Accounts/AC{'1' * 32}/Recordings/{RECORDING_SID}.mp3"
    ]
    assert call_recording_fetch(call_id=recorded_call.pk) == RecordingStatus.STORED  # fetched once
    assert len([request for request in fake_twilio.requests if request.path.endswith(".mp3")]) == 1


def test_a_recording_the_carrier_does_not_have_is_recorded_as_failed(call, twilio_settings, fake_twilio, media):
    Call.objects.filter(pk=call.pk).update(provider="twilio", recording_url="https://api.twilio.com/2010-04-01/"
                                           f"Accounts/AC{'1' * 32}/Recordings/RE404")  # fmt: skip

    assert call_recording_fetch(call_id=call.pk) == RecordingStatus.FAILED

    call.refresh_from_db()
    assert "Twilio 404" in call.recording_error


def test_a_permitted_user_plays_the_recording_and_another_is_refused(recorded_call, client, django_user_model):
    listener = django_user_model.objects.create_user(username="listener", password="pw", is_staff=True)
    grant(listener, "view_call", "listen_to_recording")
    viewer = django_user_model.objects.create_user(username="viewer", password="pw", is_staff=True)
    grant(viewer, "view_call")
    url = f"/admin/calls/call/{recorded_call.pk}/recording/"

    client.force_login(listener)
    page = client.get(f"/admin/calls/call/{recorded_call.pk}/change/").content.decode()
    assert f'<audio controls preload="none" src="{url}">' in page
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert b"".join(response.streaming_content) == AUDIO

    client.force_login(viewer)
    assert client.get(url).status_code == 403
    assert "<audio" not in client.get(f"/admin/calls/call/{recorded_call.pk}/change/").content.decode()
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_erasing_the_contact_deletes_the_recording_here_and_at_the_carrier(
    recorded_call, contact, fake_twilio, django_capture_on_commit_callbacks
):
    stored = recorded_call.recording_file.name

    with django_capture_on_commit_callbacks(execute=True):
        contact_erase(contact=contact, actor=None)

    recorded_call.refresh_from_db()
    assert recorded_call.recording_status == RecordingStatus.DELETED
    assert (recorded_call.recording_file.name, recorded_call.recording_url, recorded_call.recording_sid) == ("", "", "")
    assert not default_storage.exists(stored)
    deletes = [request.path for request in fake_twilio.requests if request.method == "DELETE"]
    assert deletes == [f"/2010-04-01/Accounts/AC{'1' * 32}/Recordings/{RECORDING_SID}.json"]


def test_retention_purges_old_recordings_transcripts_and_events_and_audits_it(
    recorded_call, settings, fake_twilio, django_capture_on_commit_callbacks
):
    settings.RETENTION_DAYS = 30
    now = timezone.now()
    TranscriptTurn.objects.create(call=recorded_call, index=0, role="agent", text="Hello")
    Call.objects.filter(pk=recorded_call.pk).update(ended_at=now - datetime.timedelta(days=31), summary="Kept.")
    recent = Call.objects.create(contact=recorded_call.contact, to_phone="+12025550143", provider="simulated",
                                 status="completed", ended_at=now - datetime.timedelta(days=29))  # fmt: skip
    TranscriptTurn.objects.create(call=recent, index=0, role="agent", text="Still here")
    stored = recorded_call.recording_file.name

    with django_capture_on_commit_callbacks(execute=True):
        totals = calls_purge_expired(now=now)

    assert totals == {"calls": 1, "recordings": 1, "transcript_turns": 1, "events": 1}
    recorded_call.refresh_from_db()
    assert recorded_call.recording_status == RecordingStatus.DELETED
    assert recorded_call.summary == "Kept."  # the outcome stays
    assert not TranscriptTurn.objects.filter(call=recorded_call).exists()
    assert not CallEvent.objects.filter(call=recorded_call).exists()
    assert TranscriptTurn.objects.filter(call=recent).exists()
    assert not default_storage.exists(stored)
    audit = OperatorAction.objects.get(action=OperatorAction.Action.RETENTION_PURGE)
    assert audit.details["retention_days"] == 30
    assert audit.details["recordings"] == 1
    assert calls_purge_expired(now=now)["calls"] == 0  # nothing left to purge
    assert OperatorAction.objects.filter(action=OperatorAction.Action.RETENTION_PURGE).count() == 1


def test_with_no_retention_set_nothing_is_purged(recorded_call, settings):
    settings.RETENTION_DAYS = 0
    Call.objects.filter(pk=recorded_call.pk).update(ended_at=timezone.now() - datetime.timedelta(days=3650))
    assert calls_purge_expired()["calls"] == 0
    assert CallEvent.objects.filter(call=recorded_call).exists()


def test_the_simulated_carrier_gives_a_playable_recording(call, media, settings):
    settings.TELEPHONY_PROVIDER = "simulated"
    Call.objects.filter(pk=call.pk).update(recording_url="https://simulated-carrier.invalid/Recordings/RE123")

    assert call_recording_fetch(call_id=call.pk) == RecordingStatus.STORED

    call.refresh_from_db()
    with default_storage.open(call.recording_file.name, "rb") as stored:
        assert stored.read(4) == b"RIFF"


def test_an_s3_bucket_setting_keeps_recordings_in_s3_with_signed_private_urls():
    from django.core.files.storage import StorageHandler
    from storages.backends.s3 import S3Storage

    from config.settings.components.storage import s3_storage

    config = s3_storage(bucket="call-recordings", endpoint_url="http://127.0.0.1:9", region="eu-west-1")
    config["OPTIONS"] |= {"access_key": "test-key", "secret_key": "test-secret"}
    storage = StorageHandler({"default": config})["default"]

    assert isinstance(storage, S3Storage)
    assert storage.bucket_name == "call-recordings"
    assert storage.default_acl == "private"
    url = storage.url("recordings/2026/12/a.mp3")  # signed locally: no request is made
    assert url.startswith("http://127.0.0.1:9/call-recordings/recordings/2026/12/a.mp3?")
    assert "Signature" in url or "X-Amz-Signature" in url
