"""The import job: create it when the operator confirms the preview, run it in a Celery task."""

import collections
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from celery import signature
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from contacts.hooks import notify_contact_event_on_commit
from contacts.importing.columns import ColumnMap, ignored_values, map_columns
from contacts.importing.files import ImportFileError, check_file_size, open_table
from contacts.importing.parsing import (
    ChunkReadFailed,
    collect_chunk_garbage,
    garbage_collected_by_chunk,
    read_chunks,
    stage_chunks,
)
from contacts.importing.rules import ContactRowRules, Outcome
from contacts.importing.writers import NumbersAlreadyStored, OrmBulkWriter, PostgresCopyWriter, writer_for
from contacts.models import ContactImportIssue, ContactImportJob, ContactList, OperatorAction
from contacts.phone_numbers import default_region
from contacts.services import operator_action_record
from monitoring.metrics import CONTACT_IMPORT_ROWS

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5000
# The smallest chunk the last rows of a big file are cut into (`chunks_of`).
MIN_CHUNK_ROWS = 1000
# The Celery task that runs a job (contacts/tasks.py), enqueued by name: the task imports this module.
JOB_TASK = "contacts.tasks.contact_import_job_run"
# Below this many rows, sending chunks to chunk tasks costs more than it saves.
PARALLEL_MIN_ROWS = 20_000
COUNTERS = {
    Outcome.CREATE: "created_count",
    Outcome.UPDATE: "updated_count",
    Outcome.UNCHANGED: "unchanged_count",
    Outcome.DUPLICATE: "skipped_count",
    Outcome.SUPPRESSED: "skipped_count",
    Outcome.REJECTED: "rejected_count",
}


def contact_import_job_create(
    *,
    file_name: str,
    original_name: str,
    file_format: str,
    sheet: str = "",
    contact_list: ContactList | None = None,
    default_region: str = "",
    created_by: AbstractBaseUser | None = None,
) -> ContactImportJob:
    """Record a confirmed import of a file already in the default storage, and queue it after commit."""
    job = ContactImportJob.objects.create(
        file_name=file_name,
        original_name=original_name[:255],
        file_format=file_format,
        sheet=sheet,
        contact_list=contact_list,
        default_region=default_region.upper(),
        created_by=created_by,
    )
    operator_action_record(
        actor=created_by, action=OperatorAction.Action.IMPORT, target=job, details={"file": original_name}
    )
    transaction.on_commit(signature(JOB_TASK, args=(job.pk,)).delay)
    return job


def contact_import_job_execute(*, job_id: int) -> ContactImportJob | None:
    """Import the job's file; return the job, or None when it was not queued (already run or running).

    Idempotent: the job is claimed by a conditional UPDATE (queued → running), so a task delivered
    twice runs once. Rows that cannot be imported become `ContactImportIssue`s with their reason;
    every other row is imported. A file-level problem (no phone column, unreadable file) fails the job
    with a message before any contact is written; so does a chunk that could not be read (on PostgreSQL
    the import is one transaction: nothing of it is kept). The file is deleted from storage at the end.
    """
    now = timezone.now()
    claimed = ContactImportJob.objects.filter(pk=job_id, status=ContactImportJob.Status.QUEUED).update(
        status=ContactImportJob.Status.RUNNING, started_at=now
    )
    if not claimed:
        return None
    job = ContactImportJob.objects.select_related("contact_list").get(pk=job_id)
    ContactImportIssue.objects.filter(job=job).delete()  # a previous attempt that died half-way
    try:
        counts = _import(job)
    except ImportFileError as error:
        _finish(job, ContactImportJob.Status.FAILED, error=str(error))
    except ChunkReadFailed as error:
        logger.exception("Contact import %s failed", job.pk)
        kept = "nothing was imported" if connection.vendor == "postgresql" else "the rows before them were imported"
        _finish(job, ContactImportJob.Status.FAILED, error=f"{error} The import stopped; {kept}.")
    except Exception:
        logger.exception("Contact import %s failed", job.pk)
        _finish(job, ContactImportJob.Status.FAILED, error="The import failed unexpectedly; nothing was imported.")
        raise
    else:
        _finish(job, ContactImportJob.Status.DONE, **counts)
    finally:
        default_storage.delete(job.file_name)
    job.refresh_from_db()
    return job


