"""Uploaded contact files are not kept: deleted when the upload is refused, when the job ends, and by the
sweep when a preview is never confirmed (after CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES)."""

import datetime
import os
import time

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from campaigns.periodic_tasks import PERIODIC_TASKS
from config import celery_app
from contacts.importing.uploads import UPLOAD_FOLDER, abandoned_uploads_delete
from contacts.models import Contact, ContactImportJob
from contacts.tasks import delete_abandoned_uploads
from contacts.tests.test_admin import confirm, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES = 60


def stored_uploads() -> list[str]:
    return default_storage.listdir(UPLOAD_FOLDER)[1] if default_storage.exists(UPLOAD_FOLDER) else []


def store_upload(name: str, *, minutes_ago: float) -> str:
    path = default_storage.save(f"{UPLOAD_FOLDER}/{name}", ContentFile(b"phone\n+12025550143\n"))
    moment = time.time() - minutes_ago * 60
    os.utime(default_storage.path(path), (moment, moment))
    return path


def test_a_refused_upload_is_deleted_while_the_operator_reads_why(admin_client):
    response = upload(admin_client, b"name,email\nAda,ada@example.com\n")
    assert "No phone column" in response.content.decode()
    assert stored_uploads() == []


def test_an_upload_over_the_size_limit_is_not_kept(admin_client, settings):
    settings.CONTACT_IMPORT_MAX_FILE_MB = 0
    response = upload(admin_client, b"phone\n+12025550143\n")
    assert "the limit is 0 MB" in response.content.decode()
    assert stored_uploads() == []


def test_a_preview_keeps_its_file_for_the_confirmation_and_the_job_deletes_it(
    admin_client, django_capture_on_commit_callbacks
):
    preview = upload(admin_client, b"Name,Phone\nAda,(202) 555-0143\n")
    assert len(stored_uploads()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, preview)
    assert ContactImportJob.objects.get().status == "done"
    assert stored_uploads() == []


def test_a_failed_job_deletes_its_file_too(run_import):
    job = run_import(b"\xff\xfe\x00garbage", name="broken.csv")
    assert job.status == "failed"
    assert not default_storage.exists(job.file_name)


def test_the_sweep_deletes_previews_never_confirmed_once_older_than_the_setting(settings):
    abandoned = store_upload("abandoned", minutes_ago=61)
    recent = store_upload("recent", minutes_ago=59)  # its preview may still be confirmed
    assert abandoned_uploads_delete() == [abandoned]
    assert stored_uploads() == ["recent"]
    settings.CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES = 30
    assert delete_abandoned_uploads() == 1  # the task beat runs
    assert not default_storage.exists(recent)
    assert delete_abandoned_uploads() == 0  # run again: nothing left to do


def test_the_sweep_keeps_the_file_of_a_job_still_waiting_for_a_worker():
    waiting = store_upload("queued", minutes_ago=600)
    ContactImportJob.objects.create(file_name=waiting, original_name="big.csv", file_format="csv")
    assert abandoned_uploads_delete() == []
    assert default_storage.exists(waiting)


def test_confirming_a_preview_the_sweep_deleted_says_so_and_imports_nothing(admin_client):
    preview = upload(admin_client, b"Name,Phone\nAda,(202) 555-0143\n")
    (name,) = stored_uploads()
    assert abandoned_uploads_delete(older_than=datetime.timedelta(0)) == [f"{UPLOAD_FOLDER}/{name}"]
    response = confirm(admin_client, preview)
    assert response["Location"] == reverse("admin:contacts_contact_import")
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (
        "The file contacts.csv is no longer here: an upload not confirmed within 60 minutes is deleted. "
        "Nothing was imported; upload it again."
    )
    assert not ContactImportJob.objects.exists()
    assert not Contact.objects.exists()


def test_beat_runs_the_sweep_with_an_expiry_shorter_than_its_interval(settings):
    from django.core.management import call_command

    call_command("setup_periodic_tasks", verbosity=0)
    (spec,) = [spec for spec in PERIODIC_TASKS if spec.task == delete_abandoned_uploads.name]
    task = PeriodicTask.objects.get(name=spec.name)
    assert task.interval.every == settings.CONTACT_IMPORT_UPLOAD_SWEEP_SECONDS
    entry = ModelEntry(task, app=celery_app)
    assert 0 < entry.options["expires"] < task.interval.every
