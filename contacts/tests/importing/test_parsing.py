"""Chunks read by chunk tasks: what travels through Celery (JSON) decides each row as reading inline does,
a real worker reads the chunks it is sent, and a job whose chunks no worker takes reads them itself."""

import gc

import pytest
from celery import Celery, signals
from celery.contrib.testing.worker import start_worker
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from kombu.utils import json as kombu_json

from config.celery import app as project_app
from contacts.importing import jobs
from contacts.importing.columns import map_columns
from contacts.importing.parsing import (
    chunk_read,
    garbage_collected_by_chunk,
    reader_message,
    stage_rows,
    staged_from_message,
)
from contacts.importing.rules import RowReader
from contacts.models import Contact, ContactImportIssue
from contacts.tests.importing.test_fast_path import messy_csv
from contacts.tests.importing.test_jobs import MESSY


def messy_rows(count: int) -> tuple[RowReader, list[tuple[int, list[str]]]]:
    import csv
    import io

    lines = list(csv.reader(io.StringIO(messy_csv(count).decode())))
    reader = RowReader(columns=map_columns(lines[0]), default_region="US")
    return reader, [(number, cells) for number, cells in enumerate(lines[1:], start=2) if cells]


def through_json(value: object) -> object:
    """What a task's argument or result becomes on the way through Celery's JSON serializer."""
    return kombu_json.loads(kombu_json.dumps(value))


def as_tuple(decision) -> tuple:
    """What the job uses of a decision: of a rejected row, its reason only."""
    if decision.outcome == decision.outcome.REJECTED:
        return (decision.row_number, decision.outcome, decision.reason)
    return (decision.row_number, decision.outcome, decision.reason, decision.phone, decision.fields,
            decision.list_names, decision.consent, decision.time_zone_given, decision.parsed)  # fmt: skip


def test_rows_read_by_a_chunk_task_through_json_are_decided_as_read_inline():
    from contacts.importing.parsing import _unpack

    reader, rows = messy_rows(300)
    packed = through_json(chunk_read(through_json(reader_message(reader)), through_json(rows), None))
    inline = reader.read(rows)
    assert [as_tuple(d) for d in _unpack(rows, packed)] == [as_tuple(d) for d in inline]
    assert any(d.consent for d in inline)
    assert len({d.reason for d in inline if d.reason}) > 5


@pytest.mark.parametrize("created_at", [None, "2026-01-02 03:04:05+00"])
def test_a_chunk_staged_by_a_chunk_task_through_json_is_the_chunk_staged_inline(created_at):
    reader, rows = messy_rows(300)
    stage = {"with_decisions": True, "created_at": created_at}
    message = through_json(chunk_read(through_json(reader_message(reader)), through_json(rows), stage))
    travelled = staged_from_message(rows, message)
    inline = stage_rows(reader, rows, **stage)
    for name in ("rejected", "indexes", "phones", "lines", "ends", "list_names", "has_consent"):
        assert getattr(travelled, name) == getattr(inline, name), name
    every = list(range(len(inline.indexes)))
    read_again = [as_tuple(d) for d in travelled.read_again(every)]
    assert read_again == [as_tuple(d) for d in reader.read([rows[index] for index in inline.indexes])]


def test_during_a_chunk_the_collector_passes_only_at_its_end_and_is_restored():
    import weakref

    class Node:
        pass

    assert gc.isenabled()
    with garbage_collected_by_chunk():
        assert not gc.isenabled()
        cycle = Node()
        cycle.itself = cycle
        alive = weakref.ref(cycle)
        del cycle
        assert alive() is not None  # no automatic pass during the chunk
    assert alive() is None  # collected on the way out
    assert gc.isenabled()


def test_a_disabled_collector_from_before_the_chunk_stays_disabled():
    gc.disable()
    try:
        with garbage_collected_by_chunk():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---- a real worker ------------------------------------------------------------------------------


@pytest.fixture
def celery_app():
    """A Celery app with a broker and a result backend in this process, not eager: chunks really travel."""
    # No Django fixup: it closes the database connections a worker thread shares with the test here.
    app = Celery("import-chunks-test", broker="memory://", backend="cache+memory://", set_as_current=True, fixups=[])
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
    app.autodiscover_tasks(["contacts"])
    app.finalize()
    yield app
    project_app.set_current()
    project_app.set_default()  # `start_worker` made the test app the default of every thread


@pytest.fixture
def queued_job(db, django_capture_on_commit_callbacks, monkeypatch, settings):
    """A job of MESSY cut in 2-row chunks read by chunk tasks, its own task not run: the test runs it."""
    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    monkeypatch.setattr(jobs, "MIN_CHUNK_ROWS", 2)
    settings.CONTACT_IMPORT_PARSE_WORKERS = 2
    stored = default_storage.save("contact-imports/test-chunks.csv", ContentFile(MESSY.encode()))
    with django_capture_on_commit_callbacks(execute=False):
        return jobs.contact_import_job_create(file_name=stored, original_name="chunks.csv", file_format="csv")


@pytest.fixture
def chunk_tasks_run():
    """The chunk tasks a worker ran to success during the test."""
    ran = []

    def record(sender, **_):
        if sender.name.endswith("chunk_read"):
            ran.append(sender.name)

    signals.task_success.connect(record)
    yield ran
    signals.task_success.disconnect(record)


def assert_messy_imported(job) -> None:
    assert (job.status, job.error) == ("done", "")
    assert (job.created_count, job.skipped_count, job.rejected_count) == (3, 1, 2)
    issues = {issue.row_number: issue.outcome for issue in ContactImportIssue.objects.filter(job=job)}
    assert issues == {4: "rejected", 5: "duplicate", 6: "rejected"}
    assert Contact.objects.count() == 3


def test_a_worker_reads_the_chunks_it_is_sent_and_the_job_takes_them_back_in_order(
    celery_app, queued_job, chunk_tasks_run
):
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        job = jobs.contact_import_job_execute(job_id=queued_job.pk)
    assert_messy_imported(job)
    assert chunk_tasks_run  # the chunks the job did not find queued were read by the worker


def test_without_a_free_worker_the_job_reads_its_queued_chunks_itself(celery_app, queued_job, chunk_tasks_run):
    job = jobs.contact_import_job_execute(job_id=queued_job.pk)  # no worker: every chunk stays queued
    assert_messy_imported(job)
    assert chunk_tasks_run == []


def failing_on_row_4(read):
    def read_or_fail(reader, rows, **options):
        if rows[0][0] == 4:
            raise ValueError("the worker ran out of memory")
        return read(reader, rows, **options)

    return read_or_fail


def test_a_chunk_task_that_fails_fails_the_job_saying_which_rows(run_import, monkeypatch, settings):
    from contacts.importing import parsing

    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    monkeypatch.setattr(jobs, "MIN_CHUNK_ROWS", 2)
    settings.CONTACT_IMPORT_PARSE_WORKERS = 2
    for name in ("stage_rows", "read_rows"):  # the COPY path's and the ORM path's
        monkeypatch.setattr(parsing, name, failing_on_row_4(getattr(parsing, name)))
    job = run_import(MESSY.encode())
    assert job.status == "failed"
    assert job.error.startswith("Rows 4–5 could not be read (the worker ran out of memory). The import stopped;")