def _import(job: ContactImportJob) -> dict[str, int]:
    check_file_size(default_storage.size(job.file_name))
    with default_storage.open(job.file_name, "rb") as stream:
        total = estimate_rows(stream, file_format=job.file_format, sheet=job.sheet)
    with default_storage.open(job.file_name, "rb") as stream, garbage_collected_by_chunk():
        table = open_table(stream, file_format=job.file_format, sheet=job.sheet)
        columns = map_columns(table.headers)
        warnings = [table.describe(), *columns.warnings]
        ContactImportJob.objects.filter(pk=job.pk).update(total_rows=total, warnings=warnings)
        rules = ContactRowRules(
            columns=columns,
            contact_list=job.contact_list,
            default_region=default_region(
                job.default_region, job.contact_list.default_region if job.contact_list else ""
            ),
            create_lists=True,
        )
        writer = writer_for(job=job, contact_list=job.contact_list, list_ids=rules.list_ids)
        counts = dict.fromkeys(COUNTERS.values(), 0)
        processed = values_ignored = 0
        workers = settings.CONTACT_IMPORT_PARSE_WORKERS if total >= PARALLEL_MIN_ROWS else 1
        # Where the time goes, for the log: the chunk tasks' reading shows as waiting for rows.
        phases = dict.fromkeys(("rows", "decide", "write", "merge"), 0.0)
        holds_transaction = isinstance(writer, PostgresCopyWriter)
        with (
            writer.transaction() if holds_transaction else contextlib.nullcontext(),
            progress_recorder(job, own_connection=holds_transaction) as record_progress,
        ):
            chunks = chunks_of(table.rows, total=total, workers=workers)
            for chunk, by_outcome, not_imported in _decide_and_write(chunks, rules, writer, workers, phases):
                for name, value in _count(by_outcome).items():
                    counts[name] += value
                if columns.ignored:
                    values_ignored += _record_ignored_values(job, columns, chunk, not_imported)
                processed += len(chunk)
                record_progress(processed, counts)
                collect_chunk_garbage()
            clock = time.perf_counter()
            writer.finish()
            phases["merge"] = time.perf_counter() - clock
        logger.info(
            "Contact import %s: %s rows, %s chunk tasks in flight; seconds waiting for rows %.1f, deciding %.1f, "
            "writing %.1f, merging %.1f",
            job.pk, sum(counts.values()), workers, phases["rows"], phases["decide"], phases["write"], phases["merge"],
        )  # fmt: skip
    if table.blank_rows:
        warnings.append(gettext("%(count)d blank rows were ignored.") % {"count": len(table.blank_rows)})
    if values_ignored:
        warnings.append(
            ngettext(
                "%(count)d imported row has a value in an ignored column; each is in the download of the rows not "
                "imported, with that value.",
                "%(count)d imported rows have a value in an ignored column; each is in the download of the rows not "
                "imported, with that value.",
                values_ignored,
            )
            % {"count": values_ignored}
        )
    # The estimate counted lines; now the rows are known.
    ContactImportJob.objects.filter(pk=job.pk).update(warnings=warnings, processed_rows=processed, total_rows=processed)
    return counts


@contextlib.contextmanager
def progress_recorder(job: ContactImportJob, *, own_connection: bool) -> Iterator[Callable[[int, dict], None]]:
    """A function recording the job's progress (rows processed, counts so far) for the admin's progress bar.

    `own_connection`: the import runs in one transaction on the default connection (the COPY writer's),
    where an update would show nobody anything until the end; the progress then goes through a connection
    of its own, committing each update. It updates only the job row, which the import's transaction never
    holds: the job was claimed, and its totals set, before the transaction began, and the issues that
    reference the job take, at commit, a key-share lock that an update of other columns does not wait on.
    That connection does not wait for its commits to reach the disk (`synchronous_commit` off): a crash
    could lose the last progress shown, never the job's outcome, which the import's own connection writes
    at the end with the server's setting. Inside a test's transaction the job row is not visible to it,
    so its updates change nothing there; the job's final counts never come from them.
    """
    running = ContactImportJob.objects.filter(pk=job.pk, status=ContactImportJob.Status.RUNNING)
    if not own_connection:
        yield lambda processed, counts: running.update(processed_rows=processed, **counts)
        return
    names = ["processed_rows", *dict.fromkeys(COUNTERS.values())]
    meta = ContactImportJob._meta
    update = (
        f"UPDATE {meta.db_table} SET {', '.join(f'{meta.get_field(name).column} = %s' for name in names)} "  # noqa: S608
        f"WHERE {meta.pk.column} = %s AND {meta.get_field('status').column} = %s"
    )
    with connection.Database.connect(**connection.get_connection_params(), autocommit=True) as progress:
        progress.execute("SET synchronous_commit = off")

        def record(processed: int, counts: dict) -> None:
            values = [processed, *(counts[name] for name in names[1:])]
            progress.execute(update, [*values, job.pk, ContactImportJob.Status.RUNNING])

        yield record


def estimate_rows(stream: BinaryIO, *, file_format: str, sheet: str) -> int:
    """Rows for the progress bar, cheaply: a CSV's line breaks (counted, not parsed); an XLSX sheet's rows."""
    if file_format == "xlsx":
        table = open_table(stream, file_format=file_format, sheet=sheet)
        return sum(1 for _ in table.rows)
    lines = 0
    while block := stream.read(1024 * 1024):
        lines += block.count(b"\n")
    return max(lines, 1)


