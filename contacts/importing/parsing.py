"""Reading rows for big imports, spread over the Celery workers.

libphonenumber is pure Python and costs about as much a row as everything else an import does together
(BENCHMARKS.md has the breakdown). Big files have their rows read — rules 1–3 of
`contacts.importing.rules`: phone parsing and the per-row checks, which need no database — by
`contacts.tasks.contact_import_chunk_read` tasks, one per chunk, on whichever workers are free (on this
machine or another), while the job's own task reads the file, decides against the database and writes,
taking the chunks back in file order (`read_chunks`, `stage_chunks`). On PostgreSQL the chunk tasks also
format each row's COPY line (`stage_rows`), so the job keeps only what is file-wide: repeats, suppression,
stored contacts, and streaming the lines on. A chunk task reads no database and writes nothing: it is a
pure function of its rows, so reading a chunk twice is harmless.

The job waits only for a chunk a worker has started: one still queued (every worker busy, or a single
worker whose one process is the job itself) it reads itself, and revokes the task. So an import cannot
wait on work nobody will do, whatever the concurrency. Chunk results come back through Celery's result
backend (Redis); without one (the demo's file-system broker), and for small files, the job reads inline.
"""

import contextlib
import datetime
import functools
import gc
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from celery import current_app, signature, states
from celery.exceptions import TimeoutError as CeleryTimeoutError

from contacts.importing.columns import ColumnMap
from contacts.importing.rules import Outcome, RowDecision, RowReader, StagedChunk, new_contact_location
from contacts.importing.writers import location_cells, new_contact_line, stage_line
from contacts.phone_numbers import ParsedPhoneNumber

Rows = list[tuple[int, list[str]]]
# How long the job waits for a chunk a worker has started before reading it itself: a chunk takes well
# under a second, so this only matters when that worker died with it (the broker redelivers it much later).
STARTED_CHUNK_WAIT_SECONDS = 60


class ChunkReadFailed(Exception):
    """A chunk task failed: the import stops (nothing of it is kept on PostgreSQL), saying which rows."""


@contextlib.contextmanager
def garbage_collected_by_chunk() -> Iterator[None]:
    """Run the body with the cyclic garbage collector's automatic passes off; collect the young objects
    at the end (`collect_chunk_garbage`). Whatever the process had set before is restored.

    An import allocates millions of containers (cells, decisions, lines), so the collector ran thousands
    of times, and its passes through the older generations walked the whole long-lived heap (Django, the
    app, the phone caches): a fifth of the import's CPU. The job's task runs the whole import in this,
    collecting once a chunk; a chunk task runs its chunk in it.
    """
    enabled_before = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        collect_chunk_garbage()
        if enabled_before:
            gc.enable()


def collect_chunk_garbage() -> None:
    """Collect the reference cycles a chunk left (a bad email: Django's ValidationError lists itself), from
    the young objects only: what outlives a chunk (caches, the lists of seen numbers) holds no cycles."""
    gc.collect(0)


# The Celery task that reads one chunk (contacts/tasks.py), sent by name: the task imports this module.
CHUNK_TASK = "contacts.tasks.contact_import_chunk_read"


# ---- what travels between the job and its chunk tasks (JSON, Celery's serializer here) ----------------


def reader_message(reader: RowReader) -> dict[str, Any]:
    """What a chunk task needs to rebuild the job's `RowReader`: its column map and region."""
    columns = reader.columns
    return {"width": columns.width, "known": columns.known, "custom": columns.custom, "region": reader.region}


@functools.lru_cache(maxsize=64)
def _reader(width: int, known: tuple, custom: tuple, region: str) -> RowReader:
    columns = ColumnMap(width=width, known=dict(known), custom=[tuple(item) for item in custom])
    return RowReader(columns=columns, default_region=region)


def reader_from_message(message: dict[str, Any]) -> RowReader:
    """The `RowReader` of `reader_message`, built once per distinct file shape in a worker process."""
    known = tuple(sorted(message["known"].items()))
    custom = tuple(tuple(item) for item in message["custom"])
    return _reader(message["width"], known, custom, message["region"])


# What a chunk sends back for a row it read: a flat list of plain values, never the `RowDecision` itself;
# the job already holds each row's number and cells, so only what was read goes back.
Packed = list


def _pack(decision: RowDecision) -> Packed:
    if decision.outcome == Outcome.REJECTED:
        return [decision.reason]
    parsed, consent = decision.parsed, decision.consent
    if consent is not None:
        revoked_at = consent["revoked_at"]
        consent = {
            **consent,
            "purpose": str(consent["purpose"]),
            "given_at": consent["given_at"].isoformat(),
            "revoked_at": revoked_at.isoformat() if revoked_at else None,
        }
    return [
        decision.phone,
        decision.fields,
        list(decision.list_names),
        consent,
        decision.time_zone_given,
        parsed.region,
        list(parsed.time_zones),
    ]


