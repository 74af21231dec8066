"""Builders for import tests: files written in memory, a job run the way the admin queues it."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from contacts.importing.jobs import contact_import_job_create


def csv_bytes(text: str, *, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def run_import(db, django_capture_on_commit_callbacks):
    """Store a file and run its import job (the task runs eagerly on commit); return the finished job."""

    def run(data: bytes, *, file_format: str = "csv", name: str = "contacts.csv", **options):
        stored = default_storage.save(f"contact-imports/test-{name}", ContentFile(data))
        with django_capture_on_commit_callbacks(execute=True):
            job = contact_import_job_create(file_name=stored, original_name=name, file_format=file_format, **options)
        job.refresh_from_db()
        return job

    return run