def chunks_of(
    rows: Iterator[tuple[int, list[str]]], *, total: int = 0, workers: int = 1
) -> Iterator[list[tuple[int, list[str]]]]:
    """The rows in chunks of `CHUNK_ROWS`; with chunks read by several chunk tasks, smaller ones towards the end.

    With `workers` chunk tasks reading, the last chunks are cut to a `2 × workers`-th of the rows still
    expected (`total`, an estimate), down to `MIN_CHUNK_ROWS`: otherwise one process reads the last whole
    chunk while the other waits, then this process writes it while both wait — a fifth of a second of
    two idle cores in a 100k-row import, for a few more (cheap) chunks.
    """
    done = 0
    while True:
        size = CHUNK_ROWS
        if workers > 1:
            size = min(CHUNK_ROWS, max(MIN_CHUNK_ROWS, (total - done) // (2 * workers)))
        chunk = list(itertools.islice(rows, size))
        if not chunk:
            return
        done += len(chunk)
        yield chunk


def _decide_and_write(
    chunks: Iterator[list[tuple[int, list[str]]]],
    rules: ContactRowRules,
    writer: OrmBulkWriter | PostgresCopyWriter,
    workers: int,
    phases: dict,
) -> Iterator[tuple[list, dict[Outcome, int], set[int]]]:
    """Read, decide and write the file chunk by chunk; yield each chunk with the count of each outcome and
    the row numbers not imported.

    On PostgreSQL the chunk tasks format the stage lines themselves (`stage_chunks`), so this
    process only decides what is file-wide (repeats, suppression, stored contacts) and streams them on.
    """
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        phases[phase] += now - clock
        clock = now

    if isinstance(writer, PostgresCopyWriter):
        columns = rules.reader.columns
        has_lists, has_consents = "lists" in columns.known, columns.has_consent
        # A file imported again meets stored contacts on most rows: then the chunk tasks send those
        # rows back read too, so that this process does not read them again to merge them.
        meeting_stored = [False]
        staged_chunks = stage_chunks(
            chunks,
            reader=rules.reader,
            workers=workers,
            with_decisions=lambda: meeting_stored[0],
            created_at=writer.begin(has_lists=has_lists, has_consents=has_consents),
        )
        # While chunks meet no stored contact, their numbers are not looked up: the INSERT of the new
        # contacts checks each against the unique index anyway, and says when one is stored (a chunk the
        # rules then decide again, looking its numbers up, as they do for the chunk after one that met any).
        # A new file's 20 lookups of 5,000 numbers cost more PostgreSQL CPU than its issues and progress.
        look_up_stored = False
        for chunk, staged in staged_chunks:
            lap("rows")
            options = {"has_lists": has_lists, "has_consents": has_consents and staged.has_consent}
            batch = rules.decide_staged(chunk, staged, look_up_stored=look_up_stored)
            lap("decide")
            try:
                writer.write_staged(batch, unchecked=not look_up_stored, **options)
            except NumbersAlreadyStored:
                batch = rules.decide_staged(chunk, staged)
                writer.write_staged(batch, **options)
            look_up_stored = bool(batch.merged)
            meeting_stored[0] = len(batch.merged) * 10 > len(chunk)
            lap("write")
            yield chunk, batch.counts, {issue[0] for issue in batch.issues}
            clock = time.perf_counter()
        return
    for chunk, read in read_chunks(chunks, reader=rules.reader, workers=workers):
        lap("rows")
        decisions = rules.decide(chunk, read)
        lap("decide")
        writer.write(decisions)
        lap("write")
        yield (
            chunk,
            collections.Counter(d.outcome for d in decisions),
            {d.row_number for d in decisions if d.outcome.is_issue},
        )
        clock = time.perf_counter()


def _record_ignored_values(
    job: ContactImportJob, columns: ColumnMap, chunk: list[tuple[int, list[str]]], not_imported: set[int]
) -> int:
    """An issue for each imported row of the chunk holding a value of an ignored column (a second phone
    column, …), so that the download lists every value not imported; return how many. A row not imported
    is there already, whole."""
    issues = [
        ContactImportIssue(
            job=job, row_number=number, outcome=ContactImportIssue.Outcome.VALUE_IGNORED, reason=reason, values=cells
        )
        for number, cells in chunk
        if number not in not_imported and (reason := ignored_values(columns, cells))
    ]
    ContactImportIssue.objects.bulk_create(issues, batch_size=1000)
    return len(issues)


def _count(by_outcome: dict[Outcome, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome, amount in by_outcome.items():
        counts[COUNTERS[outcome]] = counts.get(COUNTERS[outcome], 0) + amount
        if amount:
            CONTACT_IMPORT_ROWS.labels(result=outcome.value).inc(amount)
    return counts


def _finish(job: ContactImportJob, status: ContactImportJob.Status, *, error: str = "", **counts: int) -> None:
    finished = ContactImportJob.objects.filter(pk=job.pk, status=ContactImportJob.Status.RUNNING).update(
        status=status, error=error, finished_at=timezone.now(), **counts
    )
    if finished:
        notify_contact_event_on_commit("import_finished", job.pk)