def _unpack(rows: Rows, packed: list[Packed]) -> list[RowDecision]:
    decisions = []
    for (number, cells), values in zip(rows, packed, strict=True):
        if len(values) == 1:
            decisions.append(RowDecision(number, cells, Outcome.REJECTED, values[0]))
            continue
        phone, fields, list_names, consent, time_zone_given, region, zones = values
        if consent is not None:
            revoked_at = consent["revoked_at"]
            consent = {
                **consent,
                "given_at": datetime.datetime.fromisoformat(consent["given_at"]),
                "revoked_at": datetime.datetime.fromisoformat(revoked_at) if revoked_at else None,
            }
        decisions.append(
            RowDecision(
                number,
                cells,
                phone=phone,
                fields=fields,
                list_names=tuple(list_names),
                consent=consent,
                time_zone_given=time_zone_given,
                parsed=ParsedPhoneNumber(phone, region, tuple(zones)),
            )
        )
    return decisions


def read_rows(reader: RowReader, rows: Rows) -> list[Packed]:
    """Rules 1–3 for a chunk, each row packed (`_pack`): the ORM path's chunk task."""
    return [_pack(decision) for decision in reader.read(rows)]


def stage_rows(
    reader: RowReader, rows: Rows, *, with_decisions: bool = False, created_at: str | None = None
) -> StagedChunk:
    """Rules 1–3 for a chunk, each row that passes them formatted as the stage line of a new contact — or,
    given `created_at`, as its line of contacts itself (`PostgresCopyWriter.begin`).

    What the COPY path sends back instead of decisions: one string of lines and a few flat lists, so the
    job decodes a handful of objects a chunk, not a dozen a row, and formats nothing.
    `with_decisions`: also send each such row back read (`_pack`), for a file whose numbers are mostly
    stored already (imported again), so that the job need not read them again to merge them.
    """
    rejected: list[tuple[int, str]] = []
    indexes: list[int] = []
    phones: list[str] = []
    lines: list[str] = []
    ends: list[int] = []
    list_names: list[tuple[str, ...]] = []
    packed: list[Packed] = []
    # A new contact's country and zones follow from its number's region and zones and the zone the row
    # gives: a chunk has few of those, so each one's cells are made once (`new_contact_location` is rule 6's).
    locations: dict[tuple[str, tuple[str, ...], str], tuple[str, str, str, str]] = {}
    end, has_consent = 0, False
    for index, decision in enumerate(reader.read(rows)):
        if decision.outcome == Outcome.REJECTED:
            rejected.append((index, decision.reason))
            continue
        if with_decisions:
            packed.append(_pack(decision))
        key = (decision.parsed.region, decision.parsed.time_zones, decision.time_zone_given)
        location = locations.get(key)
        if location is None:
            location = locations[key] = location_cells(new_contact_location(decision))
        if created_at is None:
            line = stage_line(decision.phone, decision.fields, location, decision.list_names, decision.consent)
        else:
            line = new_contact_line(decision.phone, decision.fields, location, created_at)
        end += len(line)
        indexes.append(index)
        phones.append(decision.phone)
        lines.append(line)
        ends.append(end)
        list_names.append(decision.list_names)
        has_consent = has_consent or decision.consent is not None
    named = any(list_names)
    return StagedChunk(
        rejected, indexes, phones, "".join(lines), ends, list_names if named else None, has_consent,
        packed if with_decisions else None,
    )  # fmt: skip


def staged_message(staged: StagedChunk) -> dict[str, Any]:
    """A `StagedChunk` as plain values (tuples become lists on the way)."""
    return {
        "rejected": staged.rejected,
        "indexes": staged.indexes,
        "phones": staged.phones,
        "lines": staged.lines,
        "ends": staged.ends,
        "list_names": staged.list_names,
        "has_consent": staged.has_consent,
        "packed": staged.packed,
    }


def staged_from_message(rows: Rows, message: dict[str, Any]) -> StagedChunk:
    """The `StagedChunk` of `staged_message`, with `read_again` unpacking the rows sent back read, if any."""
    list_names = message["list_names"]
    staged = StagedChunk(
        [tuple(item) for item in message["rejected"]],
        message["indexes"],
        message["phones"],
        message["lines"],
        message["ends"],
        [tuple(names) for names in list_names] if list_names is not None else None,
        message["has_consent"],
        message["packed"],
    )
    if staged.packed is not None:
        packed, indexes = staged.packed, staged.indexes
        staged.read_again = lambda ks: _unpack([rows[indexes[k]] for k in ks], [packed[k] for k in ks])
    return staged


