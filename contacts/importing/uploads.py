"""Uploaded contact files waiting in storage between the preview and the job, and their removal.

The admin's upload goes to the default storage (django-import-export's `MediaStorage`, folder
`UPLOAD_FOLDER`) so that the worker can read it after the operator confirms. A file is deleted when its
job ends (`jobs.contact_import_job_execute`), at once when the upload is refused (the admin), and
otherwise — a preview never confirmed — by `abandoned_uploads_delete`, which beat runs periodically.
"""

import datetime
import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from import_export.tmp_storages import MediaStorage

from contacts.models import ContactImportJob

logger = logging.getLogger(__name__)

UPLOAD_FOLDER = MediaStorage(name="").MEDIA_FOLDER  # "django-import-export"
# The periodic task that sweeps abandoned uploads (contacts/tasks.py), listed in campaigns/periodic_tasks.py.
SWEEP_TASK = "contacts.delete_abandoned_uploads"


def upload_path(name: str) -> str:
    """Where the admin stored the upload called `name` (what the confirm form carries) in the default storage."""
    return MediaStorage(name=name).get_full_path()


def upload_max_age() -> datetime.timedelta:
    """How long an upload nobody confirmed is kept: settings.CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES."""
    return datetime.timedelta(minutes=settings.CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES)


def abandoned_uploads_delete(*, older_than: datetime.timedelta | None = None) -> list[str]:
    """Delete the uploads older than `older_than` (else `upload_max_age()`) that no queued or running
    job is to read; return their paths. Idempotent: a file already gone is skipped.

    An upload is younger than the age while its preview may still be confirmed; a confirmed one belongs
    to its job, which deletes it when it ends (done or failed), so only a job still waiting keeps one.
    """
    if not default_storage.exists(UPLOAD_FOLDER):
        return []
    cutoff = timezone.now() - (upload_max_age() if older_than is None else older_than)
    _, names = default_storage.listdir(UPLOAD_FOLDER)
    old = []
    for name in names:
        path = f"{UPLOAD_FOLDER}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                old.append(path)
        except FileNotFoundError:  # deleted meanwhile (its job ended)
            continue
    waiting = ContactImportJob.objects.filter(
        file_name__in=old, status__in=[ContactImportJob.Status.QUEUED, ContactImportJob.Status.RUNNING]
    )
    kept = set(waiting.values_list("file_name", flat=True))
    deleted = [path for path in old if path not in kept]
    for path in deleted:
        default_storage.delete(path)
    if deleted:
        logger.info("Deleted %s contact file(s) uploaded more than %s ago and never imported", len(deleted), cutoff)
    return deleted
