"""Celery tasks of contacts: thin, they take ids and call one service."""

from celery import shared_task


# A 100k-row file takes seconds, a file at the size limit a few minutes: above the default limits.
@shared_task(time_limit=60 * 60, soft_time_limit=55 * 60)
def contact_import_job_run(job_id: int) -> None:
    from contacts.importing.jobs import contact_import_job_run

    contact_import_job_run(job_id=job_id)