def chunk_read(reader: dict[str, Any], rows: Rows, stage: dict[str, Any] | None) -> Any:
    """What a chunk task does (`contacts.tasks.contact_import_chunk_read`): rules 1–3 for `rows`, as the
    `StagedChunk` message of `stage_rows(**stage)` or, with `stage` None, the packed decisions."""
    with garbage_collected_by_chunk():
        row_reader = reader_from_message(reader)
        if stage is None:
            return read_rows(row_reader, rows)
        return staged_message(stage_rows(row_reader, rows, **stage))


# ---- the job's side ---------------------------------------------------------------------------------


def chunks_can_go_to_workers() -> bool:
    """Whether chunk tasks can bring their results back: a result backend, or tasks run inline (tests)."""
    return bool(current_app.conf.task_always_eager or current_app.conf.result_backend)


def read_chunks(chunks: Iterator[Rows], *, reader: RowReader, workers: int) -> Iterator[tuple[Rows, list[RowDecision]]]:
    """Yield each chunk with its rows read, in file order; `workers` > 1 sends chunks to chunk tasks, at most
    `2 × workers` in flight, so memory stays bounded however long the file is."""
    if workers <= 1 or not chunks_can_go_to_workers():
        for chunk in chunks:
            yield chunk, reader.read(chunk)
        return
    work = ((chunk, None) for chunk in chunks)
    for chunk, packed in _in_order(work, reader, workers):
        yield chunk, _unpack(chunk, packed)


def stage_chunks(
    chunks: Iterator[Rows],
    *,
    reader: RowReader,
    workers: int,
    with_decisions: Callable[[], bool],
    created_at: str | None = None,
) -> Iterator[tuple[Rows, StagedChunk]]:
    """`read_chunks` for the COPY path: each chunk with its `stage_rows`, in file order.

    `with_decisions()`, asked as each chunk is sent out: whether its rows should also come back read
    (a file whose numbers are mostly stored already, i.e. imported again). `created_at`: `stage_rows`'.
    """
    if workers <= 1 or not chunks_can_go_to_workers():
        for chunk in chunks:
            # Rows read again by the job find their numbers in this process's parse cache.
            yield chunk, stage_rows(reader, chunk, created_at=created_at)
        return
    work = ((chunk, {"with_decisions": with_decisions(), "created_at": created_at}) for chunk in chunks)
    for chunk, message in _in_order(work, reader, workers):
        yield chunk, staged_from_message(chunk, message)


def _in_order(
    work: Iterator[tuple[Rows, dict[str, Any] | None]], reader: RowReader, workers: int
) -> Iterator[tuple[Rows, Any]]:
    """Each chunk sent to a chunk task, the results yielded in file order, at most `2 × workers` in flight."""
    message = reader_message(reader)
    pending: deque[tuple[Rows, dict[str, Any] | None, Any]] = deque()
    for chunk, stage in work:
        with _chunk_failure(chunk):  # run inline (tests), a task's failure shows here
            result = signature(CHUNK_TASK, kwargs={"reader": message, "rows": chunk, "stage": stage}).apply_async()
        pending.append((chunk, stage, result))
        if len(pending) > 2 * workers:
            yield _collect(*pending.popleft(), reader=reader)
    while pending:
        yield _collect(*pending.popleft(), reader=reader)


def _collect(chunk: Rows, stage: dict[str, Any] | None, result: Any, *, reader: RowReader) -> tuple[Rows, Any]:
    """A chunk's result: its task's, once a worker has started it; else read here and the task revoked, so
    that the job never waits on a chunk no worker has taken."""
    if result.state == states.PENDING:
        result.revoke()
        return chunk, _read_here(reader, chunk, stage)
    try:
        with _chunk_failure(chunk):
            # Celery refuses to wait inside a task by default (`disable_sync_subtasks`): a task can wait on
            # work that no free worker will do. A started chunk task reads no database and waits on nothing.
            return chunk, result.get(timeout=STARTED_CHUNK_WAIT_SECONDS, disable_sync_subtasks=False)
    except CeleryTimeoutError:
        result.revoke()
        return chunk, _read_here(reader, chunk, stage)
    finally:
        result.forget()  # the job has it now: it need not wait in the result backend for its expiry


@contextlib.contextmanager
def _chunk_failure(chunk: Rows) -> Iterator[None]:
    try:
        yield
    except CeleryTimeoutError:
        raise
    except Exception as error:
        raise ChunkReadFailed(f"Rows {chunk[0][0]}–{chunk[-1][0]} could not be read ({error}).") from error


def _read_here(reader: RowReader, chunk: Rows, stage: dict[str, Any] | None) -> Any:
    if stage is None:
        return read_rows(reader, chunk)
    return staged_message(stage_rows(reader, chunk, **stage))
