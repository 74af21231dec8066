"""Celery tasks of contacts: thin, they take ids (or a chunk of rows) and call one service."""

from typing import Any

from celery import shared_task

from contacts.importing.jobs import JOB_TASK, contact_import_job_execute
from contacts.importing.parsing import CHUNK_TASK, chunk_read
from contacts.importing.uploads import SWEEP_TASK, abandoned_uploads_delete


# A 100k-row file takes seconds, a file at the size limit a few minutes: above the default limits.
@shared_task(name=JOB_TASK, time_limit=60 * 60, soft_time_limit=55 * 60)
def contact_import_job_run(job_id: int) -> None:
    contact_import_job_execute(job_id=job_id)


# The one task whose result is kept: the job collects it (and then forgets it). `track_started` lets the
# job tell a chunk a worker has taken from one still queued (`contacts.importing.parsing._collect`).
@shared_task(name=CHUNK_TASK, ignore_result=False, track_started=True)
def contact_import_chunk_read(*, reader: dict[str, Any], rows: list, stage: dict[str, Any] | None) -> Any:
    """Rules 1–3 for one chunk of an import's rows (no database): a pure function of its arguments, so a
    chunk read twice (redelivered, or read by the job meanwhile) gives the same result."""
    return chunk_read(reader, rows, stage)


@shared_task(name=SWEEP_TASK)
def delete_abandoned_uploads() -> int:
    """Beat's sweep of uploaded contact files whose preview was never confirmed (idempotent)."""
    return len(abandoned_uploads_delete())
